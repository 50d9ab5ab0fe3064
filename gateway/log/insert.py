"""Log rows inserted with plain SQL, for the log writer's database thread.

bulk_create builds its SQL field by field and value by value in Python (and encodes JSON
with the standard library): ~0.2 ms of CPU per logged request here, about a quarter of a
small proxied request's whole cost (bench/cpu_per_request.py --threads); making the model
instances first cost another 15 µs a RequestLog and 10 µs a LogImage. Here each column's
converter is chosen once, JSON is encoded by orjson, the rows go in as the writer's field
dicts, and the new RequestLog rows' ids are read back by their unique request_id (the
LogImage rows and the rollups need them).
"""

import datetime
import operator
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, models

from gateway.models import LogImage, RequestLog

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
        return _datetime_converter()
    if isinstance(field, models.DecimalField):
        return _decimal_converter(field)
    if isinstance(field, _AS_IS):  # the writer's rows hold these types already
        return _as_is
    return lambda value, field=field: field.get_db_prep_save(value, connection)


def _datetime_converter() -> Callable[[Any], Any]:
    """Django's adapter, with a short way for the writer's own values on SQLite with UTC
    connections: an aware UTC datetime as its naive text (what make_naive + str() give)."""
    adapt = connection.ops.adapt_datetimefield_value
    if connection.vendor != "sqlite" or not settings.USE_TZ or connection.timezone_name != "UTC":
        return adapt

    def utc_text(value: Any) -> Any:
        if type(value) is datetime.datetime and value.tzinfo is datetime.UTC:
            return str(value.replace(tzinfo=None))
        return adapt(value)

    return utc_text


def _decimal_converter(field: models.DecimalField) -> Callable[[Any], Any]:
    """A finite Decimal as it is (what DecimalField.get_db_prep_save gives it back as, through
    two copies); anything else through the field."""

    def decimal(value: Any) -> Any:
        if value is None or (type(value) is Decimal and value.is_finite()):
            return value
        return field.get_db_prep_save(value, connection)

    return decimal


def _as_is(value: Any) -> Any:
    return value


def _fields(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def _insert(
    model: type[models.Model], fields: list[models.Field], params: list[list], ids: bool = False
) -> dict[str, int] | None:
    """INSERT the rows' converted values (one list per row, in `fields` order). ids (SQLite
    only: RETURNING, 3.35+): return the new RequestLog rows' ids by request_id, saving the
    look-up _ids() makes (~2 µs a row); else None."""
    quote = connection.ops.quote_name
    head = "INSERT INTO {} ({}) VALUES ".format(
        quote(model._meta.db_table), ", ".join(quote(f.column) for f in fields)
    )
    one = "({})".format(", ".join(["%s"] * len(fields)))
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            # Many rows per statement, as bulk_create does: its search triggers cost far more
            # run statement by statement (measured). Up to this SQLite's own parameter limit
            # (32766 since 3.32, not Django's 999): a batch of 200 in one statement cost 30
            # µs a row, in 22-row statements 39.
            per_statement = max(1, _sqlite_parameters() // len(fields))
            one = one.replace("%s", "?")
            returning = f" RETURNING {quote(model._meta.pk.column)}, {quote('request_id')}"
            found: dict[str, int] | None = {} if ids and _returns() else None
            for start in range(0, len(params), per_statement):
                chunk = params[start : start + per_statement]
                flat = [value for row in chunk for value in row]
                sql = head + ", ".join([one] * len(chunk))
                # sqlite3's own execute, with ? written in: Django's rewrites each %s by a
                # regex (~10 µs a row here). Its errors still become Django's.
                with connection.wrap_database_errors:
                    if found is None:
                        sqlite3.Cursor.execute(cursor.cursor, sql, flat)
                        continue
                    rows = sqlite3.Cursor.execute(cursor.cursor, sql + returning, flat)
                    found.update((request_id, pk) for pk, request_id in rows.fetchall())
            return found
        # PostgreSQL: binding thousands of parameters client-side costs more than this.
        cursor.executemany(head + one, params)
        return None


def _returns() -> bool:
    """Whether this SQLite has RETURNING (3.35+)."""
    return sqlite3.sqlite_version_info >= (3, 35)


def _sqlite_parameters() -> int:
    """How many parameters one statement may bind on this SQLite connection."""
    getlimit = getattr(connection.connection, "getlimit", None)  # Python 3.11+
    if getlimit is None:
        return connection.features.max_query_params
    return getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)


def _ids(request_ids: list[str]) -> dict[str, int]:
    """The ids of the RequestLog rows with these request ids."""
    quote = connection.ops.quote_name
    table, pk = quote(RequestLog._meta.db_table), quote(RequestLog._meta.pk.column)
    found: dict[str, int] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(request_ids), 500):  # SQLite's limit is 999 on old builds
            chunk = request_ids[start : start + 500]
            cursor.execute(
                f"SELECT {pk}, {quote('request_id')} FROM {table} "
                f"WHERE {quote('request_id')} IN ({', '.join(['%s'] * len(chunk))})",
                chunk,
            )
            found.update((request_id, row_pk) for row_pk, request_id in cursor.fetchall())
    return found


