"""Logs UI routes of the batches app (included by logs_ui/urls.py under /logs/)."""

urlpatterns: list = []
