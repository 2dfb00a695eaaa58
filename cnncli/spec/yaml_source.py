"""YAML text -> plain values that remember where each came from.

PyYAML's *composer* builds a node graph without constructing any Python object, so no tag in
the text can run code. We turn that graph into dicts and lists ourselves, which lets us keep
positions, reject duplicate keys and cap how far aliases may expand (the "billion laughs").
"""
from __future__ import annotations

import re
from typing import Any

import yaml

from cnncli.errors import Position, SpecError

MAX_FILE_BYTES = 1_000_000
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML was built with it
MAX_VALUES = 50_000  # values after aliases are expanded; a written-out ResNet-152 has under 5,000
MAX_DEPTH = 1_000  # nested lists and mappings

_EXPONENT_FLOAT = re.compile(r"[-+]?[0-9]+(\.[0-9]*)?[eE][-+]?[0-9]+")
_SCALAR = yaml.constructor.SafeConstructor()
_CONSTRUCT = {
    "tag:yaml.org,2002:int": _SCALAR.construct_yaml_int,
    "tag:yaml.org,2002:float": _SCALAR.construct_yaml_float,
    "tag:yaml.org,2002:bool": _SCALAR.construct_yaml_bool,
    "tag:yaml.org,2002:null": _SCALAR.construct_yaml_null,
}


class PosDict(dict):
    """A mapping that knows its own position and those of its keys and values."""

    pos: Position
    key_pos: dict[str, Position]
    value_pos: dict[str, Position]


class PosList(list):
    """A sequence that knows its own position and those of its items."""

    pos: Position
    item_pos: list[Position]


def _position(file: str, mark: yaml.Mark | None) -> Position:
    if mark is None:
        return Position(file, 1, 1)
    return Position(file, mark.line + 1, mark.column + 1)


_INDEXED_PARAM = re.compile(r"\$\w+\[[^\]'\"]*\]")


def _quote_hint(text: str, mark: yaml.Mark | None) -> str:
    """'; quote it' when the failing line holds an unquoted `$name[i]` (YAML reads `[` as a list)."""
    if mark is None:
        return ""
    lines = text.splitlines()
    line = lines[mark.line] if mark.line < len(lines) else ""
    found = _INDEXED_PARAM.search(line)
    if not found or f"'{found.group()}'" in line or f'"{found.group()}"' in line:
        return ""
    return f"; inside {{ }} or [ ], YAML reads the '[' of {found.group()} as a list: quote it, '{found.group()}'"


def _scalar(node: yaml.ScalarNode, file: str) -> Any:
    """int, float, bool and null as YAML resolves them; anything else (dates, tags) stays text."""
    construct = _CONSTRUCT.get(node.tag)
    if construct:
        try:
            return construct(node)
        except ValueError:  # Python refuses to parse integers of more than 4,300 digits
            raise SpecError(_position(file, node.start_mark), "",
                            f"the number {node.value[:20]}… has {len(node.value):,} characters; "
                            f"numbers in a spec are far shorter") from None
    if not node.style and _EXPONENT_FLOAT.fullmatch(node.value):  # plain: None (PyYAML) or "" (libyaml)
        return float(node.value)  # `lr: 1e-3`, which YAML 1.1 leaves as text
    return str(node.value)


