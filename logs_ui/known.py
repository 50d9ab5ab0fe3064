"""The distinct providers and models of the log, for the list's filter dropdowns.

`SELECT DISTINCT provider` reads every record (3 s at 10M on PostgreSQL); a loose index scan
("skip scan") seeks the (provider, -id) or (model, -id) index once per distinct value
instead: a recursive CTE, each step the smallest value above the last. Same SQL on SQLite.
"""

from django.db import connection

from gateway.models import RequestLog

# At most this many values, the first alphabetically: past it the dropdown lists those and
# the filter still takes any other name typed (the list's model box matches part of a name).
KNOWN_VALUES_MAX = 1000
_INDEXED = ("provider", "model")  # each has a (field, -id) index: gateway/models.py


def distinct_values(field: str) -> list[str]:
    """The field's distinct non-empty values in order, at most KNOWN_VALUES_MAX of them."""
    if field not in _INDEXED:
        raise ValueError(f"distinct values are read for {', '.join(_INDEXED)} only")
    log = RequestLog._meta.db_table
    sql = f"""WITH RECURSIVE known(value) AS (
        SELECT (SELECT {field} FROM {log} WHERE {field} > '' ORDER BY {field} LIMIT 1)
        UNION ALL
        SELECT (SELECT {field} FROM {log} WHERE {field} > known.value ORDER BY {field} LIMIT 1)
        FROM known WHERE known.value IS NOT NULL
    ) SELECT value FROM known WHERE value IS NOT NULL LIMIT %s"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [KNOWN_VALUES_MAX])
        return [value for (value,) in cursor.fetchall()]
