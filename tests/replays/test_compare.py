"""The answers compared: text diff as escaped HTML, JSON diff path by path, each API's answer."""

from replays.compare import Change, answer_of, json_diff, text_diff


def chat(content, tool_calls=None) -> dict:
    message = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"object": "chat.completion", "choices": [{"index": 0, "message": message}]}


def test_text_diff_marks_words_and_escapes_them():
    html = text_diff("the cat sat on the mat", "the dog sat on a <rug>")
    assert (
        html == "the <del>cat</del><ins>dog</ins> sat on <del>the mat</del><ins>a &lt;rug&gt;</ins>"
    )
    assert text_diff("same", "same") == "same"
    assert text_diff("", "<script>") == "<ins>&lt;script&gt;</ins>"


def test_json_diff_names_each_path():
    old = {"items": [{"label": "cat", "box": [1, 2]}], "n": 1, "ok": True}
    new = {"items": [{"label": "dog", "box": [1, 2]}, {"label": "x"}], "ok": 1, "extra": None}
    assert json_diff(old, new) == [
        Change("items[0].label", "changed", '"cat"', '"dog"'),
        Change("items[1]", "added", "", '{"label": "x"}'),
        Change("n", "removed", "1", ""),
        Change("ok", "changed", "true", "1"),  # JSON true is not 1
        Change("extra", "added", "", "null"),
    ]
    assert json_diff({"a": [1, 2.0]}, {"a": [1, 2]}) == []  # numbers compare by value


def test_structured_output_and_tool_calls_are_compared_as_json():
    answer = answer_of(chat('```json\n{"a": 1}\n```'))
    assert answer.json == {"output": {"a": 1}}
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 2}'}}
    answer = answer_of(chat(None, [call]))
    assert (answer.text, answer.json) == (
        "",
        {"tool_calls": [{"name": "f", "arguments": {"x": 2}}]},
    )
    assert answer_of(chat("plain words")).json is None


def test_it_reads_each_api_and_errors():
    response = {
        "object": "response",
        "output": [
            {"type": "reasoning", "summary": []},
            {"type": "message", "content": [{"type": "output_text", "text": "Hello"}]},
            {"type": "function_call", "name": "g", "arguments": "{}"},
        ],
    }
    assert answer_of(response).text == "Hello"
    assert answer_of(response).tool_calls == [{"name": "g", "arguments": {}}]
    images = {"data": [{"b64_json": "iris-blob:x", "revised_prompt": "a red fox"}]}
    assert answer_of(images).text == "a red fox"
    error = {"error": {"message": "No provider @x.", "code": "provider_not_found"}}
    assert answer_of(error).error == "No provider @x."
    assert (
        answer_of(None).text == "" and answer_of(chat([{"type": "text", "text": "a"}])).text == "a"
    )
