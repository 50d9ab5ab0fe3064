"""The shared upstream HTTP sessions, and guarded fetches of URLs that clients supplied.

aiohttp, not httpx: measured here on one core against a fast local upstream, httpx's
connection pool costs 1.75 ms per request at 32 concurrent requests (it scans and polls
every pooled socket on each request), aiohttp 0.14 ms — the difference between meeting
and missing the proxy's throughput target (bench/run.py).

Any URL a client gives us (an image URL, x-portkey-custom-host) could point at our own
network: 127.0.0.1, 10.0.0.0/8, the cloud metadata service at 169.254.169.254... Unless
GATEWAY_ALLOW_PRIVATE_NETWORKS is on, those requests go through a session whose resolver
refuses any address that is not globally routable. The check sits in the resolver, so the
address checked is the address connected to (a DNS answer that changes in between cannot
slip through), and every redirect hop is checked again. An IPv6 address that embeds an IPv4
one (NAT64, 6to4, SIIT, IPv4-mapped or -compatible) is judged by the IPv4 address it reaches.
"""

import asyncio
import functools
import ipaddress
import socket
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote_plus, urlsplit, urlunsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_proto import ResponseHandler
from django.conf import settings
from yarl import URL

# Query parameters whose values the log keeps: only those Iris itself puts in upstream URLs
# (Azure's api-version, Gemini's alt=sse). Every other value is masked, whatever its name.
_PLAIN_PARAMS = {"api-version", "alt"}
_REDACTED = "[redacted]"

# IPv6 ranges that carry an IPv4 address: a packet sent there reaches that IPv4 address
# through a translator or tunnel, so that address is the one to judge.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix: low 32 bits
_SIIT = ipaddress.IPv6Network("::ffff:0:0:0/96")  # RFC 2765 IPv4-translated: low 32 bits
_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated IPv4-compatible: low 32 bits
# Refused whatever they embed: the local-use NAT64 prefix (RFC 8215) only ever leads into
# the operator's own network and its IPv4 position depends on a prefix length we cannot know;
# Teredo (2001::/32) is an obsolete tunnel no upstream needs.
_REFUSED_V6 = (ipaddress.IPv6Network("64:ff9b:1::/48"), ipaddress.IPv6Network("2001::/32"))


class BlockedAddress(Exception):
    """The URL resolves to an address that the private-network rule refuses."""


class FetchError(Exception):
    """A guarded fetch failed; the message is safe to show and to log."""


def is_public(ip: str) -> bool:
    """Is this address globally routable? An IPv6 address embedding an IPv4 one answers for
    the IPv4 address: 64:ff9b::a9fe:a9fe is the metadata service 169.254.169.254 reached
    through NAT64 (refused), 64:ff9b::8.8.8.8 is 8.8.8.8 (allowed, as 8.8.8.8 itself is)."""
    address = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address):
        if any(address in network for network in _REFUSED_V6):
            return False
        if (embedded := embedded_ipv4(address)) is not None:
            address = embedded
    return address.is_global and not address.is_multicast


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one leads to, when it embeds one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:  # 2002:AABB:CCDD::/48 is the 6to4 router AA.BB.CC.DD
        return address.sixtofour
    if address in _NAT64 or address in _SIIT or address in _COMPATIBLE:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


def _refuse(host: str, ip: str) -> BlockedAddress:
    return BlockedAddress(
        f"{host} resolves to a private or reserved address ({ip}); "
        "set GATEWAY_ALLOW_PRIVATE_NETWORKS=true to allow it"
    )


class PublicOnlyResolver(AbstractResolver):
    """Resolves like aiohttp's default resolver, and refuses non-public answers."""

    def __init__(self) -> None:
        self._resolver = aiohttp.DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._resolver.resolve(host, port, family)
        for result in results:
            if not is_public(result["host"]):
                raise _refuse(host, result["host"])
        return results

    async def close(self) -> None:
        await self._resolver.close()


