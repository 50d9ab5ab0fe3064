"""The analytics rollups' model and migration: the model lives with the gateway's others, the
logs UI has no models module, and the migration creates the table without running code."""

import importlib.util
import io

import pytest
from django.core.management import call_command

from gateway import models, rollups
from tests.ui.logs import make_log


def test_rollup_is_a_gateway_model_and_the_logs_ui_has_none():
    assert rollups.Rollup is models.Rollup and models.Rollup._meta.app_label == "gateway"
    assert models.Rollup._meta.db_table == "gateway_rollup"
    assert importlib.util.find_spec("logs_ui.models") is None
    assert rollups.SUM_FIELDS is models.ROLLUP_SUMS


@pytest.mark.django_db
def test_the_migrations_state_matches_the_models():
    out = io.StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)  # exits 1 on a change
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db
def test_the_migration_runs_no_live_code_and_says_to_run_rollup_logs(capsys):
    """0012 creates the table and only reminds: no import of gateway code (a migration must
    not depend on code that will change), the historical model through apps.get_model."""
    from pathlib import Path

    from django.apps import apps
    from django.db import connection

    migration = importlib.import_module("gateway.migrations.0012_analytics")
    source = Path(migration.__file__).read_text()
    assert "from gateway" not in source and "import gateway" not in source
    assert "rollups.rebuild" not in source

    class Editor:
        pass

    editor = Editor()
    editor.connection = connection
    migration.remind(apps, editor)
    assert capsys.readouterr().out == ""  # an empty log: nothing to count
    make_log()
    migration.remind(apps, editor)
    assert "run `manage.py rollup_logs` once" in capsys.readouterr().out
