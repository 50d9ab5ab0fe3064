"""/v1/ routes of the exports app (included by gateway/api/urls.py)."""

from django.urls import path

from exports import views

urlpatterns: list = [path("logs/export", views.api_export, name="api-logs-export")]
