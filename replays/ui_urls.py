"""Logs UI routes of the replays app (included by logs_ui/urls.py under /logs/)."""

urlpatterns: list = []
