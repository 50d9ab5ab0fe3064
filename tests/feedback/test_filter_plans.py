"""PostgreSQL: past the listed trace ids (feedback/query.py), the feedback filters ask each
row of the log walked newest first whether a feedback names it, by index; `IN (subquery)`
hashed every feedback's trace id twice before the first row (~100 ms a page with 50,000
feedback at 10M records), and a join would read the whole log. Whatever plan few rows lead
the planner to, it stays a per-row SubPlan: neither hashed nor turned into a join."""

import pytest
from django.db import connection

from feedback import query
from feedback.models import Feedback
from gateway.logquery import LogFilter, filter_logs
from tests.ui.logs import make_log

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plan"),
]


def _plan(qs) -> str:
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize(
    "params",
    [{"feedback": "any"}, {"feedback": "negative"}, {"feedback": "none"}, {"label": "wrong-box"}],
)
def test_walking_asks_each_row_by_index(monkeypatch, params):
    monkeypatch.setattr(query, "KEYS_LISTED", 0)  # as with 50,000 feedback: the walk
    logs = [make_log(trace_id=f"tr-{n}") for n in range(3)]
    Feedback(trace_id="tr-1", value=-1, labels=["wrong-box"]).save()
    qs = filter_logs(LogFilter(**params))
    plan = _plan(qs[:50])
    assert "SubPlan" in plan and "hashed" not in plan, plan
    assert "Join" not in plan, plan
    found = set(qs.values_list("id", flat=True))
    expected = {logs[1].id} if params.get("feedback") != "none" else {logs[0].id, logs[2].id}
    assert found == expected
