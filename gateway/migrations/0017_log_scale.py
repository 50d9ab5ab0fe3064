"""PostgreSQL at 10M records and retention (issue 18)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("gateway", "0016_log_search")]

    operations = []
