"""The private-network guard on server-side fetches of client-supplied URLs."""

import ipaddress
import socket

import aiohttp
import pytest
from yarl import URL

from gateway import http
from tests.conftest import SHARED_IMAGES
from tests.fakes.server import FakeServer, Reply


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
        # IPv6 forms embedding an IPv4 address are judged by it (169.254.169.254 = a9fe:a9fe).
        ("64:ff9b::a9fe:a9fe", False),  # NAT64, well-known prefix
        ("64:ff9b::169.254.169.254", False),
        ("64:ff9b::a00:1", False),  # 10.0.0.1
        ("64:ff9b::8.8.8.8", True),  # reaches 8.8.8.8: public, so allowed
        ("64:ff9b:1::8.8.8.8", False),  # local-use NAT64 prefix: the operator's network
        ("2002:a9fe:a9fe::1", False),  # 6to4 via 169.254.169.254
        ("2002:7f00:1::", False),  # 6to4 via 127.0.0.1
        ("2002:808:808::1", True),  # 6to4 via 8.8.8.8
        ("::169.254.169.254", False),  # IPv4-compatible
        ("::127.0.0.1", False),
        ("::8.8.8.8", True),
        ("::ffff:0:169.254.169.254", False),  # SIIT IPv4-translated
        ("::ffff:0:8.8.8.8", True),
        ("::ffff:169.254.169.254", False),  # IPv4-mapped
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # Teredo: refused outright
        ("::", False),
    ],
)
def test_it_knows_which_addresses_are_public(ip, public):
    assert http.is_public(ip) is public


@pytest.mark.parametrize(
    ("ip", "embedded"),
    [
        ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
        ("2002:a9fe:a9fe:1::5", "169.254.169.254"),
        ("::ffff:0:a00:1", "10.0.0.1"),
        ("::7f00:1", "127.0.0.1"),
        ("::ffff:c0a8:101", "192.168.1.1"),
        ("2606:4700:4700::1111", None),
    ],
)
def test_it_finds_the_ipv4_address_an_ipv6_one_embeds(ip, embedded):
    found = http.embedded_ipv4(ipaddress.IPv6Address(ip))
    assert (str(found) if found else None) == embedded


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


METADATA_VIA_NAT64 = "64:ff9b::a9fe:a9fe"  # 169.254.169.254, the cloud metadata service


@pytest.mark.parametrize(
    "url",
    [
        f"http://[{METADATA_VIA_NAT64}]/latest/meta-data",
        "http://[2002:a9fe:a9fe::1]/",
        "http://[::ffff:0:a9fe:a9fe]/",
        "http://[::a9fe:a9fe]/",
        "http://[::ffff:a9fe:a9fe]/",
    ],
)
async def test_it_refuses_an_ipv6_literal_that_embeds_a_private_ipv4(guarded, url):
    with pytest.raises(http.BlockedAddress):
        http.check_literal(URL(url))
    with pytest.raises(http.FetchError, match="refused: .* resolves to a private"):
        await http.fetch_guarded(url)
    with pytest.raises(http.BlockedAddress):
        await http.check_url_allowed(url)


async def test_it_refuses_a_redirect_to_an_ipv6_form_of_the_metadata_service(guarded, monkeypatch):
    # The first hop is a real local server, which the guard is told to take as public.
    real = http.is_public
    monkeypatch.setattr(http, "is_public", lambda ip: ip == "127.0.0.1" or real(ip))
    location = f"http://[{METADATA_VIA_NAT64}]/latest/meta-data"
    with FakeServer(lambda request: Reply(302, headers={"location": location})) as server:
        with pytest.raises(http.FetchError, match=f"refused: {METADATA_VIA_NAT64} resolves"):
            await http.fetch_guarded(f"{server.url}/cat.png")
        assert [r.path for r in server.received] == ["/cat.png"]


@pytest.fixture
def metadata_dns(monkeypatch):
    """A name whose DNS answer is the metadata service in NAT64 form. aiohttp's resolver and
    check_url_allowed both resolve through socket.getaddrinfo (in a thread)."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "metadata.test":
            address = (METADATA_VIA_NAT64, port or 0, 0, 0)
            return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", address)]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    assert aiohttp.DefaultResolver is aiohttp.ThreadedResolver  # so the patch reaches it


async def test_it_refuses_a_dns_answer_that_embeds_a_private_ipv4(guarded, metadata_dns):
    with pytest.raises(http.FetchError, match=f"metadata.test resolves .*{METADATA_VIA_NAT64}"):
        await http.fetch_guarded("http://metadata.test/latest/meta-data")
    with pytest.raises(http.BlockedAddress, match="metadata.test resolves"):
        await http.check_url_allowed("http://metadata.test/v1")
    # The resolver itself, as the proxy's guarded session uses it for a custom host.
    with pytest.raises(http.BlockedAddress):
        await http.PublicOnlyResolver().resolve("metadata.test", 80, socket.AF_UNSPEC)


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "127.1"])
async def test_it_refuses_other_spellings_of_loopback(guarded, host):
    # aiohttp refuses the odd ones itself; the resolver would refuse what they resolve to.
    with pytest.raises(http.FetchError, match="refused|not a canonical IPv4"):
        await http.fetch_guarded(f"http://{host}/")
