"""/v1/ routes of the replays app (included by gateway/api/urls.py)."""

from django.urls import path

from replays import api

urlpatterns = [
    # {ref}: the numeric id or the x-iris-request-id of the record to replay.
    path("logs/<str:ref>/replay", api.log_replay, name="api-log-replay"),
]
