"""Logs UI routes of the exports app (included by logs_ui/urls.py under /logs/)."""

urlpatterns: list = []
