"""Migration 0020: PostgreSQL's planner takes the log's distinct trace ids as a tenth of its
rows (ANALYZE's sample guessed ~12,000 of ~1M at 10M records), whatever the sample says."""

import pytest
from django.db import connection

from tests.ui.logs import make_log

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's statistics"),
]


def test_the_distinct_trace_ids_are_a_tenth_of_the_rows():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attoptions FROM pg_attribute WHERE attrelid = 'gateway_requestlog'::regclass "
            "AND attname = 'trace_id'"
        )
        assert cursor.fetchone()[0] == ["n_distinct=-0.1"]
        make_log()  # then 300 copies of it sharing 3 trace ids
        columns = [
            c.name
            for c in connection.introspection.get_table_description(cursor, "gateway_requestlog")
            if c.name not in ("id", "request_id", "trace_id")
        ]
        listed = ", ".join(columns)
        cursor.execute(
            f"INSERT INTO gateway_requestlog (request_id, trace_id, {listed}) "
            f"SELECT 'r' || n, 'tr-' || (n % 3), {listed} FROM gateway_requestlog, "
            "generate_series(1, 300) n"
        )
        cursor.execute("ANALYZE gateway_requestlog")
        cursor.execute(
            "SELECT n_distinct FROM pg_stats WHERE tablename = 'gateway_requestlog' "
            "AND attname = 'trace_id'"
        )
        assert cursor.fetchone()[0] == pytest.approx(-0.1)  # not the sample's 3
