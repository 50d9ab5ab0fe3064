"""/v1/ routes of the feedback app (included by gateway/api/urls.py)."""

from django.urls import path

from feedback import api

urlpatterns: list = [
    path("feedback", api.feedback_list, name="api-feedback"),
    path("feedback/<str:feedback_id>", api.feedback_detail, name="api-feedback-detail"),
]
