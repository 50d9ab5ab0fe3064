import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import reverse

from tests.ui.logs import make_log, png

pytestmark = pytest.mark.django_db


def _urls(log) -> list[str]:
    sha = log.images.first().blob_id
    image = log.images.first()
    return [
        reverse("logs_ui:list"),
        reverse("logs_ui:tail") + "?live=1&after=0",
        reverse("logs_ui:detail", args=[log.id]),
        reverse("logs_ui:raw", args=[log.id, "request"]),
        reverse("logs_ui:snippet", args=[log.id, "curl"]),
        reverse("logs_ui:image", args=[sha]),
        reverse("logs_ui:thumbnail", args=[sha, 96]),
        reverse("logs_ui:live-image", args=[image.id]),
    ]


def test_it_sends_anonymous_visitors_to_the_login_page(client):
    log = make_log(images=[png()])
    login = resolve_url(settings.LOGIN_URL)
    for url in _urls(log):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(login + "?next="), url


def test_it_moves_the_whole_page_to_login_when_an_htmx_call_is_anonymous(client):
    response = client.get(
        reverse("logs_ui:list") + "?provider=openai",
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/logs/?q=cat"},
    )
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith(resolve_url(settings.LOGIN_URL))
    assert "next=/logs/%3Fq%3Dcat" in response["HX-Redirect"]


def test_it_refuses_a_user_without_the_permission(nobody_client):
    log = make_log(images=[png()])
    for url in _urls(log):
        assert nobody_client.get(url).status_code == 403, url


def test_it_lets_staff_in(staff_client):
    make_log()
    assert staff_client.get(reverse("logs_ui:list")).status_code == 200


def test_it_lets_a_non_staff_user_with_the_permission_in(viewer_client):
    log = make_log(images=[png()])
    assert viewer_client.get(reverse("logs_ui:list")).status_code == 200
    assert viewer_client.get(reverse("logs_ui:detail", args=[log.id])).status_code == 200
    sha = log.images.first().blob_id
    assert viewer_client.get(reverse("logs_ui:thumbnail", args=[sha, 96])).status_code == 200


def test_it_has_a_login_page_that_logs_in_and_goes_on(client, django_user_model):
    django_user_model.objects.create_user("ann", password="s3cret-pass", is_staff=True)
    login = reverse("logs_ui:login")
    page = client.get(login + "?next=/logs/")
    assert page.status_code == 200
    assert b'name="username"' in page.content
    response = client.post(
        login, {"username": "ann", "password": "s3cret-pass", "next": "/logs/?q=cat"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/logs/?q=cat"


def test_it_refuses_a_wrong_password(client, django_user_model):
    django_user_model.objects.create_user("ann", password="s3cret-pass", is_staff=True)
    response = client.post(reverse("logs_ui:login"), {"username": "ann", "password": "nope"})
    assert response.status_code == 200
    assert b"alert" in response.content


def test_it_logs_out_with_a_post(staff_client):
    response = staff_client.post(reverse("logs_ui:logout"))
    assert response.status_code == 302
    assert staff_client.get(reverse("logs_ui:list")).status_code == 302


def test_it_refuses_other_methods_than_get(staff_client):
    assert staff_client.post(reverse("logs_ui:list")).status_code == 405
