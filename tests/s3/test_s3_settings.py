"""The S3 settings (gateway/settings.py): environment variables in, django-storages options
out, with bounded timeouts; a hung S3 is a storage fault within them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading

import pytest
from botocore.config import Config

from gateway.log import entry as entries
from gateway.log.blobs import StorageUnavailable
from tests.conftest import ROOT, png_bytes
from tests.s3.conftest import BACKEND
from tests.test_log_rows import record_with_image

SHOW = """
import json
from gateway import settings as s
o = s.STORAGES["default"]["OPTIONS"]
c = o.pop("client_config")
o.update(connect=c.connect_timeout, read=c.read_timeout, retries=c.retries, s3=c.s3)
print(json.dumps(o))
"""


def options(tmp_path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("IRIS_S3_", "AWS_"))}
    return subprocess.run(
        [sys.executable, "-c", SHOW],
        cwd=ROOT,
        env={**clean, "IRIS_DATA_DIR": str(tmp_path), "BLOB_STORAGE_BACKEND": BACKEND, **env},
        capture_output=True,
        text=True,
    )


def test_the_environment_becomes_django_storages_options(tmp_path):
    shown = options(
        tmp_path,
        IRIS_S3_BUCKET="logs",
        IRIS_S3_ENDPOINT_URL="https://s3.example.net",
        IRIS_S3_REGION="eu-west-3",
        IRIS_S3_ADDRESSING_STYLE="path",
        IRIS_S3_PREFIX="/iris/prod/",
        IRIS_S3_CONNECT_TIMEOUT="2",
        IRIS_S3_READ_TIMEOUT="7",
        IRIS_S3_MAX_ATTEMPTS="4",
        AWS_SECRET_ACCESS_KEY="never-in-settings",
    )
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == {
        "bucket_name": "logs",
        "endpoint_url": "https://s3.example.net",
        "region_name": "eu-west-3",
        "location": "iris/prod",
        "file_overwrite": True,
        "querystring_auth": False,
        "max_memory_size": 16 * 1024 * 1024,
        "connect": 2.0,
        "read": 7.0,
        "retries": {"max_attempts": 4, "mode": "standard"},
        "s3": {"addressing_style": "path"},
    }  # credentials stay with boto3 (AWS_* or its chain), never copied into settings


def test_s3_without_a_bucket_is_refused_at_start(tmp_path):
    shown = options(tmp_path)
    assert shown.returncode != 0
    assert "S3 blob storage needs IRIS_S3_BUCKET" in shown.stderr


@pytest.mark.django_db(transaction=True)
def test_an_s3_that_accepts_and_never_answers_is_a_storage_fault(settings):
    with socket.socket() as hole:  # listens, never accepts: connections hang
        hole.bind(("127.0.0.1", 0))
        hole.listen(16)
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": BACKEND,
                "OPTIONS": {
                    "bucket_name": "hung",
                    "endpoint_url": f"http://127.0.0.1:{hole.getsockname()[1]}",
                    "region_name": "us-east-1",
                    "access_key": "k",
                    "secret_key": "s",
                    "client_config": Config(
                        connect_timeout=1, read_timeout=1, retries={"max_attempts": 1}
                    ),
                },
            },
        }
        raised: list[BaseException] = []

        def save() -> None:
            try:
                entries.save_records([record_with_image(png_bytes(), "hung")])
            except BaseException as exc:
                raised.append(exc)

        worker = threading.Thread(target=save, daemon=True)
        worker.start()
        worker.join(60)  # a generous bound: without timeouts this would wait forever
        assert not worker.is_alive(), "the write hung on an S3 that never answers"
    assert isinstance(raised[0], StorageUnavailable)
    assert "Read timeout" in str(raised[0])
