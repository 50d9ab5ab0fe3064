"""Issue 12's figures for the log under faults, against a real Iris and a real fake upstream.

    .venv/bin/python bench/log_faults.py [--lock-seconds 100] [--kill-burst 1500]

Runs, each on a fresh `manage.py serve` with its own data folder (SQLite):
  - a body nested 1,000 levels deep (unknown @slug): its status, its record, the next request's;
  - blob and journal folders on a 2 MB tmpfs filled to ~200 KB free: 300 image requests (16
    distinct photos), then the space freed (no restart), then 50 more;
  - the SQLite folder made read-only for 5 s mid-burst of 600, and write-locked (another
    process holding BEGIN IMMEDIATE) for --lock-seconds mid-burst of 600;
  - SIGKILL once two thirds of --kill-burst requests are answered, then a restart on the same
    data folder: the answered requests without a record, and how many of them were answered
    within LOG_FSYNC_SECONDS (+0.2 s for scheduling) of the kill.
Prints one row per scenario. The mounts need root; those rows say so otherwise.
"""

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.conftest import IrisServer  # noqa: E402
from tests.fakes import openai as fake_openai  # noqa: E402
from tests.fakes.server import FakeServer  # noqa: E402
from tests.faults import (  # noqa: E402
    Answer,
    Burst,
    FaultUnavailable,
    HealthWatch,
    fill,
    healthz,
    hold,
    image_body,
    logged_request_ids,
    nested_body,
    photo_variants,
    read_only,
    sqlite_count,
    text_body,
    tmpfs,
    wait_for,
    wait_until_logged,
    write_locked,
)

WINDOW = 0.3  # LOG_FSYNC_SECONDS (0.1 s by default) + 0.2 s for scheduling
rows: list[dict] = []


def row(scenario: str, **figures) -> None:
    rows.append({"scenario": scenario, **figures})
    print(f"  {scenario}: {figures}", flush=True)


def server_in(folder: Path, database: Path | None = None, **env: str) -> IrisServer:
    database = database or folder / "iris.sqlite3"
    return IrisServer(folder, DATABASE_URL=f"sqlite:///{database}", **env)


def sigterm(server: IrisServer) -> str:
    """SIGTERM and how long the exit took (SIGKILL after 120 s)."""
    start = time.monotonic()
    try:
        server.stop(timeout=120)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(10)
        return "no exit 120 s after SIGTERM"
    return f"exit {time.monotonic() - start:.1f} s after SIGTERM"


def answered_ids(answers: list[Answer]) -> set[str]:
    return {a.request_id for a in answers if a.status is not None}


def statuses(answers: list[Answer]) -> str:
    counts: dict = {}
    for a in answers:
        counts[a.status] = counts.get(a.status, 0) + 1
    return " ".join(f"{k}x{v}" for k, v in sorted(counts.items(), key=str))


def nested(tmp: Path, upstream: str) -> None:
    server = server_in(tmp).start()
    try:
        headers = server.headers(**{"x-portkey-provider": "@nope", "x-portkey-trace-id": "deep"})
        headers["content-type"] = "application/json"
        r = httpx.post(
            f"{server.url}/v1/chat/completions", content=nested_body(1000, "d"), headers=headers
        )
        logged = bool(server.find_logs(timeout=10, request_id=r.headers["x-iris-request-id"]))
        after = asyncio.run(Burst(server, upstream, "after-deep").run([text_body(0)]))
        next_logged = not wait_until_logged(server, "after-deep", answered_ids(after), 10)
        log = healthz(server)[1]["log_writer"]
        row(
            "1,000-level body",
            status=f"{r.status_code} {r.json()['error']['code']}",
            logged=logged,
            next_request_logged=next_logged,
            set_aside=log["set_aside"],
            loop_restarts=log["loop_restarts"],
        )
    finally:
        sigterm(server)


def disk_full(tmp: Path, upstream: str) -> None:
    try:
        with tmpfs(tmp / "fs", "2m") as fs:
            server = server_in(
                tmp, BLOB_STORAGE_DIR=str(fs / "blobs"), LOG_SPOOL_DIR=str(fs / "spool")
            ).start()
            try:
                filler = fill(fs, leave=200_000)
                photos = photo_variants(16)
                bodies = [image_body(photos[i % 16], f"full {i}") for i in range(300)]
                with HealthWatch(server) as watch:
                    answers = asyncio.run(
                        Burst(server, upstream, "full", concurrency=8, rate=40).run(bodies)
                    )
                    wait_for(lambda: watch.statuses and watch.statuses[-1] == 503, 15)
                    while_full = len(answered_ids(answers) & logged_request_ids(server, "full"))
                    filler.unlink()
                    start = time.monotonic()
                    missing = wait_until_logged(server, "full", answered_ids(answers), 120)
                    healed = time.monotonic() - start
                    final = wait_for(lambda: healthz(server)[0] == 200, 30)
                later_photos = photo_variants(8, seed=1)
                later = [image_body(later_photos[i % 8], f"later {i}") for i in range(50)]
                later_answers = asyncio.run(
                    Burst(server, upstream, "later", concurrency=8).run(later)
                )
                later_missing = wait_until_logged(server, "later", answered_ids(later_answers), 60)
                database = tmp / "iris.sqlite3"
                degraded = sqlite_count(
                    database, "SELECT count(*) FROM gateway_requestlog WHERE degraded != ''"
                )
                set_aside = healthz(server)[1]["log_writer"]["set_aside"]
            finally:
                exit_after = sigterm(server)
            unsaved = len(
                re.findall(r"could not (?:even )?be set aside", server.log_path.read_text())
            )
            row(
                "disk full, then freed",
                answered=f"{statuses(answers)} then {statuses(later_answers)}",
                logged_while_full=while_full,
                lost=f"{len(missing)} of 300 (all logged {healed:.1f} s after freeing)",
                later_lost=f"{len(later_missing)} of 50",
                healthz=f"503 seen: {503 in watch.statuses}, 200 after: {final}",
                degraded=degraded,
                set_aside=set_aside,
                sigterm=f"{exit_after}, {unsaved} records could not even be set aside",
            )
    except FaultUnavailable as exc:
        row("disk full, then freed", skipped=str(exc))


