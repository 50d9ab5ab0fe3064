"""Bulk replay: how long a batch takes at each concurrency, against a real Iris.

    python bench/batch_replay.py [--records 60] [--delay 0.1] [--concurrency 1 4 16]

Starts `manage.py serve` on a fresh data folder (SQLite unless DATABASE_URL names
PostgreSQL) and a fake OpenAI that answers after --delay seconds, sends --records chat
requests with a small PNG through Iris, then replays them all with POST /v1/replays at each
concurrency and polls GET /v1/replays/{id} every 50 ms until done. Prints a Markdown table:
wall time, replays per second, and the overhead per replay over the ideal
(records × delay / concurrency): what Iris spends on a replay (reading the record and its
image, the request path, the log, the batch's own rows).
"""

import argparse
import base64
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import IrisServer, png_bytes  # noqa: E402
from tests.fakes.openai import completion  # noqa: E402
from tests.fakes.server import FakeServer, Received, Reply  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=60)
    parser.add_argument("--delay", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    args = parser.parse_args()

    def handle(request: Received) -> Reply:
        time.sleep(args.delay)
        return Reply.json(200, completion(request.json()["model"], "A cat."))

    with FakeServer(handle) as fake, tempfile.TemporaryDirectory() as data:
        iris = IrisServer(Path(data), GATEWAY_MAX_BATCH_CONCURRENCY="64").start()
        try:
            print(run(iris, fake, args))
        finally:
            iris.stop()


def run(iris: IrisServer, fake: FakeServer, args) -> str:
    route = {
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": f"{fake.url}/v1",
        "authorization": "Bearer sk-bench",
    }
    image = "data:image/png;base64," + base64.b64encode(png_bytes((64, 48))).decode()
    content = [
        {"type": "text", "text": "What is it?"},
        {"type": "image_url", "image_url": {"url": image}},
    ]
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}
    headers = iris.headers(**route, **{"x-portkey-trace-id": "bench-batch"})
    with httpx.Client(timeout=60) as client:
        start = time.perf_counter()
        for _ in range(args.records):
            client.post(f"{iris.url}/v1/chat/completions", json=body, headers=headers)
        direct = (time.perf_counter() - start) / args.records * 1000 - args.delay * 1000
        while len(iris.logs(trace_id="bench-batch", limit=200)["data"]) < args.records:
            time.sleep(0.05)
        lines = [
            f"{args.records} records with a 64×48 PNG, one target, upstream delay "
            f"{args.delay * 1000:.0f} ms; a client's own request through Iris, one at a "
            f"time, costs {direct:.1f} ms over the delay\n",
            "| concurrency | wall (s) | replays/s | ideal (s) | overhead per replay (ms) |",
            "|---:|---:|---:|---:|---:|",
        ]
        for concurrency in args.concurrency:
            spec = {
                "filter": {"trace_id": "bench-batch"},
                "targets": [{"provider": "openai", "model": "gpt-4o-mini"}],
                "limit": args.records,
                "concurrency": concurrency,
            }
            start = time.perf_counter()
            made = client.post(f"{iris.url}/v1/replays", json=spec, headers=iris.headers(**route))
            made.raise_for_status()
            url = f"{iris.url}/v1/replays/{made.json()['id']}"
            while (found := client.get(url, headers=iris.headers()).json())["status"] == "running":
                time.sleep(0.05)
            wall = time.perf_counter() - start
            assert (found["status"], found["failed"]) == ("done", 0), found["status"]
            assert found["targets"][0]["agreed"] == args.records
            ideal = args.records * args.delay / concurrency
            overhead = (wall - ideal) / args.records * concurrency * 1000
            lines.append(
                f"| {concurrency} | {wall:.2f} | {args.records / wall:.1f} | {ideal:.2f} "
                f"| {overhead:.1f} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
