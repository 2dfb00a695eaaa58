"""One layer entry of a spec, in any of its written forms, split into type and arguments.

    - relu                          bare name
    - dense: 120                    scalar shorthand for the type's main argument
    - conv2d: {filters: 6, ...}     one-key mapping
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cnncli.errors import Position, SpecError
from cnncli.spec.yaml_source import PosDict, PosList

MAX_REPEAT = 10_000


@dataclass
class Entry:
    """A layer entry: its type, its raw arguments (or a shorthand value), and where it was written."""

    type: str
    args: PosDict | None
    shorthand: Any
    path: str
    position: Position
    name: str | None = None
    inputs: list[str] | None = None
    repeat: int = 1
    value_pos: dict[str, Position] = field(default_factory=dict)


def empty_dict(pos: Position) -> PosDict:
    """A PosDict with no keys, placed at `pos`."""
    out = PosDict()
    out.pos, out.key_pos, out.value_pos = pos, {}, {}
    return out


def _entry_form_error(raw: Any, path: str, pos: Position) -> SpecError:
    if isinstance(raw, dict):
        names = [str(key)[:40] for key in list(raw)[:8]]
        keys = (", ".join(names) + (f" … ({len(raw):,} in all)" if len(raw) > 8 else "")) or "none"
        return SpecError(pos, path, f"a layer entry is a name or a one-key mapping `type: {{arguments}}`, "
                                    f"got a mapping with keys {keys}; indent the arguments under the type, "
                                    f"e.g. `- conv2d: {{filters: 6, kernel: 5}}`")
    return SpecError(pos, path, f"a layer entry is a name (`- relu`) or a one-key mapping "
                                f"(`- dense: 120`), got {raw!r}")


def split_entry(raw: Any, path: str, pos: Position) -> Entry:
    """Split a written entry into type and arguments, taking out name / inputs / repeat."""
    if isinstance(raw, str):
        return Entry(type=raw, args=empty_dict(pos), shorthand=None, path=f"{path}.{raw}", position=pos)
    if not isinstance(raw, dict) or len(raw) != 1:
        raise _entry_form_error(raw, path, pos)
    (type_name, value), = raw.items()
    entry_path = f"{path}.{type_name}"
    value_pos = raw.value_pos[type_name]
    if value is None:
        return Entry(type=type_name, args=empty_dict(value_pos), shorthand=None, path=entry_path, position=pos)
    if not isinstance(value, dict):
        return Entry(type=type_name, args=None, shorthand=value, path=entry_path, position=pos,
                     value_pos={"": value_pos})
    args = PosDict(value)
    args.pos, args.key_pos, args.value_pos = value.pos, dict(value.key_pos), dict(value.value_pos)
    entry = Entry(type=type_name, args=args, shorthand=None, path=entry_path, position=pos,
                  value_pos=args.value_pos)
    _take_generic(entry)
    return entry


def _take_generic(entry: Entry) -> None:
    args = entry.args
    assert args is not None
    if "name" in args:
        name = args.pop("name")
        if not isinstance(name, str) or not name or name == "input" or any(c in name for c in " \t/"):
            raise SpecError(args.value_pos["name"], f"{entry.path}.name",
                            f"a name is a word other than 'input' (no spaces or '/'), got {name!r}")
        entry.name = name
    if "inputs" in args:
        inputs = args.pop("inputs")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs or not all(isinstance(i, str) for i in inputs):
            raise SpecError(args.value_pos["inputs"], f"{entry.path}.inputs",
                            f"inputs is a list of earlier node names, got {inputs!r}")
        entry.inputs = list(inputs)
    if "repeat" in args:
        repeat = args.pop("repeat")
        if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= MAX_REPEAT:
            raise SpecError(args.value_pos["repeat"], f"{entry.path}.repeat",
                            f"repeat is a whole number from 1 to {MAX_REPEAT:,}, got {repeat!r}")
        entry.repeat = repeat


def as_list(value: Any, path: str, pos: Position, what: str) -> PosList:
    """Check that `value` is a YAML list (of layer entries)."""
    if isinstance(value, list):
        return value  # type: ignore[return-value]
    raise SpecError(pos, path, f"{what} is a list of layer entries, got {value!r}")
