"""What a config costs on the chat path: one Iris, the same request routed by headers (A) and by
an inline config with one target, no retry and no cache (B), in alternating rounds.

    .venv/bin/python bench/config_cost.py [--rounds 6] [--seconds 4]

Same setup as bench/run.py (Iris pinned to core 0; wrk and the fake upstream to core 1, logging
on). A and B alternate within one process, so drift (caches warming, the log growing, the
machine's other load) falls on both alike. Reports per round and the medians: req/s at 32
clients, p50 at 1 client, and the difference B − A.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402 - bench/run.py: the peer, wrk and the fake upstream


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=4)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="iris-config-cost-"))
    env = {"IRIS_DATA_DIR": str(data_dir), "GATEWAY_ALLOW_PRIVATE_NETWORKS": "true"}
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=run.ROOT, env={**os.environ, **env}, check=True)
    key = subprocess.run(
        [*manage, "create_api_key", "bench"],
        cwd=run.ROOT,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    iris = run.Peer("Iris", [*manage, "serve", "--port", str(run.GATEWAY_PORT)], env)
    iris.headers["x-portkey-api-key"] = key
    configured = run.with_config(iris)
    fake = subprocess.Popen(
        [
            "taskset",
            "-c",
            "1",
            sys.executable,
            str(run.BENCH / "fake_upstream.py"),
            str(run.FAKE_PORT),
        ]
    )
    body = run.chat_body()
    rows = []
    try:
        run.wait_for(f"http://127.0.0.1:{run.FAKE_PORT}/stats")
        iris.start()
        for peer in (iris, configured):  # both routes answer, and warm up
            run.wrk(iris.url, peer.headers, body, 8, 2)
        for number in range(1, args.rounds + 1):
            round_ = {}
            for name, peer in (("headers", iris), ("config", configured)):
                many = run.wrk(iris.url, peer.headers, body, 32, args.seconds)
                one = run.wrk(iris.url, peer.headers, body, 1, args.seconds)
                assert not many["errors"] and not one["errors"], (name, many, one)
                round_[name] = {"rps": many["rps"], "p50_one": one["p50"]}
            rows.append(round_)
            print(f"round {number}: {json.dumps(round_)}", flush=True)
    finally:
        iris.stop()
        fake.terminate()
    report(rows)


def report(rows: list[dict]) -> None:
    def median(name: str, field: str) -> float:
        return statistics.median(r[name][field] for r in rows)

    rps_a, rps_b = median("headers", "rps"), median("config", "rps")
    p50_a, p50_b = median("headers", "p50_one"), median("config", "p50_one")
    diffs = [r["config"]["rps"] / r["headers"]["rps"] - 1 for r in rows]
    print(
        f"\nmedians over {len(rows)} rounds: req/s at 32 clients {rps_a:.0f} by headers, "
        f"{rps_b:.0f} by config ({(rps_b / rps_a - 1) * 100:+.1f} %; per round "
        f"{min(diffs) * 100:+.1f} to {max(diffs) * 100:+.1f} %); p50 at 1 client "
        f"{p50_a:.3f} ms by headers, {p50_b:.3f} ms by config ({(p50_b - p50_a) * 1000:+.0f} µs)"
    )


if __name__ == "__main__":
    main()
