"""Who may read the logs: staff, or any active user with the gateway.view_requestlog permission."""

from collections.abc import Callable
from functools import wraps

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django_htmx.http import HttpResponseClientRedirect

PERMISSION = "gateway.view_requestlog"


def can_view_logs(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(user.is_active and (user.is_staff or user.has_perm(PERMISSION)))


def _refusal(request: HttpRequest, user: AbstractBaseUser | AnonymousUser) -> HttpResponse | None:
    """None when the user may see the logs, else the response that refuses them."""
    if not user.is_authenticated:
        htmx = getattr(request, "htmx", None)
        # An htmx call (a poll, a filter) must move the whole page to the login form,
        # not swap the login form into a table.
        page = htmx.current_url_abs_path if htmx and htmx.current_url_abs_path else None
        login = redirect_to_login(page or request.get_full_path(), resolve_url(settings.LOGIN_URL))
        return HttpResponseClientRedirect(login.url) if htmx else login
    if not can_view_logs(user):
        raise PermissionDenied("You need staff status or the “view request log” permission.")
    return None


def viewer_required(view: Callable) -> Callable:
    """Like login_required, plus the permission; works on sync and async views."""
    if iscoroutinefunction(view):

        async def async_wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            user = await request.auser()
            refusal = await sync_to_async(_refusal)(request, user)
            return refusal or await view(request, *args, **kwargs)

        return wraps(view)(async_wrapper)

    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return _refusal(request, request.user) or view(request, *args, **kwargs)

    return wraps(view)(wrapper)


def client_ip(request) -> str | None:
    """The address login throttling counts (django-axes): REMOTE_ADDR only, never a header a
    client can set (axes would read X-Forwarded-For were django-ipware ever installed)."""
    return request.META.get("REMOTE_ADDR")
