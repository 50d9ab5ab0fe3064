"""GET /v1/logs: each record's cost (a decimal string, null when unknown), its breakdown and
Iris's estimate of the prompt tokens; the cost filters and the sort by cost, paged.

Prices (tests/ui/analytics_logs.py): gpt-4o $2.50/$10 per million input/output tokens;
gpt-4o-mini has none.
"""

import pytest

from gateway.errors import GatewayError
from gateway.models import ApiKey, RequestLog
from tests.ui.analytics_logs import logged, prices  # noqa: F401 (fixture)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("prices")]


@pytest.fixture
def key() -> str:
    return ApiKey.generate("tools", can_read_logs=True)[1]


def _list(client, key: str, **params) -> dict:
    response = client.get("/v1/logs", params, headers={"x-portkey-api-key": key})
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def rows(blob_dir):
    return [
        logged(1, usage=(1000, 200)),  # 0.0025 + 0.002
        logged(2, usage=(2000, 100)),  # 0.005 + 0.001
        logged(3, model="gpt-4o-mini", usage=(10, 1)),  # no price: unknown
        logged(4, error=GatewayError(500, "Upstream failed.", code="upstream_error")),
    ]


def test_it_returns_cost_its_breakdown_and_the_estimate(client, key, rows):
    RequestLog.objects.filter(pk=rows[0].pk).update(estimated_prompt_tokens=990)
    data = {r["id"]: r for r in _list(client, key)["data"]}
    first = data[rows[0].id]
    assert first["cost_usd"] == "0.0045"  # a string: exact, as Django writes a Decimal
    assert first["cost_breakdown"] == {"total": "0.0045", "input": "2.50", "output": "10"}
    assert first["estimated_prompt_tokens"] == 990 and first["estimate_difference"] == 10
    assert data[rows[1].id]["cost_usd"] == "0.006"
    assert data[rows[2].id]["cost_usd"] is None and data[rows[2].id]["cost_breakdown"] is None
    assert data[rows[3].id]["cost_usd"] is None  # failed, no usage: unknown, not 0
    detail = client.get(f"/v1/logs/{rows[0].id}", headers={"x-portkey-api-key": key}).json()
    assert detail["cost_usd"] == "0.0045" and detail["cost_breakdown"]["total"] == "0.0045"


def test_it_filters_by_cost(client, key, rows):
    def ids(**params) -> list[int]:
        return [r["id"] for r in _list(client, key, **params)["data"]]

    assert ids(cost="unknown") == [rows[3].id, rows[2].id]
    assert ids(cost="known") == [rows[1].id, rows[0].id]
    assert ids(cost_min="0.005") == [rows[1].id]
    assert ids(cost_max="0.0045") == [rows[0].id]


def test_it_sorts_by_cost_and_pages_with_its_cursor(client, key, rows):
    dearest = _list(client, key, sort="-cost")
    assert [r["id"] for r in dearest["data"]] == [rows[i].id for i in (1, 0, 3, 2)]
    cheapest = _list(client, key, sort="cost")
    assert [r["id"] for r in cheapest["data"]] == [rows[i].id for i in (0, 1, 3, 2)]
    first = _list(client, key, sort="-cost", limit=1)
    assert first["has_more"] and first["next_cursor"] == f"{rows[1].id}@0.006"
    walked, cursor = [r["id"] for r in first["data"]], first["next_cursor"]
    while cursor is not None:
        page = _list(client, key, sort="-cost", limit=1, cursor=cursor)
        walked += [r["id"] for r in page["data"]]
        cursor = page["next_cursor"]
    assert walked == [r["id"] for r in dearest["data"]]
    by_time = _list(client, key, limit=1)
    assert by_time["next_cursor"] == rows[3].id  # newest first: an id, as before


@pytest.mark.parametrize(
    "params",
    [{"sort": "price"}, {"cost": "free"}, {"cost_min": "-1"}, {"cost_max": "x"}, {"cursor": "1@y"}],
)
def test_it_refuses_bad_cost_parameters(client, key, params):
    response = client.get("/v1/logs", params, headers={"x-portkey-api-key": key})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_filter"
