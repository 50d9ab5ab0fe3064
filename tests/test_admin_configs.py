"""Saved routing configs in the admin: validated JSON (errors name their path), pretty-printed,
credentials write-only, where each is used, and no 500 deleting one a key still uses."""

import html
import json
import re

import pytest
from django.contrib.admin.sites import site
from django.urls import reverse

from gateway.admin.configs import ConfigAdmin
from gateway.configs.models import Config
from gateway.models import ApiKey
from tests.ui.routed_logs import CACHE_HIT, routed_log

pytestmark = pytest.mark.django_db
ADD = reverse("admin:gateway_config_add")
LIST = reverse("admin:gateway_config_changelist")
SECRET = "sk-config-secret-abcdef0123456789"
FALLBACK = {
    "strategy": {"mode": "fallback"},
    "targets": [
        {"provider": "openai", "api_key": SECRET, "override_params": {"model": "gpt-4o"}},
        {"provider": "@claude-prod"},
    ],
}


def _change(config: Config) -> str:
    return reverse("admin:gateway_config_change", args=[config.pk])


def _post(admin_client, url: str, body: object, **fields) -> object:
    text = body if isinstance(body, str) else json.dumps(body)
    data = {"slug": "vision", "name": "Vision", "enabled": "on", "body": text, **fields}
    return admin_client.post(url, data)


def _textarea(page: str) -> str:
    found = re.search(r'<textarea name="body"[^>]*>\n?(.*?)</textarea>', page, re.S)[1]
    return html.unescape(found)


def test_it_saves_a_valid_config(admin_client):
    response = _post(admin_client, ADD, FALLBACK)
    assert response.status_code == 302, response.content[:3000]
    assert Config.objects.get(slug="vision").body == FALLBACK


def test_a_bad_config_is_refused_with_the_path_of_the_error(admin_client):
    bad = {
        "strategy": {"mode": "fallback"},
        "targets": [{"provider": "openai"}, {"provider": "openai", "retry": {"attempts": 9}}],
    }
    response = _post(admin_client, ADD, bad)
    assert response.status_code == 200 and not Config.objects.exists()
    page = response.text
    assert "targets[1].retry.attempts: must be an integer from 0 to 5" in page
    assert 'class="errorlist' in page
    # What was typed stays in the form, to be fixed.
    assert json.loads(_textarea(page)) == bad


def test_text_that_is_not_json_is_refused(admin_client):
    response = _post(admin_client, ADD, '{"strategy": {"mode": "fallback"},')
    assert response.status_code == 200 and not Config.objects.exists()
    assert "Enter a valid JSON." in response.text
    assert _textarea(response.text) == '{"strategy": {"mode": "fallback"},'


def test_the_id_says_what_apps_send(admin_client):
    assert "<code>x-portkey-config: &lt;id&gt;</code>" in admin_client.get(ADD).text


def test_the_json_is_pretty_printed_and_credentials_are_write_only(admin_client):
    config = Config.objects.create(slug="vision", name="Vision", body=FALLBACK)
    page = admin_client.get(_change(config)).text
    shown = _textarea(page)
    assert SECRET not in page
    assert '\n  "strategy": {\n    "mode": "fallback"\n  }' in shown  # (jsonb: keys sorted)
    assert json.loads(shown)["targets"][0]["api_key"] == "[stored secret 1]"

    # Saved back as shown (another change beside it): the stored key is kept.
    edited = json.loads(shown)
    edited["targets"][1]["weight"] = 2
    response = _post(admin_client, _change(config), edited)
    assert response.status_code == 302, response.content[:3000]
    config.refresh_from_db()
    assert config.body["targets"][0]["api_key"] == SECRET
    assert config.body["targets"][1] == {"provider": "@claude-prod", "weight": 2}


def _shown(admin_client, config: Config) -> dict:
    return json.loads(_textarea(admin_client.get(_change(config)).text))