class ReadTimeoutProtocol(ResponseHandler):
    """aiohttp's connection protocol, its sock_read timeout kept by one timer per connection.
    aiohttp cancels and creates a timer when a request is sent, on every read and at the end
    (~1.7 µs each on uvloop: 3+ per call, one more per chunk of a stream). Here a read only
    moves the deadline; the timer, when it fires, re-arms itself if reads came meanwhile."""

    _read_deadline: float | None = None  # loop time a stalled read times out at; None: idle
    _armed_at = 0.0  # when the pending timer fires

    def _reschedule_timeout(self) -> None:
        timeout = self._read_timeout
        if not timeout:
            self._read_deadline = None
            return
        deadline = self._read_deadline = self._loop.time() + timeout
        handle = self._read_timeout_handle
        # Armed later than this deadline (a longer timeout before): too late, re-arm.
        if handle is None or self._armed_at > deadline:
            if handle is not None:
                handle.cancel()
            self._arm(deadline)

    def _arm(self, when: float) -> None:
        self._armed_at = when
        self._read_timeout_handle = self._loop.call_at(when, self._read_timer_fired)

    def _drop_timeout(self) -> None:
        self._read_deadline = None  # a pending timer finds nothing to do and is not re-armed

    def _read_timer_fired(self) -> None:
        self._read_timeout_handle = None
        deadline = self._read_deadline
        if deadline is None:
            return
        # asyncio may run a timer up to its clock resolution early.
        if self._loop.time() >= deadline - 0.001:
            self._on_read_timeout()
        else:
            self._arm(deadline)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._read_timeout_handle is not None:  # let the closed protocol go now
            self._read_timeout_handle.cancel()
            self._read_timeout_handle = None
        super().connection_lost(exc)


class Connector(aiohttp.TCPConnector):
    """A TCPConnector whose connections keep sock_read with ReadTimeoutProtocol."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._factory = functools.partial(ReadTimeoutProtocol, loop=self._loop)


# One session per event loop and kind (a session cannot be shared across loops).
_sessions: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict]" = (
    weakref.WeakKeyDictionary()
)


def session(*, trusted: bool) -> aiohttp.ClientSession:
    """The pooled session for upstream requests. trusted=False (client-supplied URLs) gets
    the private-network guard unless GATEWAY_ALLOW_PRIVATE_NETWORKS is on."""
    guarded = not trusted and not settings.GATEWAY_ALLOW_PRIVATE_NETWORKS
    loop = asyncio.get_running_loop()
    sessions = _sessions.setdefault(loop, {})
    existing = sessions.get(guarded)
    if existing is None or existing.closed:
        connector = Connector(
            limit=1000,
            limit_per_host=0,
            ttl_dns_cache=60,
            resolver=PublicOnlyResolver() if guarded else None,
        )
        existing = sessions[guarded] = aiohttp.ClientSession(
            connector=connector,
            # No cookies kept: one client's upstream cookie must not go out with another's
            # request (and the jar's per-request filtering costs CPU on the hot path).
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=True,
            trust_env=False,
            timeout=aiohttp.ClientTimeout(
                total=None,
                connect=settings.GATEWAY_CONNECT_TIMEOUT,
                sock_read=settings.GATEWAY_UPSTREAM_TIMEOUT,
            ),
        )
    return existing


async def close_sessions() -> None:
    for sessions in list(_sessions.values()):
        for s in sessions.values():
            await s.close()
    _sessions.clear()


def check_literal(url: URL) -> None:
    """aiohttp never asks the resolver about IP literals: check those here."""
    host = url.host or ""
    if not settings.GATEWAY_ALLOW_PRIVATE_NETWORKS and _is_ip(host) and not is_public(host):
        raise _refuse(host, host)


async def is_private_url(url: str) -> bool:
    """Does the URL's host resolve to a non-public address? (False when it cannot resolve.)"""
    parsed = URL(url)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parsed.host, parsed.port or 443, type=socket.SOCK_STREAM
        )
    except (socket.gaierror, UnicodeError, TypeError):
        return False
    return any(not is_public(info[4][0]) for info in infos)


_checked_hosts: dict[tuple[str, int], float] = {}


async def check_url_allowed(url: str) -> None:
    """Refuse a client-supplied upstream base URL on a private network, up front, with a
    clear error (cached 60 s per host); the guarded resolver enforces it at connect time."""
    if settings.GATEWAY_ALLOW_PRIVATE_NETWORKS:
        return
    parsed = URL(url)
    if parsed.scheme not in {"http", "https"} or not parsed.host:
        raise FetchError(f"unsupported URL {url!r}")
    check_literal(parsed)
    key = (parsed.host, parsed.port or 443)
    if _checked_hosts.get(key, 0) > time.monotonic():
        return
    if await is_private_url(url):
        raise _refuse(parsed.host, "a private address")
    _checked_hosts[key] = time.monotonic() + 60


@dataclass
class Fetched:
    data: bytes
    content_type: str
    final_url: str


