import pytest
from django.core.management import call_command
from django.urls import reverse

from gateway.management.commands import seed_demo
from gateway.models import ApiKey, Blob, LogImage, RequestLog


@pytest.mark.django_db(transaction=True)
def test_seed_demo_sends_realistic_requests_through_iris(staff_client, monkeypatch, capsys):
    monkeypatch.setattr(seed_demo, "PACE", 0)
    call_command("seed_demo")
    assert "Sent 15 demo requests" in capsys.readouterr().out
    logs = RequestLog.objects.order_by("id")
    assert logs.count() == len(seed_demo.DEMOS) + len(seed_demo.IMAGE_DEMOS)
    assert sorted({log.status_code for log in logs}) == [200, 400, 429]
    assert logs.filter(is_stream=True, chunk_count__gt=3).count() == 2
    assert logs.filter(trace_id="order-7f3a21").count() == 3
    assert LogImage.objects.filter(origin="url", blob__isnull=False).exists()  # copy kept
    assert LogImage.objects.filter(error__contains="HTTP 404").exists()  # fetch failed
    assert Blob.objects.filter(exif_orientation=6).exists()
    assert Blob.objects.filter(frames=24).exists()
    assert not ApiKey.objects.get(name="demo (seed_demo)").is_active
    # The Images API demos: a streamed generation with its partial images, a dall-e-3 one with
    # its revised prompt, an edit with its image and mask.
    streamed, revised, edit = logs.exclude(endpoint="chat.completions")
    assert (streamed.endpoint, streamed.is_stream, streamed.output_image_count) == (
        "images.generations",
        True,
        1,
    )
    assert streamed.images.filter(role="partial").count() == 2
    assert revised.response_body["data"][0]["revised_prompt"].startswith("A vintage robot")
    assert edit.endpoint == "images.edits" and edit.output_image_count == 1
    assert sorted(edit.images.values_list("role", flat=True)) == ["input", "mask", "output"]
    assert "masked-card" in staff_client.get(reverse("logs_ui:detail", args=[edit.id])).text
    page = staff_client.get(reverse("logs_ui:list"))
    assert page.text.count('<tr class="r"') == 15
    for log in logs:
        assert staff_client.get(reverse("logs_ui:detail", args=[log.id])).status_code == 200


@pytest.mark.django_db
def test_seed_logs_bulk_inserts_realistic_rows(staff_client, capsys):
    call_command("seed_logs", count=300, batch=120)
    assert "Inserted 300 logs" in capsys.readouterr().out
    assert RequestLog.objects.count() == 300
    assert RequestLog.objects.filter(status_code__gte=400).exists()
    assert RequestLog.objects.filter(is_stream=True).exists()
    assert RequestLog.objects.exclude(trace_id="").exists()
    with_images = RequestLog.objects.filter(image_count__gt=0)
    assert LogImage.objects.count() == sum(log.image_count for log in with_images)
    newest = RequestLog.objects.order_by("-id").first()
    oldest = RequestLog.objects.order_by("id").first()
    assert newest.created_at > oldest.created_at
    ten = with_images.order_by("-image_count").first()
    assert staff_client.get(reverse("logs_ui:detail", args=[ten.id])).status_code == 200
    assert staff_client.get(reverse("logs_ui:list")).text.count('<tr class="r"') == 50
