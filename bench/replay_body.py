"""What a replay adds before it is sent: rebuilding the body of a logged request with the
stored bytes of its images (database rows, blob reads, base64, JSON), per image size.

    python bench/replay_body.py [--runs 20]

Runs in a fresh IRIS_DATA_DIR (SQLite, a temporary folder unless set); writes one logged
chat request per size through the log writer's own code, then times replays.body.replay_body
and the JSON encoding replay() does (both in a thread, off the event loop). Prints a Markdown
table: image bytes, median and p95 ms.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
os.environ.setdefault("IRIS_DATA_DIR", tempfile.mkdtemp(prefix="iris-replay-bench-"))

import django  # noqa: E402

django.setup()

import orjson  # noqa: E402
from django.core.management import call_command  # noqa: E402

from replays import body  # noqa: E402
from tests.ui.logs import make_log  # noqa: E402

SIZES = (100_000, 1_000_000, 5_000_000)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    call_command("migrate", verbosity=0)
    print("| image bytes | median ms | p95 ms |\n|---:|---:|---:|")
    for size in SIZES:
        # Random pixels: a PNG about this big (the log keeps the client's bytes as sent).
        data = os.urandom(size)
        log = make_log(images=[_png_of(data)])
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            orjson.dumps(body.replay_body(log, None, None))
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        print(f"| {size:,} | {statistics.median(times):.1f} | {p95:.1f} |")


def _png_of(noise: bytes) -> bytes:
    """A real PNG of about len(noise) bytes (random pixels do not compress)."""
    import io

    from PIL import Image

    side = int((len(noise) / 3) ** 0.5)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), noise[: side * side * 3]).save(out, "PNG")
    return out.getvalue()


if __name__ == "__main__":
    main()
