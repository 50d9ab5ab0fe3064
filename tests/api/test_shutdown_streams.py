"""SIGTERM with long streams open (issue 12, observation 5): each stream gets the grace, then
ends with a `gateway_shutting_down` error event, and each has a record after the restart.

Over real sockets: a real `manage.py serve`, a fake upstream streaming far longer than the
grace, 50 concurrent streaming clients and a real SIGTERM."""

import asyncio
import json
import signal

import httpx
import pytest

from tests.api.test_log_durability import count_logs
from tests.conftest import IrisServer
from tests.fakes.server import FakeServer, Received, Reply

GRACE = 2  # seconds; the streams ran 40 s, here they would run 40 s too
EVENT_DELAY = 0.25


def _event(i: int) -> bytes:
    chunk = {
        "id": "chatcmpl-slow",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o",
        "choices": [{"index": 0, "delta": {"content": f"token{i} "}, "finish_reason": None}],
    }
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


def slow_stream(request: Received) -> Reply:
    """An OpenAI stream of 40 seconds: one token every 250 ms."""
    events = [_event(i) for i in range(int(40 / EVENT_DELAY))] + [b"data: [DONE]\n\n"]
    return Reply(headers={"content-type": "text/event-stream"}, chunks=events, delay=EVENT_DELAY)


@pytest.fixture(scope="module")
def slow_upstream():
    with FakeServer(slow_stream) as server:
        yield server


async def stream_through_sigterm(server: IrisServer, upstream: str, count: int, trace: str):
    """Open `count` streams; once each has relayed a token, SIGTERM the server; read each to
    its end. Returns each stream's data lines."""
    headers = server.headers(
        **{
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": upstream,
            "authorization": "Bearer sk-x",
            "x-portkey-trace-id": trace,
        }
    )
    body = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    opened: list[int] = []
    all_open = asyncio.Event()

    async def one(client: httpx.AsyncClient, i: int) -> list[str]:
        events = []
        async with client.stream("POST", f"{server.url}/v1/chat/completions", json=body) as r:
            assert r.status_code == 200
            async for line in r.aiter_lines():
                if line.startswith("data: "):
                    events.append(line[len("data: ") :])
                    if len(events) == 1:
                        opened.append(i)
                        if len(opened) == count:
                            all_open.set()
        return events

    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(limits=limits, timeout=60, headers=headers) as client:
        tasks = [asyncio.create_task(one(client, i)) for i in range(count)]
        await asyncio.wait_for(all_open.wait(), 30)
        server.process.send_signal(signal.SIGTERM)
        return await asyncio.gather(*tasks)


def check_streams_and_records(
    server: IrisServer, results: list[list[str]], trace: str, *, processes: int = 1
) -> None:
    for events in results:
        last = json.loads(events[-1])
        assert last["error"]["code"] == "gateway_shutting_down", events[-3:]
        assert last["error"]["type"] == "server_error"
        assert "shutting down" in last["error"]["message"]
        assert "[DONE]" not in events
        assert len(events) >= 2  # tokens relayed before the end
    # The grace, not uvicorn's own timeout, ended the streams (that one cancels, and loses them).
    assert server.process.wait(GRACE + 20) in (0, -signal.SIGTERM)
    log = server.log_path.read_text()
    assert log.count("open stream(s) have 2.0 s to finish") == processes  # each worker
    assert "timeout graceful shutdown exceeded" not in log
    server.start()  # the same data folder: read back what the first process wrote
    try:
        assert count_logs(server, trace) == len(results)
        rows, cursor = [], None
        while True:
            page = server.logs(trace_id=trace, limit=200, **({"cursor": cursor} if cursor else {}))
            rows += page["data"]
            if not page["has_more"]:
                break
            cursor = page["next_cursor"]
        for row in rows:  # each logged with what it had relayed, and why it ended
            assert row["error_type"] == "server_error"
            assert "shutting down" in row["error_message"]
            assert row["status_code"] == 200 and row["is_stream"]
            assert row["chunk_count"] >= 1 and "token0" in row["reply_preview"]
    finally:
        server.stop()


def test_sigterm_ends_50_open_streams_with_an_error_event_and_logs_each(tmp_path, slow_upstream):
    server = IrisServer(tmp_path, GATEWAY_SHUTDOWN_GRACE_SECONDS=str(GRACE)).start()
    results = run_or_kill(
        server, stream_through_sigterm(server, f"{slow_upstream.url}/v1", 50, "sigterm-streams")
    )
    check_streams_and_records(server, results, "sigterm-streams")


def test_sigterm_ends_streams_in_every_worker_process(tmp_path, slow_upstream):
    server = IrisServer(tmp_path, GATEWAY_SHUTDOWN_GRACE_SECONDS=str(GRACE))
    server.serve_args = ["--workers", "2"]
    server.start()
    results = run_or_kill(
        server, stream_through_sigterm(server, f"{slow_upstream.url}/v1", 20, "sigterm-workers")
    )
    check_streams_and_records(server, results, "sigterm-workers", processes=2)


def run_or_kill(server: IrisServer, clients):
    try:
        return asyncio.run(clients)
    except BaseException:
        server.process.kill()  # leave no server behind a failed test
        raise
