"""Peak memory of a dataset export against the bytes it writes (issue 17: "an export of 1,000
records with images streams with a bounded peak memory").

    python bench/export_memory.py [--records 1000] [--image-kb 100] [--keep]

Logs --records requests in a fresh data folder (var/bench-export, SQLite unless DATABASE_URL
names PostgreSQL), each through the log writer's own code path (tests/ui/logs.py) with two
images: one of its own (noise, --image-kb of PNG, so it does not compress) and one all share;
every tenth also answers with an image. Then exports them all as the logs UI does (Django's
test client, GET /logs/export/, the streamed response read chunk by chunk and written to a
file) and reports the Python heap's peak (tracemalloc) and the process's peak RSS during the
export, against the zip's size; checks the zip (CRCs, one line per record, each image once).
"""

import argparse
import io
import os
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
DATA = Path(os.environ.setdefault("IRIS_DATA_DIR", str(ROOT / "var" / "bench-export")))

import django  # noqa: E402

if "--keep" not in sys.argv and DATA.exists() and DATA.name == "bench-export":
    shutil.rmtree(DATA)
DATA.mkdir(parents=True, exist_ok=True)
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from PIL import Image as PILImage  # noqa: E402

from gateway.models import RequestLog  # noqa: E402
from tests.ui.logs import make_log, png  # noqa: E402


def noise_png(kb: int) -> bytes:
    side = int((kb * 1024 / 3) ** 0.5)
    pixels = os.urandom(side * side * 3)
    out = io.BytesIO()
    PILImage.frombytes("RGB", (side, side), pixels).save(out, "PNG", compress_level=0)
    return out.getvalue()


def seed(records: int, image_kb: int) -> int:
    shared = png((64, 64), color=(10, 120, 200))
    have = RequestLog.objects.count()
    for i in range(have, records):
        made = [png((32, 32), color=(i % 256, 7, 7))] if i % 10 == 0 else []
        make_log(f"record {i}", images=[noise_png(image_kb), shared], reply_images=made)
        if (i + 1) % 200 == 0:
            print(f"  logged {i + 1}/{records}", flush=True)
    return RequestLog.objects.count()


def rss_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--image-kb", type=int, default=100)
    parser.add_argument("--keep", action="store_true", help="reuse var/bench-export's records")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    count = seed(args.records, args.image_kb)
    print(f"{count} records logged in {time.perf_counter() - started:.1f} s")
    user = get_user_model().objects.filter(username="bench").first()
    user = user or get_user_model().objects.create_user("bench", password="x", is_staff=True)
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)

    out = Path(tempfile.mkdtemp()) / "export.zip"
    rss_before = rss_peak_mb()
    tracemalloc.start()
    started = time.perf_counter()
    response = client.get("/logs/export/")
    written = chunks = 0
    with open(out, "wb") as f:
        for chunk in response.streaming_content:
            f.write(chunk)
            written += len(chunk)
            chunks += 1
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = rss_peak_mb()

    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        lines = zf.read("data.jsonl").count(b"\n")
    images = [n for n in names if n.startswith("images/")]
    assert len(names) == len(set(names)) and lines == count, (lines, count)
    print(f"records={response['X-Iris-Export-Records']} lines={lines} images={len(images)}")
    print(f"zip: {written / 1e6:.1f} MB in {chunks} chunks, {seconds:.1f} s")
    print(f"python heap peak (tracemalloc): {peak / 1e6:.2f} MB = {peak / written:.2%} of the zip")
    print(f"process peak RSS: {rss_before:.0f} MB before the export, {rss_after:.0f} MB after")
    out.unlink()


if __name__ == "__main__":
    main()
