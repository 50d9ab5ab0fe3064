"""No log is lost: a burst of 500 concurrent requests, and a SIGTERM with records queued."""

import asyncio
import re
import signal
import sqlite3
import time

import httpx

from tests.conftest import IrisServer


def chat_body(i: int) -> dict:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": f"burst {i}"}]}


async def fire(server: IrisServer, upstream: str, count: int, trace: str) -> list[int]:
    limits = httpx.Limits(max_connections=count)
    headers = server.headers(
        **{
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": upstream,
            "authorization": "Bearer sk-x",
            "x-portkey-trace-id": trace,
        }
    )
    async with httpx.AsyncClient(limits=limits, timeout=60, headers=headers) as client:
        responses = await asyncio.gather(
            *(
                client.post(f"{server.url}/v1/chat/completions", json=chat_body(i))
                for i in range(count)
            )
        )
    return [r.status_code for r in responses]


def count_logs(server: IrisServer, trace: str) -> int:
    total, cursor = 0, None
    while True:
        params = {"trace_id": trace, "limit": 200, **({"cursor": cursor} if cursor else {})}
        page = server.logs(**params)
        total += len(page["data"])
        if not page["has_more"]:
            return total
        cursor = page["next_cursor"]


def test_a_burst_of_500_concurrent_requests_leaves_500_records(iris, fake_openai):
    statuses = asyncio.run(fire(iris, f"{fake_openai.url}/v1", 500, "burst-500"))
    assert statuses == [200] * 500
    for _ in range(100):
        if count_logs(iris, "burst-500") == 500:
            break
        asyncio.run(asyncio.sleep(0.1))
    assert count_logs(iris, "burst-500") == 500


def test_responses_never_wait_for_the_database_and_sigterm_drains_the_queue(tmp_path, fake_openai):
    database = tmp_path / "locked.sqlite3"
    server = IrisServer(tmp_path, DATABASE_URL=f"sqlite:///{database}").start()
    # Hold the write lock, as a slow or busy database would: the writer cannot write.
    lock = sqlite3.connect(database, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        statuses = asyncio.run(fire(server, f"{fake_openai.url}/v1", 200, "sigterm"))
        assert statuses == [200] * 200  # answered while nothing could be logged
        server.process.send_signal(signal.SIGTERM)
        time.sleep(1)
    finally:
        lock.execute("COMMIT")
        lock.close()
    # uvicorn shuts down gracefully, then re-raises the signal: exit status -SIGTERM.
    assert server.process.wait(30) in (0, -signal.SIGTERM)
    drained = re.search(r"draining (\d+) queued log records", server.log_path.read_text())
    assert drained and int(drained[1]) > 0  # there really was a backlog at SIGTERM
    server.start()  # same data folder: read back what the first process wrote
    try:
        assert count_logs(server, "sigterm") == 200
    finally:
        server.stop()
