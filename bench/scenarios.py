"""The benchmark's scenarios (bodies, clients, what the upstream must receive) and how one is
run against a peer: checked first (the upstream's counter moves by one and its image is
byte-identical), then timed with wrk while the peer's CPU seconds and peak RSS are read from
/proc and the image host counts the gateway's fetches."""

import hashlib
import json
import statistics
import time
from dataclasses import dataclass, field

import httpx
import photos
from load import Body, wrk
from peers import FAKE_PORT, IMAGE_PORT, Peer, forget_blobs

UPSTREAM = f"http://127.0.0.1:{FAKE_PORT}"
IMAGE_HOST = f"http://127.0.0.1:{IMAGE_PORT}"
GROUPS = ("small", "image", "stream", "photos", "urls", "mix")
# The 1.38 MB body of the main table: a JPEG whose base64 makes the request 1.38 MB.
MAIN_IMAGE_BODY_BYTES = 1_380_000
SETTLE_SECONDS = 0.5  # a gateway is idle once this long passes with no upstream request
PAD = "AAAA"  # base64 of the 3 zero bytes after an image's end, varied per request


@dataclass
class Scenario:
    name: str
    group: str
    body: Body
    clients: int
    expect: dict[str, str] = field(default_factory=dict)  # sha256 of the image URL -> form
    image_bytes: int = 0  # image bytes per request, on average (CPU per MB)
    image_file: str = ""  # on the image host (URL scenarios)
    mix: Body | None = None
    mix_every: int = 0
    stream: bool = False


def chat(parts: list[dict], *, stream: bool = False) -> bytes:
    content = [{"type": "text", "text": "What is in this image?"}, *parts]
    body: dict = {"model": "gpt-4o", "messages": [{"role": "user", "content": content}]}
    if stream:
        body["stream"] = True
    return json.dumps(body).encode()


def padded(image: bytes) -> bytes:
    """The image with zero bytes after its end marker (ignored by decoders) so that its base64
    ends in PAD, which a request can vary to carry a different image."""
    return image + b"\0" * ((3 - len(image) % 3) % 3 + 3)


def base64_body(image: bytes, mime: str, *, stream: bool = False, vary: bool = True) -> Body:
    uri = photos.data_uri(padded(image), mime)
    data = chat([{"type": "image_url", "image_url": {"url": uri}}], stream=stream)
    assert uri.endswith(PAD)
    at = data.index(uri.encode()) + len(uri) - len(PAD)
    return Body(data, at if vary else None)


def url_body(filename: str, *, vary: bool = True) -> Body:
    url = f"{IMAGE_HOST}/{filename}?v={PAD}"
    data = chat([{"type": "image_url", "image_url": {"url": url}}])
    return Body(data, data.index(url.encode()) + len(url) - len(PAD) if vary else None)


def sha_of_url(body: Body) -> str:
    start = body.data.index(b'"url": "') + len(b'"url": "')
    return hashlib.sha256(body.data[start : body.data.index(b'"', start)]).hexdigest()


def main_jpeg() -> bytes:
    """Real photographs (a 4:3 mosaic at quality 90) whose request body is about 1.38 MB:
    the widest mosaic whose body is not past it (cached beside the photos)."""
    path = photos.CACHE / f"main-{MAIN_IMAGE_BODY_BYTES}.jpeg"
    if path.exists():
        return path.read_bytes()
    best, low, high = b"", 100, 400  # widths in steps of 8 px
    while low <= high:
        mid = (low + high) // 2
        data = photos.jpeg(photos.mosaic(mid * 8, mid * 6), 90)
        if len(base64_body(data, "image/jpeg").data) > MAIN_IMAGE_BODY_BYTES:
            high = mid - 1
        else:
            best, low = data, mid + 1
    photos.CACHE.mkdir(parents=True, exist_ok=True)
    path.write_bytes(best)
    return best


def build(groups: set[str], *, vary: bool = True, photo_clients=(1, 8)) -> list[Scenario]:
    small = Body(chat([]))
    out: list[Scenario] = []
    if "small" in groups:
        out += [Scenario("small ×1", "small", small, 1), Scenario("small ×32", "small", small, 32)]
    one_mb = photos.load(photos.PHOTOS[1])
    if "image" in groups:
        image = main_jpeg()
        body = base64_body(image, "image/jpeg", vary=vary)
        out.append(
            Scenario(
                f"{len(body.data) / 1e6:.2f} MB body ×8",
                "image",
                body,
                8,
                {sha_of_url(body): "base64"},
                len(image),
            )
        )
    for photo in photos.PHOTOS if groups & {"photos", "urls"} else ():
        data = photos.load(photo)
        label = f"{photo.name} {photo.width}x{photo.height}"
        for clients in photo_clients:
            if "photos" in groups:
                body = base64_body(data, photo.mime, vary=vary)
                expect = {sha_of_url(body): "base64"}
                out.append(
                    Scenario(
                        f"{label} base64 ×{clients}", "photos", body, clients, expect, len(data)
                    )
                )
            if "urls" in groups:
                body = url_body(photo.filename, vary=vary)
                inline = hashlib.sha256(photos.data_uri(data, photo.mime).encode()).hexdigest()
                expect = {sha_of_url(body): "URL", inline: "bytes"}
                out.append(
                    Scenario(
                        f"{label} URL ×{clients}",
                        "urls",
                        body,
                        clients,
                        expect,
                        len(data),
                        photo.filename,
                    )
                )
    if "stream" in groups:
        body = base64_body(one_mb, "image/jpeg", stream=True, vary=vary)
        expect = {sha_of_url(body): "base64"}
        out.append(
            Scenario("stream, 1 MB JPEG ×8", "stream", body, 8, expect, len(one_mb), stream=True)
        )
    if "mix" in groups:
        image = base64_body(one_mb, "image/jpeg", vary=vary)
        out.append(
            Scenario(
                "80 % text, 20 % 1 MB JPEG ×32",
                "mix",
                small,
                32,
                {sha_of_url(image): "base64"},
                len(one_mb) // 5,
                mix=image,
                mix_every=5,
            )
        )
    return out


