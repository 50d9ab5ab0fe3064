"""Grounding overlays: coordinates found in answers (each convention, fences, nesting, broken
JSON, ambiguity) and drawn over the right image on the request page."""

import io
import json
import re

import pytest
from PIL import Image as PILImage

from gateway.models import LogImage
from logs_ui.grounding import ImageRef, json_values, shapes_of_answer
from logs_ui.grounding_page import ground
from logs_ui.templatetags.grounding_tags import grounding_for
from tests.ui.logs import make_log, png

IMG = ImageRef(7, "Image 1 of message 0", 1000, 800)
BIG = ImageRef(8, "Image 1 of message 0", 2000, 1500)


def chat(text: str, tool: dict | None = None) -> dict:
    message: dict = {"role": "assistant", "content": text}
    if tool:
        message["tool_calls"] = [{"id": "c1", "type": "function", "function": tool}]
    return {"choices": [{"index": 0, "message": message}]}


def drawn(g, image: ImageRef = IMG, group: int = 0):
    """The shapes of the layer shown by default for one group, as (x, y, w, h) tuples."""
    layer = next(ly for ly in g.overlays[image.key].layers if ly.group == f"g{group}" and ly.shown)
    return [(round(s.x, 2), round(s.y, 2), round(s.w, 2), round(s.h, 2)) for s in layer.shapes]


# -- conventions ---------------------------------------------------------------------------


def test_gemini_box_2d_is_ymin_xmin_ymax_xmax_on_0_to_1000():
    text = '```json\n[{"box_2d": [100, 200, 500, 800], "label": "cat"}]\n```'
    g = ground(chat(text), {}, [IMG])
    assert [grp.assumed.text for grp in g.groups] == [
        "Gemini box_2d, 0–1000 normalised, [ymin, xmin, ymax, xmax]"
    ]
    assert not g.groups[0].ambiguous
    assert drawn(g) == [(200.0, 80.0, 600.0, 320.0)]  # x 0.2–0.8 of 1000, y 0.1–0.5 of 800
    assert [(label.name, label.count) for label in g.labels] == [("cat", 1)]


def test_gemini_points_are_y_then_x():
    g = ground(chat('[{"point": [250, 750], "label": "eye"}]'), {}, [IMG])
    assert g.groups[0].assumed.text == "Gemini point, 0–1000 normalised, [y, x]"
    point = g.overlays[IMG.key].layers[0].shapes[0]
    assert (point.kind, point.x, point.y) == ("point", 750.0, 200.0)
    assert g.points == 1 and g.boxes == 0


def test_qwen_bbox_2d_is_absolute_x1_y1_x2_y2():
    text = '[{"bbox_2d": [1200, 100, 1900, 1400], "label": "dog"}]'  # past 1000: pixels only
    g = ground(chat(text), {}, [BIG], model="qwen2.5-vl-72b-instruct")
    assert [c.text for c in g.groups[0].conventions] == [
        "Qwen-VL bbox_2d, absolute pixels, [x1, y1, x2, y2]"
    ]
    assert drawn(g, BIG) == [(1200.0, 100.0, 700.0, 1300.0)]


def test_qwen3_reads_bbox_2d_on_0_to_1000_first():
    text = '{"bbox_2d": [100, 100, 500, 500], "label": "dog"}'
    g = ground(chat(text), {}, [BIG], model="Qwen3-VL-235B-A22B")
    ids = [c.id for c in g.groups[0].conventions]
    assert ids == ["xyxy-n1000", "xyxy-abs"]
    assert drawn(g, BIG) == [(200.0, 150.0, 800.0, 600.0)]


def test_qwen_offers_the_resized_image_the_model_saw():
    seen = ImageRef(9, "Image", 2000, 1500, seen=(1000, 750))
    g = ground(chat('{"point_2d": [500, 375], "label": "c"}'), {}, [seen], model="qwen2.5-vl")
    texts = [c.text for c in g.groups[0].conventions]
    assert texts[:2] == [
        "Qwen-VL point_2d, absolute pixels, [x, y]",
        "Qwen-VL point_2d, absolute pixels of the image as the model saw it (1000×750), [x, y]",
    ]
    second = [ly for ly in g.overlays[9].layers if ly.convention == "xy-seen"][0].shapes[0]
    assert (second.x, second.y) == (1000.0, 750.0)


def test_plain_x_y_width_height_in_pixels():
    text = '{"objects": [{"name": "cup", "x": 10, "y": 20, "width": 300, "height": 200}]}'
    g = ground(chat(text), {}, [IMG])
    assert g.groups[0].assumed.text == "x/y/width/height, absolute pixels, [x, y, width, height]"
    assert drawn(g) == [(10.0, 20.0, 300.0, 200.0)]


