"""Migration 0017's PostgreSQL indexes: present, and used by the filters they are for (the
planner is told to avoid scans it could do instead, as it would on a large log); SQLite gets
none of them."""

import pytest
from django.db import connection

from gateway.logquery import LogFilter, filter_logs
from gateway.models import RequestLog

pytestmark = pytest.mark.django_db


def _plan(qs) -> str:
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def _indexes() -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sql = "SELECT indexname FROM pg_indexes WHERE tablename = %s"
        else:
            sql = "SELECT name FROM sqlite_master WHERE tbl_name = %s"
        cursor.execute(sql, ["gateway_requestlog"])
        return {row[0] for row in cursor.fetchall()}


def test_the_routing_filter_any_config_walks_its_partial_index():
    if connection.vendor != "postgresql":
        assert "requestlog_configured" not in _indexes()
        return
    assert "requestlog_configured" in _indexes()
    configured = RequestLog.objects.exclude(config_id="").order_by("-id")[:51]
    assert "requestlog_configured" in _plan(configured)
    assert "Seq Scan" not in _plan(filter_logs(LogFilter(routing="config"))[:51])