def check(peer: Peer, scenario: Scenario) -> str:
    """One request reaches the upstream once with the image byte-identical; returns how the
    upstream got it ("base64", "URL" or "bytes") and whether the gateway fetched the URL."""
    body = scenario.mix.data if scenario.mix else scenario.body.data
    before = settled(peer)
    fetches = image_fetches(scenario.image_file)
    response = httpx.post(peer.url, headers=peer.headers, content=body, timeout=60)
    if response.status_code != 200:
        raise RuntimeError(f"{peer.name}, {scenario.name}: {response.status_code} {response.text}")
    after = httpx.get(f"{UPSTREAM}/stats").json()
    if after["requests"] != before["requests"] + 1:
        raise RuntimeError(f"{peer.name} did not reach the upstream once ({scenario.name})")
    if not scenario.expect:
        return ""
    form = scenario.expect.get(after["last_image_sha256"])
    if form is None:
        raise RuntimeError(
            f"{peer.name} altered the image ({scenario.name}): the upstream got "
            f"{after['last_image_prefix']!r}…"
        )
    if scenario.image_file:
        # A snapshot is taken after the answer: give it a moment to show.
        for _ in range(40):
            if image_fetches(scenario.image_file)["count"] > fetches["count"]:
                return f"{form}, fetched"
            time.sleep(0.05)
        return f"{form}, not fetched"
    return form


def settled(peer: Peer) -> dict:
    """The upstream's stats once the gateway is idle (its counter still and the gateway's CPU
    near zero for SETTLE_SECONDS): requests it still had in flight when the last wrk run
    ended (wrk does not wait for them) must not be counted."""
    stats, cpu = httpx.get(f"{UPSTREAM}/stats").json(), peer.cpu_seconds()
    for _ in range(int(120 / SETTLE_SECONDS)):
        time.sleep(SETTLE_SECONDS)
        now, cpu_now = httpx.get(f"{UPSTREAM}/stats").json(), peer.cpu_seconds()
        if now["requests"] == stats["requests"] and cpu_now - cpu < SETTLE_SECONDS / 10:
            return now
        stats, cpu = now, cpu_now
    raise RuntimeError(f"{peer.name} kept working two minutes after the run ended")


def image_fetches(filename: str) -> dict:
    if not filename:
        return {"count": 0, "ms": []}
    stats = httpx.get(f"{IMAGE_HOST}/stats").json()
    return stats.get(filename, {"count": 0, "ms": []})


def direct(scenario: Scenario, seconds: float) -> dict:
    """The fake upstream alone with the same bodies and clients (the base of 'added')."""
    headers = {"content-type": "application/json"}
    url = f"{UPSTREAM}/v1/chat/completions"
    return wrk(
        url, headers, scenario.body, scenario.clients, seconds, scenario.mix, scenario.mix_every
    )


def run(peer: Peer, scenario: Scenario, seconds: float, base: dict) -> dict:
    """Check, then time one scenario against a started peer. CPU is counted from the start of
    the run until the gateway is idle again (its log writer's tail included), per request
    that reached the upstream in that time (those still in flight when wrk stopped too)."""
    form = check(peer, scenario)
    if scenario.image_file:
        httpx.get(f"{IMAGE_HOST}/reset")
    upstream_before = settled(peer)["requests"]
    rss_before = peer.rss_mb()  # memory earlier runs left behind (freed, not given back)
    peer.reset_peak_rss()
    cpu_before = peer.cpu_seconds()
    result = wrk(
        peer.url,
        peer.headers,
        scenario.body,
        scenario.clients,
        seconds,
        scenario.mix,
        scenario.mix_every,
    )
    forwarded = settled(peer)["requests"] - upstream_before
    cpu = peer.cpu_seconds() - cpu_before
    result |= {
        "form": form,
        "added_p50": result["p50"] - base["p50"],
        "added_p99": result["p99"] - base["p99"],
        "forwarded": forwarded,
        "cpu_s": cpu,
        "cpu_ms_per_request": cpu * 1000 / max(forwarded, 1),
        "peak_rss_mb": peer.peak_rss_mb(),
        "rss_before_mb": rss_before,
        "rss_mb": peer.rss_mb(),
    }
    if scenario.image_bytes:
        megabytes = forwarded * scenario.image_bytes / 1e6
        result["cpu_ms_per_mb"] = cpu * 1000 / max(megabytes, 1e-9)
    if scenario.image_file:
        served = image_fetches(scenario.image_file)
        result["fetches"] = served["count"]
        if len(served["ms"]) >= 2:
            times = sorted(served["ms"])
            result["fetch_p50"] = statistics.median(times)
            result["fetch_p99"] = times[min(len(times) - 1, int(len(times) * 0.99))]
    forget_blobs(peer)
    return result
