"""Pooling: windowed max/average, global, adaptive (PyTorch semantics)."""
from __future__ import annotations

from typing import Any

from cnncli.layers.args import Arg
from cnncli.layers.base import Layer, Shape, ShapeError, Window, numel, require_spatial
from cnncli.layers.windowed import WindowedLayer
from cnncli.shapes import BinStats, adaptive_bin_stats

_POOL_SCHEMA = {
    "kernel": Arg("pair", minimum=1),
    "stride": Arg("pair", None, minimum=1),
    "padding": Arg("padding", ((0, 0), (0, 0)), minimum=0),
    "ceil_mode": Arg("bool", False),
}


class _Pool(WindowedLayer):
    main_arg = "kernel"
    schema = _POOL_SCHEMA

    def __init__(self, name: str, inputs: list[str], args: dict[str, Any]) -> None:
        if args["stride"] is None:  # pooling stride defaults to the kernel
            args = {**args, "stride": args["kernel"]}
        super().__init__(name, inputs, args)

    def infer(self, in_shapes: list[Shape]) -> Shape:
        h, w = self.infer_spatial(in_shapes[0])
        if isinstance(self.args["padding"], tuple):
            for (lo, hi), k in zip(self.pads, self.kernel):
                if max(lo, hi) * 2 > k:
                    raise ShapeError(f"padding {max(lo, hi)} is more than half the kernel {k}; "
                                     f"a pooling window would see only padding (PyTorch refuses this too)",
                                     argument="padding")
        return (in_shapes[0][0], h, w)


class MaxPool(_Pool):
    """y[c, i, j] = max over the window of x (padding never wins)."""

    type_name = "maxpool"
    engine_op = "spatial.MaxPoolOp"
    summary = "max pooling (kernel, stride = kernel, padding, ceil_mode)"

    def flops(self) -> int:
        """kh·kw − 1 comparisons per output element."""
        kh, kw = self.kernel
        return numel(self.out_shape) * (kh * kw - 1)


class AvgPool(_Pool):
    """y[c, i, j] = sum over the window / window size (padding counted, as PyTorch by default)."""

    type_name = "avgpool"
    engine_op = "spatial.AvgPoolOp"
    summary = "average pooling (kernel, stride = kernel, padding, ceil_mode)"

    def flops(self) -> int:
        """kh·kw − 1 adds and one divide per output element."""
        kh, kw = self.kernel
        return numel(self.out_shape) * kh * kw


class _GlobalPool(Layer):
    def infer(self, in_shapes: list[Shape]) -> Shape:
        c, _, _ = require_spatial(self.type_name, in_shapes[0])
        return (c, 1, 1)

    def window(self) -> Window:
        _, h, w = self.in_shape
        return Window(span=(h, w), stride=(h, w))


class GlobalAvgPool(_GlobalPool):
    """y[c] = mean of x[c] over H·W; output [C, 1, 1]."""

    type_name = "global_avgpool"
    engine_op = "spatial.GlobalAvgPoolOp"
    summary = "mean over H and W; output [C, 1, 1]"

    def flops(self) -> int:
        """H·W per channel (adds and the divide)."""
        return numel(self.in_shape)


class GlobalMaxPool(_GlobalPool):
    """y[c] = max of x[c] over H·W; output [C, 1, 1]."""

    type_name = "global_maxpool"
    engine_op = "spatial.GlobalMaxPoolOp"
    summary = "max over H and W; output [C, 1, 1]"

    def flops(self) -> int:
        """H·W − 1 comparisons per channel."""
        c, h, w = self.in_shape
        return c * (h * w - 1)


class AdaptiveAvgPool(Layer):
    """Average over PyTorch's bins [floor(i·n/o), ceil((i+1)·n/o)) to a fixed [o_h, o_w] output."""

    type_name = "adaptive_avgpool"
    engine_op = "spatial.AdaptiveAvgPoolOp"
    summary = "average pooling to a fixed output size (output: int or [h, w])"
    main_arg = "output"
    schema = {"output": Arg("hw", minimum=1)}

    def infer(self, in_shapes: list[Shape]) -> Shape:
        c, _, _ = require_spatial(self.type_name, in_shapes[0])
        oh, ow = self.args["output"]
        return (c, oh, ow)

    def _bin_stats(self) -> tuple[BinStats, BinStats]:
        _, h, w = self.in_shape
        oh, ow = self.args["output"]
        return adaptive_bin_stats(h, oh), adaptive_bin_stats(w, ow)

    def window(self) -> Window:
        """Largest bin as the span; the smallest bin step as the stride."""
        rows, cols = self._bin_stats()
        return Window(span=(rows.largest, cols.largest), stride=(max(1, rows.step), max(1, cols.step)))

    def flops(self) -> int:
        """Bin size (adds and the divide) per output element: C · Σ row-bin sizes · Σ column-bin sizes."""
        rows, cols = self._bin_stats()
        return self.in_shape[0] * rows.total * cols.total
