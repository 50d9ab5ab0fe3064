"""Several replicas sharing one database (issue 18): the generation row that the "poll" cache
invalidation bus bumps in each saving transaction and every process reads (gateway/replicas.py).
A table without a model: only raw SQL touches it."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("gateway", "0017_log_scale")]

    operations = [
        migrations.RunSQL(
            sql=[
                "CREATE TABLE iris_cache_generation "
                "(id integer NOT NULL PRIMARY KEY, generation bigint NOT NULL)",
                "INSERT INTO iris_cache_generation (id, generation) VALUES (1, 0)",
            ],
            reverse_sql=["DROP TABLE iris_cache_generation"],
        )
    ]