def database_fault(tmp: Path, upstream: str, name: str, seconds: float, make, **env) -> None:
    """600 requests paced to last `seconds` + 10 s, the fault held from the 5th second."""
    server = server_in(tmp, tmp / "db" / "iris.sqlite3", **env).start()
    try:
        rate = 600 / (seconds + 10)
        burst = Burst(server, upstream, name, concurrency=16, rate=rate)

        async def run():
            return await asyncio.gather(
                burst.run([text_body(i) for i in range(600)]), hold(make, 5, seconds)
            )

        with HealthWatch(server, every=0.5) as watch:
            answers, window = asyncio.run(run())
            missing = wait_until_logged(server, name, answered_ids(answers), 120)
        during = [a.latency for a in answers if window.covers(a)]
        row(
            name,
            answered=statuses(answers),
            lost=len(missing),
            set_aside=healthz(server)[1]["log_writer"]["set_aside"],
            in_flight_during_fault=len(during),
            proxy_latency_max_during=f"{max(during, default=0):.3f} s",
            healthz_503=watch.statuses.count(503),
        )
    finally:
        sigterm(server)


def read_only_5s(tmp: Path, upstream: str) -> None:
    try:
        with tmpfs(tmp / "db", "64m") as folder:
            database_fault(
                tmp,
                upstream,
                "read-only 5 s",
                5,
                lambda: read_only(folder),
                DATABASE_CONN_MAX_AGE="0",  # a file open for writing stays writable
            )
    except FaultUnavailable as exc:
        row("read-only 5 s", skipped=str(exc))


def locked(tmp: Path, upstream: str, seconds: float) -> None:
    (tmp / "db").mkdir()
    database = tmp / "db" / "iris.sqlite3"
    database_fault(
        tmp, upstream, f"write-locked {seconds:.0f} s", seconds, lambda: write_locked(database)
    )


def sigkill(tmp: Path, upstream: str, count: int, window: float = WINDOW, **env: str) -> None:
    from tests.api.test_log_sigkill import kill_mid_burst

    server = server_in(tmp, **env).start()
    answers, killed_at = kill_mid_burst(server, upstream, "kill", count, count * 2 // 3)
    answered = [a for a in answers if a.status is not None]
    server.start()
    try:

        def missing() -> list[Answer]:
            logged = logged_request_ids(server, "kill")
            return [a for a in answered if a.request_id not in logged]

        replayed = wait_for(
            lambda: healthz(server)[1]["log_writer"]["journal_backlog_bytes"] == 0, 20
        )
        missing_idle = missing()
        if not replayed:  # the writer starts with the first request: send one
            asyncio.run(Burst(server, upstream, "nudge").run([text_body(0)]))
            wait_for(lambda: healthz(server)[1]["log_writer"]["journal_backlog_bytes"] == 0, 30)
        time.sleep(1)
        lost = missing()
        inside = [a for a in lost if a.at >= killed_at - window]
        ages = sorted(round(killed_at - a.at, 3) for a in lost)
        row(
            f"SIGKILL mid-burst of {count}",
            answered=len(answered),
            replayed_without_traffic=replayed,
            missing_before_any_request=len(missing_idle),
            missing=len(lost),
            inside_window=f"{len(inside)} (answered < {window} s before the kill)",
            outside_window=len(lost) - len(inside),
            seconds_before_kill=f"{ages[:3]}..{ages[-3:]}" if ages else "-",
        )
    finally:
        sigterm(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lock-seconds", type=float, default=100)
    parser.add_argument("--kill-burst", type=int, default=1500)
    parser.add_argument("--only", nargs="*", default=None, help="nested full ro lock kill")
    args = parser.parse_args()
    scenarios = {
        "nested": nested,
        "full": disk_full,
        "ro": read_only_5s,
        "lock": lambda tmp, up: locked(tmp, up, args.lock_seconds),
        "kill": lambda tmp, up: sigkill(tmp, up, args.kill_burst),
    }
    with FakeServer(fake_openai.handle) as upstream:
        for name, run in scenarios.items():
            if args.only and name not in args.only:
                continue
            with tempfile.TemporaryDirectory(prefix=f"iris-{name}-") as tmp:
                print(f"{name} ...", flush=True)
                run(Path(tmp), f"{upstream.url}/v1")
    print()
    for r in rows:
        figures = "; ".join(f"{k}={v}" for k, v in r.items() if k != "scenario")
        print(f"| {r['scenario']:<28} | {figures}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main()
