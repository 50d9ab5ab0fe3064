"""Providers in the admin: encrypted write-only credentials, forms per kind, list stats."""

import datetime as dt

import pytest
from django.db import connection, transaction
from django.db.models import ProtectedError
from django.urls import reverse
from django.utils import timezone

from gateway import targets
from gateway.models import ApiKey, Provider, RequestLog

OPENAI_KEY = "sk-proj-very-secret-openai-key-a1b2"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

pytestmark = pytest.mark.django_db


def form(**fields: str) -> dict:
    """What the add/change form posts: every field, most of them empty."""
    data = {
        "name": "OpenAI production",
        "slug": "openai-prod",
        "kind": "openai",
        "enabled": "on",
        "default_model": "gpt-4o",
        "base_url": "",
        "api_key": "",
        "azure_resource_name": "",
        "azure_deployment_id": "",
        "azure_api_version": "",
        "aws_region": "",
        "aws_access_key_id": "",
        "aws_secret_access_key": "",
        "aws_session_token": "",
        "timeout": "",
        "extra_headers": "{}",
        "notes": "",
    }
    data.update(fields)
    return {name: value for name, value in data.items() if value is not None}


def add(admin_client, **fields: str):
    return admin_client.post(reverse("admin:gateway_provider_add"), form(**fields))


def change(admin_client, provider: Provider, **fields: str):
    url = reverse("admin:gateway_provider_change", args=[provider.pk])
    return admin_client.post(url, form(**fields))


