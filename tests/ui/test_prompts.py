"""The prompt editor's pages, in-process: create, edit steps, upload, preview, versions, access,
and what the logs UI shows of a request made through a prompt."""

import io

import pytest
from django.contrib.auth.models import Permission
from django.core.files.storage import default_storage
from django.urls import reverse

from gateway import prompts
from gateway.errors import GatewayError
from gateway.models import Blob, Prompt, PromptVersion, RequestLog
from logs_ui import prompt_forms as pf
from tests.ui.logs import data_uri, make_log, png

pytestmark = pytest.mark.django_db

FIELDS = {"slug": "shoe", "name": "Shoe", "provider": "@vision", "model": "gpt-4o"}
DRAFT = {
    "m-0-role": "system",
    "m-0-p-0-kind": "text",
    "m-0-p-0-text": "Be {{tone}}.",
    "m-1-role": "user",
    "m-1-p-0-kind": "text",
    "m-1-p-0-text": "What shoe is this?",
    "m-1-p-1-kind": "image",
    "m-1-p-1-url": "{{photo}}",
    "m-1-p-1-detail": "low",
}


def create(client, **extra) -> Prompt:
    data = {**FIELDS, **DRAFT, "temperature": "0.3", "note": "first", **extra}
    response = client.post(reverse("logs_ui:prompt-new"), data)
    assert response.status_code == 302, response.text
    return Prompt.objects.get(slug="shoe")


def test_it_creates_a_prompt_with_its_first_version(staff_client):
    prompt = create(staff_client)
    version = prompt.default_version
    assert (version.number, version.note, version.created_by) == (1, "first", "staff")
    assert version.params == {"temperature": 0.3}
    assert (version.provider, version.model) == ("@vision", "gpt-4o")
    assert version.messages == [
        {"role": "system", "content": "Be {{tone}}."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What shoe is this?"},
                {"type": "image_url", "image_url": {"url": "{{photo}}", "detail": "low"}},
            ],
        },
    ]
    page = staff_client.get(reverse("logs_ui:prompts")).text
    assert 'data-prompt="shoe"' in page and "v1" in page


def test_saving_again_adds_a_version_and_older_ones_stay(staff_client):
    prompt = create(staff_client)
    url = reverse("logs_ui:prompt", args=["shoe"])
    edited = {**FIELDS, **DRAFT, "m-0-p-0-text": "Be {{tone}}!", "make_default": "on"}
    assert staff_client.post(url, edited).status_code == 302
    prompt.refresh_from_db()
    assert prompt.default_version.number == 2
    assert prompt.versions.get(number=1).messages[0]["content"] == "Be {{tone}}."
    page = staff_client.get(url + "?version=1").text
    assert "Be {{tone}}." in page and 'data-version="2"' in page
    staff_client.post(reverse("logs_ui:prompt-default", args=["shoe", 1]))
    prompt.refresh_from_db()
    assert prompt.default_version.number == 1


def test_it_refuses_a_broken_template(staff_client):
    data = {**FIELDS, **DRAFT, "m-0-p-0-text": "Be {{tone"}
    response = staff_client.post(reverse("logs_ui:prompt-new"), data)
    assert response.status_code == 200
    assert "invalid Mustache template" in response.text
    assert not Prompt.objects.exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("iris-blob:abc", "is no stored image"),
        ("iris-blob:" + "A" * 64, "is no stored image"),
        ("iris-blob:" + "a" * 64, "is not stored in Iris"),
    ],
)
def test_it_refuses_a_fixed_image_that_is_not_stored(staff_client, url, message):
    data = {**FIELDS, **DRAFT, "m-1-p-1-url": url}
    response = staff_client.post(reverse("logs_ui:prompt-new"), data)
    assert response.status_code == 200
    assert message in response.text
    assert not Prompt.objects.exists()
    step = staff_client.post(reverse("logs_ui:prompt-editor"), {**data, "op": "add-message"})
    assert step.status_code == 200


def test_editing_steps_add_and_remove_parts(staff_client):
    url = reverse("logs_ui:prompt-editor")
    html = staff_client.post(url, {**DRAFT, "op": "add-image:0"}).text
    assert 'name="m-0-p-1-url"' in html
    html = staff_client.post(url, {**DRAFT, "op": "remove:1:1"}).text
    assert 'name="m-1-p-1-url"' not in html
    html = staff_client.post(url, {**DRAFT, "op": "add-message"}).text
    assert 'name="m-2-role"' in html
    assert 'name="var-tone"' in html and 'name="var-photo"' in html


def test_an_uploaded_image_is_stored_and_referenced(staff_client):
    image = png(size=(9, 7))
    upload = io.BytesIO(image)
    upload.name = "logo.png"
    html = staff_client.post(
        reverse("logs_ui:prompt-editor"), {**DRAFT, "m-1-p-1-file": upload}
    ).text
    blob = Blob.objects.get()
    assert (blob.width, blob.height, blob.mime) == (9, 7, "image/png")
    assert f'value="iris-blob:{blob.sha256}"' in html
    assert f"/logs/images/{blob.sha256}/thumb-96.webp" in html
    assert 'name="var-photo"' not in html  # no longer a variable
    assert prompts.blob_uris({blob.sha256})[blob.sha256] == data_uri(image)