def test_plain_values_at_most_1_are_normalised_0_to_1():
    text = '{"label": "cup", "x": 0.1, "y": 0.25, "width": 0.5, "height": 0.5}'
    g = ground(chat(text), {}, [IMG])
    assert [c.id for c in g.groups[0].conventions] == ["xywh-n1"]
    assert drawn(g) == [(100.0, 200.0, 500.0, 400.0)]


def test_plain_corners_all_under_1000_on_a_big_image_are_ambiguous():
    text = '[{"label": "a", "x1": 100, "y1": 50, "x2": 900, "y2": 700}]'
    g = ground(chat(text), {}, [BIG])
    group = g.groups[0]
    assert group.ambiguous
    assert [c.id for c in group.conventions] == ["xyxy-abs", "xyxy-n1000"]
    layers = {ly.convention: ly for ly in g.overlays[BIG.key].layers}
    assert layers["xyxy-abs"].shown and not layers["xyxy-n1000"].shown
    box = layers["xyxy-n1000"].shapes[0]
    assert (box.x, box.y, box.w, box.h) == (200.0, 75.0, 1600.0, 975.0)


def test_corners_past_the_image_are_thousandths_only():
    text = '[{"label": "a", "xmin": 100, "ymin": 50, "xmax": 900, "ymax": 700}]'
    small = ImageRef(3, "Image", 640, 480)
    g = ground(chat(text), {}, [small])
    assert [c.id for c in g.groups[0].conventions] == ["xyxy-n1000"]


def test_a_bbox_list_may_be_corners_or_a_size():
    g = ground(chat('{"label": "a", "bbox": [100, 100, 50, 40]}'), {}, [IMG])
    assert [c.id for c in g.groups[0].conventions][0] == "xywh-abs"  # x2 < x1: not corners


def test_nothing_fits_keeps_the_closest_and_says_so():
    g = ground(chat('{"label": "a", "x1": 5000, "y1": 10, "x2": 6000, "y2": 20}'), {}, [IMG])
    assert not g.groups[0].fits and len(g.groups[0].conventions) == 1


# -- where coordinates are found ---------------------------------------------------------------


def test_several_fences_and_bare_json_in_one_reply():
    text = (
        'First:\n```json\n{"box_2d": [0, 0, 10, 10], "label": "a"}\n```\nthen '
        '{"box_2d": [10, 10, 20, 20], "label": "b"} and\n```\n[{"box_2d": [1, 2, 3, 4]}]\n```'
    )
    assert [s.label for s in shapes_of_answer(chat(text))] == ["a", "b", ""]


def test_nested_json_and_json_inside_a_string():
    inner = json.dumps({"detections": [{"class": "bird", "box_2d": [1, 2, 3, 4]}]})
    text = json.dumps({"result": {"page": 1, "payload": inner}})
    shapes = shapes_of_answer(chat(text))
    assert [(s.family, s.label, s.values) for s in shapes] == [
        ("gemini_box", "bird", (1.0, 2.0, 3.0, 4.0))
    ]


def test_a_label_on_the_parent_reaches_a_nested_box():
    text = '[{"label": "car", "box": {"x1": 1, "y1": 2, "x2": 30, "y2": 40}}]'
    shapes = shapes_of_answer(chat(text))
    assert [(s.family, s.label) for s in shapes] == [("xyxy", "car")]


def test_tool_call_arguments_and_structured_output():
    args = json.dumps({"boxes": [{"label": "x", "bbox_2d": [1, 2, 3, 4]}]})
    body = chat('{"box_2d": [1, 2, 3, 4], "label": "y"}', {"name": "mark", "arguments": args})
    request = {"response_format": {"type": "json_schema", "json_schema": {"name": "s"}}}
    shapes = shapes_of_answer(body, request)
    assert [(s.source, s.label) for s in shapes] == [
        ("structured output", "y"),
        ("tool call mark", "x"),
    ]


def test_responses_api_answers():
    body = {
        "output": [
            {"type": "message", "content": [{"type": "output_text", "text": '{"point": [1, 2]}'}]},
            {"type": "function_call", "name": "f", "arguments": '{"bbox_2d": [1, 2, 3, 4]}'},
        ]
    }
    assert [s.family for s in shapes_of_answer(body)] == ["gemini_point", "qwen_box"]


def test_broken_json_still_yields_its_complete_objects():
    cut = '```json\n[{"box_2d": [1, 2, 3, 4], "label": "a"}, {"box_2d": [5, 6, 7, 8], "lab'
    assert [s.label for s in shapes_of_answer(chat(cut))] == ["a"]
    trailing = '[{"box_2d": [1, 2, 3, 4], "label": "a"},]'
    assert [s.label for s in shapes_of_answer(chat(trailing))] == ["a"]
    assert json_values("{not json} [1, 2") == []
    assert json_values("[" * 5000) == []  # nested too deep for Python's parser: no error


