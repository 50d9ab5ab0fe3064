"""gateway/shutdown.py: the grace bounds only the wait for the upstream (in-process; the real
SIGTERM is tested over sockets in tests/api/test_shutdown_streams.py)."""

import asyncio
import signal

import pytest

from gateway import shutdown


async def upstream(items: list[str], then: BaseException | None = None):
    """Yields items, then waits forever (a slow upstream) or raises `then`."""
    for item in items:
        yield item
    if then is not None:
        raise then
    await asyncio.Event().wait()


async def test_items_flow_until_the_grace_runs_out_while_waiting():
    loop = asyncio.get_running_loop()
    got = []
    with pytest.raises(shutdown.ShuttingDown):
        async for item in shutdown.until_shutdown(upstream(["a", "b"])):
            got.append(item)
            if item == "b":
                shutdown.begin(loop, grace=0)  # the signal arrives mid-stream
    assert got == ["a", "b"]


async def test_a_read_already_waiting_is_interrupted_when_the_grace_ends():
    loop = asyncio.get_running_loop()
    reader = asyncio.ensure_future(anext(shutdown.until_shutdown(upstream([]))))
    await asyncio.sleep(0)  # the read is now waiting on the upstream, with no deadline
    assert not reader.done()
    shutdown.begin(loop, grace=0.01)
    with pytest.raises(shutdown.ShuttingDown):
        await reader


async def test_a_stream_that_starts_after_the_grace_ends_at_once():
    shutdown.begin(asyncio.get_running_loop(), grace=0)
    await asyncio.sleep(0.01)
    with pytest.raises(shutdown.ShuttingDown):
        await anext(shutdown.until_shutdown(upstream([])))


async def test_the_upstream_s_own_timeout_is_passed_on_unchanged():
    with pytest.raises(TimeoutError) as caught:
        async for _ in shutdown.until_shutdown(upstream(["a"], then=TimeoutError("sock_read"))):
            pass
    assert not isinstance(caught.value, shutdown.ShuttingDown)


async def test_a_stream_that_ends_ends():
    async def two():
        yield "a"
        yield "b"

    assert [x async for x in shutdown.until_shutdown(two())] == ["a", "b"]


async def test_the_caller_s_own_awaits_are_never_cut_by_the_grace():
    """Only the read is bounded: a client slow to take an event is not cancelled mid-send."""
    loop = asyncio.get_running_loop()
    chunks = shutdown.until_shutdown(upstream(["a", "b"]))
    assert await anext(chunks) == "a"
    shutdown.begin(loop, grace=0)
    await asyncio.sleep(0.02)  # the caller's own work, past the deadline: not cancelled
    assert await anext(chunks) == "b"  # already there: no wait, no interruption
    with pytest.raises(shutdown.ShuttingDown):
        await anext(chunks)


def test_install_chains_onto_the_server_s_handler_and_starts_the_grace(settings):
    settings.GATEWAY_SHUTDOWN_GRACE_SECONDS = 0
    seen: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    previous_int = signal.getsignal(signal.SIGINT)

    async def main() -> None:
        shutdown.install()
        shutdown.install()  # idempotent: a second lifespan startup does not chain twice
        signal.raise_signal(signal.SIGTERM)
        with pytest.raises(shutdown.ShuttingDown):
            await anext(shutdown.until_shutdown(upstream([])))

    try:
        asyncio.run(main())
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
    assert seen == [signal.SIGTERM]  # the server's own handler still ran, once


def test_the_shutdown_event_is_an_openai_error():
    body = shutdown.error().body()["error"]
    assert body["type"] == "server_error" and body["code"] == "gateway_shutting_down"
    assert "shutting down" in body["message"]
