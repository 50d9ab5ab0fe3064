"""Two real Iris replicas sharing one database and one blob store, and nothing else (issue
18, "Past one machine"): each its own data folder and spool, the same DATABASE_URL,
BLOB_STORAGE_DIR, SECRET_KEY and IRIS_ENCRYPTION_KEY. On PostgreSQL a database of their own;
on SQLite one file (one machine).

- One is SIGKILLed mid-burst of image requests and restarted on its own spool: every request
  answered is logged exactly once, its image in the shared store; but those answered in the
  journal's last fsync window before the kill (plus scheduling slack), which the journal does
  not promise (it is written after the answer, every LOG_FSYNC_SECONDS): at most once.
- A key revoked through one replica's admin is refused by the other long before its 10 s
  cache expires (gateway/replicas.py): over the database's bus, and over Redis.
"""

import asyncio
import base64
import hashlib
import os
import re
import secrets
import signal
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from gateway.models import blob_name
from tests.conftest import IrisServer, free_port, own_database
from tests.faults import Burst, healthz, image_body, photo_variants, wait_for, wait_until_logged

FSYNC_SECONDS = 0.05  # LOG_FSYNC_SECONDS here
# The journal thread may run late: with images and two servers on a busy 2-core machine, answers
# 0.28 s old were seen unjournaled at the kill (tests/api/test_log_sigkill.py, text only: 0.2).
SCHEDULING = 1.0
PASSWORD = secrets.token_urlsafe(16)
KEY_CACHE_SECONDS = 10.0  # gateway/auth.py: how long a replica would go on without the bus


def shared_database(tmp_path: Path) -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        return own_database(url, f"iris_replicas_{free_port()}")
    return f"sqlite:///{tmp_path / 'shared.sqlite3'}"


def start_pair(tmp_path: Path, **env: str) -> tuple[IrisServer, IrisServer]:
    """Replica a then b (a applies the migrations), one gateway key for both."""
    shared = {
        "DATABASE_URL": shared_database(tmp_path),
        "BLOB_STORAGE_DIR": str(tmp_path / "blobs"),
        "SECRET_KEY": secrets.token_urlsafe(40),
        "IRIS_ENCRYPTION_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
        "LOG_FSYNC_SECONDS": str(FSYNC_SECONDS),
        **env,
    }
    servers = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        server = IrisServer(folder, LOG_SPOOL_DIR=str(folder / "spool"), **shared)
        if servers:
            server.key = servers[0].key
        servers.append(server.start())
    return servers[0], servers[1]


def stop_all(*servers: IrisServer) -> None:
    for server in servers:
        if server.process is not None and server.process.poll() is None:
            server.stop()


def logged_ids(server: IrisServer, trace: str) -> list[str]:
    """Every record's request id with this trace id, duplicates kept (all pages)."""
    found, cursor = [], None
    while True:
        params = {"trace_id": trace, "limit": 200, **({"cursor": cursor} if cursor else {})}
        page = server.logs(**params)
        found += [row["request_id"] for row in page["data"]]
        if not page["has_more"]:
            return found
        cursor = page["next_cursor"]


