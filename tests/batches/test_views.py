"""The logs UI's bulk replay pages (Django's client): the list's button, the form, the batch
page's table and agreement, escaping, and who may use them."""

import pytest
from django.urls import reverse

from batches import runner
from batches.models import Batch, BatchItem
from gateway.logquery import LogFilter
from gateway.models import Provider
from tests.ui.logs import make_log

pytestmark = pytest.mark.django_db


@pytest.fixture
def started(monkeypatch):
    """Batches the views start, recorded instead of run."""
    calls = []
    monkeypatch.setattr(
        runner, "start", lambda batch_id, **options: calls.append((batch_id, options))
    )
    return calls


@pytest.fixture
def slug():
    return Provider.objects.create(slug="fake", name="fake", kind="openai").slug


def test_the_list_links_to_the_form_with_its_filter(staff_client):
    make_log(trace_id="t1")
    page = staff_client.get(reverse("logs_ui:list"), {"trace_id": "t1", "status": ""})
    html = page.content.decode()
    assert 'data-batch-new href="/logs/batches/new/?trace_id=t1"' in html
    assert "Replay these…" in html


def test_the_form_counts_the_records_and_creates_a_batch(staff_client, started, slug):
    for _ in range(3):
        make_log(trace_id="t2")
    make_log(trace_id="other")
    form = staff_client.get(reverse("logs_ui:batch-new"), {"trace_id": "t2"})
    assert form.status_code == 200
    assert '<b class="matching">3</b> records match' in form.content.decode()
    answer = staff_client.post(
        reverse("logs_ui:batch-new"),
        {
            "query": "trace_id=t2",
            "provider_0": "@fake",
            "model_0": "gpt-x",
            "provider_1": "@fake",
            "limit": "2",
            "concurrency": "2",
            "agreement": "regex",
            "pattern": r"(\w+)\.$",
        },
    )
    batch = Batch.objects.get()
    assert answer.status_code == 302 and answer.url == reverse("logs_ui:batch", args=[batch.id])
    assert batch.targets == [
        {"provider": "@fake", "model": "gpt-x"},
        {"provider": "@fake", "model": None},
    ]
    assert (batch.total, batch.agreement, batch.pattern, batch.source) == (
        4,
        "regex",
        r"(\w+)\.$",
        "ui",
    )
    assert batch.created_by == "staff"
    assert started == [(batch.id, {"headers": {}, "user": "staff", "authenticate": False})]


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"provider_0": "@nope"}, "No provider @nope."),
        ({"provider_0": ""}, "Choose a provider to replay on."),
        ({"limit": "501"}, "At most 500 records a batch (GATEWAY_MAX_BATCH_RECORDS)."),
        ({"agreement": "regex", "pattern": "(("}, "The regex does not compile"),
        ({"query": "trace_id=none"}, "No records match this filter."),
    ],
)
def test_the_form_says_what_is_wrong(staff_client, started, slug, fields, message):
    make_log(trace_id="t3")
    data = {"query": "trace_id=t3", "provider_0": "@fake", "limit": "5", "concurrency": "2"}
    data["agreement"] = "exact"
    answer = staff_client.post(reverse("logs_ui:batch-new"), {**data, **fields})
    assert answer.status_code == 400
    assert message in answer.content.decode()
    assert not Batch.objects.exists() and not started


def test_the_batch_page_shows_answers_side_by_side_escaped(staff_client, started, slug):
    log = make_log("p", "<b>cat</b>", trace_id="t4")
    batch = runner.create(
        _filter("t4"),
        query="trace_id=t4",
        source="ui",
        targets=[{"provider": "@fake", "model": None}, {"provider": "@fake", "model": "m2"}],
        limit=5,
        concurrency=1,
        rule=runner.Rule("exact"),
        created_by="staff",
    )
    first, second = BatchItem.objects.filter(batch=batch).order_by("target")
    BatchItem.objects.filter(pk=first.pk).update(status="done", answer="<i>dog</i>", agreed=False)
    BatchItem.objects.filter(pk=second.pk).update(status="failed", error="Rate limit <x>")
    Batch.objects.filter(pk=batch.pk).update(done=2, failed=1, status="done")
    page = staff_client.get(reverse("logs_ui:batch", args=[batch.id]))
    html = page.content.decode()
    assert "&lt;b&gt;cat&lt;/b&gt;" in html and "<b>cat</b>" not in html
    assert "&lt;i&gt;dog&lt;/i&gt;" in html and "Rate limit &lt;x&gt;" in html
    assert f'href="/logs/{log.id}/"' in html
    assert '<td class="num agreed">0 of 1</td>' in html
    assert 'hx-trigger="every 1s"' not in html  # done: no more polling


