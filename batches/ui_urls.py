"""Logs UI routes of the batches app (included by logs_ui/urls.py under /logs/)."""

from django.urls import path

from batches import views

urlpatterns = [
    path("batches/new/", views.batch_new, name="batch-new"),
    path("batches/<int:batch_id>/", views.batch_page, name="batch"),
    path("batches/<int:batch_id>/resume/", views.batch_resume, name="batch-resume"),
    path("batches/<int:batch_id>/cancel/", views.batch_cancel, name="batch-cancel"),
]
