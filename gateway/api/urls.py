from django.urls import include, path, re_path

from gateway.api import chat, estimate, images, logs, misc, models, prompts, responses

urlpatterns = [
    path("chat/completions", chat.chat_completions, name="chat-completions"),
    path("estimate", estimate.create, name="estimate"),
    path("images/generations", images.generations, name="images-generations"),
    path("images/edits", images.edits, name="images-edits"),
    path("images/variations", images.variations, name="images-variations"),
    path("models", models.model_list, name="models"),
    re_path(r"^models/(?P<model_id>.+)$", models.model_detail, name="model"),
    path("responses", responses.create, name="responses"),
    path("responses/<str:response_id>", responses.response, name="response"),
    path("responses/<str:response_id>/input_items", responses.input_items, name="response-items"),
    path("prompts/<str:ref>/completions", prompts.prompt_completions, name="prompt-completions"),
    path("prompts/<str:ref>/render", prompts.prompt_render, name="prompt-render"),
    # Before logs/<int:log_id>: /v1/logs/export, /v1/logs/{id}/replay, /v1/feedback, /v1/replays.
    path("", include("exports.api_urls")),
    path("", include("replays.api_urls")),
    path("", include("batches.api_urls")),
    path("", include("feedback.api_urls")),
    path("logs", logs.log_list, name="api-logs"),
    # {id}: the numeric id, or the x-iris-request-id the client was answered with.
    path("logs/<str:log_id>", logs.log_detail, name="api-log"),
    path("logs/<str:log_id>/images/<int:image_id>", logs.log_image, name="api-log-image"),
    re_path(r"", misc.not_found),  # anything else under /v1/: a JSON 404, not an HTML page
]
