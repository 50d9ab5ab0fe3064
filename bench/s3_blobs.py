"""What blob storage on S3 costs the log writer and the logs UI: S3 round trips and this
process's CPU seconds per image, before (commit 60d5a58) and after the S3 work, against
moto's S3 server on 127.0.0.1 (a real HTTP server in its own process, so its CPU is not
counted; its latency is a loopback's, far below a real S3's ~10-30 ms per round trip).

    .venv/bin/python bench/s3_blobs.py [--images 200]

For each of "before" and "after": N distinct photos logged one record each (new images),
the same N again (images seen before), and each image's 96 px thumbnail read twice (the
second read is a cached thumbnail). Prints requests by method and CPU ms per image.
"""

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BEFORE = "60d5a58"


def setup(folder: Path, moto_url: str, bucket: str) -> None:
    os.environ.update(
        IRIS_DATA_DIR=str(folder),
        DATABASE_URL=f"sqlite:///{folder / 'iris.sqlite3'}",
        DJANGO_SETTINGS_MODULE="gateway.settings",
        BLOB_STORAGE_BACKEND="storages.backends.s3.S3Storage",
        IRIS_S3_BUCKET=bucket,
        IRIS_S3_ENDPOINT_URL=moto_url,
        IRIS_S3_REGION="us-east-1",
        IRIS_S3_ADDRESSING_STYLE="path",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def old_module(path: str, name: str):
    """A module as it was at BEFORE, loaded under a name of its own."""
    source = subprocess.run(
        ["git", "show", f"{BEFORE}:{path}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    spec = importlib.util.spec_from_loader(name, loader=None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    exec(compile(source, f"{path}@{BEFORE}", "exec"), module.__dict__)
    return module


class Calls:
    def __init__(self) -> None:
        from django.core.files.storage import default_storage

        self.methods: Counter[str] = Counter()
        events = default_storage.connection.meta.client.meta.events
        events.register("before-send.s3", self._count)

    def _count(self, request, **_) -> None:
        self.methods.update([request.method])

    def take(self) -> Counter:
        seen, self.methods = self.methods, Counter()
        return seen


def measure(label: str, blobs_module, thumbs_module, photos: list[bytes], calls: Calls) -> None:
    from gateway.log import entry as entries
    from gateway.models import Blob
    from tests.test_log_rows import record_with_image

    entries.blobs = blobs_module  # what save() calls
    n = len(photos)

    def run(what: str, work) -> None:
        calls.take()
        cpu, wall = time.process_time(), time.perf_counter()
        work()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        methods = calls.take()
        per = ", ".join(f"{m} {c / n:.2f}" for m, c in sorted(methods.items()))
        print(
            f"{label:6} {what:24} requests/image: {per or 'none':28} "
            f"CPU {1000 * cpu / n:6.2f} ms/image  wall {1000 * wall / n:6.2f} ms/image"
        )

    run("new images", lambda: [entries.save_records([record_with_image(p)]) for p in photos])
    run("images seen again", lambda: [entries.save_records([record_with_image(p)]) for p in photos])
    blobs_ = [Blob.objects.get(pk=__import__("hashlib").sha256(p).hexdigest()) for p in photos]
    run("thumbnail, first", lambda: [thumbs_module.get_or_make(b, 96) for b in blobs_])
    run("thumbnail, cached", lambda: [thumbs_module.get_or_make(b, 96) for b in blobs_])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=200)
    args = parser.parse_args()
    from tests.faults import photo_variants
    from tests.s3.conftest import MotoS3

    with tempfile.TemporaryDirectory(prefix="iris-s3-bench-") as tmp:
        folder = Path(tmp)
        s3 = MotoS3(folder).start()
        try:
            bucket = s3.new_bucket()
            setup(folder, s3.url, bucket)
            from django.core.files.storage import default_storage

            from gateway.log import blobs
            from logs_ui import thumbnails

            calls = Calls()
            size = len(photo_variants(1)[0]) // 1024
            print(f"{args.images} photos of ~{size} KB; moto at {s3.url}")
            old_blobs = old_module("gateway/log/blobs.py", "blobs_before")
            old_thumbs = old_module("logs_ui/thumbnails.py", "thumbnails_before")
            measure("before", old_blobs, old_thumbs, photo_variants(args.images, seed=1), calls)
            assert default_storage.bucket_name == bucket
            measure("after", blobs, thumbnails, photo_variants(args.images, seed=2), calls)
        finally:
            s3.stop()


if __name__ == "__main__":
    main()
