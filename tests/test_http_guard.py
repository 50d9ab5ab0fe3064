"""The private-network guard on server-side fetches of client-supplied URLs."""

import pytest

from gateway import http
from tests.conftest import SHARED_IMAGES


@pytest.mark.parametrize(
    ("ip", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("224.0.0.1", False),
    ],
)
def test_it_knows_which_addresses_are_public(ip, public):
    assert http.is_public(ip) is public


@pytest.fixture(autouse=True)
async def _close_sessions():
    yield
    await http.close_sessions()  # each test has its own event loop


@pytest.fixture
def guarded(settings):
    settings.GATEWAY_ALLOW_PRIVATE_NETWORKS = False


async def test_it_refuses_loopback_unless_allowed(guarded, fake_openai, settings):
    url = f"{fake_openai.url}/images/rocket.jpg"
    with pytest.raises(http.FetchError, match="refused: 127.0.0.1 resolves to a private"):
        await http.fetch_guarded(url)
    settings.GATEWAY_ALLOW_PRIVATE_NETWORKS = True
    fetched = await http.fetch_guarded(url)
    assert fetched.data == (SHARED_IMAGES / "rocket.jpg").read_bytes()


async def test_it_checks_the_resolved_address_not_the_name(guarded, fake_openai):
    url = fake_openai.url.replace("127.0.0.1", "localhost") + "/images/rocket.jpg"
    with pytest.raises(http.FetchError, match="localhost resolves to a private"):
        await http.fetch_guarded(url)


async def test_it_refuses_a_private_custom_host(guarded):
    with pytest.raises(http.BlockedAddress):
        await http.check_url_allowed("http://169.254.169.254/latest/meta-data")


async def test_it_follows_redirects_and_caps_them(fake_openai, settings):
    fetched = await http.fetch_guarded(f"{fake_openai.url}/redirect/chelsea.png")
    assert fetched.final_url.endswith("/images/chelsea.png")
    settings.GATEWAY_IMAGE_FETCH_MAX_REDIRECTS = 0
    with pytest.raises(http.FetchError, match="too many redirects"):
        await http.fetch_guarded(f"{fake_openai.url}/redirect/chelsea.png")


async def test_it_caps_the_size(fake_openai):
    with pytest.raises(http.FetchError, match="too large"):
        await http.fetch_guarded(f"{fake_openai.url}/images/hubble_deep_field.jpg", max_bytes=1000)


async def test_it_reports_http_errors(fake_openai):
    with pytest.raises(http.FetchError, match="HTTP 404"):
        await http.fetch_guarded(f"{fake_openai.url}/images/nope.png")


async def test_it_refuses_other_schemes():
    with pytest.raises(http.FetchError, match="unsupported URL scheme"):
        await http.fetch_guarded("file:///etc/passwd")