def test_a_fixed_image_whose_bytes_are_gone_is_a_clear_error():
    blob = prompts.store_image(png())
    default_storage.delete(blob.storage_name)
    with pytest.raises(GatewayError) as caught:
        prompts.blob_uris({blob.sha256})
    assert caught.value.code == "prompt_image_missing"


def test_a_file_that_is_no_image_is_refused(staff_client):
    upload = io.BytesIO(b"<html>")
    upload.name = "x.png"
    html = staff_client.post(
        reverse("logs_ui:prompt-editor"), {**DRAFT, "m-1-p-1-file": upload}
    ).text
    assert "x.png: is not an image" in html and not Blob.objects.exists()


def test_the_preview_shows_the_rendered_messages_and_images(staff_client):
    url = reverse("logs_ui:prompt-preview")
    photo = "https://images.test/shoe.jpg"
    html = staff_client.post(url, {**DRAFT, "var-tone": "<brief>", "var-photo": photo}).text
    assert "Be &lt;brief&gt;." in html  # the page escapes; the rendered text is raw
    assert f'<img src="{photo}"' in html
    html = staff_client.post(url, {**DRAFT, "var-tone": "x"}).text
    assert "Missing prompt variable(s): photo." in html


def test_viewers_read_prompts_but_cannot_change_them(viewer_client, django_user_model):
    prompt = Prompt.objects.create(**FIELDS)
    prompts.save_version(prompt, messages=[{"role": "user", "content": "hi"}])
    assert viewer_client.get(reverse("logs_ui:prompts")).status_code == 200
    assert viewer_client.get(reverse("logs_ui:prompt", args=["shoe"])).status_code == 200
    response = viewer_client.post(reverse("logs_ui:prompt-new"), {**FIELDS, **DRAFT})
    assert response.status_code == 403
    assert viewer_client.post(reverse("logs_ui:prompt-editor"), DRAFT).status_code == 403
    user = django_user_model.objects.get(username="viewer")
    user.user_permissions.add(Permission.objects.get(codename="change_prompt"))
    assert viewer_client.post(reverse("logs_ui:prompt-editor"), DRAFT).status_code == 200


def test_the_request_page_shows_the_prompt_version_and_variables(staff_client):
    photo = png(size=(5, 5))
    log = make_log("What shoe is this?", images=[photo])
    sha = log.images.get().blob_id
    RequestLog.objects.filter(pk=log.pk).update(
        prompt="shoe",
        prompt_version=3,
        prompt_variables={"tone": "brief", "photo": f"iris-blob:{sha}"},
    )
    html = staff_client.get(reverse("logs_ui:detail", args=[log.id])).text
    assert 'href="/logs/prompts/shoe/?version=3">shoe@3</a>' in html
    assert "brief" in html and f"/logs/images/{sha}/thumb-96.webp" in html
    assert "thumb-480.webp" in html  # the image in the conversation


def test_the_list_filters_by_prompt(staff_client):
    make_log("plain")
    log = make_log("through a prompt")
    RequestLog.objects.filter(pk=log.pk).update(prompt="shoe", prompt_version=1)
    html = staff_client.get(reverse("logs_ui:list"), {"prompt": "shoe"}).text
    assert "through a prompt" in html and "plain" not in html
    assert "prompt shoe@1" in html


def test_the_admin_lists_prompts_and_versions(admin_client):
    prompt = Prompt.objects.create(**FIELDS)
    prompts.save_version(prompt, messages=[{"role": "user", "content": "hi"}], note="n1")
    assert "shoe" in admin_client.get("/admin/gateway/prompt/").text
    assert "shoe@1" in admin_client.get("/admin/gateway/promptversion/").text
    version = prompt.versions.get()
    page = admin_client.get(f"/admin/gateway/promptversion/{version.pk}/change/")
    assert page.status_code == 200 and 'name="note"' not in page.text  # read-only


def test_the_admin_cannot_delete_versions(admin_client):
    prompt = Prompt.objects.create(**FIELDS)
    version = prompts.save_version(prompt, messages=[{"role": "user", "content": "hi"}])
    url = f"/admin/gateway/promptversion/{version.pk}/delete/"
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    actions = {"action": "delete_selected", "_selected_action": [version.pk], "post": "yes"}
    admin_client.post("/admin/gateway/promptversion/", actions)
    page = admin_client.get(f"/admin/gateway/prompt/{prompt.pk}/change/").text
    assert "versions-0-DELETE" not in page
    assert PromptVersion.objects.filter(pk=version.pk).exists()


@pytest.mark.parametrize("slug", sorted(pf.RESERVED))
def test_the_admin_refuses_a_slug_the_editor_uses(admin_client, slug):
    data = {**FIELDS, "slug": slug, "versions-TOTAL_FORMS": 0, "versions-INITIAL_FORMS": 0}
    response = admin_client.post("/admin/gateway/prompt/add/", data)
    assert response.status_code == 200 and "is a page of the editor" in response.text
    assert not Prompt.objects.exists()
