"""The logs list sorted by cost with a provider filter (issue 18): an index of (provider,
cost_usd, id), walked one way or the other as page_of's cost order is (cost_usd, -id) or
(-cost_usd, id). Without it, SQLite read every row of a common provider by the provider index
and sorted them (provider=google, cheapest first, at 1M: ~300 ms), or walked the cost index
past every cheaper row of the other providers. PostgreSQL: built CONCURRENTLY, as 0017 does,
so that upgrading a large log does not block the log writer's inserts (atomic = False); an
index left invalid by a failed build is dropped and built again. SQLite: a plain CREATE INDEX."""

from django.db import migrations

NAME = "requestlog_provider_cost"
DEFINITION = "gateway_requestlog (provider, cost_usd, id DESC)"


def create(apps, schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        if schema_editor.connection.vendor != "postgresql":
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {NAME} ON {DEFINITION}")
            return
        cursor.execute(
            "SELECT NOT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = %s",
            [NAME],
        )
        invalid = cursor.fetchone()
        if invalid and invalid[0]:
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")
        cursor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {NAME} ON {DEFINITION}")


def drop(apps, schema_editor) -> None:
    concurrently = " CONCURRENTLY" if schema_editor.connection.vendor == "postgresql" else ""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX{concurrently} IF EXISTS {NAME}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [("gateway", "0018_replicas")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
