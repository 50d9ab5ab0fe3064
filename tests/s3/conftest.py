"""A real S3-compatible server for the blob storage tests: moto's standalone server
(`python -m moto.server`, from the dev extras) in its own process on 127.0.0.1, spoken to
over HTTP by boto3 exactly as Iris speaks to AWS S3, MinIO or any other."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.config import Config

from tests.conftest import IrisServer, free_port

BACKEND = "storages.backends.s3.S3Storage"
REGION = "us-east-1"
KEY_ID, SECRET = "iris-test-key", "iris-test-secret-not-real"


class MotoS3:
    """moto's S3 server in a subprocess. stop() then start() again on the same port is an
    outage and a recovery; moto keeps its buckets in memory, so a restart empties them."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"moto-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> MotoS3:
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto's server exited: {self.log_path}")
            try:
                httpx.get(f"{self.url}/moto-api/", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("moto's server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            config=Config(s3={"addressing_style": "path"}),
        )

    def new_bucket(self, name: str = "") -> str:
        name = name or f"iris-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def env(self, bucket: str) -> dict[str, str]:
        """What an Iris server needs to keep its blobs in this bucket."""
        return {
            "BLOB_STORAGE_BACKEND": BACKEND,
            "IRIS_S3_BUCKET": bucket,
            "IRIS_S3_ENDPOINT_URL": self.url,
            "IRIS_S3_REGION": REGION,
            "IRIS_S3_ADDRESSING_STYLE": "path",
            "AWS_ACCESS_KEY_ID": KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET,
            # Short, so an outage is noticed quickly; bounded either way.
            "IRIS_S3_CONNECT_TIMEOUT": "1",
            "IRIS_S3_READ_TIMEOUT": "5",
            "IRIS_S3_MAX_ATTEMPTS": "2",
        }

    def get(self, bucket: str, key: str) -> bytes:
        return self.client().get_object(Bucket=bucket, Key=key)["Body"].read()

    def keys(self, bucket: str, prefix: str = "") -> set[str]:
        pages = (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        )
        return {item["Key"] for page in pages for item in page.get("Contents", ())}


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory):
    server = MotoS3(tmp_path_factory.mktemp("moto")).start()
    yield server
    server.stop()


@pytest.fixture
def s3_storage(settings, moto_s3):
    """This process's default storage in a fresh bucket of the moto server (Django resets
    default_storage when STORAGES changes)."""
    bucket = moto_s3.new_bucket()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": BACKEND,
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": moto_s3.url,
                "region_name": REGION,
                "access_key": KEY_ID,
                "secret_key": SECRET,
                "client_config": Config(
                    s3={"addressing_style": "path"}, connect_timeout=1, read_timeout=5
                ),
            },
        },
    }
    return bucket


PASSWORD = "s3-ui-pw-1"


@pytest.fixture(scope="module")
def iris_s3(tmp_path_factory, moto_s3):
    """A real Iris (subprocess) whose blobs live in a bucket of the moto server."""
    bucket = moto_s3.new_bucket()
    server = IrisServer(
        tmp_path_factory.mktemp("iris-s3"),
        DJANGO_SUPERUSER_PASSWORD=PASSWORD,
        **moto_s3.env(bucket),
    )
    server.bucket = bucket
    server.start()
    yield server
    server.stop()