@pytest.mark.parametrize("before_answer", [False, True], ids=["journal-after", "journal-before"])
def test_a_replica_killed_mid_burst_loses_no_answered_request(tmp_path, fake_openai, before_answer):
    """By default the journal is appended just after the answer (LOG_FSYNC_SECONDS): the last
    answers before a kill may be missing, at most once. With LOG_JOURNAL_BEFORE_ANSWER none."""
    a, b = start_pair(tmp_path, LOG_JOURNAL_BEFORE_ANSWER="1" if before_answer else "0")
    try:
        # Paced, so that most of b's answers come well before the kill (not all in its window).
        per_replica, rate, kill_after, trace = 90, 15.0, 60, "two-replicas"
        photos = photo_variants(2 * per_replica, seed=18)
        killed_at: list[float] = []

        def kill_b_midway(_answer) -> None:
            answered = sum(x.status is not None for x in burst_b.answers)
            if not killed_at and answered >= kill_after:
                os.kill(b.process.pid, signal.SIGKILL)
                killed_at.append(time.monotonic())

        upstream = f"{fake_openai.url}/v1"
        burst_a = Burst(a, upstream, trace, concurrency=8, rate=rate)
        burst_b = Burst(b, upstream, trace, concurrency=8, rate=rate, on_answer=kill_b_midway)

        async def both():
            return await asyncio.gather(
                burst_a.run([image_body(photos[i], f"a {i}") for i in range(per_replica)]),
                burst_b.run(
                    [image_body(photos[per_replica + i], f"b {i}") for i in range(per_replica)]
                ),
            )

        answers_a, answers_b = asyncio.run(both())
        assert killed_at, "b was not killed"
        b.process.wait(10)
        assert [x for x in answers_a if x.status != 200] == []
        assert any(x.status is None for x in answers_b)  # killed with requests in flight

        b.start()  # the same spool: it replays what the dead process journaled
        assert wait_for(lambda: healthz(b)[1]["log_writer"]["journal_backlog_bytes"] == 0, 30), (
            healthz(b)[1]["log_writer"]
        )

        window = 0.0 if before_answer else FSYNC_SECONDS + SCHEDULING
        answered = [x for x in answers_a + answers_b if x.status == 200]
        late = {x.request_id for x in answers_b if x.status == 200 and x.at > killed_at[0] - window}
        must = {x.request_id for x in answered} - late
        assert len(late) < kill_after / 2  # b's answers are mostly held to "exactly once"
        missing = wait_until_logged(a, trace, must, 30)
        from_b = {x.request_id for x in answers_b} & missing
        ages = sorted(round(killed_at[0] - x.at, 3) for x in answers_b if x.request_id in missing)
        assert not missing, (
            f"{len(missing) - len(from_b)} of a's, {len(from_b)} of b's missing; b's were "
            f"answered this many seconds before the kill: {ages}"
        )
        counts = Counter(logged_ids(a, trace))
        assert [rid for rid, n in counts.items() if n > 1] == []  # once, never twice
        # What b lost is counted, not silent (gateway/log/tally.py): at least every answered
        # request of b's that is not logged, at most every request of b's that is not.
        lost = healthz(b)[1]["log_writer"]["lost_when_killed"]
        unlogged_answered = {x.request_id for x in answers_b if x.status == 200} - set(counts)
        unlogged = {x.request_id for x in answers_b} - set(counts)
        assert len(unlogged_answered) <= lost <= len(unlogged), (lost, unlogged_answered)
        assert set(counts) <= {x.request_id for x in answered} | {
            x.request_id
            for x in answers_b
            if x.status is None  # unanswered may be logged
        }
        print(
            f"b killed after {sum(x.status == 200 for x in answers_b)} answers; "
            f"{len(answered)} answered, {len(counts)} logged, {len(late & set(counts))} of "
            f"{len(late)} answered in the last {window} s before the kill logged; "
            f"{lost} counted lost"
        )
        blobs = Path(a.env["BLOB_STORAGE_DIR"])
        for request_id in sorted(must)[:: max(1, len(must) // 20)]:  # a spread of 20
            images = a.log(request_id)["images"]
            assert len(images) == 1 and images[0]["sha256"]
            stored = (blobs / blob_name(images[0]["sha256"])).read_bytes()
            assert hashlib.sha256(stored).hexdigest() == images[0]["sha256"]
    finally:
        stop_all(a, b)


def admin_client(server: IrisServer) -> httpx.Client:
    email = "admin@example.com"
    server.manage("createsuperuser", "--noinput", "--username", "admin", "--email", email)
    client = httpx.Client(base_url=server.url, timeout=30)
    page = client.get("/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    form = {"username": "admin", "password": PASSWORD, "csrfmiddlewaretoken": token}
    assert client.post("/admin/login/?next=/admin/", data=form).status_code == 302
    return client


def revoke_through_admin(client: httpx.Client, key_name: str) -> None:
    changelist = client.get("/admin/gateway/apikey/")
    assert changelist.status_code == 200
    row = re.search(
        rf'name="_selected_action" value="(\d+)"[^<]*</td>\s*<th[^>]*><a[^>]*>{key_name}<',
        changelist.text,
    )
    assert row, "the key is not in the admin's list"
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', changelist.text)[1]
    form = {"action": "revoke", "_selected_action": row[1], "csrfmiddlewaretoken": token}
    assert client.post("/admin/gateway/apikey/", data=form).status_code == 302


def chat(server: IrisServer, upstream: str) -> int:
    headers = server.headers(**{"x-portkey-provider": "openai", "x-portkey-custom-host": upstream})
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    headers["authorization"] = "Bearer sk-x"
    return httpx.post(
        f"{server.url}/v1/chat/completions", json=body, headers=headers, timeout=30
    ).status_code


@pytest.fixture(params=["database", "redis"])
def bus_env(request, tmp_path) -> dict[str, str]:
    """The database's own bus (LISTEN/NOTIFY, or SQLite's polled row), or Redis pub/sub."""
    if request.param == "database":
        yield {}
        return
    from tests.configs.redis_server import running_redis

    with running_redis(tmp_path / "redis") as redis:
        yield {"IRIS_CACHE_URL": redis.url, "IRIS_CACHE_INVALIDATION": "redis"}


def test_a_key_revoked_on_one_replica_is_refused_by_the_other(tmp_path, fake_openai, bus_env):
    a, b = start_pair(tmp_path, **bus_env)
    try:
        upstream = f"{fake_openai.url}/v1"
        assert chat(b, upstream) == 200  # b has the key in its cache now
        assert chat(a, upstream) == 200
        revoke_through_admin(admin_client(a), "tests")
        revoked_at = time.monotonic()
        assert chat(a, upstream) == 401  # the saving process clears its own cache
        # Poll b; without the bus it would answer 200 until its cache entry expires.
        refused = wait_for(lambda: chat(b, upstream) == 401, KEY_CACHE_SECONDS / 2)
        print(f"b refused the key {time.monotonic() - revoked_at:.2f} s after the revoke")
        assert refused, "b still accepts a revoked key: the invalidation did not reach it"
    finally:
        stop_all(a, b)
