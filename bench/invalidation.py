"""Cross-process cache invalidation latency (gateway/replicas.py), per bus.

One process saves a gateway key N times; another listens (replicas.start()) and stamps the
moment its caches are cleared. Latency = that stamp minus the moment save() returned (the row
committed). CLOCK_MONOTONIC is system-wide on Linux, so stamps compare across processes.

    .venv/bin/python bench/invalidation.py --bus poll                      # SQLite file
    DATABASE_URL=postgres://iris:iris@127.0.0.1:5432/iris \\
        .venv/bin/python bench/invalidation.py --bus postgres               # LISTEN/NOTIFY
    DATABASE_URL=... .venv/bin/python bench/invalidation.py --bus redis    # starts redis-server
"""

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
    import django

    django.setup()


def own_postgres_database(env: dict[str, str]) -> str:
    """On PostgreSQL, a database of the bench's own (migrated here, dropped after)."""
    url = env.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return ""
    import psycopg

    name = f"iris_bench_invalidation_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    env["ADMIN_DATABASE_URL"] = url
    env["DATABASE_URL"] = f"{url.rsplit('/', 1)[0]}/{name}"
    return name


def drop_postgres_database(name: str) -> None:
    import psycopg

    with psycopg.connect(os.environ["ADMIN_DATABASE_URL"], autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def listen() -> None:
    """The listening process: prints "ready", then one monotonic stamp per message heard."""
    setup_django()
    from gateway import replicas

    heard = replicas.Listener._heard

    def stamped(self) -> None:
        heard(self)
        print(time.monotonic(), flush=True)

    connected = replicas.Listener._connected

    def ready(self) -> None:
        connected(self)
        print("ready", flush=True)

    replicas.Listener._heard = stamped
    replicas.Listener._connected = ready
    replicas.start()
    sys.stdin.read()  # until the saver closes our stdin


def save(count: int, env: dict[str, str]) -> list[float]:
    setup_django()
    from gateway import replicas  # noqa: F401 - connects the senders
    from gateway.models import ApiKey

    listener = subprocess.Popen(
        [sys.executable, __file__, "--listen"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert listener.stdout.readline().strip() == "ready"
    key = ApiKey.objects.create(name=f"bench-{uuid.uuid4().hex[:8]}", key_hash=uuid.uuid4().hex)
    listener.stdout.readline()  # the creation's message
    latencies = []
    for i in range(count):
        key.name = f"bench-{i}"
        key.save(update_fields=["name"])
        committed = time.monotonic()
        cleared = float(listener.stdout.readline())
        latencies.append((cleared - committed) * 1000)
        time.sleep(random.uniform(0.05, 0.6))  # a random phase against a poll bus
    listener.stdin.close()
    listener.wait(10)
    key.delete()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bus", choices=("postgres", "redis", "poll"), default="poll")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--listen", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.listen:
        return listen()
    work = Path(tempfile.mkdtemp(prefix="iris-invalidation-"))
    env = {**os.environ, "IRIS_DATA_DIR": str(work), "IRIS_CACHE_INVALIDATION": args.bus}
    redis = None
    database = own_postgres_database(env)
    try:
        if args.bus == "redis":
            port = free_port()
            redis = subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
                stdout=subprocess.DEVNULL,
            )
            time.sleep(0.5)
            env["IRIS_CACHE_URL"] = f"redis://127.0.0.1:{port}/0"
        os.environ.update(env)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True
        )
        latencies = save(args.count, env)
    finally:
        if redis is not None:
            redis.terminate()
            redis.wait(10)
        shutil.rmtree(work, ignore_errors=True)
        if database:
            drop_postgres_database(database)
    quantiles = statistics.quantiles(latencies, n=100)
    print(
        json.dumps(
            {
                "bus": args.bus,
                "database": "postgresql" if "postgres" in env.get("DATABASE_URL", "") else "sqlite",
                "saves": len(latencies),
                "ms_p50": round(quantiles[49], 2),
                "ms_p95": round(quantiles[94], 2),
                "ms_max": round(max(latencies), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
