"""A spec file -> a validated `Spec`: name, input shape, expanded primitive nodes, train section."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnncli.errors import Position, SpecError
from cnncli.layers.registry import LAYER_TYPES
from cnncli.spec.blocks import parse_blocks
from cnncli.spec.expand import NodeSpec, expand
from cnncli.spec.yaml_source import MAX_FILE_BYTES, PosDict, parse_yaml, too_large
from cnncli.suggest import did_you_mean

TOP_LEVEL_KEYS = ("name", "description", "input", "layers", "blocks", "train")


@dataclass
class Spec:
    """A parsed spec; `nodes` are the primitive layers in execution order."""

    name: str
    input_shape: tuple[int, ...]
    nodes: list[NodeSpec]
    train: dict[str, Any]
    file: str
    text: str
    input_position: Position
    train_positions: dict[str, Position] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        """Hash of the spec text, stored in checkpoints to recognise the architecture."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def _input_shape(raw: Any, pos: Position) -> tuple[int, ...]:
    ok = (isinstance(raw, list) and len(raw) in (1, 3)
          and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in raw))
    if not ok:
        raise SpecError(pos, "input", f"input is [C, H, W] (or [features]) with positive whole numbers, "
                                      f"got {raw!r}; e.g. input: [1, 28, 28]")
    return tuple(raw)


def load_spec_text(text: str, file: str = "<spec>") -> Spec:
    """Parse, expand and validate spec text (shapes are checked later, by the graph)."""
    doc = parse_yaml(text, file)
    top = Position(file, 1, 1)
    if not isinstance(doc, PosDict):
        raise SpecError(top, "", "a spec is a mapping with 'input' and 'layers' at the top")
    for key in doc:
        if key not in TOP_LEVEL_KEYS:
            raise SpecError(doc.key_pos[key], key, f"unknown top-level key '{key}'{did_you_mean(key, TOP_LEVEL_KEYS)} "
                                                   f"(a spec has: {', '.join(TOP_LEVEL_KEYS)})")
    for key in ("input", "layers"):
        if key not in doc:
            raise SpecError(top, "", f"the spec has no '{key}'; a spec needs 'input: [C, H, W]' and 'layers:'")
    input_shape = _input_shape(doc["input"], doc.value_pos["input"])
    layers = doc["layers"]
    if not isinstance(layers, list) or not layers:
        raise SpecError(doc.value_pos["layers"], "layers", "layers is a non-empty list of layer entries")
    blocks = parse_blocks(doc.get("blocks"), set(LAYER_TYPES) | {"residual"}, doc.value_pos.get("blocks", top))
    name = doc.get("name", Path(file).stem)
    if not isinstance(name, (str, int, float)):
        raise SpecError(doc.value_pos["name"], "name", f"name is a line of text, got {name!r}")
    train = doc.get("train") or {}
    if not isinstance(train, dict):
        raise SpecError(doc.value_pos["train"], "train", f"train is a mapping of training defaults, got {train!r}")
    return Spec(name=str(name), input_shape=input_shape, nodes=expand(layers, blocks), train=dict(train),
                file=file, text=text, input_position=doc.value_pos["input"],
                train_positions=dict(getattr(train, "value_pos", {})))


def load_spec(path: str | Path) -> Spec:
    """Read and parse a spec file; unreadable files are reported as SpecErrors too."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise too_large(str(path), size)
        data = path.read_bytes()
    except OSError as err:
        raise SpecError(None, "", f"cannot read spec '{path}': {err.strerror or err}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SpecError(Position(str(path), 1, 1), "", f"the file is not UTF-8 text (byte {err.start}); "
                                                      f"is it really a YAML spec?") from None
    return load_spec_text(text, str(path))
