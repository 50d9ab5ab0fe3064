"""The shared upstream HTTP client, and guarded fetches of URLs that clients supplied.

Any URL a client gives us (an image URL, x-portkey-custom-host) could point at our own
network: 127.0.0.1, 10.0.0.0/8, the cloud metadata service at 169.254.169.254... Unless
GATEWAY_ALLOW_PRIVATE_NETWORKS is on, we resolve the name ourselves, refuse any address that
is not globally routable, and connect to the very IP we checked (so a DNS answer that
changes between check and connect cannot slip through), re-checking on every redirect.
"""

import asyncio
import ipaddress
import socket
import time
import weakref
from dataclasses import dataclass

import httpx
from django.conf import settings

_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient]" = (
    weakref.WeakKeyDictionary()
)


def client() -> httpx.AsyncClient:
    """One pooled client per event loop (a client cannot be shared across loops)."""
    loop = asyncio.get_running_loop()
    if (existing := _clients.get(loop)) is None or existing.is_closed:
        existing = _clients[loop] = httpx.AsyncClient(
            timeout=httpx.Timeout(
                settings.GATEWAY_UPSTREAM_TIMEOUT, connect=settings.GATEWAY_CONNECT_TIMEOUT
            ),
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200),
            follow_redirects=False,
            trust_env=False,
        )
    return existing


async def close_clients() -> None:
    for c in list(_clients.values()):
        await c.aclose()
    _clients.clear()


class BlockedAddress(Exception):
    """The URL resolves to an address that the private-network rule refuses."""


class FetchError(Exception):
    """A guarded fetch failed; the message is safe to show and to log."""


def is_public(ip: str) -> bool:
    address = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def resolve_public(host: str, port: int) -> str:
    """Resolve host and return an address to connect to; BlockedAddress if any is private."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(f"cannot resolve {host}: {exc.strerror}") from None
    addresses = [info[4][0] for info in infos]
    blocked = [ip for ip in addresses if not is_public(ip)]
    if blocked or not addresses:
        raise BlockedAddress(
            f"{host} resolves to a private or reserved address ({blocked[0] if blocked else '?'})"
            "; set GATEWAY_ALLOW_PRIVATE_NETWORKS=true to allow it"
        )
    return addresses[0]


async def is_private_url(url: str) -> bool:
    """Does the URL's host resolve to a non-public address? (False when it cannot resolve.)"""
    parsed = httpx.URL(url)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parsed.host, parsed.port or 443, type=socket.SOCK_STREAM
        )
    except (socket.gaierror, UnicodeError):
        return False
    return any(not is_public(info[4][0]) for info in infos)


_checked_hosts: dict[tuple[str, int], float] = {}


async def check_url_allowed(url: str) -> None:
    """Refuse a client-supplied upstream base URL on a private network (cached 60 s per host)."""
    if settings.GATEWAY_ALLOW_PRIVATE_NETWORKS:
        return
    parsed = httpx.URL(url)
    if parsed.scheme not in {"http", "https"} or not parsed.host:
        raise FetchError(f"unsupported URL {url!r}")
    key = (parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80))
    if _checked_hosts.get(key, 0) > time.monotonic():
        return
    await resolve_public(*key)
    _checked_hosts[key] = time.monotonic() + 60


@dataclass
class Fetched:
    data: bytes
    content_type: str
    final_url: str


async def fetch_guarded(url: str, *, max_bytes: int | None = None) -> Fetched:
    """GET a client-supplied URL safely: private-network rule, redirect limit, size cap, timeout."""
    max_bytes = max_bytes or settings.GATEWAY_IMAGE_FETCH_MAX_BYTES
    timeout = settings.GATEWAY_IMAGE_FETCH_TIMEOUT
    try:
        async with asyncio.timeout(timeout):
            return await _follow(httpx.URL(url), max_bytes)
    except TimeoutError:
        raise FetchError(f"timed out after {timeout:g} s") from None
    except BlockedAddress as exc:
        raise FetchError(f"refused: {exc}") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"{type(exc).__name__}: {exc}") from None


async def _follow(url: httpx.URL, max_bytes: int) -> Fetched:
    for _ in range(settings.GATEWAY_IMAGE_FETCH_MAX_REDIRECTS + 1):
        if url.scheme not in {"http", "https"} or not url.host:
            raise FetchError(f"unsupported URL scheme {url.scheme!r}")
        request_url, extensions, headers = url, {}, {"accept": "image/*,*/*;q=0.5"}
        if not settings.GATEWAY_ALLOW_PRIVATE_NETWORKS:
            ip = await resolve_public(url.host, url.port or (443 if url.scheme == "https" else 80))
            request_url = url.copy_with(host=ip)
            headers["host"] = url.netloc.decode("ascii")
            extensions = {"sni_hostname": url.host}
        request = client().build_request("GET", request_url, headers=headers, extensions=extensions)
        response = await client().send(request, stream=True)
        try:
            if response.is_redirect and "location" in response.headers:
                url = url.join(response.headers["location"])
                continue
            if response.status_code != 200:
                raise FetchError(f"HTTP {response.status_code} from {url.host}")
            declared = int(response.headers.get("content-length") or 0)
            if declared > max_bytes:
                raise FetchError(f"too large ({declared} bytes; limit {max_bytes})")
            body = bytearray()
            async for piece in response.aiter_bytes():
                body += piece
                if len(body) > max_bytes:
                    raise FetchError(f"too large (over {max_bytes} bytes)")
            content_type = response.headers.get("content-type", "")
            return Fetched(bytes(body), content_type, str(url))
        finally:
            await response.aclose()
    raise FetchError(f"too many redirects (limit {settings.GATEWAY_IMAGE_FETCH_MAX_REDIRECTS})")
