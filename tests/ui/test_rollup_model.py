"""The analytics rollups' model and migration: the model lives with the gateway's others, the
logs UI has no models module, and the migration creates the table without running code."""

import importlib.util
import io

import pytest
from django.core.management import call_command

from gateway import models, rollups


def test_rollup_is_a_gateway_model_and_the_logs_ui_has_none():
    assert rollups.Rollup is models.Rollup and models.Rollup.__module__ == "gateway.models"
    assert models.Rollup._meta.db_table == "gateway_rollup"
    assert importlib.util.find_spec("logs_ui.models") is None
    assert rollups.SUM_FIELDS is models.ROLLUP_SUMS


@pytest.mark.django_db
def test_the_migrations_state_matches_the_models():
    out = io.StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)  # exits 1 on a change
    assert "No changes detected" in out.getvalue()