class ByteBudget:
    """The bytes one request may still fetch from image URLs, shared by its fetches."""

    too_much = (
        "the request's image URLs hold more than {limit} bytes "
        "(GATEWAY_MAX_FETCH_BYTES_PER_REQUEST)"
    )

    def __init__(self, limit: int) -> None:
        self.limit, self.used = limit, 0

    def take(self, n: int) -> None:
        if self.used + n > self.limit:
            raise FetchError(self.too_much.format(limit=self.limit))
        self.used += n

    def give_back(self, n: int) -> None:
        self.used -= n


# Fetches in flight, per event loop (a semaphore belongs to one loop).
_fetch_slots: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = (
    weakref.WeakKeyDictionary()
)


def _slots() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    if (slots := _fetch_slots.get(loop)) is None:
        slots = _fetch_slots[loop] = asyncio.Semaphore(settings.GATEWAY_MAX_CONCURRENT_FETCHES)
    return slots


async def fetch_guarded(
    url: str, *, max_bytes: int | None = None, budget: ByteBudget | None = None
) -> Fetched:
    """GET a client-supplied URL safely: private-network rule, redirect limit, size cap (and
    the request's budget), timeout, and at most GATEWAY_MAX_CONCURRENT_FETCHES at once (the
    wait for a turn is not part of the timeout)."""
    max_bytes = max_bytes or settings.GATEWAY_IMAGE_FETCH_MAX_BYTES
    timeout = settings.GATEWAY_IMAGE_FETCH_TIMEOUT
    async with _slots():
        try:
            async with asyncio.timeout(timeout):
                return await _follow(URL(url), max_bytes, budget)
        except TimeoutError:
            raise FetchError(f"timed out after {timeout:g} s") from None
        except BlockedAddress as exc:
            raise FetchError(f"refused: {exc}") from None
        except (aiohttp.ClientError, ValueError) as exc:
            raise FetchError(f"{type(exc).__name__}: {exc}") from None


async def _follow(url: URL, max_bytes: int, budget: ByteBudget | None) -> Fetched:
    for _ in range(settings.GATEWAY_IMAGE_FETCH_MAX_REDIRECTS + 1):
        if url.scheme not in {"http", "https"} or not url.host:
            raise FetchError(f"unsupported URL scheme {url.scheme!r}")
        check_literal(url)
        async with session(trusted=False).get(
            url, allow_redirects=False, headers={"accept": "image/*,*/*;q=0.5"}
        ) as response:
            if response.status in {301, 302, 303, 307, 308} and "location" in response.headers:
                url = url.join(URL(response.headers["location"]))
                continue
            if response.status != 200:
                raise FetchError(f"HTTP {response.status} from {url.host}")
            if (response.content_length or 0) > max_bytes:
                raise FetchError(f"too large ({response.content_length} bytes; limit {max_bytes})")
            body = await read_capped(response, max_bytes, budget)
            return Fetched(body, response.headers.get("content-type", ""), str(url))
    raise FetchError(f"too many redirects (limit {settings.GATEWAY_IMAGE_FETCH_MAX_REDIRECTS})")


async def read_capped(
    response: aiohttp.ClientResponse,
    max_bytes: int,
    budget: ByteBudget | None = None,
    too_large: Callable[[], Exception] | None = None,
) -> bytes:
    """The body, counted as it is decompressed and read (aiohttp inflates in bounded steps as
    we read): a small gzip cannot grow past the caps. Past max_bytes, too_large() is raised.
    Bytes of a failed read go back to the budget."""
    pieces: list[bytes] = []
    size = 0
    try:
        async for piece in response.content.iter_chunked(256 * 1024):
            size += len(piece)
            if size > max_bytes:
                raise (
                    too_large() if too_large else FetchError(f"too large (over {max_bytes} bytes)")
                )
            if budget is not None:
                budget.take(len(piece))
            pieces.append(piece)
    except BaseException:
        if budget is not None:
            budget.give_back(sum(map(len, pieces)))
        raise
    return b"".join(pieces)


@functools.lru_cache(maxsize=1024)  # the same few upstream URLs, request after request
def redact_url(url: str) -> str:
    """The URL for the log: no userinfo, no fragment, every query value masked but those of
    _PLAIN_PARAMS (a token can hide under any name: access_token, api-key, client_secret...)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # "http://[::1/": nothing can be told apart, so nothing is kept
        return f"{_REDACTED} (not a valid URL)"
    query = "&".join(
        f"{quote_plus(k)}={quote_plus(v) if k.lower() in _PLAIN_PARAMS else _REDACTED}"
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    )
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    try:
        netloc += f":{parts.port}" if parts.port else ""
    except ValueError:  # not a port number: a client's header, logged as it can be
        netloc += ":[invalid port]"
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
