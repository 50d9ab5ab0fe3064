"""What the order of request ids costs the log's unique index on SQLite: random (uuid4) vs
time-first (the UUIDv7s of gateway/log/ids.py), in CPU per inserted row as the table grows.

    .venv/bin/python bench/request_id_order.py [--batches 3000]

A table with a unique text index, rows inserted in batches of 200 (the writer's) in WAL mode
with synchronous=NORMAL (Iris's SQLite settings); prints the CPU per row of the last 200
batches at each 1,000. Random keys touch a different leaf page each, and every page touched is
written to the WAL again at each commit; time-first keys land at the index's end.
"""

import argparse
import os
import sqlite3
import tempfile
import time
import uuid


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=3000)
    args = parser.parse_args()
    for name, make in (("uuid4", lambda: uuid.uuid4().hex), ("time-first", _time_first)):
        with tempfile.TemporaryDirectory() as folder:
            db = sqlite3.connect(os.path.join(folder, "ids.sqlite3"))
            db.execute("pragma journal_mode=wal")
            db.execute("pragma synchronous=normal")
            db.execute("create table log (id integer primary key, request_id text unique, pad)")
            spent = []
            for batch in range(1, args.batches + 1):
                rows = [(make(), "x" * 300) for _ in range(200)]
                started = time.process_time()
                db.executemany("insert into log (request_id, pad) values (?, ?)", rows)
                db.commit()
                spent.append(time.process_time() - started)
                if batch % 1000 == 0:
                    per_row = sum(spent[-200:]) / (200 * 200) * 1e6
                    print(f"{name:10s} {batch * 200:>9,} rows: {per_row:5.1f} µs CPU per row")
            db.close()


def _time_first() -> str:
    """As gateway/log/ids.py lays them out (without its pool): milliseconds, then random."""
    return f"{time.time_ns() // 1_000_000:012x}" + os.urandom(10).hex()


if __name__ == "__main__":
    main()
