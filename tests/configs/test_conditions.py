"""gateway/configs/conditions.py: a conditional strategy's queries."""

import pytest

from gateway.configs.conditions import check_query, lookup, matches

CONTEXT = {
    "metadata": {"plan": "paid", "tier": "gold", "seats": 12, "region": "eu-west-1"},
    "params": {
        "model": "gpt-4o",
        "temperature": 0.2,
        "messages": [{"role": "user", "content": "hi"}],
        "user": {"id": "u-1"},
    },
    "url": {"pathname": "/v1/chat/completions"},
}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"metadata.plan": "paid"}, True),  # a bare value is $eq
        ({"metadata.plan": "free"}, False),
        ({"metadata.plan": {"$eq": "paid"}}, True),
        ({"metadata.plan": {"$ne": "paid"}}, False),
        ({"metadata.missing": {"$ne": "paid"}}, True),
        ({"metadata.seats": {"$gt": 11}}, True),
        ({"metadata.seats": {"$gt": 12}}, False),
        ({"metadata.seats": {"$gte": 12}}, True),
        ({"metadata.seats": {"$lt": 12}}, False),
        ({"metadata.seats": {"$lte": 12, "$gt": 1}}, True),  # both must hold
        ({"metadata.seats": {"$lte": 12, "$gt": 12}}, False),
        ({"metadata.seats": {"$gt": "1"}}, False),  # a number and a string: no order
        ({"metadata.plan": {"$gt": "a"}}, True),  # strings order among themselves
        ({"metadata.missing": {"$lt": 5}}, False),
        ({"params.model": {"$in": ["gpt-4o", "gpt-4.1"]}}, True),
        ({"params.model": {"$nin": ["gpt-4o"]}}, False),
        ({"metadata.region": {"$regex": "^eu-"}}, True),
        ({"metadata.seats": {"$regex": "1"}}, False),  # a regex matches strings only
        ({"params.temperature": {"$lt": 0.5}}, True),
        ({"params.user.id": "u-1"}, True),  # dotted into nested objects
        ({"params.messages.0.role": "user"}, True),  # and into arrays by index
        ({"params.messages.5.role": "user"}, False),
        ({"params.model.x": "y"}, False),  # through a string: nothing
        ({"url.pathname": "/v1/chat/completions"}, True),
        ({"metadata.plan": "paid", "params.model": "gpt-4o"}, True),  # keys are and-ed
        ({"metadata.plan": "paid", "params.model": "o3"}, False),
        ({"$and": [{"metadata.plan": "paid"}, {"metadata.tier": "gold"}]}, True),
        ({"$and": [{"metadata.plan": "paid"}, {"metadata.tier": "silver"}]}, False),
        ({"$or": [{"metadata.plan": "free"}, {"metadata.tier": "gold"}]}, True),
        ({"$or": [{"metadata.plan": "free"}, {"metadata.tier": "silver"}]}, False),
        (
            {"$or": [{"$and": [{"metadata.plan": "paid"}, {"metadata.seats": {"$gt": 100}}]}]},
            False,
        ),
        ({"$or": [{"metadata.plan": "free"}], "metadata.tier": "gold"}, False),
        ({}, True),  # an empty query matches everything
    ],
)
def test_matches(query, expected):
    check_query(query)
    assert matches(query, CONTEXT) is expected


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({"metadata.x": {"$like": "a"}}, "unknown operator $like"),
        ({"$not": [{"metadata.x": 1}]}, "unknown operator $not"),
        ({"$and": {"metadata.x": 1}}, "$and must be an array"),
        ({"$or": [1]}, "$or must be an array"),
        ({"$or": [{"metadata.x": {"$bad": 1}}]}, "unknown operator $bad"),
        ({"metadata.x": {"$in": "abc"}}, "$in takes an array"),
        ({"metadata.x": {"$nin": 3}}, "$nin takes an array"),
        ({"metadata.x": {"$regex": "("}}, "invalid $regex"),
        ({"metadata.x": {"$regex": 5}}, "$regex takes a pattern"),
        ({"metadata.x": {"$regex": "a" * 501}}, "$regex takes a pattern"),
    ],
)
def test_check_query_refuses_what_could_not_be_evaluated(query, words):
    with pytest.raises(ValueError, match=words.replace("$", r"\$")):
        check_query(query)


def test_lookup():
    assert lookup(CONTEXT, "metadata") == CONTEXT["metadata"]
    assert lookup(CONTEXT, "params.messages.0.content") == "hi"
    assert lookup(CONTEXT, "nothing.here") is None
    assert lookup({"a": [1, 2]}, "a.-1") is None


def test_and_or_nest_at_most_16_levels():
    query: dict = {"metadata.tier": "gold"}
    for _ in range(15):
        query = {"$and": [query]}
    check_query(query)  # 16 levels
    with pytest.raises(ValueError, match="16 levels"):
        check_query({"$or": [query]})


def test_a_catastrophic_regex_is_cut_off_and_does_not_match():
    """(a+)+$ against 34 a's and a "!" backtracks for hours with re: cut off, no match."""
    query = {"metadata.plan": {"$regex": "(a+)+$"}}
    assert matches(query, {"metadata": {"plan": "a" * 34 + "!"}}) is False
    assert matches(query, {"metadata": {"plan": "aaa"}}) is True
    slow = {"params.text": {"$regex": "(x+x+)+y"}}  # exponential even for regex: timed out
    assert matches(slow, {"params": {"text": "x" * 3000}}) is False
    assert matches(slow, {"params": {"text": "xxy"}}) is True
