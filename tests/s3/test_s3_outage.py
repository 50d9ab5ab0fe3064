"""S3 down while requests flow, against real processes: a real Iris and moto's S3 server,
which is stopped mid-way and started again. Every answered request must end up logged with
its image in the bucket once S3 is back, and healthz must show the wait meanwhile."""

from __future__ import annotations

import asyncio
import hashlib

from gateway.models import blob_name
from tests.conftest import IrisServer
from tests.faults import (
    Burst,
    HealthWatch,
    image_body,
    photo_variants,
    wait_for,
    wait_healthy,
    wait_until_logged,
)
from tests.s3.conftest import MotoS3


def answered(answers) -> set[str]:
    return {a.request_id for a in answers if a.status == 200}


def test_records_wait_for_s3_and_are_written_with_their_images_when_it_is_back(
    tmp_path, fake_openai
):
    s3 = MotoS3(tmp_path).start()
    bucket = s3.new_bucket()
    (tmp_path / "iris").mkdir()
    server = IrisServer(tmp_path / "iris", **s3.env(bucket))
    server.start()
    upstream = f"{fake_openai.url}/v1"
    try:
        photos = photo_variants(8, seed=18)
        before = asyncio.run(Burst(server, upstream, "s3-up").run([image_body(photos[0], "up")]))
        assert not wait_until_logged(server, "s3-up", answered(before), 20)

        s3.stop()  # S3 down; requests keep coming
        with HealthWatch(server) as watch:
            bodies = [image_body(p, f"down {i}") for i, p in enumerate(photos[1:])]
            during = asyncio.run(Burst(server, upstream, "s3-down", concurrency=4).run(bodies))
            assert [a.status for a in during] == [200] * len(bodies)  # proxied all the same
            assert wait_for(lambda: watch.seen and watch.seen[-1][2].get("waiting_for"), 30), (
                watch.seen[-3:]
            )
            assert watch.seen[-1][1] == 503
            assert watch.seen[-1][2]["waiting_for"] == "blob storage unavailable"
            assert server.logs(trace_id="s3-down")["data"] == []  # none written without images

            s3.start()  # back on the same port, empty: moto keeps buckets in memory
            s3.new_bucket(bucket)
            missing = wait_until_logged(server, "s3-down", answered(during), 60)
            assert not missing, f"{len(missing)} answered requests never logged"
            status, health = wait_healthy(server, 30)
            assert status == 200, health
        for photo in photos[1:]:
            assert s3.get(bucket, blob_name(hashlib.sha256(photo).hexdigest())) == photo
        log = server.log(next(iter(answered(during))))
        assert log["images"][0]["sha256"] and not log.get("degraded")
        assert health["log_writer"]["set_aside"] == 0
        assert "secret" not in str(health).lower()
    finally:
        server.stop()
        s3.stop()