def test_a_placeholder_of_no_stored_secret_is_refused(admin_client):
    config = Config.objects.create(slug="vision", body=FALLBACK)
    edited = _shown(admin_client, config)
    edited["targets"][1]["api_key"] = "[stored secret 7]"
    response = _post(admin_client, _change(config), edited)
    assert response.status_code == 200
    assert "targets[1].api_key: [stored secret 7] is not a stored secret" in response.text
    assert SECRET not in response.text


@pytest.mark.parametrize(
    "where",
    [
        ("override_params", "api_key"),  # sent upstream in the body, and logged
        ("override_params", "user"),
        ("override_params", "metadata", "api_key"),
        ("cache", "api_key"),
    ],
    ids=".".join,
)
def test_a_placeholder_outside_a_targets_credentials_is_refused_with_its_path(admin_client, where):
    """Only a target's own credential keys get a stored secret back: anywhere else it would be
    sent upstream (override_params) or kept as text, so an editor could read it out."""
    config = Config.objects.create(slug="vision", body=FALLBACK)
    edited = _shown(admin_client, config)
    node = edited["targets"][1]
    for key in where[:-1]:
        node = node.setdefault(key, {})
    node[where[-1]] = "[stored secret 1]"
    response = _post(admin_client, _change(config), edited)
    assert response.status_code == 200
    path = "targets[1]." + ".".join(where)
    assert f"{path}: [stored secret 1] can only stand for a credential" in response.text
    assert SECRET not in response.text
    config.refresh_from_db()
    assert config.body == FALLBACK


def test_a_placeholder_moved_to_another_targets_credential_of_its_kind_is_restored(admin_client):
    config = Config.objects.create(slug="vision", body=FALLBACK)
    edited = _shown(admin_client, config)
    edited["targets"] = [edited["targets"][1], {**edited["targets"][0], "weight": 1}]
    assert _post(admin_client, _change(config), edited).status_code == 302
    config.refresh_from_db()
    assert config.body["targets"][1]["api_key"] == SECRET


def test_a_placeholder_under_another_kind_of_credential_is_refused(admin_client):
    """An AWS secret is not sent where an API key goes (a bearer token, to any host)."""
    body = {
        "provider": "bedrock",
        "aws_access_key_id": "AKIAEXAMPLE0001",
        "aws_secret_access_key": "aws-secret-value-0123456789",
        "aws_region": "us-east-1",
    }
    config = Config.objects.create(slug="vision", body=body)
    edited = _shown(admin_client, config)
    assert edited["aws_secret_access_key"] == "[stored secret 2]"
    edited = {"provider": "openai", "api_key": "[stored secret 2]"}
    response = _post(admin_client, _change(config), edited)
    assert response.status_code == 200
    assert "api_key: [stored secret 2] is not a stored api_key" in response.text
    assert "aws-secret-value" not in response.text


def test_an_error_quoting_a_stored_secret_is_replaced():
    from gateway.admin.configs import ConfigForm

    form = ConfigForm(instance=Config(pk=1, slug="vision", body=FALLBACK), data={})
    form.is_valid()
    form.add_error("body", f"no target is named {SECRET!r}")
    assert SECRET not in str(form.errors) and "The config is invalid." in str(form.errors)


def test_the_list_shows_keys_requests_and_last_use(admin_client):
    used = Config.objects.create(slug="used", name="Used", body=FALLBACK)
    Config.objects.create(slug="idle", body=FALLBACK)
    ApiKey.generate("checkout", default_config=used)
    ApiKey.generate("search", default_config=used)
    routed_log(CACHE_HIT, config_id="used")
    routed_log(CACHE_HIT, config_id="used")
    page = admin_client.get(LIST).text
    used_row = re.search(r"<tr>(?:(?!</tr>).)*>used</a>.*?</tr>", page, re.S)[0]
    idle_row = re.search(r"<tr>(?:(?!</tr>).)*>idle</a>.*?</tr>", page, re.S)[0]
    assert '<td class="field-keys_count">2</td>' in used_row
    assert '<td class="field-keys_count">0</td>' in idle_row
    assert f'href="{reverse("logs_ui:list")}?config=used">2</a>' in used_row
    assert '<td class="field-requests_24h">0</td>' in idle_row
    assert '<td class="field-last_used">-</td>' not in used_row
    assert "—" in re.search(r'<td class="field-last_used">(.*?)</td>', idle_row)[1]


