"""A JSON Schema (draft-07) of the spec language, generated from the layer registry.

Editors use it for completion and checking (VS Code's YAML extension reads the
`# yaml-language-server: $schema=...` comment at the top of a spec). It checks the form of a
spec: top-level keys, layer names and their arguments, argument kinds and bounds. It cannot
check what needs the whole spec (block names declared in the same file, `inputs` naming
earlier layers, shapes): `cnn validate` does. A block's `$param` may stand for any argument.
"""
from __future__ import annotations

from typing import Any

from cnncli.layers.args import MAX_INT_ARG, REQUIRED, Arg
from cnncli.layers.registry import ACTIVATIONS, LAYER_TYPES
from cnncli.spec.entries import MAX_REPEAT
from cnncli.spec.scale import MAX_MULT

SCHEMA_FILE = "spec.schema.json"  # shipped in cnncli/zoo (specs/), beside the zoo specs
SCHEMA_COMMENT = "# yaml-language-server: $schema="
PARAM = {"type": "string", "pattern": r"^\$\w+(\[\d+\])?$", "description": "a block parameter"}
INT_PAIR = {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2}


def _number(arg: Arg, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind}
    if arg.minimum is not None:
        out["exclusiveMinimum" if arg.above else "minimum"] = arg.minimum
    maximum = arg.maximum if arg.maximum is not None else (MAX_INT_ARG if kind == "integer" else None)
    if maximum is not None:
        out["exclusiveMaximum" if arg.below else "maximum"] = maximum
    return out


def arg_schema(arg: Arg) -> dict[str, Any]:
    """The JSON Schema of one argument (or a `$param` standing for it)."""
    kinds: dict[str, Any] = {
        "int": lambda: _number(arg, "integer"),
        "float": lambda: _number(arg, "number"),
        "bool": lambda: {"type": "boolean"},
        "pair": lambda: {"anyOf": [_number(arg, "integer"), INT_PAIR]},
        "hw": lambda: {"anyOf": [_number(arg, "integer"), INT_PAIR]},
        "padding": lambda: {"anyOf": [_number(arg, "integer"), INT_PAIR,
                                      {"type": "array", "items": INT_PAIR, "minItems": 2, "maxItems": 2},
                                      {"enum": ["same", "valid", "SAME", "VALID"]}]},
        "activation": lambda: {"$ref": "#/definitions/activation"},
    }
    out = kinds[arg.kind]()
    if arg.default is not REQUIRED and arg.default is not None and not isinstance(arg.default, tuple):
        out["default"] = arg.default
    return {"anyOf": [out, PARAM]} if arg.kind != "activation" else out


GENERIC = {
    "name": {"type": "string", "description": "this layer's name (default <type>_<k>)"},
    "inputs": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}],
               "description": "earlier layers this one reads (default: the previous layer)"},
    "repeat": {"type": "integer", "minimum": 1, "maximum": MAX_REPEAT, "description": "stack this many copies"},
}


def _layer_entry(type_name: str) -> dict[str, Any]:
    cls = LAYER_TYPES[type_name]
    properties = {key: arg_schema(arg) for key, arg in cls.schema.items()} | GENERIC
    if type_name == "concat":
        properties["branches"] = {"type": "array", "minItems": 2, "items": {"$ref": "#/definitions/layers_or_empty"},
                                  "description": "parallel branches from one input, joined along channels"}
    required = [key for key, arg in cls.schema.items() if arg.default is REQUIRED]
    mapping: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        mapping["required"] = required
    forms: list[dict[str, Any]] = [mapping]
    if cls.main_arg is not None:
        forms.append(arg_schema(cls.schema[cls.main_arg]))
    if not required:
        forms.append({"type": "null"})
    return {"type": "object", "properties": {type_name: {"anyOf": forms, "description": cls.summary}},
            "required": [type_name], "additionalProperties": False}


def _residual_entry() -> dict[str, Any]:
    body = {"type": "object", "required": ["body"], "additionalProperties": False,
            "properties": {"body": {"$ref": "#/definitions/layers"}, "shortcut": {"$ref": "#/definitions/layers"},
                           **GENERIC}}
    return {"type": "object", "properties": {"residual": {**body, "description": "y = body(x) + shortcut(x)"}},
            "required": ["residual"], "additionalProperties": False}


def spec_schema() -> dict[str, Any]:
    """The whole schema: top-level keys, layer entries (one per registered type), blocks."""
    known = sorted(LAYER_TYPES) + ["residual"]
    bare = [name for name, cls in sorted(LAYER_TYPES.items())
            if all(arg.default is not REQUIRED for arg in cls.schema.values())]
    block_use = {"type": "object", "minProperties": 1, "maxProperties": 1,
                 "propertyNames": {"not": {"enum": known}}, "description": "a block declared under blocks:"}
    entry = {"anyOf": [{"enum": bare}, *[_layer_entry(name) for name in sorted(LAYER_TYPES)], _residual_entry(),
                       {"type": "string", "not": {"enum": known}, "description": "a block used with its defaults"},
                       block_use]}
    layers = {"type": "array", "minItems": 1, "items": {"$ref": "#/definitions/entry"}}
    activation = {"anyOf": [{"enum": list(ACTIVATIONS)}, *[_layer_entry(name) for name in ACTIVATIONS]]}
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "cnn spec",
        "description": "A CNN spec for cnncli: input [C, H, W] and layers (docs/spec-language.md).",
        "type": "object",
        "required": ["input", "layers"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "input": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": MAX_INT_ARG},
                      "minItems": 1, "maxItems": 3, "description": "[C, H, W] (channels first) or [features]"},
            "layers": {"$ref": "#/definitions/layers"},
            "blocks": {"type": "object", "additionalProperties": {
                "type": "object", "required": ["layers"], "additionalProperties": False,
                "properties": {"params": {"type": "object"}, "layers": {"$ref": "#/definitions/layers"},
                               "description": {"type": "string"}}}},
            "train": {"type": "object", "description": "training settings (docs/spec-language.md)"},
            "scale": {"type": "object", "additionalProperties": False,
                      "description": "width and depth multipliers (MobileNet, EfficientNet)",
                      "properties": {key: {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_MULT}
                                     for key in ("width", "depth")}
                      | {"divisor": {"type": "integer", "minimum": 1, "maximum": 1024}}},
        },
        "definitions": {"entry": entry, "layers": layers, "activation": activation,
                        "layers_or_empty": {"type": "array", "items": {"$ref": "#/definitions/entry"}}},
    }
