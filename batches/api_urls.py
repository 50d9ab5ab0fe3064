"""/v1/ routes of the batches app (included by gateway/api/urls.py)."""

from django.urls import path

from batches import api

urlpatterns = [
    path("replays", api.create, name="replays"),
    path("replays/<int:batch_id>", api.detail, name="replay-batch"),
    path("replays/<int:batch_id>/resume", api.resume, name="replay-batch-resume"),
    path("replays/<int:batch_id>/cancel", api.cancel, name="replay-batch-cancel"),
]
