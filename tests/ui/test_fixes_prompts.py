"""Issue 17: the sample values typed in the prompt editor survive its save, so "Run version 1"
right after saving has them (the prompts list's whole ids: tests/browser/test_fixes.py)."""

import pytest
from django.urls import reverse

from gateway.models import Prompt
from tests.ui.logs import data_uri, png

pytestmark = pytest.mark.django_db

FIELDS = {"slug": "shoe", "name": "Shoe", "provider": "@vision", "model": "gpt-4o"}
DRAFT = {
    "m-0-role": "user",
    "m-0-p-0-kind": "text",
    "m-0-p-0-text": "Be {{tone}}. What shoe is this?",
    "m-0-p-1-kind": "image",
    "m-0-p-1-url": "{{photo}}",
}


def test_the_sample_values_survive_the_save(staff_client):
    photo = data_uri(png())
    samples = {"var-tone": "brief & kind", "var-photo": photo}
    response = staff_client.post(reverse("logs_ui:prompt-new"), {**FIELDS, **DRAFT, **samples})
    assert response.status_code == 302
    html = staff_client.get(response["Location"]).text
    assert 'name="var-tone" value="brief &amp; kind"' in html
    assert f'name="var-photo" value="{photo}"' in html
    assert "Run version 1" in html
    # Another prompt's editor does not get them.
    Prompt.objects.create(slug="other", name="Other", provider="@vision")
    other = staff_client.get(reverse("logs_ui:prompt", args=["other"])).text
    assert "brief &amp; kind" not in other


def test_a_second_save_keeps_the_values_it_was_given(staff_client):
    staff_client.post(reverse("logs_ui:prompt-new"), {**FIELDS, **DRAFT, "var-tone": "terse"})
    url = reverse("logs_ui:prompt", args=["shoe"])
    staff_client.post(url, {**FIELDS, **DRAFT, "var-tone": "chatty"})
    assert 'name="var-tone" value="chatty"' in staff_client.get(url).text
