"""Typed, positioned layer arguments: each layer class declares a schema of `Arg`s.

Values arrive from YAML as ints, floats, strings, lists; `parse_args` checks each against
its kind and range and returns plain Python values, raising `SpecError` at the value's line.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from cnncli.errors import Position, SpecError
from cnncli.suggest import did_you_mean

REQUIRED = object()
MAX_INT_ARG = 65_536
"""The largest whole-number argument (filters, units, kernel, stride, output size...) unless an
`Arg` states its own maximum: it keeps the analysis of any spec fast and small."""

Pair = tuple[int, int]


@dataclass(frozen=True)
class Arg:
    """One argument: its kind, default and bounds (`above`: the minimum is exclusive, `below`: the
    maximum is; whole numbers default to at most MAX_INT_ARG).

    kinds: int, float, bool, pair (int or [h, w]), padding (int, [h, w], [[t, b], [l, r]],
    'same' or 'valid'), hw (output size: int or [h, w]), activation (a layer entry), name.
    """

    kind: str
    default: Any = REQUIRED
    minimum: float | None = None
    maximum: float | None = None
    below: bool = False  # maximum is exclusive
    above: bool = False  # minimum is exclusive


@dataclass
class ArgContext:
    """Where a layer's arguments came from, for error messages."""

    type_name: str
    path: str
    position: Position | None
    value_pos: dict[str, Position]

    def error(self, key: str | None, message: str) -> SpecError:
        pos = self.value_pos.get(key, self.position) if key else self.position
        path = f"{self.path}.{key}" if key else self.path
        return SpecError(pos, path, message)


def describe(value: Any, limit: int = 120, depth: int = 0) -> str:
    """The value as the spec wrote it, cut to about `limit` characters and 4 levels of nesting."""
    if isinstance(value, (list, tuple, dict)) and depth >= 4:
        text = "[…]" if isinstance(value, (list, tuple)) else "{…}"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = f"'{value}'" if value.isprintable() else repr(value)  # control characters escaped
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(describe(v, limit, depth + 1) for v in value[:limit // 2]) + "]"
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{k}: {describe(v, limit, depth + 1)}"
                               for k, v in list(value.items())[:limit // 4]) + "}"
    elif _is_int(value) and abs(value) >= 10**30:
        text = f"a {len(str(abs(value)))}-digit number"
    else:
        text = "null" if value is None else str(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bound(limit: float) -> str:
    return f"{limit:,}" if isinstance(limit, int) and limit >= 10_000 else f"{limit:g}"


def _check_range(ctx: ArgContext, key: str, value: float, arg: Arg) -> None:
    if arg.minimum is not None and (value <= arg.minimum if arg.above else value < arg.minimum):
        relation = ">" if arg.above else "≥"
        raise ctx.error(key, f"{key} must be {relation} {_bound(arg.minimum)} for {ctx.type_name}, "
                             f"got {describe(value)}")
    if arg.maximum is not None and (value >= arg.maximum if arg.below else value > arg.maximum):
        relation = "<" if arg.below else "≤"
        raise ctx.error(key, f"{key} must be {relation} {_bound(arg.maximum)} for {ctx.type_name}, "
                             f"got {describe(value)}")
    if arg.maximum is None and _is_int(value) and value > MAX_INT_ARG:
        raise ctx.error(key, f"{key} must be ≤ {MAX_INT_ARG:,} for {ctx.type_name} (the largest size cnncli "
                             f"works with), got {describe(value)}")


def _int(ctx: ArgContext, key: str, value: Any, arg: Arg) -> int:
    if not _is_int(value):
        raise ctx.error(key, f"{key} of {ctx.type_name} expects a whole number, got {describe(value)}")
    _check_range(ctx, key, value, arg)
    return value


def _pair(ctx: ArgContext, key: str, value: Any, arg: Arg) -> Pair:
    if _is_int(value):
        _check_range(ctx, key, value, arg)
        return (value, value)
    if isinstance(value, list) and len(value) == 2 and all(_is_int(v) for v in value):
        for v in value:
            _check_range(ctx, key, v, arg)
        return (value[0], value[1])
    raise ctx.error(key, f"{key} of {ctx.type_name} expects a whole number or a pair [h, w], got {describe(value)}")


def _padding(ctx: ArgContext, key: str, value: Any, arg: Arg) -> str | tuple[Pair, Pair]:
    if isinstance(value, str):
        if value.lower() in ("same", "valid"):  # Keras and TensorFlow write SAME / VALID too
            return value.lower()
        raise ctx.error(key, f"padding of {ctx.type_name} expects a number, [h, w], [[top, bottom], [left, right]], "
                             f"'same' or 'valid', got {describe(value)}{did_you_mean(value, ['same', 'valid'])}")
    if (isinstance(value, list) and len(value) == 2 and all(isinstance(v, list) and len(v) == 2 for v in value)
            and all(_is_int(x) for v in value for x in v)):
        for v in value:
            for x in v:
                _check_range(ctx, key, x, arg)
        return ((value[0][0], value[0][1]), (value[1][0], value[1][1]))
    try:
        h, w = _pair(ctx, key, value, arg)
    except SpecError:
        raise ctx.error(key, f"padding of {ctx.type_name} expects a number, [h, w], [[top, bottom], [left, right]], "
                             f"'same' or 'valid', got {describe(value)}") from None
    return ((h, h), (w, w))


def _float(ctx: ArgContext, key: str, value: Any, arg: Arg) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ctx.error(key, f"{key} of {ctx.type_name} expects a number, got {describe(value)}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond float's range
        number = math.inf
    if not math.isfinite(number):
        raise ctx.error(key, f"{key} of {ctx.type_name} expects a finite number, got {describe(value)}")
    _check_range(ctx, key, value, arg)
    return number


def _bool(ctx: ArgContext, key: str, value: Any, arg: Arg) -> bool:
    if not isinstance(value, bool):
        raise ctx.error(key, f"{key} of {ctx.type_name} expects true or false, got {describe(value)}")
    return value


def _passthrough(ctx: ArgContext, key: str, value: Any, arg: Arg) -> Any:
    return value


_PARSERS = {"int": _int, "pair": _pair, "hw": _pair, "padding": _padding, "float": _float,
            "bool": _bool, "activation": _passthrough}


def parse_args(schema: dict[str, Arg], raw: dict[str, Any], ctx: ArgContext) -> dict[str, Any]:
    """Check `raw` against `schema`: unknown names (with a suggestion), missing ones, kinds, ranges."""
    for key in raw:
        if key not in schema:
            known = ", ".join(schema) or "none"
            raise ctx.error(key, f"unknown argument '{key}' for {ctx.type_name}{did_you_mean(key, schema)} "
                                 f"(its arguments: {known})")
    out: dict[str, Any] = {}
    for key, arg in schema.items():
        if key not in raw or (raw[key] is None and arg.default is not REQUIRED):
            if arg.default is REQUIRED:
                raise ctx.error(None, f"{ctx.type_name} needs '{key}' (its arguments: {', '.join(schema)})")
            out[key] = arg.default
            continue
        out[key] = _PARSERS[arg.kind](ctx, key, raw[key], arg)
    return out
