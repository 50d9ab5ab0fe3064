"""Logs UI routes of the replays app (included by logs_ui/urls.py under /logs/)."""

from django.urls import path

from replays import views

urlpatterns = [
    path("<int:log_id>/replay/", views.replay_form, name="replay-form"),
    path("<int:log_id>/replays/", views.replay_list, name="replay-list"),
    path("<int:log_id>/replay/run/", views.replay_run, name="replay-run"),
    path("<int:log_id>/replays/<str:request_id>/", views.replay_compare, name="replay-compare"),
]
