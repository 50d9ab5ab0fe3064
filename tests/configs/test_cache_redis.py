"""The response cache shared by two Iris processes through a real Redis server (Debian's
redis-server, started here: tests/configs/redis_server.py), and Iris still answering while
that Redis is down."""

import socket
import threading

import pytest

from tests.configs.cache_client import (
    PROVIDER_KEY,
    cache_config,
    image_body,
    logged_status,
    poll,
    post,
    status,
    unique_text,
    upstream_calls,
)
from tests.configs.redis_server import running_redis
from tests.conftest import IrisServer, png_bytes
from tests.fakes import openai as openai_fake
from tests.fakes.cued import cued_server


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module")
def fake():
    with cued_server(openai_fake.handle) as server:
        yield server


@pytest.fixture(scope="module")
def replicas(redis, tmp_path_factory):
    """Two Iris processes, each with its own database, one Redis for their cache."""
    servers = [
        IrisServer(tmp_path_factory.mktemp(f"iris-replica-{n}"), IRIS_CACHE_URL=redis.url)
        for n in range(2)
    ]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            if server.process is not None:
                server.stop()


def test_an_answer_kept_by_one_replica_is_served_by_the_other(redis, replicas, fake):
    first, second = replicas
    config, text = cache_config(fake), unique_text()
    body = image_body(png_bytes(size=(6, 6), color=(50, 60, 70)), text)
    keys = redis.size()
    answered = post(first, body, config)
    assert answered.status_code == 200 and status(answered) == "MISS"
    # A whole answer is written in the background: wait until Redis has it.
    assert poll(lambda: redis.size() > keys), "the first replica kept nothing in Redis"
    calls = upstream_calls(fake)
    hit = post(second, body, config)
    assert hit.status_code == 200 and status(hit) == "HIT"
    assert upstream_calls(fake) == calls
    assert hit.json() == answered.json()
    assert logged_status(second, hit) == "HIT"
    streamed = post(second, body | {"stream": True}, config)  # a stream from the same entry
    assert status(streamed) == "HIT" and streamed.text.endswith("data: [DONE]\n\n")
    assert upstream_calls(fake) == calls
    everything = redis.command("KEYS *")  # the keys are digests: no credential in them
    assert PROVIDER_KEY not in (everything + redis.command("KEYS *iris:chat:*")).decode()


def test_a_stream_kept_by_one_replica_serves_the_other(replicas, fake):
    first, second = replicas
    config, text = cache_config(fake), unique_text()
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}
    streamed = post(second, body | {"stream": True}, config)
    assert status(streamed) == "MISS" and streamed.text.endswith("data: [DONE]\n\n")
    calls = upstream_calls(fake)
    hit = post(first, body, config)  # kept before [DONE] went out: no wait needed
    assert status(hit) == "HIT" and upstream_calls(fake) == calls
    assert hit.json()["choices"][0]["message"]["content"].endswith(text)


def test_with_redis_down_requests_are_answered_by_the_upstream(redis, replicas, fake):
    first, _ = replicas
    config, text = cache_config(fake), unique_text()
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}
    redis.stop()
    try:
        calls = upstream_calls(fake)
        answered = post(first, body, config)
        again = post(first, body | {"stream": True}, config)
        assert answered.status_code == 200 and status(answered) == "MISS"
        assert answered.json()["choices"][0]["message"]["content"].endswith(text)
        assert status(again) == "MISS" and again.text.endswith("data: [DONE]\n\n")
        assert upstream_calls(fake) == calls + 2
        assert logged_status(first, answered) == "MISS"
        # Counted and logged once, then left alone a while (not written, not read again).
        assert first.log_path.read_text().count("the response cache could not be read") == 1
    finally:
        redis.start()  # on the same port: the replicas reconnect
    assert status(post(first, body, config)) == "MISS"
    assert poll(lambda: status(post(first, body, config)) == "HIT")


@pytest.fixture
def black_hole():
    """A port that takes connections and never answers: a Redis behind a dead network path."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1], held
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


def test_a_redis_that_never_answers_costs_one_wait_not_one_per_request(black_hole, fake, tmp_path):
    """Each request is answered by the upstream (MISS); after the first read that timed out,
    the next requests leave the cache alone for a while instead of each waiting on it."""
    port, connections = black_hole
    # The cache's connections only: the replicas' invalidation bus would pick this Redis too.
    iris = IrisServer(
        tmp_path, IRIS_CACHE_URL=f"redis://127.0.0.1:{port}/0", IRIS_CACHE_INVALIDATION="poll"
    ).start()
    requests = 4
    try:
        config = cache_config(fake)
        for _ in range(requests):
            body = {"model": "gpt-4o", "messages": [{"role": "user", "content": unique_text()}]}
            answered = post(iris, body, config)
            assert answered.status_code == 200 and status(answered) == "MISS"
        assert len(connections) < requests  # one per request without the cool-down
        assert "the response cache could not be read: TimeoutError()" in iris.log_path.read_text()
        assert iris.find_logs()  # and the ORM's threads are free
    finally:
        iris.stop()
