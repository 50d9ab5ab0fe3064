"""RequestLog rows inserted with plain SQL, for the log writer's database thread.

bulk_create builds its SQL field by field and value by value in Python (and encodes JSON
with the standard library): ~0.2 ms of CPU per logged request here, about a quarter of a
small proxied request's whole cost (bench/cpu_per_request.py --threads). Here each column's
converter is chosen once, JSON is encoded by orjson, and the new rows' ids are read back by
their unique request_id (the LogImage rows and the rollups need them).
"""

from collections.abc import Callable, Sequence
from typing import Any

import orjson
from django.db import connection, models

from gateway.models import RequestLog

# Columns whose Python value is already what the database driver takes.
_AS_IS = (
    models.CharField,
    models.TextField,
    models.IntegerField,  # and its small, big and positive kinds
    models.FloatField,
    models.BooleanField,
    models.ForeignKey,  # its attname holds the id
)


def _json(value: Any) -> str | None:
    """SQL NULL for None, as JSONField stores it; else JSON text (orjson: 3-10x json's speed;
    keys that are not strings become strings, as json.dumps makes them)."""
    if value is None:
        return None
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _converter(field: models.Field) -> Callable[[Any], Any]:
    if isinstance(field, models.JSONField) and field.encoder is None:
        return _json
    if isinstance(field, models.DateTimeField) and not (field.auto_now or field.auto_now_add):
        return connection.ops.adapt_datetimefield_value
    if isinstance(field, _AS_IS):  # the writer's rows hold these types already
        return _as_is
    return lambda value, field=field: field.get_db_prep_save(value, connection)


def _as_is(value: Any) -> Any:
    return value


def insert_logs(logs: Sequence[RequestLog]) -> None:
    """INSERT the (unsaved) rows, then set their pk, in the caller's transaction. Raises the
    database's error, as bulk_create would."""
    if not logs:
        return
    meta = RequestLog._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    converters = [(f.attname, _converter(f)) for f in fields]
    quote = connection.ops.quote_name
    head = "INSERT INTO {} ({}) VALUES ".format(
        quote(meta.db_table), ", ".join(quote(f.column) for f in fields)
    )
    one = "({})".format(", ".join(["%s"] * len(fields)))
    by_request_id = {log.request_id: log for log in logs}
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            # Many rows per statement, as bulk_create does (within SQLite's parameter limit):
            # its search triggers cost far more run statement by statement (measured).
            per_statement = max(1, connection.ops.bulk_batch_size(fields, logs))
            for start in range(0, len(logs), per_statement):
                chunk = logs[start : start + per_statement]
                params = [
                    convert(getattr(log, name)) for log in chunk for name, convert in converters
                ]
                cursor.execute(head + ", ".join([one] * len(chunk)), params)
        else:  # PostgreSQL: binding thousands of parameters client-side costs more than this
            params = [[convert(getattr(log, name)) for name, convert in converters] for log in logs]
            cursor.executemany(head + one, params)
        ids = list(by_request_id)
        pk, request_id = quote(meta.pk.column), quote("request_id")
        for start in range(0, len(ids), 500):  # SQLite's variable limit is 999 on old builds
            chunk = ids[start : start + 500]
            cursor.execute(
                f"SELECT {pk}, {request_id} FROM {quote(meta.db_table)} "
                f"WHERE {request_id} IN ({', '.join(['%s'] * len(chunk))})",
                chunk,
            )
            for row_pk, row_request_id in cursor.fetchall():
                log = by_request_id[row_request_id]
                log.pk = row_pk
                log._state.adding, log._state.db = False, connection.alias
