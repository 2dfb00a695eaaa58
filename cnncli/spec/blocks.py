"""Reusable, parameterised sub-networks (`blocks:`) and `$param` substitution.

A block's `layers` are copied for each use with every `$name` replaced by the parameter's value
and every `"$name[i]"` by one item of a list parameter. Substitution is a plain lookup: no
expression in spec text is ever evaluated.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cnncli.errors import Position, SpecError
from cnncli.spec.yaml_source import PosDict, PosList
from cnncli.suggest import did_you_mean

_REFERENCE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)((?:\[-?\d+\])*)")
_INDEX = re.compile(r"\[(-?\d+)\]")


@dataclass
class BlockDef:
    """A block: its parameters with defaults (None = required) and its layer list."""

    name: str
    params: dict[str, Any]
    layers: PosList
    position: Position


def parse_blocks(raw: Any, reserved: set[str], pos: Position) -> dict[str, BlockDef]:
    """Read the `blocks:` mapping; a block name may not shadow a built-in layer type."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SpecError(pos, "blocks", f"blocks is a mapping of block name to {{params, layers}}, got {raw!r}")
    blocks: dict[str, BlockDef] = {}
    for name, body in raw.items():
        where = raw.value_pos[name]
        if name in reserved:
            raise SpecError(raw.key_pos[name], f"blocks.{name}",
                            f"'{name}' is a built-in layer type; give the block another name")
        if not isinstance(body, dict):
            raise SpecError(where, f"blocks.{name}", f"a block is a mapping with 'layers' (and 'params'), got {body!r}")
        for key in body:
            if key not in ("params", "layers", "description"):
                raise SpecError(body.key_pos[key], f"blocks.{name}.{key}",
                                f"unknown key '{key}' in a block{did_you_mean(key, ['params', 'layers'])} "
                                f"(a block has params and layers)")
        params = body.get("params") or {}
        if not isinstance(params, dict):
            raise SpecError(body.value_pos["params"], f"blocks.{name}.params",
                            f"params is a mapping of parameter name to default value, got {params!r}")
        layers = body.get("layers")
        if not isinstance(layers, list) or not layers:
            raise SpecError(body.value_pos.get("layers", where), f"blocks.{name}.layers",
                            "a block needs a non-empty list of layers")
        blocks[name] = BlockDef(name, dict(params), layers, where)
    return blocks


def bind_block_args(block: BlockDef, given: dict[str, Any], positions: dict[str, Position],
                    path: str, position: Position) -> dict[str, Any]:
    """The block's parameter values for one use: defaults overridden by what the use gives."""
    for key in given:
        if key not in block.params:
            known = ", ".join(block.params) or "none"
            raise SpecError(positions.get(key, position), f"{path}.{key}",
                            f"unknown argument '{key}' for block {block.name}{did_you_mean(key, block.params)} "
                            f"(its parameters: {known})")
    values = {**block.params, **given}
    missing = [k for k, v in values.items() if v is None]
    if missing:
        raise SpecError(position, path, f"block {block.name} needs a value for {', '.join(missing)}")
    return values


def substitute(value: Any, params: dict[str, Any], block: str, pos: Position, path: str) -> Any:
    """A deep copy of `value` with `$name` and `"$name[i]"` replaced from `params`."""
    if isinstance(value, dict):
        out = PosDict()
        out.pos, out.key_pos, out.value_pos = value.pos, dict(value.key_pos), dict(value.value_pos)
        for key, item in value.items():
            out[key] = substitute(item, params, block, value.value_pos[key], f"{path}.{key}")
        return out
    if isinstance(value, list):
        items = PosList(substitute(item, params, block, p, f"{path}[{i}]")
                        for i, (item, p) in enumerate(zip(value, value.item_pos)))
        items.pos, items.item_pos = value.pos, list(value.item_pos)
        return items
    if isinstance(value, str) and "$" in value:
        whole = _REFERENCE.fullmatch(value)
        if whole:
            return _lookup(whole, params, block, pos, path)
        return _REFERENCE.sub(lambda m: str(_lookup(m, params, block, pos, path)), value)
    return value


def _lookup(match: re.Match[str], params: dict[str, Any], block: str, pos: Position, path: str) -> Any:
    name, indices = match.group(1), match.group(2)
    if name not in params:
        known = ", ".join(f"${p}" for p in params) or "none"
        raise SpecError(pos, path, f"undefined block parameter '${name}' in block {block}"
                                   f"{did_you_mean(name, params)} (its parameters: {known})")
    value = params[name]
    for index in _INDEX.findall(indices):
        i = int(index)
        if not isinstance(value, list):
            raise SpecError(pos, path, f"'{match.group(0)}' indexes ${name}, which is not a list (it is {value!r})")
        if not -len(value) <= i < len(value):
            raise SpecError(pos, path, f"'{match.group(0)}': index {i} is out of range for ${name} = {value!r}")
        value = value[i]
    return value
