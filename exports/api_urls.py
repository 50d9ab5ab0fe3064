"""/v1/ routes of the exports app (included by gateway/api/urls.py)."""

urlpatterns: list = []
