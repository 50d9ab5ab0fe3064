"""/v1/ routes of the feedback app (included by gateway/api/urls.py)."""

urlpatterns: list = []