def test_the_change_page_says_where_the_config_is_used(admin_client):
    config = Config.objects.create(slug="vision", body=FALLBACK)
    key, _ = ApiKey.generate("checkout-app", default_config=config)
    routed_log(CACHE_HIT, config_id="vision")
    routed_log(CACHE_HIT, config_id="other")
    page = admin_client.get(_change(config)).text
    used = re.search(r'<div class="readonly">(.*?)</div>', page, re.S)[1]
    assert reverse("admin:gateway_apikey_change", args=[key.pk]) in used
    assert "checkout-app" in used and "1 key" in used
    assert f'<a href="{reverse("logs_ui:list")}?config=vision">1 request</a>' in used


def test_an_unused_config_says_so(admin_client):
    config = Config.objects.create(slug="vision", body=FALLBACK)
    page = admin_client.get(_change(config)).text
    assert "No gateway key uses it by default." in page and ">0 requests</a>" in page


def test_deleting_a_config_a_key_uses_is_refused_with_a_clear_message(admin_client):
    config = Config.objects.create(slug="vision", body=FALLBACK)
    key, _ = ApiKey.generate("checkout-app", default_config=config)
    url = reverse("admin:gateway_config_delete", args=[config.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "uses config vision by default" in page.text
    assert reverse("admin:gateway_apikey_change", args=[key.pk]) in page.text
    assert admin_client.post(url, {"post": "yes"}).status_code == 200
    bulk = admin_client.post(
        LIST, {"action": "delete_selected", "_selected_action": [config.pk], "post": "yes"}
    )
    assert bulk.status_code == 200 and "uses config vision by default" in bulk.text
    assert Config.objects.filter(pk=config.pk).exists()


def test_a_key_taking_the_config_while_the_page_is_open_gets_a_message_not_a_500(
    admin_client, monkeypatch
):
    config = Config.objects.create(slug="vision", body=FALLBACK)
    ApiKey.generate("checkout-app", default_config=config)

    def as_if_unused(self, objs, request):  # what the page saw before the key took it
        return [str(o) for o in objs], {}, set(), []

    monkeypatch.setattr(ConfigAdmin, "get_deleted_objects", as_if_unused)
    url = reverse("admin:gateway_config_delete", args=[config.pk])
    response = admin_client.post(url, {"post": "yes"}, follow=True)
    assert response.status_code == 200
    assert "Not deleted: a gateway API key uses this config by default." in response.text
    assert Config.objects.filter(pk=config.pk).exists()


def test_an_unused_config_is_deleted(admin_client):
    config = Config.objects.create(slug="vision", body=FALLBACK)
    url = reverse("admin:gateway_config_delete", args=[config.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not Config.objects.exists()


def test_the_key_admin_sets_a_default_config(admin_client):
    config = Config.objects.create(slug="vision", body=FALLBACK)
    key, _ = ApiKey.generate("checkout-app")
    url = reverse("admin:gateway_apikey_change", args=[key.pk])
    assert 'name="default_config"' in admin_client.get(url).text
    data = {
        "name": "checkout-app",
        "can_read_logs": "on",
        "default_config": config.pk,
        "expires_at_0": "",
        "expires_at_1": "",
    }
    assert admin_client.post(url, data).status_code == 302
    key.refresh_from_db()
    assert key.default_config == config
    listing = admin_client.get(reverse("admin:gateway_apikey_changelist")).text
    assert re.search(r'<td class="field-default_config[^"]*">vision</td>', listing)


def test_it_is_registered():
    assert isinstance(site._registry[Config], ConfigAdmin)
