"""several replicas sharing one database (issue 18)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("gateway", "0017_log_scale")]

    operations = []
