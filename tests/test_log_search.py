"""The search and metadata indexes of SQLite (migration 0016) stay in step with the log: every
write, update and delete (retention's) through triggers; the filters answer the same on
PostgreSQL, where the indexes are pg_trgm's and jsonb's."""

import datetime as dt
import importlib

import pytest
from django.db import connection
from django.utils import timezone

from gateway.log.retention import purge
from gateway.logquery import LogFilter, filter_logs
from gateway.models import RequestLog
from tests.ui.logs import make_log

pytestmark = pytest.mark.django_db
sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite's FTS5 and metadata tables"
)
SEARCH = importlib.import_module("gateway.migrations.0016_log_search")
TRIGGERS = {
    "gateway_requestlog_search_insert",
    "gateway_requestlog_search_delete",
    "gateway_requestlog_search_update",
    "gateway_requestlog_metadata_insert",
    "gateway_requestlog_metadata_delete",
    "gateway_requestlog_metadata_update",
}


def _ids(**filters) -> list[int]:
    return list(filter_logs(LogFilter(**filters)).values_list("id", flat=True))


def _rows(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def _assert_in_step() -> None:
    """FTS5's integrity check against the content table (rank 1), and the metadata table
    equal to what json_each makes of every record now."""
    _rows(f"INSERT INTO {SEARCH.FTS}({SEARCH.FTS}, rank) VALUES ('integrity-check', 1)")
    kept = set(_rows(f"SELECT key, value, log_id FROM {SEARCH.META}"))
    made = set(
        _rows(
            "SELECT j.key, j.value, r.id FROM gateway_requestlog r, "
            f"json_each({SEARCH._object('r')}) j WHERE j.type = 'text'"
        )
    )
    assert kept == made


@sqlite_only
def test_every_trigger_survives_the_later_migrations():
    found = {name for (name,) in _rows("SELECT name FROM sqlite_master WHERE type='trigger'")}
    assert found >= TRIGGERS, "a later migration rebuilt gateway_requestlog: recreate them"


def test_a_record_written_after_the_migration_is_found_and_updates_move_it():
    log = make_log("a freshly written giraffe", "ok", metadata={"team": "vision"})
    assert _ids(search="GIRAFFE") == [log.id]
    assert _ids(metadata={"team": "vision"}) == [log.id]
    RequestLog.objects.filter(id=log.id).update(
        search_text="now an okapi", metadata={"team": "ocr", "n": "1"}
    )
    assert _ids(search="giraffe") == [] and _ids(search="okapi") == [log.id]
    assert _ids(metadata={"team": "vision"}) == []
    assert _ids(metadata={"team": "ocr", "n": "1"}) == [log.id]
    if connection.vendor == "sqlite":
        _assert_in_step()


def test_metadata_matches_string_values_of_literal_keys_only():
    odd = make_log(
        "x",
        "ok",
        metadata={"n": 5, "flag": True, "nested": {"a": "b"}, "a.b": "c", 'we"ird': "v", "e": ""},
    )
    assert _ids(metadata={"n": "5"}) == []  # a number is not the string "5"
    assert _ids(metadata={"flag": "true"}) == []
    assert _ids(metadata={"nested": '{"a":"b"}'}) == []
    assert _ids(metadata={"a": "b"}) == []  # no path into nested objects
    assert _ids(metadata={"a.b": "c"}) == [odd.id]
    assert _ids(metadata={'we"ird': "v"}) == [odd.id]
    assert _ids(metadata={"e": ""}) == [odd.id]


def test_retention_deletes_from_the_indexes_too(settings):
    old = [make_log(f"old walrus {i}", "ok", metadata={"k": "old"}) for i in range(3)]
    new = make_log("new walrus", "ok", metadata={"k": "new"})
    long_ago = timezone.now() - dt.timedelta(days=settings.LOG_RETENTION_DAYS + 1)
    RequestLog.objects.filter(id__in=[o.id for o in old]).update(created_at=long_ago)
    assert purge()[0] == 3
    assert _ids(search="walrus") == [new.id]
    assert _ids(metadata={"k": "old"}) == []
    if connection.vendor == "sqlite":
        _assert_in_step()
        assert _rows(f"SELECT count(*) FROM {SEARCH.META} WHERE value = 'old'") == [(0,)]


@sqlite_only
def test_the_backfill_indexes_the_records_already_there():
    logs = [make_log(f"before the index: kiwi {i}", "ok", metadata={"i": str(i)}) for i in range(3)]
    _rows(f"INSERT INTO {SEARCH.FTS}({SEARCH.FTS}) VALUES ('delete-all')")
    _rows(f"DELETE FROM {SEARCH.META}")
    assert _ids(search="kiwi") == [] and _ids(metadata={"i": "1"}) == []
    for statement in SEARCH.FORWARD[2:4]:  # the backfill, as the migration runs it
        _rows(statement)
    assert _ids(search="KIWI") == [log.id for log in reversed(logs)]
    assert _ids(metadata={"i": "1"}) == [logs[1].id]
    _assert_in_step()


@sqlite_only
def test_a_record_whose_metadata_is_not_an_object_is_still_written_and_updated():
    # Django writes an object (and checks JSON_VALID); JSON of another kind, by hand or JSON null,
    # must not fail a write.
    log = make_log("hand written", "ok", metadata={"k": "v"})
    _rows(f"""UPDATE gateway_requestlog SET metadata = '"a string"' WHERE id = {log.id}""")
    columns = [c[1] for c in _rows("PRAGMA table_info(gateway_requestlog)") if c[1] != "id"]
    copied = ", ".join(
        {"request_id": "'copy'", "metadata": "'[1, \"a\"]'"}.get(c, c) for c in columns
    )
    _rows(
        f"INSERT INTO gateway_requestlog ({', '.join(columns)}) "
        f"SELECT {copied} FROM gateway_requestlog WHERE id = {log.id}"
    )
    _rows(
        f"INSERT INTO gateway_requestlog ({', '.join(columns)}) SELECT "
        + copied.replace("'copy'", "'null'").replace("'[1, \"a\"]'", "'null'")
        + f" FROM gateway_requestlog WHERE id = {log.id}"
    )
    assert len(_ids(search="hand written")) == 3
    assert _ids(metadata={"k": "v"}) == []
    RequestLog.objects.all().delete()
    _assert_in_step()


@pytest.mark.parametrize("walked", [1000, 1])  # the names by index, or past the cap a scan
def test_a_part_of_a_model_name_matches_in_any_case(monkeypatch, walked):
    monkeypatch.setattr("gateway.logquery.MODEL_NAMES_WALKED", walked)
    sonnet = make_log("x", "ok", model="claude-sonnet-4-5")
    haiku = make_log("x", "ok", model="Claude-Haiku")
    make_log("x", "ok", model="gpt-4o")
    assert _ids(model="CLAUDE", model_contains=True) == [haiku.id, sonnet.id]
    assert _ids(model="sonnet-4", model_contains=True) == [sonnet.id]
    assert _ids(model="llama", model_contains=True) == []


@pytest.mark.parametrize("rare_rows", [20_000, 1])  # read by the index, or the log walked
def test_range_filters_answer_the_same_by_either_plan(monkeypatch, rare_rows):
    monkeypatch.setattr("gateway.logquery.RARE_ROWS", rare_rows)
    ok, failed = make_log("a", "ok"), make_log("b", "ok")
    RequestLog.objects.filter(id=failed.id).update(status_code=503)
    routed = make_log("c", "ok")
    RequestLog.objects.filter(id=routed.id).update(config_id="inline")
    old = make_log("d", "ok")
    RequestLog.objects.filter(id=old.id).update(created_at=timezone.now() - dt.timedelta(days=3))
    assert _ids(status="5xx") == [failed.id]
    assert _ids(status="2xx") == [old.id, routed.id, ok.id]
    assert _ids(routing="config") == [routed.id]
    day_ago = timezone.now() - dt.timedelta(days=1)
    assert _ids(since=day_ago) == [routed.id, failed.id, ok.id]
    assert _ids(until=day_ago) == [old.id]
    assert _ids(since=day_ago - dt.timedelta(days=5), until=day_ago) == [old.id]


@pytest.mark.parametrize("rare_rows", [20_000, 1])  # the side tables' ids, or a probe per row
def test_search_and_metadata_by_either_plan_also_inside_a_subquery(monkeypatch, rare_rows):
    monkeypatch.setattr("gateway.logquery.RARE_ROWS", rare_rows)
    hit = make_log("an Invoice from ZÜRICH", "ok", metadata={"app": "ocr", "user": "u1"})
    make_log("an invoice there", "ok", metadata={"app": "ocr", "user": "u2"})
    make_log("nothing", "ok", metadata={"app": "ocr", "user": "u1"})
    f = LogFilter(search="INVOICE", metadata={"app": "ocr", "user": "u1"})
    assert _ids(**vars(f)) == [hit.id]
    assert _ids(search="zürich") == [hit.id] and _ids(search="invoices") == []
    outer = RequestLog.objects.filter(id__in=filter_logs(f).order_by().values("id"))
    assert list(outer.values_list("id", flat=True)) == [hit.id]
