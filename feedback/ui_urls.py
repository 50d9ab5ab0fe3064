"""Logs UI routes of the feedback app (included by logs_ui/urls.py under /logs/)."""

urlpatterns: list = []
