"""Retention at scale: purge_logs on the bench/pg_scale.py database while the log writer inserts.

    python bench/pg_retention.py [--days 57] [--batch 2000] [--old-way-days 0] [--seconds 20]

A writer process inserts batches of LOG_BATCH_SIZE records as the log writer's database
thread does (blobs, rows, images, rollups in one transaction) at ~1,000 records/s; its
per-batch insert time is measured alone for --seconds, then while `purge(days=--days)`
runs. Prints rows/s deleted, the longest purge transaction, the most sessions seen waiting
on a lock (sampled every 20 ms), and the writer's p50/p99 with and without the purge.
--old-way-days N first does the same with the old purge (one DELETE of everything older).
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
os.environ.setdefault("IRIS_DATA_DIR", str(ROOT / "var" / "pgscale"))
os.environ.setdefault("DATABASE_URL", "postgres://iris:iris@127.0.0.1:5432/iris_scale")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402


def writer(out: Path, stop: Path) -> None:
    """Insert a batch every 0.2 s until `stop` exists; write each batch's seconds to `out`."""
    import random

    from django.utils import timezone

    from gateway import rollups
    from gateway.management.commands.seed_logs import fake_log, image_pool
    from gateway.models import Blob, LogImage, RequestLog

    rng = random.Random(os.getpid())
    pool = image_pool(rng)
    took = []
    while not stop.exists():
        made = [fake_log(rng, timezone.now(), pool) for _ in range(settings.LOG_BATCH_SIZE)]
        started = time.perf_counter()
        with transaction.atomic():  # as gateway/log/entry.py's save()
            Blob.objects.bulk_create(pool[:2], ignore_conflicts=True)
            rows = RequestLog.objects.bulk_create([row for row, _ in made])
            images = [
                LogImage(
                    log=row,
                    **{
                        k: getattr(i, k)
                        for k in (
                            "blob_id",
                            "message_index",
                            "part_index",
                            "detail",
                            "origin",
                            "url",
                            "data_uri_prefix",
                            "error",
                        )
                    },
                )
                for row, (_, imgs) in zip(rows, made, strict=True)
                for i in imgs
            ]
            LogImage.objects.bulk_create(images)
            rollups.add(rows, images)
        took.append(time.perf_counter() - started)
        time.sleep(max(0.0, 0.2 - took[-1]))
    out.write_text(json.dumps(took))


def _with_writer(seconds_alone: float, work) -> tuple[list[float], object]:
    out, stop = Path(f"/tmp/pg-retention-{os.getpid()}.json"), Path(f"/tmp/pg-stop-{os.getpid()}")
    stop.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, __file__, "--writer", str(out), str(stop)])
    time.sleep(seconds_alone)
    result = work() if work else None
    stop.touch()
    proc.wait()
    took = json.loads(out.read_text())
    out.unlink()
    stop.unlink()
    return took, result


def _lock_sampler(seen: list[int], done: threading.Event) -> None:
    cursor = connections.create_connection("default").cursor()
    while not done.is_set():
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()"
        )
        seen.append(cursor.fetchone()[0])
        time.sleep(0.02)


def _purge(days: int, batch: int, old_way: bool) -> dict:
    import datetime as dt

    from django.utils import timezone

    from gateway.log.retention import purge
    from gateway.models import RequestLog

    longest, count = [0.0], [0]
    seen: list[int] = []
    done = threading.Event()
    sampler = threading.Thread(target=_lock_sampler, args=(seen, done))
    sampler.start()
    started = time.perf_counter()
    if old_way:  # the purge before batches: one DELETE (the collector reads every row first)
        cutoff = timezone.now() - dt.timedelta(days=days)
        with transaction.atomic():
            _, deleted = RequestLog.objects.filter(created_at__lt=cutoff).delete()
        count[0] = deleted.get(RequestLog._meta.label, 0)
        longest[0] = time.perf_counter() - started
    else:

        def measured(rows: int, seconds: float) -> None:
            longest[0] = max(longest[0], seconds)
            count[0] += rows

        purge(days=days, batch=batch, on_batch=measured)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    return {"rows": count[0], "seconds": seconds, "longest": longest[0], "waiting": max(seen)}


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


def main() -> None:
    if sys.argv[1:2] == ["--writer"]:
        writer(Path(sys.argv[2]), Path(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=57)
    parser.add_argument("--batch", type=int, default=settings.LOG_RETENTION_BATCH)
    parser.add_argument("--old-way-days", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    alone, _ = _with_writer(args.seconds, None)
    print(
        f"writer alone: {len(alone)} batches of {settings.LOG_BATCH_SIZE}, "
        f"p50 {_p(alone, 0.5):.0f} ms, p99 {_p(alone, 0.99):.0f} ms",
        flush=True,
    )
    runs = [("batched", args.days, False)]
    if args.old_way_days:
        runs.insert(0, ("one DELETE (before)", args.old_way_days, True))
    for name, days, old in runs:
        took, r = _with_writer(3, lambda d=days, o=old: _purge(d, args.batch, o))
        print(
            f"{name}: {r['rows']:,} rows in {r['seconds']:.1f} s = "
            f"{r['rows'] / max(r['seconds'], 1e-9):,.0f} rows/s; longest transaction "
            f"{r['longest'] * 1000:.0f} ms; most sessions waiting on a lock: {r['waiting']}; "
            f"writer meanwhile: {len(took)} batches, p50 {_p(took, 0.5):.0f} ms, "
            f"p99 {_p(took, 0.99):.0f} ms, max {max(took) * 1000:.0f} ms",
            flush=True,
        )
    connection.close()


if __name__ == "__main__":
    main()
