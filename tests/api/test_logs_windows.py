"""GET /v1/logs with since or until: listed by (created_at, id), newest first, the cursor
"id@created_at"; every record of the window once, also when created_at order is not id order."""

from datetime import timedelta

import pytest

from gateway.models import ApiKey
from tests.ui.analytics_logs import BASE, logged, prices  # noqa: F401 (fixture)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("prices")]


@pytest.fixture
def key() -> str:
    return ApiKey.generate("tools", can_read_logs=True)[1]


def _get(client, key: str, **params):
    return client.get("/v1/logs", params, headers={"x-portkey-api-key": key})


def test_a_window_pages_by_time(client, key, blob_dir):
    rows = [logged(m) for m in (1, 2, 5, 6)] + [logged(3), logged(5), logged(0.5), logged(30)]
    since, until = BASE + timedelta(minutes=0.75), BASE + timedelta(minutes=10)
    inside = [r for r in rows if since <= r.created_at < until]
    expected = [r.id for r in sorted(inside, key=lambda r: (r.created_at, r.id), reverse=True)]
    assert expected != sorted(expected, reverse=True)
    window = {"since": since.isoformat(), "until": until.isoformat(), "limit": 2}
    seen, cursor = [], None
    for _ in range(10):
        response = _get(client, key, **window, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.content
        page = response.json()
        seen += [r["id"] for r in page["data"]]
        cursor = page["next_cursor"]
        assert page["has_more"] == (cursor is not None)
        if cursor is None:
            break
        assert "@" in cursor and cursor.endswith("Z")
    assert seen == expected
    plain = _get(client, key).json()["data"]  # no window: id order, as before
    assert [r["id"] for r in plain] == sorted((r.id for r in rows), reverse=True)


def test_a_bad_time_cursor_is_a_400(client, key, blob_dir):
    response = _get(client, key, since=BASE.isoformat(), cursor="3@2026-02-30T00:00:00.000000Z")
    assert response.status_code == 400 and "is not a cursor" in response.json()["error"]["message"]
