"""bench/run.py's scenario machinery, tiny: every scenario against a real Iris, in front of the
benchmark's own fake upstream and image host, reaches the upstream once per request with its
image byte-identical (each numbered request carrying its own image, as wrk sends them), and
URL images are fetched (for the log's snapshot, or inlined before forwarding)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import IrisServer, free_port

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))
import load  # noqa: E402
import peers  # noqa: E402
import photos  # noqa: E402
import scenarios  # noqa: E402


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    """The fake upstream and the image host (serving the benchmark's photos) on free ports."""
    fake_port, image_port = free_port(), free_port()
    folder = tmp_path_factory.mktemp("bench-images")
    for photo in photos.PHOTOS:
        (folder / photo.filename).write_bytes(photos.load(photo))
    servers = [
        subprocess.Popen([sys.executable, str(BENCH / "fake_upstream.py"), str(fake_port)]),
        subprocess.Popen(
            [sys.executable, str(BENCH / "imageserver.py"), str(image_port), str(folder)]
        ),
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scenarios, "SETTLE_SECONDS", 0.1)
        patch.setattr(scenarios, "UPSTREAM", f"http://127.0.0.1:{fake_port}")
        patch.setattr(scenarios, "IMAGE_HOST", f"http://127.0.0.1:{image_port}")
        try:
            peers.wait_for(f"{scenarios.UPSTREAM}/stats")
            peers.wait_for(f"{scenarios.IMAGE_HOST}/stats")
            yield fake_port
        finally:
            for server in servers:
                server.terminate()
                server.wait(10)


def as_peer(server: IrisServer, fake_port: int) -> peers.Peer:
    peer = peers.Peer("Iris", [])
    peer.url = f"{server.url}/v1/chat/completions"
    peer.headers["x-portkey-custom-host"] = f"http://127.0.0.1:{fake_port}/v1"
    peer.headers["x-portkey-api-key"] = server.key
    peer.process = server.process
    return peer


def upstream_image(peer: peers.Peer, body: bytes) -> dict:
    response = httpx.post(peer.url, headers=peer.headers, content=body, timeout=60)
    assert response.status_code == 200, response.text
    return httpx.get(f"{scenarios.UPSTREAM}/stats").json()


def test_every_scenario_reaches_the_upstream_with_its_image(iris, upstream):
    peer = as_peer(iris, upstream)
    chosen = scenarios.build(set(scenarios.GROUPS), photo_clients=(1,))
    assert {s.group for s in chosen} == set(scenarios.GROUPS)
    for scenario in chosen:
        expected = "URL, fetched" if scenario.image_file else "base64" if scenario.expect else ""
        assert scenarios.check(peer, scenario) == expected, scenario.name
        body = scenario.mix or scenario.body
        before = scenarios.settled(peer)["requests"]
        for n in (1, 2, 3):
            stats = upstream_image(peer, body.numbered(n))
            if scenario.expect:
                sent = scenarios.sha_of_url(load.Body(body.numbered(n)))
                assert sent not in scenario.expect, "a numbered request repeats the image"
                assert stats["last_image_sha256"] == sent, scenario.name
        assert stats["requests"] == before + 3, scenario.name


def test_inline_urls_reach_the_upstream_as_the_image_bytes(tmp_path, upstream):
    server = IrisServer(tmp_path, GATEWAY_INLINE_IMAGE_URLS="1").start()
    try:
        peer = as_peer(server, upstream)
        for scenario in scenarios.build({"urls"}, photo_clients=(1,)):
            fetched = scenarios.image_fetches(scenario.image_file)["count"]
            assert scenarios.check(peer, scenario) == "bytes, fetched", scenario.name
            stats = upstream_image(peer, scenario.body.numbered(7))
            assert scenario.expect[stats["last_image_sha256"]] == "bytes"
            assert scenarios.image_fetches(scenario.image_file)["count"] == fetched + 2
    finally:
        server.stop()


@pytest.mark.skipif(not shutil.which("wrk"), reason="wrk is not installed")
def test_wrk_numbers_each_image_as_the_python_twin_does(upstream, monkeypatch):
    """The Lua script's numbering matches Body.numbered: the upstream's last image is one of
    the numbered ones, never the unnumbered base."""
    body = scenarios.base64_body(photos.load(photos.PHOTOS[0]), "image/jpeg")
    url = f"{scenarios.UPSTREAM}/v1/chat/completions"
    monkeypatch.setattr(load, "LOAD_CORES", ",".join(map(str, os.sched_getaffinity(0))))
    result = load.wrk(url, {"content-type": "application/json"}, body, 1, 1)
    stats = httpx.get(f"{scenarios.UPSTREAM}/stats").json()
    numbered = {
        scenarios.sha_of_url(load.Body(body.numbered(n)))
        for n in range(1, result["requests"] + 10)  # wrk prepares a request ahead
    }
    assert result["requests"] > 0 and result["errors"] == 0
    assert stats["last_image_sha256"] in numbered