def raw_row(slug: str) -> str:
    """The provider's row exactly as the database holds it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM gateway_provider WHERE slug = %s", [slug])
        return repr(cursor.fetchone())


def test_it_stores_credentials_encrypted_and_never_plain(admin_client):
    response = add(
        admin_client,
        slug="bedrock-prod",
        kind="bedrock",
        aws_region="us-east-1",
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key=AWS_SECRET,
        aws_session_token="IQoJb3JpZ2luX2VjEXAMPLE//session+token=",
        api_key=OPENAI_KEY,
    )
    assert response.status_code == 302
    row = raw_row("bedrock-prod")
    for secret in (OPENAI_KEY, AWS_SECRET, "AKIAIOSFODNN7EXAMPLE", "IQoJb3JpZ2luX2Vj"):
        assert secret not in row
    provider = Provider.objects.get(slug="bedrock-prod")
    assert provider.credential("aws_secret_access_key") == AWS_SECRET
    assert provider.credential("api_key") == OPENAI_KEY


def test_it_shows_secrets_masked_and_never_in_full(admin_client):
    add(admin_client, api_key=OPENAI_KEY)
    provider = Provider.objects.get(slug="openai-prod")
    page = admin_client.get(reverse("admin:gateway_provider_change", args=[provider.pk]))
    html = page.content.decode()
    assert "Stored: sk-…a1b2. Leave blank to keep it." in html
    assert OPENAI_KEY not in html and "very-secret" not in html
    assert 'type="password"' in html
    assert OPENAI_KEY not in admin_client.get(reverse("admin:gateway_provider_changelist")).text


def test_it_keeps_a_secret_saved_without_retyping_and_clears_it_on_request(admin_client):
    add(admin_client, api_key=OPENAI_KEY)
    provider = Provider.objects.get(slug="openai-prod")
    assert change(admin_client, provider, default_model="gpt-4o-mini").status_code == 302
    provider.refresh_from_db()
    assert provider.default_model == "gpt-4o-mini" and provider.credential("api_key") == OPENAI_KEY

    change(admin_client, provider, api_key="sk-new-key-0000000000000000-c3d4")
    provider.refresh_from_db()
    assert provider.credential("api_key") == "sk-new-key-0000000000000000-c3d4"

    change(admin_client, provider, clear_api_key="on")
    provider.refresh_from_db()
    assert provider.credential("api_key") == "" and provider.encrypted_credentials == ""


@pytest.mark.parametrize(
    ("fields", "options"),
    [
        (
            {"kind": "azure-openai", "azure_resource_name": "contoso", "api_key": OPENAI_KEY},
            {"azure-resource-name": "contoso"},
        ),
        (
            {
                "kind": "azure-openai",
                "azure_resource_name": "contoso",
                "azure_deployment_id": "gpt-4o",
                "azure_api_version": "2024-10-21",
                "api_key": OPENAI_KEY,
            },
            {
                "azure-resource-name": "contoso",
                "azure-deployment-id": "gpt-4o",
                "azure-api-version": "2024-10-21",
            },
        ),
        (
            {
                "kind": "bedrock",
                "aws_region": "eu-west-1",
                "aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
                "aws_secret_access_key": AWS_SECRET,
            },
            {
                "aws-region": "eu-west-1",
                "aws-access-key-id": "AKIAIOSFODNN7EXAMPLE",
                "aws-secret-access-key": AWS_SECRET,
            },
        ),
        ({"kind": "anthropic", "api_key": OPENAI_KEY}, {}),
        ({"kind": "google", "api_key": OPENAI_KEY}, {}),
        ({"kind": "openai", "base_url": "http://vllm:8000/v1"}, {}),
    ],
)
def test_it_adds_each_kind_and_maps_it_to_what_the_provider_module_reads(
    admin_client, fields, options
):
    assert add(admin_client, **fields).status_code == 302
    target = targets.target_for(Provider.objects.get(slug="openai-prod"))
    assert target.provider == fields["kind"] and target.options == options
    assert target.api_key == fields.get("api_key", "")
    assert target.base_url == fields.get("base_url", "")
    assert target.base_url_trusted == bool(fields.get("base_url"))


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"kind": "azure-openai"}, "Azure needs the resource name (or a base URL)."),
        ({"kind": "bedrock", "aws_region": "us-east-1"}, "Bedrock needs AWS keys or an API key."),
        (
            {"kind": "bedrock", "aws_region": "us-east-1", "aws_access_key_id": "AKIA1"},
            "Give both AWS keys, or neither.",
        ),
        ({"kind": "bedrock", "api_key": "k" * 20}, "Bedrock needs the AWS region."),
        (
            {
                "kind": "bedrock",
                "base_url": "http://10.0.0.9:8080",
                "aws_access_key_id": "AKIA1",
                "aws_secret_access_key": "s",
            },
            "Bedrock needs the AWS region.",  # signing needs it, whatever the host
        ),
        ({"kind": "bedrock", "aws_region": "us-east-1/x"}, "An AWS region, e.g. us-east-1."),
        ({"base_url": "ftp://example.com"}, "Enter an http:// or https:// URL"),
        ({"base_url": "https://u:p@example.com/v1"}, "No query, fragment or user:password"),
        ({"extra_headers": "[1]"}, "Enter a JSON object"),
        ({"extra_headers": '{"x-a": "1\\r\\nx-b: 2"}'}, "must be a one-line string"),
        ({"extra_headers": '{"bad header": "1"}'}, "&#x27;bad header&#x27; is not a valid header"),
        ({"slug": "Has Spaces"}, "Lowercase letters, digits, - and _."),
    ],
)
def test_it_explains_what_a_kind_needs(admin_client, fields, error):
    response = add(admin_client, **fields)
    assert response.status_code == 200 and error in response.content.decode()
    assert not Provider.objects.exists()


def test_it_does_not_echo_a_typed_secret_when_the_form_has_errors(admin_client):
    response = add(admin_client, kind="azure-openai", api_key=OPENAI_KEY)
    assert response.status_code == 200 and OPENAI_KEY not in response.content.decode()


def test_it_groups_fields_by_kind_for_the_change_form_script(admin_client):
    html = admin_client.get(reverse("admin:gateway_provider_add")).content.decode()
    assert "iris-kind iris-kind-azure-openai" in html and "iris-kind iris-kind-bedrock" in html
    assert "showFieldsetsOfKind" in html
    assert "Test connection" not in html  # only a saved record can be tested


def test_it_lists_requests_tokens_and_the_last_error_in_one_query(
    admin_client, django_assert_max_num_queries
):
    now = timezone.now()
    for n in range(5):
        provider = Provider.objects.create(slug=f"p{n}", name=f"P{n}", kind="openai")
        provider.set_credential("api_key", OPENAI_KEY)
        provider.save()
    rows = [
        RequestLog(request_id="a1", provider_slug="p0", status_code=200, total_tokens=30),
        RequestLog(request_id="a2", provider_slug="p0", status_code=200, total_tokens=12),
        RequestLog(
            request_id="a3",
            provider_slug="p0",
            status_code=429,
            error_message="Rate limit reached for requests",
        ),
        RequestLog(  # older than a day: not counted, but still the last error of p1
            request_id="b1",
            provider_slug="p1",
            status_code=401,
            created_at=now - dt.timedelta(days=2),
            error_message="Incorrect API key provided",
            total_tokens=1000,
        ),
    ]
    RequestLog.objects.bulk_create(rows)
    with django_assert_max_num_queries(5):  # session, user, two counts, then one for the rows
        page = admin_client.get(reverse("admin:gateway_provider_changelist"))
    cells = {p.slug: p for p in page.context["cl"].result_list}
    assert (cells["p0"].requests_24h, cells["p0"].tokens_24h, cells["p0"].errors_24h) == (3, 42, 1)
    assert cells["p0"].last_error_status == 429
    assert (cells["p1"].requests_24h, cells["p1"].tokens_24h, cells["p1"].last_error_status) == (
        0,
        0,
        401,
    )
    assert cells["p2"].last_error_id is None
    html = page.content.decode()
    assert "429 Rate limit reached for requests" in html and "401 Incorrect API key" in html
    assert OPENAI_KEY not in html


def test_it_filters_and_searches_providers(admin_client):
    Provider.objects.create(slug="azure-eu", name="Azure EU", kind="azure-openai")
    Provider.objects.create(slug="local-vllm", name="vLLM", kind="openai", notes="GPU box 3")
    Provider.objects.create(slug="old", name="Old", kind="openai", enabled=False)
    url = reverse("admin:gateway_provider_changelist")
    slugs = lambda response: [p.slug for p in response.context["cl"].result_list]  # noqa: E731
    assert slugs(admin_client.get(url, {"kind__exact": "azure-openai"})) == ["azure-eu"]
    assert slugs(admin_client.get(url, {"enabled__exact": "0"})) == ["old"]
    assert slugs(admin_client.get(url, {"q": "GPU box"})) == ["local-vllm"]


def test_it_enables_and_disables_from_the_list(admin_client):
    provider = Provider.objects.create(slug="p", name="P", kind="openai")
    url = reverse("admin:gateway_provider_changelist")
    admin_client.post(url, {"action": "disable", "_selected_action": [provider.pk]})
    provider.refresh_from_db()
    assert provider.enabled is False


def test_it_will_not_delete_the_only_provider_a_key_may_use(admin_client):
    provider = Provider.objects.create(slug="only", name="Only", kind="openai")
    other = Provider.objects.create(slug="other", name="Other", kind="openai")
    key, _ = ApiKey.generate("scoped")
    key.providers.add(provider)
    page = admin_client.get(reverse("admin:gateway_provider_delete", args=[provider.pk]))
    assert "may use only these providers: edit the key first" in page.content.decode()
    with pytest.raises(ProtectedError), transaction.atomic():
        provider.delete()
    key.providers.add(other)  # now it keeps a provider: deleting one no longer widens it
    provider.delete()
    assert set(ApiKey.objects.get(pk=key.pk).providers.all()) == {other}


def test_it_shows_the_request_log_read_only(admin_client):
    log = RequestLog.objects.create(request_id="r1", provider="openai", status_code=200)
    assert admin_client.get(reverse("admin:gateway_requestlog_changelist")).status_code == 200
    page = admin_client.get(reverse("admin:gateway_requestlog_change", args=[log.pk]))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert admin_client.get(reverse("admin:gateway_requestlog_add")).status_code == 403
