"""A dataset export while blob storage fails: the zip still arrives whole (data.jsonl and
the central directory), with the images it could not read listed in missing_images.jsonl,
instead of a download cut off mid-way. Against a real moto S3 server that is stopped."""

import hashlib
import json
import zipfile
from io import BytesIO

import pytest
from botocore.config import Config

from exports import export as export_module
from exports.export import plan, stream
from gateway.logquery import LogFilter
from gateway.models import blob_name
from tests.exports.zips import read_export
from tests.s3.conftest import BACKEND, KEY_ID, REGION, SECRET, MotoS3
from tests.ui.logs import make_log, png

pytestmark = pytest.mark.django_db

RED, BLUE = png(color=(200, 0, 0)), png(color=(0, 0, 200))


def use_bucket(settings, s3: MotoS3) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": BACKEND,
            "OPTIONS": {
                "bucket_name": s3.new_bucket(),
                "endpoint_url": s3.url,
                "region_name": REGION,
                "access_key": KEY_ID,
                "secret_key": SECRET,
                "client_config": Config(
                    s3={"addressing_style": "path"},
                    connect_timeout=1,
                    read_timeout=2,
                    retries={"max_attempts": 1},
                ),
            },
        },
    }


def test_images_storage_cannot_give_are_listed_and_the_zip_stays_whole(settings, tmp_path):
    s3 = MotoS3(tmp_path).start()
    try:
        use_bucket(settings, s3)
        log = make_log("two pictures", images=[RED, BLUE])
        export = plan(LogFilter())
        s3.stop()
        data = b"".join(stream(export))
    finally:
        s3.stop()
    lines, images, names = read_export(data)  # a valid zip, CRCs checked
    assert [line["id"] for line in lines] == [log.id]
    assert images == {}
    with zipfile.ZipFile(BytesIO(data)) as zf:
        missing = [json.loads(line) for line in zf.read("missing_images.jsonl").splitlines()]
    shas = {hashlib.sha256(b).hexdigest() for b in (RED, BLUE)}
    assert {item["sha256"] for item in missing} == shas
    assert {item["file"] for item in missing} == {f"images/{sha}.png" for sha in shas}
    assert all(item["error"] for item in missing)
    # Once storage itself failed, the images left are not asked for again (each attempt at a
    # dead S3 costs its timeouts, in the thread the ORM shares).
    assert [item["error"].startswith("not tried: blob storage failed") for item in missing] == [
        False,
        True,
    ]
    assert names[-1] == "missing_images.jsonl"
    assert KEY_ID not in data.decode("latin1") and SECRET not in data.decode("latin1")


def test_a_whole_export_lists_nothing_missing(settings, tmp_path):
    s3 = MotoS3(tmp_path).start()
    try:
        use_bucket(settings, s3)
        make_log("one picture", images=[RED])
        _, images, names = read_export(b"".join(stream(plan(LogFilter()))))
    finally:
        s3.stop()
    assert list(images.values()) == [RED]
    assert "missing_images.jsonl" not in names


def test_one_file_gone_is_listed_and_the_others_still_exported(settings, tmp_path, monkeypatch):
    s3 = MotoS3(tmp_path).start()
    try:
        use_bucket(settings, s3)
        make_log("three pictures", images=[RED, BLUE, png(color=(0, 200, 0))])
        gone = hashlib.sha256(RED).hexdigest()
        bucket = settings.STORAGES["default"]["OPTIONS"]["bucket_name"]
        s3.client().delete_object(Bucket=bucket, Key=blob_name(gone))
        monkeypatch.setattr(export_module, "MISSING_LISTED", 0)  # past the cap: one line
        data = b"".join(stream(plan(LogFilter())))
    finally:
        s3.stop()
    _, images, _ = read_export(data)
    assert len(images) == 2 and RED not in images.values()
    with zipfile.ZipFile(BytesIO(data)) as zf:
        lines = [json.loads(line) for line in zf.read("missing_images.jsonl").splitlines()]
    assert lines == [{"more_images_not_listed": 1}]
