from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from gateway import views

urlpatterns = [
    path("", RedirectView.as_view(url="/logs/", permanent=False)),
    path("v1/", include("gateway.api.urls")),
    path("logs/", include("logs_ui.urls")),
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
]
