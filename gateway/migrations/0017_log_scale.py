"""PostgreSQL at 10M records (issue 18): the indexes the logs list's filters need at that size
(measured with bench/pg_scale.py). PostgreSQL only, like 0003 and 0006: SQLite has its own
(0016). Built CONCURRENTLY, so that upgrading a large log does not block the log writer's
inserts while an index is built (minutes at 10M rows); that cannot run in a transaction,
hence atomic = False. An index left invalid by a failed build is dropped and built again."""

from django.db import migrations

INDEXES = {
    # routing=config (`config_id <> ''`): no other index serves a "not empty" test, and
    # without one PostgreSQL walks the whole log newest first when few requests have a config.
    "requestlog_configured": "gateway_requestlog (id DESC) WHERE config_id <> ''",
}


def _postgres(run):
    def wrapped(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            run(schema_editor)

    return wrapped


@_postgres
def create(schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        for name, definition in INDEXES.items():
            cursor.execute(
                "SELECT NOT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE c.relname = %s",
                [name],
            )
            invalid = cursor.fetchone()
            if invalid and invalid[0]:
                cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
            cursor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {definition}")


@_postgres
def drop(schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        for name in INDEXES:
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [("gateway", "0016_log_search")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
