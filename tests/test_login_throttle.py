"""Login throttling (django-axes) on a real server: the logs UI's login and the admin's.

LOGIN_FAILURE_LIMIT (5) wrong passwords for one username from one address lock that pair
out, the right password included. uvicorn takes the client address from X-Forwarded-For
when the connection comes from 127.0.0.1 (a local reverse proxy), which lets these tests
play several clients."""

import uuid

import httpx
import pytest

PASSWORD = "right-password-1"
LOGINS = {"logs UI": "/logs/login/", "admin": "/admin/login/"}


@pytest.fixture
def username(iris) -> str:
    """A new superuser on the shared server: names are never shared between tests."""
    name = f"throttle-{uuid.uuid4().hex[:8]}"
    iris.manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        f"User.objects.create_superuser({name!r}, password={PASSWORD!r})",
    )
    return name


def attempt(iris, path: str, username: str, password: str, ip: str = "203.0.113.7"):
    """One login from a fresh browser at `ip`: the login page, then the form."""
    with httpx.Client(base_url=iris.url, headers={"x-forwarded-for": ip}, timeout=30) as client:
        assert client.get(path).status_code == 200
        form = {"username": username, "password": password, "next": "/admin/"}
        form["csrfmiddlewaretoken"] = client.cookies["csrftoken"]
        response = client.post(path, data=form)
        response.logged_in = "sessionid" in client.cookies
        return response


@pytest.mark.parametrize("where", LOGINS)
def test_the_sixth_attempt_is_refused_even_with_the_right_password(iris, username, where):
    path = LOGINS[where]
    for _ in range(4):
        wrong = attempt(iris, path, username, "wrong")
        assert wrong.status_code == 200 and not wrong.logged_in  # the form, with its error
    assert attempt(iris, path, username, "wrong").status_code == 429  # the fifth locks
    locked = attempt(iris, path, username, PASSWORD)
    assert locked.status_code == 429 and not locked.logged_in
    assert "Too many failed logins" in locked.text and "0:15:00" in locked.text
    # Locked on the other login page too: it is the account and address that are locked.
    other = next(p for p in LOGINS.values() if p != path)
    assert attempt(iris, other, username, PASSWORD).status_code == 429
    # Another address, or another name from this address, is not locked out.
    assert attempt(iris, path, username, PASSWORD, ip="198.51.100.9").logged_in
    assert attempt(iris, path, f"{username}-other", "wrong").status_code == 200


def test_a_successful_login_forgets_earlier_failures(iris, username):
    path = LOGINS["logs UI"]
    for _ in range(4):
        assert not attempt(iris, path, username, "wrong").logged_in
    ok = attempt(iris, path, username, PASSWORD)
    assert ok.status_code == 302 and ok.logged_in
    for _ in range(4):  # counted from zero again: four more are not yet a lockout
        assert attempt(iris, path, username, "wrong").status_code == 200
    assert attempt(iris, path, username, PASSWORD).logged_in


def test_the_api_is_not_throttled(iris):
    """/v1/ has no middleware: axes never sees it, and wrong keys answer 401 as ever."""
    for _ in range(7):
        response = httpx.get(f"{iris.url}/v1/logs", headers={"x-portkey-api-key": "iris-wrong"})
        assert response.status_code == 401
    assert httpx.get(f"{iris.url}/v1/logs", headers=iris.headers()).status_code == 200