class _Builder:
    """Node graph -> PosDict/PosList/scalars, depth-first with an explicit stack (no recursion, so
    nesting is bounded by MAX_DEPTH, not by Python's stack)."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.count = 0
        self.active: set[int] = set()  # the collections on the current path: an alias to one loops

    def build(self, root: yaml.Node) -> Any:
        value, frame = self._start(root)
        stack = [frame] if frame else []
        while stack:
            node, out, items = stack[-1]
            item = next(items, None)
            if item is None:
                self.active.discard(id(node))
                stack.pop()
                continue
            if isinstance(out, PosList):
                child, frame = self._start(item)
                out.append(child)
            else:
                key_node, value_node = item
                key = self._key(key_node, out)
                child, frame = self._start(value_node)
                out[key] = child
                out.key_pos[key] = _position(self.file, key_node.start_mark)
                out.value_pos[key] = _position(self.file, value_node.start_mark)
            if frame:
                stack.append(frame)
        return value

    def _start(self, node: yaml.Node) -> tuple[Any, list | None]:
        """A scalar's value, or an empty collection and the frame that fills it."""
        self.count += 1
        if self.count > MAX_VALUES:
            raise SpecError(
                _position(self.file, node.start_mark), "",
                f"the document expands to more than {MAX_VALUES:,} values (an alias bomb?); "
                "write the spec out without deeply nested aliases",
            )
        if isinstance(node, yaml.ScalarNode):
            return _scalar(node, self.file), None
        if id(node) in self.active:
            raise SpecError(_position(self.file, node.start_mark), "", "a YAML alias refers to itself")
        if len(self.active) >= MAX_DEPTH:
            raise SpecError(_position(self.file, node.start_mark), "",
                            f"the document nests more than {MAX_DEPTH:,} levels deep; a spec nests far less")
        self.active.add(id(node))
        out: PosList | PosDict
        if isinstance(node, yaml.SequenceNode):
            out = PosList()
            out.item_pos = [_position(self.file, item.start_mark) for item in node.value]
        else:
            assert isinstance(node, yaml.MappingNode)
            out = PosDict()
            out.key_pos, out.value_pos = {}, {}
        out.pos = _position(self.file, node.start_mark)
        return out, [node, out, iter(node.value)]

    def _key(self, node: yaml.Node, mapping: PosDict) -> str:
        self.count += 1
        key = _scalar(node, self.file) if isinstance(node, yaml.ScalarNode) else None
        if not isinstance(key, (str, int, float, bool)):
            shown = node.value if isinstance(node, yaml.ScalarNode) else f"a {node.id}"
            raise SpecError(_position(self.file, node.start_mark), "",
                            f"a mapping key must be a plain word, got {shown!r}"[:200])
        key = str(key)
        if key in mapping:
            raise SpecError(_position(self.file, node.start_mark), "",
                            f"duplicate key '{key}' (first at line {mapping.key_pos[key].line})")
        return key


def too_large(file: str, size: int) -> SpecError:
    """The error for a file over MAX_FILE_BYTES."""
    return SpecError(Position(file, 1, 1), "", f"the text is {size:,} bytes; a spec may be at most "
                                               f"{MAX_FILE_BYTES:,} bytes (is this really a spec?)")


def parse_yaml(text: str, file: str) -> Any:
    """Parse one YAML document into PosDict/PosList/scalars; every error is a SpecError."""
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_FILE_BYTES:
        raise too_large(file, size)
    markers = sum(text.count(mark) for mark in "-:,[{")  # every node but the root needs one: a bound on them
    if markers > MAX_VALUES:
        raise SpecError(Position(file, 1, 1), "", f"the text has {markers:,} of '-', ':', ',', '[' and '{{', room "
                                                  f"for more than {MAX_VALUES:,} values; a spec has far fewer")
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or "malformed YAML"
        if "maximum nesting depth" in problem:  # libyaml >= 0.2.5 stops at its own limit before ours is reached
            raise SpecError(_position(file, mark), "", f"the document nests more than {MAX_DEPTH:,} levels deep; "
                                                       f"a spec nests far less") from None
        context = f" {err.context}" if err.context else ""
        raise SpecError(_position(file, mark), "", f"malformed YAML: {problem}{context}"
                        + _quote_hint(text, mark)) from None
    except yaml.YAMLError as err:
        raise SpecError(Position(file, 1, 1), "", f"malformed YAML: {err}") from None
    if node is None:
        raise SpecError(Position(file, 1, 1), "", "the file is empty; expected a mapping with 'input' and 'layers'")
    return _Builder(file).build(node)
