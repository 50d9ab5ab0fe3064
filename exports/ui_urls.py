"""Logs UI routes of the exports app (included by logs_ui/urls.py under /logs/)."""

from django.urls import path

from exports import views

urlpatterns: list = [path("export/", views.export_dataset, name="export-dataset")]
