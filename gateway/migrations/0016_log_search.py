"""SQLite full-text search and metadata lookups at 1M records (issue 18)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("gateway", "0015_keys_cannot_read_logs_by_default")]

    operations = []
