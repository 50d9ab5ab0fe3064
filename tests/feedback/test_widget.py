"""The request page's feedback widget (Django client)."""

import pytest
from django.test import Client

from feedback.models import Feedback
from gateway.models import ApiKey
from tests.ui.logs import make_log

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def save(client, log, **data):
    return client.post(f"/logs/{log.id}/feedback/", data, headers=HTMX)


def widget(client, log) -> str:
    return client.get(f"/logs/{log.id}/feedback/widget/", headers={"HX-Request": "true"}).text


def test_the_page_shows_feedback_from_the_api_by_trace_or_request_id(staff_client):
    log = make_log(trace_id="conv-9")
    key, _ = ApiKey.generate("app")
    Feedback(
        trace_id="conv-9", value=-7, weight=0.5, metadata={"x": "<script>"}, api_key=key
    ).save()
    Feedback(trace_id=log.request_id, value=3, labels=["ocr-miss"], user_name="u1").save()
    Feedback(trace_id="elsewhere", value=10).save()
    page = staff_client.get(f"/logs/{log.id}/").content.decode()
    assert f'hx-get="/logs/{log.id}/feedback/widget/"' in page  # loaded after the page
    html = widget(staff_client, log)
    assert 'id="feedback"' in html
    assert html.count('class="fb-entry"') == 2
    assert "−7" in html and "× 0.5" in html and "+3" in html and "key app" in html
    assert "&lt;script&gt;" in html and '<script>"' not in html  # metadata escaped
    assert 'href="/logs/?label=ocr-miss"' in html


def test_thumbs_labels_and_a_comment_are_saved_as_the_users_ui_feedback(staff_client):
    log = make_log()
    response = save(staff_client, log, value="1")
    assert response.status_code == 200
    fb = Feedback.objects.get()
    assert (fb.trace_id, fb.value, fb.source, fb.user_name) == (log.request_id, 1, "ui", "staff")
    assert 'aria-pressed="true"' in response.content.decode()
    save(staff_client, log, labels=[], add_label="wrong-box, blurry", comment="Box <off>")
    fb.refresh_from_db()
    assert (fb.value, fb.labels, fb.comment) == (1, ["wrong-box", "blurry"], "Box <off>")
    html = save(staff_client, log, labels=fb.labels, remove="blurry", value="-1").content.decode()
    fb.refresh_from_db()
    assert (fb.value, fb.labels) == (-1, ["wrong-box"])
    assert "Box &lt;off&gt;" in html
    assert Feedback.objects.count() == 1  # one UI feedback per user per record


def test_the_pressed_thumb_again_takes_it_back_and_an_empty_feedback_goes(staff_client):
    log = make_log()
    save(staff_client, log, value="1")
    save(staff_client, log, value="1", comment="")
    assert not Feedback.objects.exists()


def test_labels_suggest_those_in_use_and_a_bad_label_is_explained(staff_client):
    Feedback(trace_id="t", value=-1, labels=["hallucinated"]).save()
    log = make_log()
    html = widget(staff_client, log)
    assert '<option value="hallucinated">' in html
    html = save(staff_client, log, add_label="x" * 101).content.decode()
    assert "at most 100" in html and not Feedback.objects.filter(source="ui").exists()


def test_without_htmx_the_form_posts_and_returns_to_the_page(staff_client):
    log = make_log()
    response = staff_client.post(f"/logs/{log.id}/feedback/", {"value": "-1"})
    assert response.status_code == 302 and response["Location"] == f"/logs/{log.id}/#feedback"


def test_login_permission_and_csrf_are_required(client, nobody_client, django_user_model):
    log = make_log()
    assert Client().post(f"/logs/{log.id}/feedback/", {"value": "1"}).status_code == 302
    assert nobody_client.post(f"/logs/{log.id}/feedback/", {"value": "1"}).status_code == 403
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(django_user_model.objects.create_user("s", password="p", is_staff=True))
    assert strict.post(f"/logs/{log.id}/feedback/", {"value": "1"}).status_code == 403
    assert not Feedback.objects.exists()
    assert client.get(f"/logs/{log.id}/feedback/").status_code == 405


def test_the_widget_needs_a_login(nobody_client):
    log = make_log()
    assert Client().get(f"/logs/{log.id}/feedback/widget/").status_code == 302
    assert nobody_client.get(f"/logs/{log.id}/feedback/widget/").status_code == 403