def test_a_running_batch_polls_and_an_htmx_poll_gets_only_the_results(staff_client, slug):
    make_log(trace_id="t5")
    batch = runner.create(
        _filter("t5"),
        query="trace_id=t5",
        source="ui",
        targets=[{"provider": "@fake", "model": None}],
        limit=5,
        concurrency=1,
        rule=runner.Rule("exact"),
        created_by="staff",
    )
    url = reverse("logs_ui:batch", args=[batch.id])
    assert 'hx-trigger="every 1s"' in staff_client.get(url).content.decode()
    part = staff_client.get(url, headers={"HX-Request": "true", "HX-Target": "batch-results"})
    html = part.content.decode()
    assert html.lstrip().startswith('<div id="batch-results"') and "<html" not in html


def test_only_log_viewers_may_use_it(client, django_user_model):
    make_log(trace_id="t6")
    assert client.get(reverse("logs_ui:batch-new")).status_code == 302  # to the login
    client.force_login(django_user_model.objects.create_user("nobody", password="pw"))
    assert client.get(reverse("logs_ui:batch-new")).status_code == 403
    assert client.post(reverse("logs_ui:batch-new"), {}).status_code == 403


def test_a_viewer_who_may_not_replay_gets_no_button_and_403(viewer_client, started, slug):
    """Viewing the logs is not enough: a bulk replay spends provider money, so it needs what
    a single replay needs (staff, or the "add replay" permission)."""
    make_log(trace_id="t7")
    batch = _batch("t7")
    Batch.objects.filter(pk=batch.pk).update(status="interrupted")
    html = viewer_client.get(reverse("logs_ui:list"), {"trace_id": "t7"}).content.decode()
    assert "Replay these…" not in html and "data-batch-new" not in html
    new = reverse("logs_ui:batch-new")
    assert viewer_client.get(new, {"trace_id": "t7"}).status_code == 403
    post = {"query": "trace_id=t7", "provider_0": "@fake", "limit": "1", "concurrency": "1"}
    assert viewer_client.post(new, {**post, "agreement": "exact"}).status_code == 403
    assert viewer_client.post(reverse("logs_ui:batch-resume", args=[batch.id])).status_code == 403
    assert viewer_client.post(reverse("logs_ui:batch-cancel", args=[batch.id])).status_code == 403
    assert Batch.objects.get().status == "interrupted" and not started
    page = viewer_client.get(reverse("logs_ui:batch", args=[batch.id])).content.decode()
    assert ">Resume</button>" not in page  # it would 403


def test_a_viewer_with_the_replay_permission_may_start_one(viewer_client, started, slug):
    from django.contrib.auth.models import Permission, User

    viewer = User.objects.get(username="viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="add_replay"))
    make_log(trace_id="t8")
    html = viewer_client.get(reverse("logs_ui:list"), {"trace_id": "t8"}).content.decode()
    assert "Replay these…" in html
    post = {"query": "trace_id=t8", "provider_0": "@fake", "limit": "1", "concurrency": "1"}
    answer = viewer_client.post(reverse("logs_ui:batch-new"), {**post, "agreement": "exact"})
    assert answer.status_code == 302 and len(started) == 1


def test_the_form_refuses_a_provider_kind(staff_client, started, slug):
    """The UI has no provider key to send: a kind target would fail every item."""
    make_log(trace_id="t9")
    post = {"query": "trace_id=t9", "provider_0": "openai", "limit": "1", "concurrency": "1"}
    answer = staff_client.post(reverse("logs_ui:batch-new"), {**post, "agreement": "exact"})
    assert answer.status_code == 400
    assert "the UI replays on @slug providers" in answer.content.decode()
    assert not Batch.objects.exists() and not started


def _batch(trace: str) -> Batch:
    return runner.create(
        _filter(trace),
        query=f"trace_id={trace}",
        source="ui",
        targets=[{"provider": "@fake", "model": None}],
        limit=5,
        concurrency=1,
        rule=runner.Rule("exact"),
        created_by="staff",
    )


def _filter(trace: str) -> LogFilter:
    return LogFilter(trace_id=trace)
