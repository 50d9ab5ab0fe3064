"""The export holds no database cursor across the pauses of its stream: on /v1/ other
requests' orm() close connections older than CONN_MAX_AGE in the one sync thread they all
share, so a connection closed between two chunks must not break the zip."""

import hashlib

import pytest
from django.db import connection

from exports import export as export_module
from exports.export import plan, stream
from gateway.logquery import LogFilter
from tests.exports.test_memory import noise_png
from tests.exports.zips import read_export
from tests.ui.logs import make_log

# Not inside the test's transaction: closing the connection there would roll the rows back.
pytestmark = pytest.mark.django_db(transaction=True)


def test_closing_the_connection_between_chunks_does_not_break_the_export(monkeypatch):
    # Small pages, so both passes need several queries across the stream's pauses.
    monkeypatch.setattr(export_module, "CHUNK_RECORDS", 2)
    monkeypatch.setattr(export_module, "BLOB_PAGE", 2)
    images = [noise_png() for _ in range(13)]  # ~27 KB each: ~5 chunks of 64 KB of images
    logs = [make_log(f"record {i}", images=[images[i], images[-1]]) for i in range(12)]

    chunks = []
    closed = 0
    for chunk in stream(plan(LogFilter())):
        chunks.append(chunk)
        connection.close()  # what another request's close_old_connections() does at 60 s
        closed += 1

    assert closed >= 4  # closed while images were still to come, then while lines were
    lines, files, _ = read_export(b"".join(chunks))
    assert [line["id"] for line in lines] == [log.id for log in logs]
    used = images
    assert sorted(files) == sorted(f"images/{hashlib.sha256(b).hexdigest()}.png" for b in used)
