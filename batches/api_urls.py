"""/v1/ routes of the batches app (included by gateway/api/urls.py)."""

urlpatterns: list = []
