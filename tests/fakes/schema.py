"""Strict structural checks of request bodies against an official SDK's TypedDicts.

pydantic's TypeAdapter validates `Iterable[...]` lazily, so it passes almost any body (see
shared/provider-facts.md). This walker forces every item and refuses unknown keys.
"""

import collections.abc
import types
import typing

from typing_extensions import is_typeddict


class SchemaError(ValueError):
    pass


def check(value: object, tp: object, path: str = "body") -> None:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is typing.Any or tp is object:
        return
    if origin in (typing.Required, typing.NotRequired, typing.Annotated) or (
        origin is not None
        and getattr(origin, "__name__", "") in {"Required", "NotRequired", "ReadOnly", "Annotated"}
    ):
        return check(value, args[0], path)
    if origin is typing.Literal:
        if value not in args:
            raise SchemaError(f"{path}: {value!r} is not one of {args}")
        return
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in args:
            try:
                return check(value, option, path)
            except SchemaError as exc:
                errors.append(str(exc))
        raise SchemaError(f"{path}: matches no option: " + " | ".join(errors[:4]))
    if tp is type(None):
        if value is not None:
            raise SchemaError(f"{path}: expected null")
        return
    if is_typeddict(tp):
        return _check_typeddict(value, tp, path)
    if origin in (
        list,
        collections.abc.Iterable,
        collections.abc.Sequence,
        typing.Iterable,
        typing.Sequence,
    ):
        if not isinstance(value, list):
            raise SchemaError(f"{path}: expected an array")
        for i, item in enumerate(value):
            check(item, args[0] if args else typing.Any, f"{path}[{i}]")
        return
    if origin in (dict, collections.abc.Mapping):
        if not isinstance(value, dict):
            raise SchemaError(f"{path}: expected an object")
        return
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SchemaError(f"{path}: expected a number")
        return
    if isinstance(tp, type):
        if tp is int and isinstance(value, bool):
            raise SchemaError(f"{path}: expected an integer")
        if tp in (str, int, bool) and not isinstance(value, tp):
            raise SchemaError(f"{path}: expected {tp.__name__}, got {type(value).__name__}")
        return
    # Type aliases the walker does not know (e.g. a TypeAliasType): accept, by design.


def _check_typeddict(value: object, tp: type, path: str) -> None:
    if not isinstance(value, dict):
        raise SchemaError(f"{path}: expected an object")
    hints = typing.get_type_hints(tp, include_extras=True)
    unknown = set(value) - set(hints)
    if unknown:
        raise SchemaError(f"{path}: unknown field(s) {sorted(unknown)}")
    missing = _required_keys(tp, hints) - set(value)
    if missing:
        raise SchemaError(f"{path}: missing field(s) {sorted(missing)}")
    for key, item in value.items():
        check(item, hints[key], f"{path}.{key}")


def _required_keys(tp: type, hints: dict) -> set[str]:
    """Required keys: the SDKs write Required[...] inside string annotations, which can leave
    __required_keys__ empty, so the annotations themselves are read too."""
    required = set(getattr(tp, "__required_keys__", set()))
    for key, hint in hints.items():
        wrapper = typing.get_origin(hint)
        name = getattr(wrapper, "__name__", "") or getattr(wrapper, "_name", "")
        if name == "Required":
            required.add(key)
        elif name == "NotRequired":
            required.discard(key)
    return required
