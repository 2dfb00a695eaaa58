"""A spec file -> a validated `Spec`: name, input shape, expanded primitive nodes, train section."""
from __future__ import annotations

import hashlib
import os
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnncli.errors import Position, SpecError
from cnncli.layers.args import MAX_INT_ARG, describe
from cnncli.layers.registry import LAYER_TYPES
from cnncli.spec.blocks import parse_blocks
from cnncli.spec.expand import NodeSpec, expand
from cnncli.spec.scale import Scale, parse_scale
from cnncli.spec.yaml_source import MAX_FILE_BYTES, PosDict, parse_yaml
from cnncli.suggest import did_you_mean
from cnncli.train_config import load_train_config

TOP_LEVEL_KEYS = ("name", "description", "input", "layers", "blocks", "train", "scale")
MAX_INPUT_DIM = MAX_INT_ARG  # each of C, H, W (or the feature count)
MAX_NAME = 200  # characters in a spec's name
MAX_NODES = 5_000  # primitive layers after expansion: analysis stays under a second
_FILE_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
               (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"))


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
    scale: Scale = field(default_factory=Scale)  # the width and depth multipliers applied

    @property
    def sha256(self) -> str:
        """Hash of the spec text, stored in checkpoints to recognise the architecture."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def _input_shape(raw: Any, pos: Position) -> tuple[int, ...]:
    ok = (isinstance(raw, list) and len(raw) in (1, 3)
          and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in raw))
    if not ok:
        raise SpecError(pos, "input", f"input is [C, H, W] (or [features]) with positive whole numbers, "
                                      f"got {describe(raw)}; e.g. input: [1, 28, 28]")
    check_input_dims(tuple(raw), pos, "input")
    return tuple(raw)


def check_input_dims(shape: tuple[int, ...], pos: Position | None, path: str) -> None:
    """Every input dimension must be at most MAX_INPUT_DIM (it bounds analysis time and memory)."""
    for value in shape:
        if value > MAX_INPUT_DIM:
            shown = f"{value:,}" if value < 10**30 else f"a {len(str(value))}-digit number"
            raise SpecError(pos, path, f"each input dimension must be at most {MAX_INPUT_DIM:,}, got {shown}; "
                                       f"e.g. input: [3, 224, 224]")


def read_limited(path: Path, limit: int, what: str) -> bytes:
    """The bytes of regular file `path`; ValueError (saying why) if it is not one or holds more than `limit`.

    The file's reported size is not trusted: at most `limit` + 1 bytes are ever read. Devices,
    FIFOs and sockets are refused before any read (opening is non-blocking, so a FIFO without a
    writer cannot hang us)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")
            raise ValueError(f"this is {kind}, not a regular file; save the {what} to a file and give its path")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"the file holds more than {limit:,} bytes; a {what} may be at most {limit:,} bytes "
                         f"(is this really a {what}?)")
    return data


def load_spec_text(text: str, file: str = "<spec>", width: float | None = None, depth: float | None = None) -> Spec:
    """Parse, expand and validate spec text (shapes are checked later, by the graph); `width` and
    `depth` override the multipliers of the spec's `scale:` (cnncli.spec.scale)."""
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
    if (not isinstance(name, (str, int, float)) or isinstance(name, bool) or not 0 < len(str(name)) <= MAX_NAME
            or any(unicodedata.category(c) == "Cc" for c in str(name))):
        raise SpecError(doc.value_pos.get("name", top), "name", f"name is a line of text of 1 to {MAX_NAME} "
                                                                 f"characters (no control characters), got "
                                                                 f"{describe(name)}")
    train = doc.get("train") or {}
    if not isinstance(train, dict):
        raise SpecError(doc.value_pos["train"], "train", f"train is a mapping of training defaults, "
                                                         f"got {describe(train)}")
    load_train_config(dict(train), file, dict(getattr(train, "value_pos", {})))  # refused here, not at `cnn train`
    scale = parse_scale(doc["scale"], doc.value_pos["scale"]) if "scale" in doc else Scale()
    scale = Scale(scale.width if width is None else width, scale.depth if depth is None else depth, scale.divisor)
    nodes = expand(layers, blocks, scale) if len(layers) <= MAX_NODES else layers  # refused below unexpanded
    if len(nodes) > MAX_NODES:
        raise SpecError(doc.value_pos["layers"], "layers", f"the spec expands to {len(nodes):,} layers; a spec may "
                                                           f"have at most {MAX_NODES:,} (after blocks and repeats)")
    return Spec(name=str(name), input_shape=input_shape, nodes=nodes, train=dict(train),
                file=file, text=text, input_position=doc.value_pos["input"],
                train_positions=dict(getattr(train, "value_pos", {})), scale=scale)


def load_spec(path: str | Path, width: float | None = None, depth: float | None = None) -> Spec:
    """Read and parse a spec file (at most MAX_FILE_BYTES); unreadable files are reported as SpecErrors too."""
    path = Path(path)
    try:
        data = read_limited(path, MAX_FILE_BYTES, "spec")
    except OSError as err:
        raise SpecError(None, "", f"cannot read spec '{path}': {err.strerror or err}") from None
    except ValueError as err:
        raise SpecError(Position(str(path), 1, 1), "", str(err)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SpecError(Position(str(path), 1, 1), "", f"the file is not UTF-8 text (byte {err.start}); "
                                                      f"is it really a YAML spec?") from None
    return load_spec_text(text, str(path), width, depth)
