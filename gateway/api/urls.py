from django.urls import path

from gateway.api import chat, logs, prompts

urlpatterns = [
    path("chat/completions", chat.chat_completions, name="chat-completions"),
    path("prompts/<str:ref>/completions", prompts.prompt_completions, name="prompt-completions"),
    path("prompts/<str:ref>/render", prompts.prompt_render, name="prompt-render"),
    path("logs", logs.log_list, name="api-logs"),
    path("logs/<int:log_id>", logs.log_detail, name="api-log"),
    path("logs/<int:log_id>/images/<int:image_id>", logs.log_image, name="api-log-image"),
]
