"""What convolution and pooling share: resolving padding and sliding a window over H and W."""
from __future__ import annotations

from cnncli.layers.base import Layer, Note, ShapeError, Window, fmt_shape, require_spatial
from cnncli.shapes import AxisArithmetic, conv_out, dropped, effective_kernel, same_padding

_AXES = ("H", "W")


class WindowedLayer(Layer):
    """A layer that slides a (kernel, stride, padding, dilation) window over [C, H, W]."""

    @property
    def kernel(self) -> tuple[int, int]:
        return self.args["kernel"]

    @property
    def stride(self) -> tuple[int, int]:
        return self.args["stride"]

    @property
    def dilation(self) -> tuple[int, int]:
        return self.args.get("dilation", (1, 1))

    @property
    def ceil_mode(self) -> bool:
        return bool(self.args.get("ceil_mode", False))

    def resolve_padding(self, h: int, w: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """((top, bottom), (left, right)) from an explicit value, 'valid' or TensorFlow's 'same'."""
        padding = self.args["padding"]
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding == "same":
            return (same_padding(h, self.kernel[0], self.stride[0], self.dilation[0]),
                    same_padding(w, self.kernel[1], self.stride[1], self.dilation[1]))
        return padding

    def infer_spatial(self, in_shape: tuple[int, ...]) -> tuple[int, int]:
        """Output (H, W); raises ShapeError when the window does not fit the padded input."""
        _, h, w = require_spatial(self.type_name, in_shape)
        self.pads = self.resolve_padding(h, w)
        out = []
        for axis, n, f, pad, s, d in zip(_AXES, (h, w), self.kernel, self.pads, self.stride, self.dilation):
            o = conv_out(n, f, pad, s, d, self.ceil_mode)
            if o < 1:
                span = effective_kernel(f, d)
                padded = n + pad[0] + pad[1]
                raise ShapeError(
                    f"kernel {span} (along {axis}) is larger than the padded input {padded} "
                    f"(input {fmt_shape(in_shape)}, padding {pad[0]}+{pad[1]}); use a smaller kernel, "
                    f"more padding or padding: same", argument="kernel")
            out.append(o)
        return out[0], out[1]

    @property
    def pads_flat(self) -> tuple[int, int, int, int]:
        """(top, bottom, left, right), the form the engine's kernels take."""
        (top, bottom), (left, right) = self.pads
        return top, bottom, left, right

    def window(self) -> Window:
        return Window(span=(effective_kernel(self.kernel[0], self.dilation[0]),
                            effective_kernel(self.kernel[1], self.dilation[1])),
                      stride=self.stride)

    def arithmetic(self) -> list[AxisArithmetic]:
        _, h, w = self.in_shape
        return [AxisArithmetic(n, f, pad, s, d, self.ceil_mode, o)
                for n, f, pad, s, d, o in zip((h, w), self.kernel, self.pads, self.stride, self.dilation,
                                               self.out_shape[1:])]

    def notes(self) -> list[Note]:
        notes = []
        _, h, w = self.in_shape
        if self.args["padding"] == "same":
            (top, bottom), (left, right) = self.pads
            notes.append(Note("info", f"padding 'same' chose top {top}, bottom {bottom}, left {left}, right {right}"
                         + (" (asymmetric, as TensorFlow pads)" if (top, left) != (bottom, right) else "")))
        if not self.ceil_mode:
            lost = {axis: dropped(n, f, pad, s, d)
                    for axis, n, f, pad, s, d in zip(("row", "column"), (h, w), self.kernel, self.pads, self.stride,
                                                     self.dilation)
                    if effective_kernel(f, d) >= s}  # a kernel narrower than its stride skips rows by design
            parts = [f"{count} {axis}{'s' if count > 1 else ''}" for axis, count in lost.items() if count]
            if parts:
                notes.append(Note("warning", f"floor() drops the last {' and '.join(parts)} of the input "
                                  f"(the stride does not divide the padded input minus the kernel evenly)"))
        return notes
