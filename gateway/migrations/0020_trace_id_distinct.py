"""PostgreSQL's planner statistics for the log's trace ids (issue 18): ANALYZE's sample of
30,000 rows guessed ~12,000 distinct trace ids in 10M records that hold ~1M (a trace shared by
a few requests looks, in a sample, like a rare value), so a trace id was thought to match
~800 records, and an `IN (trace ids)` the whole log (it hash-joined all of it: 10 s). The
distinct count is set to a tenth of the rows instead, used from the next ANALYZE (autovacuum's
or the one below); taking a SHARE UPDATE EXCLUSIVE lock, it never blocks the log writer.
Nothing to do on SQLite, which keeps no such statistics."""

from django.db import migrations

SET = "ALTER TABLE gateway_requestlog ALTER COLUMN trace_id SET (n_distinct = -0.1)"
RESET = "ALTER TABLE gateway_requestlog ALTER COLUMN trace_id RESET (n_distinct)"


def _run(sql: str):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(sql)
            cursor.execute("ANALYZE gateway_requestlog (trace_id)")  # one column's sample

    return run


class Migration(migrations.Migration):
    dependencies = [("gateway", "0019_list_windows")]

    operations = [migrations.RunPython(_run(SET), _run(RESET), elidable=False)]
