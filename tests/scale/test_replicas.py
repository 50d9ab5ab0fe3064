"""gateway/replicas.py in one process: what a save sends, what a listener does with it, and a
bus that goes away and comes back. (Across real servers: test_two_replicas.py.)"""

import time

import pytest
from django.db import connection, transaction

from gateway import auth, replicas
from gateway.models import ApiKey


def generation() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT generation FROM {replicas.GENERATION_TABLE} WHERE id = 1")
        return cursor.fetchone()[0]


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not (ok := predicate()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return bool(ok)


@pytest.fixture
def listening(settings):
    """Run a listener on the given bus for the test; stopped after."""
    started: list[replicas.Listener] = []

    def start(bus: str) -> replicas.Listener:
        settings.IRIS_CACHE_INVALIDATION = bus
        listener = replicas.Listener(bus)
        listener.start()
        started.append(listener)
        return listener

    yield start
    for listener in started:
        listener.stopping.set()
        listener.join(10)
    replicas._redis_client = None


@pytest.mark.django_db
def test_the_poll_bus_counts_committed_saves_only(settings):
    settings.IRIS_CACHE_INVALIDATION = "poll"
    before = generation()
    key, _ = ApiKey.generate("poll bus")
    assert generation() == before + 1
    with pytest.raises(RuntimeError), transaction.atomic():
        key.name = "renamed, then rolled back"
        key.save()
        raise RuntimeError
    assert generation() == before + 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("bus", ["poll", "postgres"])
def test_a_listener_clears_the_caches_when_another_process_saves(listening, bus):
    if bus == "postgres" and connection.vendor != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    listening(bus)
    assert wait_for(lambda: replicas._status.connected)
    heard = replicas._status.received
    auth._cache["digest"] = (None, time.monotonic() + 60)  # as a lookup would leave it
    ApiKey.generate("saved elsewhere")
    assert wait_for(lambda: replicas._status.received > heard)
    assert "digest" not in auth._cache


@pytest.mark.django_db(transaction=True)
def test_the_redis_bus_comes_back_after_redis_does(listening, settings, tmp_path):
    from tests.configs.redis_server import running_redis

    with running_redis(tmp_path / "redis") as redis:
        settings.IRIS_CACHE_URL = redis.url
        listening("redis")
        assert wait_for(lambda: replicas._status.connected)
        failures = replicas._status.failures
        redis.stop()
        assert wait_for(lambda: replicas._status.failures > failures)
        assert replicas.status()["connected"] is False
        redis.start()
        assert wait_for(lambda: replicas._status.connected, 60)  # backoff: 0.5, 1, 2... s
        heard = replicas._status.received
        ApiKey.generate("saved while redis was back")  # published after the commit
        assert wait_for(lambda: replicas._status.received > heard)


@pytest.mark.django_db(transaction=True)
def test_the_postgres_bus_reconnects_when_its_connection_is_cut(listening):
    if connection.vendor != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    listening("postgres")
    assert wait_for(lambda: replicas._status.connected)
    failures = replicas._status.failures
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'LISTEN %%'"
        )
        assert cursor.fetchone() == (True,)
    assert wait_for(lambda: replicas._status.failures > failures)
    assert wait_for(lambda: replicas._status.connected)
    heard = replicas._status.received
    ApiKey.generate("saved after the reconnect")
    assert wait_for(lambda: replicas._status.received > heard)