def test_no_coordinates():
    for text in ("A cat on a mat.", '{"answer": "cat", "confidence": 0.9}', "[1, 2, 3, 4]", ""):
        assert not ground(chat(text), {}, [IMG])
    assert not ground(None, None, [IMG]) and not ground({"error": {}}, {}, [IMG])
    assert not shapes_of_answer(chat('{"box_2d": [1, 2, "3", 4], "bbox": [true, 1, 2, 3]}'))


def test_no_image_query_without_coordinates():
    def images():
        raise AssertionError("asked for the images")

    assert not ground(chat("no boxes"), {}, images)


def test_labels_get_distinct_colours_in_order_of_appearance():
    items = [{"box_2d": [1, 2, 3, 4], "label": name} for name in "abcab"]
    g = ground(chat(json.dumps(items)), {}, [IMG])
    assert [(label.name, label.count) for label in g.labels] == [("a", 2), ("b", 2), ("c", 1)]
    assert len({label.colour for label in g.labels}) == 3


def test_the_last_sized_input_image_is_chosen():
    unsized = ImageRef(5, "svg", None, None)
    g = ground(chat('{"box_2d": [1, 2, 3, 4]}'), {}, [IMG, BIG, unsized])
    assert g.chosen == BIG and set(g.overlays) == {IMG.key, BIG.key}
    assert g.overlays[BIG.key].chosen and not g.overlays[IMG.key].chosen


# -- the request page ----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_page_draws_boxes_over_the_last_image_and_escapes_labels(staff_client):
    reply = (
        "```json\n"
        + json.dumps(
            [
                {"box_2d": [100, 200, 500, 800], "label": "<script>alert(1)</script>"},
                {"point": [500, 500], "label": "nose"},
            ]
        )
        + "\n```"
    )
    log = make_log(
        "Find them", reply, images=[png((300, 200)), png((1000, 800))], model="gemini-2.5-flash"
    )
    first, last = LogImage.objects.filter(log=log).order_by("part_index")
    html = staff_client.get(f"/logs/{log.id}/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Gemini box_2d, 0–1000 normalised, [ymin, xmin, ymax, xmax]" in html
    assert "Gemini point, 0–1000 normalised, [y, x]" in html
    svgs = re.findall(r'<svg class="gr-overlay"[^>]*>', html)
    assert len(svgs) == 2
    shown = [s for s in svgs if 'display="none"' not in s]
    assert len(shown) == 1 and f'data-image="{last.id}"' in shown[0]
    assert 'viewBox="0 0 1000 800"' in shown[0]
    assert '<rect x="200.00" y="80.00" width="600.00" height="320.00"/>' in html
    assert '<circle cx="500.00" cy="400.00"' in html
    assert html.count('data-gr-label="') == 2  # one toggle per label
    assert f'<option value="{first.id}"' in html  # the image picker


@pytest.mark.django_db
def test_the_page_offers_a_switch_when_ambiguous(staff_client):
    reply = json.dumps([{"label": "a", "x1": 100, "y1": 50, "x2": 900, "y2": 700}])
    log = make_log("Find", reply, images=[png((2000, 1500))])
    html = staff_client.get(f"/logs/{log.id}/").content.decode()
    assert 'data-gr-group="g0"' in html
    assert '<option value="xyxy-n1000">x1/y1/x2/y2, 0–1000 normalised' in html
    assert 'data-conv="xyxy-n1000" display="none"' in html


@pytest.mark.django_db
def test_a_page_without_coordinates_has_no_panel(staff_client, django_assert_num_queries):
    log = make_log("What is it?", "A cat.", images=[png((100, 80))])
    html = staff_client.get(f"/logs/{log.id}/").content.decode()
    assert "gr-panel" not in html and "gr-overlay" not in html
    with django_assert_num_queries(0):
        assert not grounding_for(log)


@pytest.mark.django_db
def test_coordinates_are_on_the_upright_image():
    """A phone photo stored 800×1000 with EXIF orientation 6 is shown, and read, 1000×800."""
    picture = PILImage.new("RGB", (800, 1000), (200, 40, 40))
    exif = picture.getexif()
    exif[0x0112] = 6
    out = io.BytesIO()
    picture.save(out, "JPEG", exif=exif)
    log = make_log("Find", '{"box_2d": [0, 0, 500, 1000], "label": "top"}', images=[out.getvalue()])
    assert log.images.get().blob.exif_orientation == 6
    g = grounding_for(log)
    assert (g.chosen.width, g.chosen.height) == (1000, 800)
    assert drawn(g, g.chosen) == [(0.0, 0.0, 1000.0, 400.0)]


@pytest.mark.django_db
def test_the_template_tag_for_other_pages():
    from django.template import Context, Template

    log = make_log("Find", '{"box_2d": [0, 0, 500, 500], "label": "x"}', images=[png((40, 20))])
    out = Template(
        "{% load grounding_tags %}{% grounding_for log as g %}{{ g.boxes }} {{ g.chosen.width }}"
    ).render(Context({"log": log}))
    assert out == "1 40"
