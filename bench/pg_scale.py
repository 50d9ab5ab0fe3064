"""PostgreSQL at scale: seed a database of N request logs, then time the logs UI on it.

    python bench/pg_scale.py seed [--count 10000000] [--templates 20000] [--days 60]
    python bench/pg_scale.py bench [--runs 20]
    python bench/pg_scale.py minutes   (the minute rollups again, for the last 48 h: an
                                        older seed, or a day later)

Works on DATABASE_URL (default postgres://iris:iris@127.0.0.1:5432/iris_scale; `seed`
drops and creates it) with IRIS_DATA_DIR=var/pgscale (the seeded blobs). `seed` migrates
and fills it server-side (bench/pg_seed.py). `bench` times each page as bench/ui_bench.py
does: Django's test client (middleware, session, ORM, templates: the server side, no
network), warmed twice, then --runs times; prints median and p95 in ms and the queries.
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
os.environ.setdefault("IRIS_DATA_DIR", str(ROOT / "var" / "pgscale"))
os.environ.setdefault("DATABASE_URL", "postgres://iris:iris@127.0.0.1:5432/iris_scale")


def _recreate_database() -> None:
    url = urlsplit(os.environ["DATABASE_URL"])
    admin = url._replace(path="/postgres").geturl()
    name = url.path.lstrip("/")
    subprocess.run(["psql", admin, "-c", f'DROP DATABASE IF EXISTS "{name}"'], check=True)
    subprocess.run(["psql", admin, "-c", f'CREATE DATABASE "{name}"'], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    seed = sub.add_parser("seed")
    seed.add_argument("--count", type=int, default=10_000_000)
    seed.add_argument("--templates", type=int, default=20_000)
    seed.add_argument("--days", type=int, default=60)
    sub.add_parser("minutes")
    bench = sub.add_parser("bench")
    bench.add_argument("--runs", type=int, default=20)
    bench.add_argument("--only", default="", help="run the cases whose name has this text")
    bench.add_argument("--skip", default="", help="leave out the cases whose name has this text")
    bench.add_argument(
        "--python-sums",
        action="store_true",
        help="analytics from the log summed in Python "
        "(as before the database summed them): the 'before' figures",
    )
    args = parser.parse_args()
    if args.command == "seed":
        _recreate_database()
    import django

    django.setup()
    from django.core.management import call_command

    if args.command == "seed":
        from bench.pg_seed import seed as fill

        call_command("migrate", verbosity=0)
        fill(args.count, args.templates, args.days)
    elif args.command == "minutes":
        from bench.pg_seed import minute_rollups

        minute_rollups()
    else:
        from bench.pg_pages import run

        if args.python_sums:
            from logs_ui import analytics_log

            def in_python(qs, size, offset, group, meta_key, keep=None, cap=None):
                return analytics_log.from_log(qs, size, offset, group, meta_key, cap, keep)

            analytics_log.read_log = in_python
        run(args.runs, args.only, args.skip)


if __name__ == "__main__":
    main()
