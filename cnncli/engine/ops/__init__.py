"""Forward and backward of each layer type, on batches, calling the kernels (contract: base.py)."""
from __future__ import annotations

from importlib import import_module

from cnncli.engine.ops.base import Op
from cnncli.layers.base import Layer


def op_class(layer: Layer) -> type[Op]:
    """The op a layer class names (`Layer.engine_op`, "<module>.<class>" in this package)."""
    module, _, name = type(layer).engine_op.rpartition(".")
    if not module:
        raise ValueError(f"layer type {layer.type_name} names no engine op (Layer.engine_op)")
    return getattr(import_module(f"{__name__}.{module}"), name)


__all__ = ["Op", "op_class"]
