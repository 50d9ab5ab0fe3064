"""Logs UI routes of the feedback app (included by logs_ui/urls.py under /logs/)."""

from django.urls import path

from feedback import ui

urlpatterns: list = [
    path("<int:log_id>/feedback/", ui.save, name="feedback-save"),
    path("<int:log_id>/feedback/widget/", ui.widget, name="feedback-widget"),
]
