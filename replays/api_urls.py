"""/v1/ routes of the replays app (included by gateway/api/urls.py)."""

urlpatterns: list = []