def insert_logs(logs: Sequence[RequestLog]) -> None:
    """INSERT the (unsaved) rows, then set their pk, in the caller's transaction. Raises the
    database's error, as bulk_create would."""
    if not logs:
        return
    fields = _fields(RequestLog)
    converters = [(f.attname, _converter(f)) for f in fields]
    params = [[convert(getattr(log, name)) for name, convert in converters] for log in logs]
    _insert(RequestLog, fields, params)
    ids = _ids([log.request_id for log in logs])
    for log in logs:
        log.pk = ids[log.request_id]
        log._state.adding, log._state.db = False, connection.alias


@dataclass
class _Plan:
    """How a model's rows become parameters, worked out once per model and connection."""

    ops: Any  # the connection's operations: the converters are this connection's
    fields: list[models.Field]
    names: frozenset[str]
    values: Callable[[dict], tuple]  # every field's value, in `fields` order, at once
    converted: list[tuple[int, Callable[[Any], Any]]]  # the values that need converting
    by_name: dict[str, models.Field]

    @classmethod
    def of(cls, model: type[models.Model]) -> "_Plan":
        fields = _fields(model)
        converters = [_converter(f) for f in fields]
        names = [f.attname for f in fields]
        return cls(
            connection.ops,
            fields,
            frozenset(names),
            operator.itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],),
            [(i, c) for i, c in enumerate(converters) if c is not _as_is],
            {f.attname: f for f in fields},
        )


_plans: dict[type[models.Model], _Plan] = {}


def _plan(model: type[models.Model]) -> _Plan:
    plan = _plans.get(model)
    if plan is None or plan.ops is not connection.ops:  # another thread's, or a new connection
        plan = _plans[model] = _Plan.of(model)
    return plan


def _filled(model: type[models.Model], rows: Sequence[dict]) -> tuple[list, list[dict], list]:
    """(fields, the rows with every field, their converted values) for rows given as
    {attname: value}: a field left out takes its default, as in Model(**row) (worked out once
    a batch); a name that is no field raises TypeError, as there."""
    plan = _plan(model)
    names, values, converted = plan.names, plan.values, plan.converted
    defaults: dict[str, Any] = {}
    full_rows, params = [], []
    for row in rows:
        if row.keys() != names:
            if unknown := row.keys() - names:
                raise TypeError(f"{model.__name__} has no field {sorted(unknown)[0]!r}")
            missing = names - row.keys()  # e.g. `degraded`, set only on a degraded row
            for name in missing - defaults.keys():
                defaults[name] = plan.by_name[name].get_default()
            row = row | {name: defaults[name] for name in missing}
        full_rows.append(row)
        row_params = list(values(row))
        for i, convert in converted:
            row_params[i] = convert(row_params[i])
        params.append(row_params)
    return plan.fields, full_rows, params


def insert_log_rows(rows: Sequence[dict]) -> list[SimpleNamespace]:
    """INSERT RequestLog rows given as field dicts, in the caller's transaction; return each
    as a plain object with every field (defaults filled in) and its new id as `pk` and `id`,
    for the LogImage rows and the rollups. Raises the database's error."""
    if not rows:
        return []
    fields, full_rows, params = _filled(RequestLog, rows)
    ids = _insert(RequestLog, fields, params, ids=True)
    if ids is None:
        ids = _ids([row["request_id"] for row in full_rows])
    saved = []
    for row in full_rows:
        pk = ids[row["request_id"]]
        saved.append(SimpleNamespace(**row, pk=pk, id=pk))
    return saved


def insert_image_rows(rows: Sequence[dict]) -> list[SimpleNamespace]:
    """INSERT LogImage rows given as field dicts (log_id set), in the caller's transaction;
    return each as a plain object with every field (the rollups read them). Their ids are
    not read back: nothing in the writer needs them."""
    if not rows:
        return []
    fields, full_rows, params = _filled(LogImage, rows)
    _insert(LogImage, fields, params)
    return [SimpleNamespace(**row) for row in full_rows]
