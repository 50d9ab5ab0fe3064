"""What /v1/ refuses before any upstream is involved: a Host outside ALLOWED_HOSTS, a custom
host that is no usable URL, and (with the private-network guard on) one that leads into our
own network through an IPv6 form of a private IPv4 address."""

import httpx
import pytest

from tests.conftest import IrisServer

BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


def post(iris, *, host: str | None = None, **headers: str) -> httpx.Response:
    extra = {"host": host} if host else {}
    return httpx.post(
        f"{iris.url}/v1/chat/completions",
        headers=iris.headers(
            **{"x-portkey-provider": "openai", "authorization": "Bearer sk-x", **headers}, **extra
        ),
        json=BODY,
        timeout=30,
    )


def error_of(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "127.0.0.1.evil.example"])
def test_a_host_outside_allowed_hosts_is_refused(iris, fake_openai, host):
    custom = {"x-portkey-custom-host": f"{fake_openai.url}/v1"}
    before = len(fake_openai.received)
    error = error_of(post(iris, host=host, **custom), 400)
    assert error["code"] == "disallowed_host" and "ALLOWED_HOSTS" in error["message"]
    logs = httpx.get(f"{iris.url}/v1/logs", headers={**iris.headers(), "host": host})
    assert error_of(logs, 400)["code"] == "disallowed_host"
    assert len(fake_openai.received) == before  # nothing went upstream
    # The pages refuse it as they always did; the allowed names still work.
    assert httpx.get(f"{iris.url}/logs/login/", headers={"host": host}).status_code == 400
    assert post(iris, host=f"localhost:{iris.port}", **custom).status_code == 200
    assert post(iris, **custom).status_code == 200  # 127.0.0.1:port


@pytest.mark.parametrize(
    ("custom_host", "says"),
    [
        ("http://evil\\@127.0.0.1:9/v1", "not a valid URL (Invalid URL: backslash"),
        ("http://127.0.0.1:99999/v1", "not a valid URL"),
        ("http://127.0.0.1:port/v1", "not a valid URL"),
        ("http://[::1/v1", "not a valid URL"),
        ("ftp://127.0.0.1/v1", "enter an http:// or https:// URL"),
        ("http:///v1", "enter an http:// or https:// URL"),
        ("http://user:pw@127.0.0.1:9/v1", "no user:password@ here"),
        ("http://127.0.0.1:9/v1?api-key=k", "no ?query or #fragment here"),
    ],
)
def test_an_unusable_custom_host_is_a_400_not_a_500(iris, custom_host, says):
    response = post(iris, **{"x-portkey-custom-host": custom_host})
    error = error_of(response, 400)
    assert error["code"] == "invalid_custom_host" and error["param"] == "x-portkey-custom-host"
    assert says in error["message"] and "pw" not in error["message"]
    log = iris.log(response.headers["x-iris-request-id"])
    assert log["status_code"] == 400 and log["error_message"] == error["message"]


@pytest.fixture(scope="module")
def guarded_iris(tmp_path_factory):
    # Every image URL is fetched by Iris, so a refused one answers 400 before any upstream.
    server = IrisServer(
        tmp_path_factory.mktemp("guarded"),
        GATEWAY_ALLOW_PRIVATE_NETWORKS="false",
        GATEWAY_INLINE_IMAGE_URLS="true",
    ).start()
    yield server
    server.stop()


@pytest.mark.parametrize(
    "address", ["64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1", "::ffff:0:a9fe:a9fe", "::a9fe:a9fe"]
)
def test_the_metadata_service_in_ipv6_form_is_refused(guarded_iris, address):
    custom = post(guarded_iris, **{"x-portkey-custom-host": f"http://[{address}]/v1"})
    error = error_of(custom, 400)
    assert error["code"] == "custom_host_refused" and "private or reserved" in error["message"]
    image = {"type": "image_url", "image_url": {"url": f"http://[{address}]/cat.png"}}
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": [image]}]}
    fetched = httpx.post(
        f"{guarded_iris.url}/v1/chat/completions",
        headers=guarded_iris.headers(**{"x-portkey-provider": "openai"}),
        json=body,
        timeout=30,
    )
    error = error_of(fetched, 400)
    assert error["code"] == "image_fetch_failed"
    assert f"refused: {address} resolves to a private" in error["message"]
