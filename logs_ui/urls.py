from django.contrib.auth import views as auth_views
from django.urls import include, path, register_converter

from logs_ui import analytics, document_views, prompt_views, seen, views


class Sha256Converter:
    """An image's name: 64 lowercase hex digits."""

    regex = "[0-9a-f]{64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(Sha256Converter, "sha256")
app_name = "logs_ui"

urlpatterns = [
    path("", views.log_list, name="list"),
    path("", include("exports.ui_urls")),
    path("", include("replays.ui_urls")),
    path("", include("batches.ui_urls")),
    path("", include("feedback.ui_urls")),
    path("tail/", views.log_tail, name="tail"),
    path("<int:log_id>/", views.log_detail, name="detail"),
    path("<int:log_id>/raw/<str:part>/", views.log_raw, name="raw"),
    path("<int:log_id>/copy/<str:kind>/", views.log_snippet, name="snippet"),
    path("images/<sha256:sha256>/", views.image, name="image"),
    path("images/<sha256:sha256>/thumb-<int:size>.webp", views.thumbnail, name="thumbnail"),
    path(
        "documents/<sha256:sha256>/page-<int:page>-<int:size>.webp",
        document_views.page_picture,
        name="document-picture",
    ),
    path(
        "documents/<sha256:sha256>/pages/<int:page>/",
        document_views.page_large,
        name="document-page",
    ),
    path("documents/<sha256:sha256>/pages/", document_views.more_pages, name="document-pages"),
    path("live-images/<int:image_id>/", views.live_image, name="live-image"),
    path("seen-images/<int:image_id>/", seen.seen_picture, name="seen-picture"),
    path("seen-images/<int:image_id>.webp", seen.seen_image, name="seen-image"),
    path("analytics/", analytics.analytics, name="analytics"),
    path("analytics/data/", analytics.analytics_json, name="analytics-data"),
    path("prompts/", prompt_views.prompt_list, name="prompts"),
    path("prompts/new/", prompt_views.prompt_new, name="prompt-new"),
    path("prompts/editor/", prompt_views.prompt_editor, name="prompt-editor"),
    path("prompts/preview/", prompt_views.prompt_preview, name="prompt-preview"),
    path("prompts/<slug:slug>/", prompt_views.prompt_edit, name="prompt"),
    path("prompts/<slug:slug>/<int:number>/run/", prompt_views.prompt_run, name="prompt-run"),
    path(
        "prompts/<slug:slug>/<int:number>/default/",
        prompt_views.prompt_default,
        name="prompt-default",
    ),
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="logs_ui:login"), name="logout"),
]
