"""Event-loop lag probe, for the benchmark (IRIS_LOOP_LAG_PROBE=1, started by gateway/asgi.py).

A task sleeps 5 ms in a loop and counts how late it wakes: whatever held the loop meanwhile
(parsing a big body, base64, hashing, Pillow) shows up as lag. The histogram is written to
DATA_DIR/loop-lag-<pid>.json on SIGUSR1 (then reset, so bench/run.py can measure one scenario
at a time) and at shutdown.
"""

import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path

import orjson

log = logging.getLogger(__name__)

_PERIOD = 0.005
_BUCKET_MS = 0.1  # resolution of the histogram
_BUCKETS = 10_000  # up to 1 s; later wake-ups share the last bucket (max_ms keeps the truth)


class LagProbe:
    def __init__(self, folder: Path) -> None:
        self.path = folder / f"loop-lag-{os.getpid()}.json"
        self.counts = [0] * _BUCKETS
        self.max_ms = 0.0
        self.seq = 0  # dumps so far: a reader waits for it to move
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run(loop))
        # Only in the main thread (uvicorn's); elsewhere the histogram is written at shutdown.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGUSR1, self.dump, True)

    def stop(self) -> dict:
        if self._task is not None:
            self._task.cancel()
        summary = self.dump(reset=False)
        log.info(
            "event-loop lag: p50 %.2f ms, p99 %.2f ms, max %.2f ms over %d samples",
            summary["p50_ms"],
            summary["p99_ms"],
            summary["max_ms"],
            summary["count"],
        )
        return summary

    async def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            start = loop.time()
            await asyncio.sleep(_PERIOD)
            self.add((loop.time() - start - _PERIOD) * 1000)

    def add(self, lag_ms: float) -> None:
        lag_ms = max(lag_ms, 0.0)
        self.counts[min(int(lag_ms / _BUCKET_MS), _BUCKETS - 1)] += 1
        self.max_ms = max(self.max_ms, lag_ms)

    def summary(self) -> dict:
        count = sum(self.counts)
        return {
            "seq": self.seq,
            "count": count,
            "p50_ms": self._percentile(count, 0.50),
            "p99_ms": self._percentile(count, 0.99),
            "max_ms": round(self.max_ms, 3),
        }

    def _percentile(self, count: int, q: float) -> float:
        if not count:
            return 0.0
        rank, seen = q * count, 0
        for bucket, n in enumerate(self.counts):
            seen += n
            if seen >= rank:
                return round((bucket + 1) * _BUCKET_MS, 3)  # the bucket's upper edge
        return round(self.max_ms, 3)

    def dump(self, reset: bool) -> dict:
        self.seq += 1
        summary = self.summary()
        spare = self.path.with_suffix(".tmp")
        spare.write_bytes(orjson.dumps(summary))
        spare.replace(self.path)  # whole, for the reader polling it
        if reset:
            self.counts, self.max_ms = [0] * _BUCKETS, 0.0
        return summary
