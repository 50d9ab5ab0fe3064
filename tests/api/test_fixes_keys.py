"""Issue 17: a new gateway key cannot read the logs API unless given the right; keys made
before keep theirs (migration 0015 changes only the column's default)."""

import importlib

import pytest
from django.core.management import call_command
from django.db import migrations

from gateway.models import ApiKey

pytestmark = pytest.mark.django_db(transaction=True)


def _read(client, raw: str) -> int:
    return client.get("/v1/logs", headers={"x-portkey-api-key": raw}).status_code


def test_a_new_key_cannot_read_the_logs(client):
    key, raw = ApiKey.generate("checkout-app")
    assert key.can_read_logs is False
    assert _read(client, raw) == 403


def test_create_api_key_gives_the_right_only_when_asked(client, capsys):
    call_command("create_api_key", "checkout-app")
    app = capsys.readouterr().out.strip()
    call_command("create_api_key", "log-reader", "--read-logs")
    tool = capsys.readouterr().out.strip()
    assert _read(client, app) == 403
    assert _read(client, tool) == 200
    by_name = dict(ApiKey.objects.values_list("name", "can_read_logs"))
    assert by_name == {"checkout-app": False, "log-reader": True}


def test_the_admin_add_form_starts_unticked(admin_client):
    html = admin_client.get("/admin/gateway/apikey/add/").text
    box = (
        html.split('name="can_read_logs"')[0].rsplit("<input", 1)[1]
        + html.split('name="can_read_logs"')[1].split(">", 1)[0]
    )
    assert "checked" not in box
    admin_client.post("/admin/gateway/apikey/add/", {"name": "from-admin"})
    assert ApiKey.objects.get(name="from-admin").can_read_logs is False


def test_the_migration_changes_only_the_default():
    module = importlib.import_module("gateway.migrations.0015_keys_cannot_read_logs_by_default")
    (operation,) = module.Migration.operations
    assert isinstance(operation, migrations.AlterField)
    assert (operation.model_name, operation.name) == ("apikey", "can_read_logs")
    assert operation.field.default is False


def test_keys_made_before_keep_their_right(client):
    """An AlterField of a default writes no row: a key stored with the right keeps it."""
    old, raw = ApiKey.generate("made-before", can_read_logs=True)
    call_command("migrate", "gateway", "0014", verbosity=0)
    call_command("migrate", "gateway", verbosity=0)
    old.refresh_from_db()
    assert old.can_read_logs is True and _read(client, raw) == 200
