"""The logs UI's replay: the button and section on the request page, the form, the run (a
real fake upstream behind an @slug), and the comparison page."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission
from django.test import AsyncClient, Client
from django.urls import reverse

from gateway import http
from gateway.models import Provider, RequestLog
from replays.models import Replay
from tests.replays.conftest import written
from tests.ui.logs import make_log, png


def make_provider(fake, slug="fake-gpt", default_model="gpt-4.1-mini") -> Provider:
    provider = Provider(
        name="Fake GPT",
        slug=slug,
        kind="openai",
        base_url=f"{fake.url}/v1",
        default_model=default_model,
    )
    provider.set_credential("api_key", "sk-admin")
    provider.save()
    return provider


@pytest.fixture
async def staff_async(django_user_model):
    client = AsyncClient()
    user = await django_user_model.objects.acreate(username="replayer", is_staff=True)
    await client.aforce_login(user)
    yield client
    await http.close_sessions()


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_the_request_page_offers_replay_to_those_who_may_run_one(django_user_model):
    log = make_log(images=[png()])
    staff_client = logged_in(django_user_model.objects.create_user("boss", is_staff=True))
    viewer = django_user_model.objects.create_user("viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_requestlog"))
    viewer_client = logged_in(viewer)
    detail = reverse("logs_ui:detail", args=[log.id])
    form_url = reverse("logs_ui:replay-form", args=[log.id])
    assert form_url in staff_client.get(detail).text
    assert form_url not in viewer_client.get(detail).text  # reading is not spending
    assert viewer_client.get(form_url).status_code == 403
    viewer.user_permissions.add(Permission.objects.get(codename="add_replay"))
    assert form_url in viewer_client.get(detail).text


@pytest.mark.django_db
def test_the_form_starts_from_the_logged_body_and_provider(staff_client, fake_openai):
    make_provider(fake_openai)
    log = make_log("Count the squares", images=[png()], stream=True)
    html = staff_client.get(reverse("logs_ui:replay-form", args=[log.id])).text
    assert 'value="@fake-gpt"' in html and "default gpt-4.1-mini" in html
    assert "iris-blob:" in html and "Count the squares" in html
    assert "&quot;stream&quot;" not in html  # replayed whole
    assert 'name="csrfmiddlewaretoken"' in html


@pytest.mark.django_db
def test_anonymous_and_outsiders_are_kept_out(nobody_client):
    log = make_log()
    url = reverse("logs_ui:replay-form", args=[log.id])
    assert Client().get(url).status_code == 302
    assert Client().post(reverse("logs_ui:replay-run", args=[log.id])).status_code == 302
    assert nobody_client.get(url).status_code == 403


@pytest.mark.django_db
def test_a_run_needs_the_csrf_token(django_user_model):
    log = make_log()
    client = Client(enforce_csrf_checks=True)
    client.force_login(django_user_model.objects.create_user("s", is_staff=True))
    response = client.post(reverse("logs_ui:replay-run", args=[log.id]), {"provider": "@x"})
    assert response.status_code == 403
    assert not Replay.objects.exists()


@pytest.mark.django_db(transaction=True)
async def test_a_run_shows_both_answers_with_a_diff_then_links_both_ways(staff_async, fake_openai):
    await sync_to_async(make_provider)(fake_openai)
    log = await sync_to_async(make_log)(
        "Say <b>hi</b>", "I see 1 image(s). You said: something else", images=[png()]
    )
    response = await staff_async.post(
        reverse("logs_ui:replay-run", args=[log.id]),
        {"provider": "@fake-gpt", "model": "", "body": ""},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    html = response.text
    link = await Replay.objects.aget(original=log)
    compare = reverse("logs_ui:replay-compare", args=[log.id, link.request_id])
    assert response["HX-Push-Url"] == compare
    assert "You said: Say &lt;b&gt;hi&lt;/b&gt;" in html  # model output escaped
    assert "<del>something else</del><ins>Say &lt;b&gt;hi&lt;/b&gt;</ins>" in html
    assert link.user == "replayer" and link.target == "@fake-gpt gpt-4.1-mini"

    row = await written(link.request_id)
    page = (await staff_async.get(compare)).text
    assert f"the replay’s record #{row.id}" in page and "waiting for the log writer" not in page
    assert "hx-trigger" not in page.split('id="replay-compare"')[1].split(">")[0]  # polling stops
    original_page = (await staff_async.get(reverse("logs_ui:detail", args=[log.id]))).text
    listed = reverse("logs_ui:replay-list", args=[log.id])
    assert listed in original_page  # loaded by htmx: the page spends no query on it
    listing = (await staff_async.get(listed)).text
    assert compare in listing and reverse("logs_ui:detail", args=[row.id]) in listing
    replay_page = (await staff_async.get(reverse("logs_ui:detail", args=[row.id]))).text
    assert "Replay of" in replay_page and reverse("logs_ui:detail", args=[log.id]) in replay_page


@pytest.mark.django_db(transaction=True)
async def test_a_run_with_edited_messages_and_a_json_diff(staff_async, fake_openai):
    await sync_to_async(make_provider)(fake_openai)
    log = await sync_to_async(make_log)("first", '{"answer": "first", "n": 1}')
    body = {
        "messages": [{"role": "user", "content": "Reply in json please"}],
        "response_format": {"type": "json_object"},
    }
    response = await staff_async.post(
        reverse("logs_ui:replay-run", args=[log.id]),
        {"provider": "@fake-gpt", "model": "gpt-4o", "body": json.dumps(body)},
    )
    sent = fake_openai.received[-1].json()
    assert sent["messages"] == body["messages"] and sent["model"] == "gpt-4o"
    html = response.text
    assert "JSON diff" in html
    assert '<td class="mono">output.answer</td>' in html
    assert '<tr class="jd-removed"><td class="mono">output.n</td>' in html


@pytest.mark.django_db(transaction=True)
async def test_form_errors_come_back_in_the_form(staff_async, fake_openai):
    log = await sync_to_async(make_log)()
    url = reverse("logs_ui:replay-run", args=[log.id])
    html = (await staff_async.post(url, {"provider": "openai", "body": "[1"})).text
    assert "A provider kind needs its API key." in html and "Not valid JSON" in html
    assert not await Replay.objects.aexists()


@pytest.mark.django_db
def test_the_compare_page_polls_until_the_replay_is_written(staff_client):
    log = make_log()
    Replay.objects.create(original=log, request_id="a" * 32, target="@x m")
    url = reverse("logs_ui:replay-compare", args=[log.id, "a" * 32])
    html = staff_client.get(url).text
    assert "waiting for the log writer" in html and f"{url}?poll=1" in html
    last = staff_client.get(url, {"poll": "60"}, headers={"HX-Request": "true"}).text
    assert "not written yet" in last and "hx-trigger" not in last
    other = make_log()
    assert (
        staff_client.get(reverse("logs_ui:replay-compare", args=[other.id, "a" * 32])).status_code
        == 404
    )
    assert RequestLog.objects.count() == 2


@pytest.mark.django_db
def test_the_comparison_draws_each_sides_boxes_over_the_image(staff_client):
    """Grounding in a comparison: each answer's box_2d drawn over the image, side by side."""
    original = make_log(
        images=[png((100, 80))], reply='[{"box_2d": [100, 200, 500, 800], "label": "cat"}]'
    )
    again = make_log(
        images=[png((100, 80))], reply='[{"box_2d": [0, 0, 250, 250], "label": "dog"}]'
    )
    Replay.objects.create(original=original, request_id=again.request_id, target="@x m")

    html = staff_client.get(
        reverse("logs_ui:replay-compare", args=[original.id, again.request_id])
    ).text

    assert html.count('class="gr-overlay"') == 2
    assert f'data-grounding="{original.id}"' in html and f'data-grounding="{again.id}"' in html
    assert ">cat</text>" in html and ">dog</text>" in html
