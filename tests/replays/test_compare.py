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


def test_a_long_line_diff_compares_at_most_its_cap_of_lines_and_says_it_was_cut():
    old = "".join(f"line {i} says a thing\n" for i in range(12_000))  # past the token cap
    new = old.replace("line 5 says", "line 5 SAYS").replace("line 11000 says", "line 11000 SAYS")
    html = text_diff(old, new)
    assert "line 5 <del>says</del><ins>SAYS</ins> a thing\n" in html  # changed lines, by words
    assert "line 11000" not in html  # past the cap: not compared, not shown
    assert "line 1999 says" in html and "line 2000 says" not in html
    assert html.endswith(
        '<span class="diff-cut">The diff stops here: only the first 2,000 lines of each '
        "answer are compared (12,000 and 12,000 lines).</span>"
    )
    short = text_diff("a\n" * 30_000, "a\n" * 30_000)  # equal but long: cut all the same
    assert short.count("a\n") == 2_000 and "diff-cut" in short


def test_a_diff_under_the_caps_is_not_cut():
    assert "diff-cut" not in text_diff("x\n" * 100, "y\n" * 100)


def test_repetitive_answers_are_shown_whole_past_the_budget_and_the_diff_says_so():
    words = [f"w{i % 7} " for i in range(5_000)]  # difflib alone: over 500 s
    old, new = "".join(words), "".join(w.upper() if i % 10 == 0 else w for i, w in enumerate(words))
    html = text_diff(old, new)
    assert html == (
        f"<del>{old}</del><ins>{new}</ins>"
        '<span class="diff-cut">Parts too long or too repetitive to compare word by word are '
        "shown whole.</span>"
    )


def test_long_prose_is_diffed_by_lines_then_by_words_within_the_budget():
    lines = [
        f"Line {i}: the model saw a cat on the mat and it was {i % 3} metres away.\n"
        for i in range(400)
    ]  # past the tokens' budget as words
    changed = list(lines)
    changed[7] = changed[7].replace("cat", "dog")
    html = text_diff("".join(lines), "".join(changed))
    assert "Line 7: the model saw a <del>cat</del><ins>dog</ins> on the mat" in html
    assert "diff-cut" not in html and html.count("<del>") == 1


def test_one_long_paragraph_is_diffed_by_sentences_then_by_words():
    sentences = [f"Sentence {i} says the cat sat on the mat {i % 4} times. " for i in range(300)]
    changed = list(sentences)
    for i in (1, 298):  # far apart: the middle between them is past the word budget
        changed[i] = changed[i].replace("cat", "dog")
    html = text_diff("".join(sentences), "".join(changed))  # one line
    for i in (1, 298):
        assert f"Sentence {i} says the <del>cat</del><ins>dog</ins> sat" in html
    assert "diff-cut" not in html and html.count("<del>") == 2
