"""The logs search looks at every message's text and the reply's, not only the 300-character
previews. Older rows get their previews as search text; on PostgreSQL the trigram indexes
move from the previews to the new column."""

from django.db import migrations, models
from django.db.models import Value
from django.db.models.functions import Concat

POSTGRES_FORWARD = [
    "CREATE INDEX IF NOT EXISTS requestlog_search_trgm ON gateway_requestlog "
    "USING gin (UPPER(search_text) gin_trgm_ops)",
    "DROP INDEX IF EXISTS requestlog_prompt_trgm",
    "DROP INDEX IF EXISTS requestlog_reply_trgm",
]
POSTGRES_BACKWARD = [
    "DROP INDEX IF EXISTS requestlog_search_trgm",
    "CREATE INDEX IF NOT EXISTS requestlog_prompt_trgm ON gateway_requestlog "
    "USING gin (UPPER(prompt_preview) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS requestlog_reply_trgm ON gateway_requestlog "
    "USING gin (UPPER(reply_preview) gin_trgm_ops)",
]


def backfill(apps, schema_editor):
    RequestLog = apps.get_model("gateway", "RequestLog")
    RequestLog.objects.update(search_text=Concat("prompt_preview", Value("\n"), "reply_preview"))


def _postgres(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("gateway", "0005_azure_v1_help")]

    operations = [
        migrations.AddField(
            model_name="requestlog",
            name="search_text",
            field=models.TextField(blank=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.RunPython(_postgres(POSTGRES_FORWARD), _postgres(POSTGRES_BACKWARD)),
    ]
