"""The queries of a `conditional` strategy, as Portkey writes them (MongoDB-like):

    {"metadata.user_plan": {"$eq": "paid"}}
    {"$or": [{"params.model": {"$in": ["gpt-4o", "gpt-4.1"]}}, {"metadata.tier": "gold"}]}

A field is a dotted path into the request's context: `metadata.*` (x-portkey-metadata),
`params.*` (the request body), `url.pathname`. A bare value means `$eq`. Pure functions.
"""

from typing import Any

import regex  # re's API with a timeout: a pattern from a config meets values from clients

_COMPARE = {
    "$eq": lambda a, b: a == b,
    "$ne": lambda a, b: a != b,
    "$gt": lambda a, b: _ordered(a, b) and a > b,
    "$gte": lambda a, b: _ordered(a, b) and a >= b,
    "$lt": lambda a, b: _ordered(a, b) and a < b,
    "$lte": lambda a, b: _ordered(a, b) and a <= b,
    "$in": lambda a, b: a in b,
    "$nin": lambda a, b: a not in b,
    "$regex": lambda a, b: isinstance(a, str) and _search(b, a),
}
_MAX_REGEX = 500
_MAX_DEPTH = 16  # $and/$or nesting
# A $regex runs on the event loop against a value the client chose: a pattern that backtracks
# catastrophically ("(a+)+$") is cut off after this long and counts as no match.
REGEX_SECONDS = 0.05
_MAX_SUBJECT = 10_000  # characters of a value a $regex reads


def _search(pattern: str, value: str) -> bool:
    try:
        found = regex.search(pattern, value[:_MAX_SUBJECT], timeout=REGEX_SECONDS, concurrent=True)
        return found is not None
    except TimeoutError:
        return False


def check_query(query: dict, depth: int = 1) -> None:
    """ValueError for a query that could never be evaluated (an unknown operator, a bad regex,
    $and/$or nested past _MAX_DEPTH)."""
    if depth > _MAX_DEPTH:
        raise ValueError(f"$and and $or nest more than {_MAX_DEPTH} levels deep")
    for key, value in query.items():
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not all(isinstance(q, dict) for q in value):
                raise ValueError(f"{key} must be an array of queries")
            for inner in value:
                check_query(inner, depth + 1)
        elif key.startswith("$"):
            raise ValueError(f"unknown operator {key}")
        elif isinstance(value, dict):
            for op, operand in value.items():
                if op not in _COMPARE:
                    raise ValueError(f"{key}: unknown operator {op}")
                if op in ("$in", "$nin") and not isinstance(operand, list):
                    raise ValueError(f"{key}: {op} takes an array")
                if op == "$regex":
                    if not isinstance(operand, str) or len(operand) > _MAX_REGEX:
                        raise ValueError(f"{key}: $regex takes a pattern of at most {_MAX_REGEX}")
                    try:
                        regex.compile(operand)
                    except regex.error as exc:
                        raise ValueError(f"{key}: invalid $regex ({exc})") from None


def regex_count(query: dict) -> int:
    """How many $regex a query holds (each may run up to REGEX_SECONDS)."""
    count = 0
    for key, value in query.items():
        if key in ("$and", "$or"):
            count += sum(regex_count(inner) for inner in value)
        elif isinstance(value, dict):
            count += "$regex" in value
    return count


def matches(query: dict, context: dict) -> bool:
    for key, value in query.items():
        if key == "$and":
            if not all(matches(q, context) for q in value):
                return False
        elif key == "$or":
            if not any(matches(q, context) for q in value):
                return False
        else:
            actual = lookup(context, key)
            tests = value if isinstance(value, dict) else {"$eq": value}
            if not all(_COMPARE[op](actual, operand) for op, operand in tests.items()):
                return False
    return True


def lookup(context: dict, path: str) -> Any:
    value: Any = context
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _ordered(a: Any, b: Any) -> bool:
    numbers = (int, float)
    return (isinstance(a, numbers) and isinstance(b, numbers)) or (
        isinstance(a, str) and isinstance(b, str)
    )
