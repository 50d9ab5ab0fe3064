from django.urls import path

from gateway.api import chat, logs

urlpatterns = [
    path("chat/completions", chat.chat_completions, name="chat-completions"),
    path("logs", logs.log_list, name="api-logs"),
    path("logs/<int:log_id>", logs.log_detail, name="api-log"),
    path("logs/<int:log_id>/images/<int:image_id>", logs.log_image, name="api-log-image"),
]
