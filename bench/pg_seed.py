"""Fill a PostgreSQL database with N request logs fast, server-side (bench/pg_scale.py's seed).

`manage.py seed_logs` makes T template rows (real-looking rows, their LogImage rows, blobs
on disk); they are set aside and copied in SQL (INSERT … SELECT over generate_series) until
the log holds N rows spread evenly over --days, each copy with its own request id, trace id
and metadata user. Indexes and constraints of the two tables are dropped for the load and
rebuilt after it, the rollups are summed in SQL, and some feedback is added.
"""

import math
import time

from django.core.management import call_command
from django.db import connection

from gateway import percentiles, rollups
from gateway.models import ROLLUP_KEY, ROLLUP_LATENCY, ROLLUP_SUMS, ROLLUP_TTFT

TABLES = ("gateway_requestlog", "gateway_logimage")
COPIES_PER_STATEMENT = 20  # copies of the templates per INSERT (one transaction each)


def _say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def _sql(sql: str, params: tuple | list = ()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _rows(sql: str, params: tuple | list = ()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _columns(table: str) -> list[str]:
    return [
        r[0]
        for r in _rows(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
            "ORDER BY ordinal_position",
            [table],
        )
    ]


def seed(count: int, templates: int, days: int) -> None:
    started = time.perf_counter()
    _say(f"templates: seed_logs --count {templates}")
    call_command("seed_logs", count=templates, days=1, seed=1)
    _sql("DROP TABLE IF EXISTS scale_log, scale_image")
    _sql(
        "CREATE TABLE scale_log AS SELECT row_number() OVER (ORDER BY id) AS rn, * "
        "FROM gateway_requestlog"
    )
    _sql(
        "CREATE TABLE scale_image AS SELECT t.rn, i.* FROM gateway_logimage i "
        "JOIN scale_log t ON t.id = i.log_id"
    )
    _sql("TRUNCATE gateway_logimage, gateway_requestlog, gateway_rollup CASCADE")
    kept = _drop_indexes()
    _sql("SET maintenance_work_mem = '512MB'")  # this session only: index builds below
    _fill(count, templates, days)
    _say("rebuilding indexes and constraints")
    for statement in kept:
        t = time.perf_counter()
        _sql(statement)
        _say(f"  {time.perf_counter() - t:6.1f} s  {statement[:110]}")
    _sql(
        "SELECT setval(pg_get_serial_sequence('gateway_requestlog', 'id'), "
        "(SELECT max(id) FROM gateway_requestlog))"
    )
    _feedback()
    _say("rollups")
    _sql("SET work_mem = '256MB'")  # this session only: the rollups' joins and groups
    _rollups()
    _sql("DROP TABLE scale_log, scale_image")
    _say("vacuum analyze")  # as autovacuum would: statistics, and the visibility map
    _sql("VACUUM ANALYZE")
    _say(f"seeded {count:,} logs in {time.perf_counter() - started:.0f} s")


def _drop_indexes() -> list[str]:
    """Drop every index and constraint but the primary keys of TABLES; return the statements
    that make them again (indexes first, then unique and foreign-key constraints)."""
    constraints = _rows(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype "
        "FROM pg_constraint WHERE conrelid::regclass::text = ANY(%s) AND contype IN ('u', 'f')",
        [list(TABLES)],
    )
    owned = {name for _, name, _, _ in constraints}
    indexes = _rows(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) "
        "AND indexname NOT LIKE '%%_pkey'",
        [list(TABLES)],
    )
    for table, name, _, _ in constraints:
        _sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        if name not in owned:
            _sql(f'DROP INDEX IF EXISTS "{name}"')
    again = [sql for name, sql in indexes if name not in owned]
    again += [
        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
        for table, name, definition, kind in sorted(constraints, key=lambda c: c[3] == "f")
    ]
    return again


def _fill(count: int, templates: int, days: int) -> None:
    logs = [c for c in _columns("gateway_requestlog")]
    images = [c for c in _columns("gateway_logimage") if c != "id"]
    override = {
        "id": "n.id",
        "request_id": "md5(n.id::text || 'iris-scale')",
        "created_at": f"now() - interval '{days} days' + (n.id - 1) * "
        f"(interval '{days} days' / {count})",
        "trace_id": "CASE WHEN t.trace_id = '' THEN '' ELSE 'trace-' || "
        "lpad(to_hex(abs(hashint8(n.id)) %% 1048576), 5, '0') END",
        "metadata": "CASE WHEN t.metadata ? 'user' THEN jsonb_set(t.metadata, '{user}', "
        "to_jsonb('u_' || (1 + abs(hashint8(n.id + 7)) %% 5000))) ELSE t.metadata END",
    }
    log_select = ", ".join(override.get(c, f"t.{c}") for c in logs)
    image_select = ", ".join("n.id" if c == "log_id" else f"i.{c}" for c in images)
    copies = math.ceil(count / templates)
    for first in range(0, copies, COPIES_PER_STATEMENT):
        last = min(first + COPIES_PER_STATEMENT, copies) - 1
        t = time.perf_counter()
        numbered = (
            f"FROM generate_series({first}, {last}) g JOIN scale_log t ON true "
            f"CROSS JOIN LATERAL (SELECT g * {templates} + t.rn AS id) n "
            f"WHERE n.id <= {count}"
        )
        # In id order, as the log writer inserts: the rows of a day then lie together on disk
        # (the join's order put consecutive ids ~1 page apart, so reading a day read a page a row).
        _sql(
            f"INSERT INTO gateway_requestlog ({', '.join(logs)}) SELECT {log_select} {numbered} "
            "ORDER BY n.id"
        )
        _sql(
            f"INSERT INTO gateway_logimage ({', '.join(images)}) SELECT {image_select} "
            f"{numbered.replace('JOIN scale_log t ON true', 'JOIN scale_image i ON true')}".replace(
                "t.rn", "i.rn"
            )
            + " ORDER BY n.id"
        )
        done = min((last + 1) * templates, count)
        _say(f"{done:,}/{count:,} logs ({time.perf_counter() - t:.1f} s)")


def _feedback() -> None:
    """One record in 200 gets a feedback (thumbs up or down, from the UI or the API); one in
    five of those a label."""
    _say("feedback")
    _sql("TRUNCATE feedback_feedbacklabel, feedback_feedback")
    _sql(
        "INSERT INTO feedback_feedback (id, trace_id, value, weight, metadata, labels, comment, "
        "source, user_name, created_at, updated_at) "
        "SELECT gen_random_uuid(), CASE WHEN trace_id = '' THEN request_id ELSE trace_id END, "
        "CASE WHEN id %% 3 = 0 THEN -1 ELSE 1 END, 1.0, '{}', "
        "CASE WHEN id %% 5 = 0 THEN '[\"wrong-box\"]'::jsonb ELSE '[]'::jsonb END, '', "
        "CASE WHEN id %% 2 = 0 THEN 'ui' ELSE 'api' END, 'bench', created_at, created_at "
        "FROM gateway_requestlog WHERE id %% 200 = 0"
    )
    _sql(
        "INSERT INTO feedback_feedbacklabel (feedback_id, trace_id, name) "
        "SELECT id, trace_id, 'wrong-box' FROM feedback_feedback WHERE labels ? 'wrong-box'"
    )


def _rollups() -> None:
    """gateway/rollups.py's hours and days, summed in SQL (the same keys and histogram bins):
    the hours from the log, each day from its hours; then the minutes kept."""
    _sql(_from_log(3600))
    summed = ", ".join(f"sum({c})" for c in _SUMS)
    _sql(
        f"INSERT INTO gateway_rollup ({_KEYS}, {', '.join(_SUMS)}) SELECT 86400, "
        "start / 86400 * 86400, provider, model, key_id, endpoint, status_class, failed, "
        f"has_images, has_outputs, {summed} FROM gateway_rollup WHERE span = 3600 "
        "GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10"
    )
    minute_rollups()


def minute_rollups() -> None:
    """The minute rows of the last ANALYTICS_MINUTE_ROLLUP_HOURS, as the log writer keeps them
    (bench/pg_scale.py minutes: for a database seeded before they existed)."""
    since = rollups.minutes_kept_since()
    _sql("DELETE FROM gateway_rollup WHERE span = 60")
    if since is not None:
        _sql(_from_log(60, f"WHERE created_at >= to_timestamp({since})"))


_KEYS = ", ".join(ROLLUP_KEY)
_SUMS = [*ROLLUP_SUMS, *ROLLUP_LATENCY, *ROLLUP_TTFT]


def _from_log(span: int, where: str = "") -> str:
    """INSERT the rollup rows of `span` seconds summed from the log rows `where` selects."""
    edges = "ARRAY[" + ", ".join(repr(e) for e in percentiles.EDGES) + "]::float8[]"
    bins = range(percentiles.BINS)
    histograms = ", ".join(
        [f"count(*) FILTER (WHERE lb = {k})" for k in bins]
        + [f"count(*) FILTER (WHERE tb = {k})" for k in bins]
    )
    return (
        f"INSERT INTO gateway_rollup ({_KEYS}, {', '.join(_SUMS)}) "
        f"SELECT {span}, floor(extract(epoch FROM l.created_at) / {span})::bigint * {span}, "
        "l.provider, l.model, coalesce(l.api_key_id, 0), l.endpoint, "
        "CASE WHEN l.status_code >= 100 THEN l.status_code / 100 ELSE 0 END, "
        "l.status_code >= 400 OR l.error_type <> '', l.image_count > 0, "
        "l.output_image_count > 0, count(*), coalesce(sum(l.prompt_tokens), 0), "
        "coalesce(sum(l.completion_tokens), 0), "
        "coalesce(sum((l.cost_usd * 10000000000)::bigint), 0), count(l.cost_usd), "
        "sum(l.image_count), sum(l.output_image_count), coalesce(sum(b.bytes), 0), "
        f"coalesce(sum(b.bytes), 0), {histograms} "
        "FROM (SELECT *, "
        "CASE WHEN latency_ms IS NULL THEN -1 ELSE greatest(0, width_bucket(latency_ms, "
        f"{edges}) - 1) END AS lb, "
        "CASE WHEN ttft_ms IS NULL THEN -1 ELSE greatest(0, width_bucket(ttft_ms, "
        f"{edges}) - 1) END AS tb FROM gateway_requestlog {where}) l "
        "LEFT JOIN (SELECT i.log_id, sum(bl.size) AS bytes FROM gateway_logimage i "
        "JOIN gateway_blob bl ON bl.sha256 = i.blob_id WHERE i.role IN ('input', 'mask') "
        "GROUP BY i.log_id) b ON b.log_id = l.id "
        "GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10"
    )
