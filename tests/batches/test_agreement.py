"""The agreement rules of bulk replays (batches/agreement.py): pure functions."""

import pytest

from batches.agreement import Rule, Tally, agrees, answer_text, json_equal, parse_rule


def chat(content=None, tool_calls=None) -> dict:
    message = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [
            {"id": f"c{i}", "type": "function", "function": {"name": n, "arguments": a}}
            for i, (n, a) in enumerate(tool_calls)
        ]
    return {"object": "chat.completion", "choices": [{"index": 0, "message": message}]}


def test_answer_text_of_chat_parts_responses_and_calls():
    assert answer_text(chat("a cat")) == "a cat"
    assert answer_text(chat([{"type": "text", "text": "a "}, {"type": "text", "text": "dog"}])) == (
        "a dog"
    )
    assert answer_text(chat(None, [("box", '{"x": 1}')])) == 'box({"x": 1})'
    response = {
        "object": "response",
        "output": [
            {"type": "reasoning", "summary": []},
            {"type": "message", "content": [{"type": "output_text", "text": "hi"}]},
        ],
    }
    assert answer_text(response) == "hi"
    calls = {
        "object": "response",
        "output": [{"type": "function_call", "name": "f", "arguments": "{}"}],
    }
    assert answer_text(calls) == "f({})"
    assert answer_text(None) == "" and answer_text({"error": {}}) == ""


def test_exact_trims_surrounding_whitespace_only():
    rule = Rule("exact")
    assert agrees(rule, "A cat.\n", "A cat.") is True
    assert agrees(rule, "A cat.", "a cat.") is False
    assert agrees(rule, "A  cat.", "A cat.") is False


def test_json_ignores_key_order_and_formatting_but_not_types():
    rule = Rule("json")
    assert agrees(rule, '{"a": 1, "b": [1, 2]}', '{"b":[1,2],"a":1.0}') is True
    assert agrees(rule, '```json\n{"a": 1}\n```', '{"a": 1}') is True
    assert agrees(rule, '{"a": true}', '{"a": 1}') is False
    assert agrees(rule, '{"a": 1}', '{"a": 1, "b": null}') is False
    assert agrees(rule, '{"a": 1}', "Sure! {a: 1}") is False  # the replay is not JSON
    assert agrees(rule, "a cat", '{"a": 1}') is None  # the original is not: not comparable


def test_json_compares_tool_call_arguments_parsed():
    rule = Rule("json")
    one = chat(None, [("locate", '{"label": "cat", "box": [1, 2, 3, 4]}')])
    same = chat(None, [("locate", '{ "box": [1,2,3,4], "label": "cat" }')])
    other = chat(None, [("locate", '{"label": "dog", "box": [1, 2, 3, 4]}')])
    renamed = chat(None, [("find", '{"label": "cat", "box": [1, 2, 3, 4]}')])
    assert agrees(rule, "", "", original_body=one, replayed_body=same) is True
    assert agrees(rule, "", "", original_body=one, replayed_body=other) is False
    assert agrees(rule, "", "", original_body=one, replayed_body=renamed) is False
    assert agrees(rule, "", "", original_body=one, replayed_body=chat('{"label": "cat"}')) is False


def test_regex_without_groups_agrees_when_both_match_or_neither():
    rule = Rule("regex", r"(?i)\bcat\b")
    assert agrees(rule, "A cat on a mat", "CAT.") is True
    assert agrees(rule, "A dog", "A bird") is True
    assert agrees(rule, "A cat", "A dog") is False


def test_regex_with_groups_compares_the_first_match():
    rule = Rule("regex", r"total:\s*(\d+)")
    assert agrees(rule, "total: 42 items", "The total:42") is True
    assert agrees(rule, "total: 42", "total: 43") is False
    assert agrees(rule, "total: 42", "no idea") is False
    assert agrees(rule, "none", "none either") is True  # both lack it: equal values (None)


def test_parse_rule_refuses_what_it_does_not_know():
    assert parse_rule(None) == Rule("exact")
    assert parse_rule("json") == Rule("json")
    assert parse_rule({"regex": "a(b)"}) == Rule("regex", "a(b)")
    for bad in ("fuzzy", {"regex": "("}, {"regex": ""}, {"regex": "a", "x": 1}, 3):
        with pytest.raises(ValueError):
            parse_rule(bad)


def test_json_equal_nested():
    assert json_equal({"a": [{"b": 1}]}, {"a": [{"b": 1.0}]})
    assert not json_equal([1, 2], [2, 1])
    assert not json_equal(None, False)
    assert not json_equal("1", 1)


def test_tally_counts_rate_over_compared_only():
    tally = Tally()
    tally.add(failed=False, agreed=True)
    tally.add(failed=False, agreed=False)
    tally.add(failed=True, agreed=None)
    tally.add(failed=False, agreed=None)
    assert (tally.done, tally.failed, tally.compared, tally.agreed) == (4, 1, 2, 1)
    assert tally.rate == 0.5
    assert Tally().rate is None


def test_a_pattern_that_backtracks_forever_is_not_comparable_not_a_hang():
    rule = parse_rule({"regex": "(?:x+x+)+y"})  # backtracks exponentially, even with regex
    assert agrees(rule, "x" * 3000, "xxy") is None
    assert agrees(rule, "xxy", "xxxxy") is True
