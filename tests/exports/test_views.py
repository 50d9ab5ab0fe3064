"""The export from the logs UI (login), the API (a gateway key that reads logs) and the
command: each with the list's filters, streamed, refused past GATEWAY_MAX_EXPORT_RECORDS."""

import io

import pytest
from asgiref.sync import sync_to_async
from django.core.management import CommandError, call_command
from django.http import StreamingHttpResponse

from gateway.errors import GatewayError
from gateway.models import ApiKey
from tests.exports.zips import read_export
from tests.ui.logs import make_log, png

pytestmark = pytest.mark.django_db(transaction=True)  # the API's queries go through orm()


@pytest.fixture
def logs():
    """Three records: gpt-4o 200 with an image, gpt-4o 502, gpt-4o-mini 200."""
    return [
        make_log("ok", model="gpt-4o", images=[png(color=(1, 2, 3))], metadata={"app": "ocr"}),
        make_log("bad", model="gpt-4o", error=GatewayError(502, "down", code="upstream_error")),
        make_log("mini", model="gpt-4o-mini", metadata={"app": "ocr"}),
    ]


def body(response) -> bytes:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content)


def test_the_ui_exports_the_lists_filter(staff_client, logs):
    response = staff_client.get("/logs/export/", {"model": "gpt-4o", "status": "2xx"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="iris-dataset-')
    assert response["X-Iris-Export-Records"] == "1"
    lines, images, _ = read_export(body(response))
    assert [line["id"] for line in lines] == [logs[0].id]
    assert response["X-Iris-Export-Image-Bytes"] == str(sum(map(len, images.values())))
    both = staff_client.get("/logs/export/", {"metadata": "app=ocr"})
    assert [line["id"] for line in read_export(body(both))[0]] == [logs[0].id, logs[2].id]


def test_the_ui_export_ignores_the_lists_cursor_and_needs_a_viewer(client, django_user_model, logs):
    assert client.get("/logs/export/").status_code == 302  # to the login page
    nobody = django_user_model.objects.create_user("nobody", password="pw")
    client.force_login(nobody)
    assert client.get("/logs/export/").status_code == 403
    client.force_login(django_user_model.objects.create_user("s", password="pw", is_staff=True))
    response = client.get("/logs/export/", {"before": logs[1].id, "sort": "-cost"})
    assert [line["id"] for line in read_export(body(response))[0]] == [log.id for log in logs]
    bad = client.get("/logs/export/", {"status": "teapot"})
    assert bad.status_code == 400 and "status" in bad.json()["fields"]


def test_an_export_past_the_limit_is_refused_before_it_starts(staff_client, client, logs, settings):
    settings.GATEWAY_MAX_EXPORT_RECORDS = 2
    refused = staff_client.get("/logs/export/")
    assert refused.status_code == 400
    assert "selects 3 records" in refused.json()["error"]
    assert "GATEWAY_MAX_EXPORT_RECORDS" in refused.json()["error"]
    assert staff_client.get("/logs/export/", {"model": "gpt-4o"}).status_code == 200
    key = ApiKey.generate("tools", can_read_logs=True)[1]
    api = client.get("/v1/logs/export", headers={"x-portkey-api-key": key})
    assert api.status_code == 400 and api.json()["error"]["code"] == "export_too_large"


def test_the_api_exports_with_a_key_that_reads_logs(client, logs, settings):
    settings.GATEWAY_REQUIRE_API_KEY = True
    key = ApiKey.generate("tools", can_read_logs=True)[1]
    filters = {"model": "gpt-4o", "status": "error"}
    response = client.get("/v1/logs/export", filters, headers={"x-portkey-api-key": key})
    assert response.status_code == 200 and response["X-Iris-Export-Records"] == "1"
    (line,), images, _ = read_export(body(response))
    assert line["id"] == logs[1].id and line["status"] == 502 and images == {}

    assert client.get("/v1/logs/export").status_code == 401
    blind = ApiKey.generate("app", can_read_logs=False)[1]
    refused = client.get("/v1/logs/export", headers={"x-portkey-api-key": blind})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "logs_not_allowed"
    bad = client.get("/v1/logs/export", {"since": "yesterday"}, headers={"x-portkey-api-key": key})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_filter"
    post = client.post("/v1/logs/export", headers={"x-portkey-api-key": key})
    assert post.status_code == 405


async def test_under_asgi_the_zip_comes_from_an_async_iterator(async_client, logs):
    key = (await sync_to_async(ApiKey.generate)("tools", can_read_logs=True))[1]
    response = await async_client.get(
        "/v1/logs/export", {"model": "gpt-4o-mini"}, headers={"x-portkey-api-key": key}
    )
    assert response.status_code == 200 and response.is_async
    data = b"".join([chunk async for chunk in response.streaming_content])
    assert [line["id"] for line in read_export(data)[0]] == [logs[2].id]


def test_the_command_writes_the_filters_zip(tmp_path, logs):
    out = tmp_path / "out.zip"
    err = io.StringIO()
    call_command("export_dataset", filter="model=gpt-4o&status=2xx", output=str(out), stderr=err)
    lines, images, _ = read_export(out.read_bytes())
    assert [line["id"] for line in lines] == [logs[0].id] and len(images) == 1
    assert "Exported 1 records" in err.getvalue()
    with pytest.raises(CommandError, match="status"):
        call_command("export_dataset", filter="status=teapot", output=str(tmp_path / "x.zip"))


def test_the_list_links_its_filter_to_the_export(staff_client, logs):
    page = staff_client.get("/logs/", {"model": "gpt-4o", "status": "2xx"}).content.decode()
    assert 'href="/logs/export/?model=gpt-4o&amp;status=2xx"' in page
    assert "export.js" in page and 'role="status"' in page
