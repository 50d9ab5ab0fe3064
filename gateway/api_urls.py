"""The URLconf of the lean /v1/ handler (gateway/asgi.py): only the machine API is reachable."""

from django.urls import include, path

urlpatterns = [path("v1/", include("gateway.api.urls"))]
