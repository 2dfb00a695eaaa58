"""2-D convolution."""
from __future__ import annotations

from cnncli.layers.args import Arg
from cnncli.layers.base import Shape, ShapeError, numel
from cnncli.layers.windowed import WindowedLayer


class Conv2d(WindowedLayer):
    """y[f, i, j] = b[f] + Σ_c Σ_u Σ_v w[f, c, u, v] · x[c, i·s + u·d − p, j·s + v·d − p]."""

    type_name = "conv2d"
    engine_op = "spatial.Conv2dOp"
    init = {"weight": "fan_in_uniform", "bias": "fan_in_uniform"}
    summary = "2-D convolution (filters, kernel, stride, padding, dilation, groups or depthwise)"
    main_arg = "filters"
    schema = {
        "filters": Arg("int", minimum=1),
        "kernel": Arg("pair", minimum=1),
        "stride": Arg("pair", (1, 1), minimum=1),
        "padding": Arg("padding", ((0, 0), (0, 0)), minimum=0),
        "dilation": Arg("pair", (1, 1), minimum=1),
        "groups": Arg("int", 1, minimum=1),
        "depthwise": Arg("bool", False),  # groups = the input channels (MobileNet's depthwise convolution)
        "bias": Arg("bool", True),
        "activation": Arg("activation", None),
    }

    @property
    def filters(self) -> int:
        return self.args["filters"]

    @property
    def groups(self) -> int:
        return self.args["groups"]

    def infer(self, in_shapes: list[Shape]) -> Shape:
        h, w = self.infer_spatial(in_shapes[0])
        channels = in_shapes[0][0]
        if self.args.pop("depthwise", False):  # a shorthand: the layer is then the conv with groups = channels,
            if self.args["groups"] not in (1, channels):  # and its signature (checkpoints) is that conv's
                raise ShapeError(f"depthwise sets groups to the {channels} input channels; drop groups: "
                                 f"{self.args['groups']} (or depthwise)", argument="groups")
            self.args["groups"] = channels
        for what, count in (("input channels", channels), ("filters", self.filters)):
            if count % self.groups:
                raise ShapeError(f"groups {self.groups} does not divide the {count} {what}; "
                                 f"groups must divide both input channels ({channels}) and filters "
                                 f"({self.filters})", argument="groups")
        return (self.filters, h, w)

    def param_shapes(self) -> dict[str, Shape]:
        kh, kw = self.kernel
        shapes: dict[str, Shape] = {"weight": (self.filters, self.in_shape[0] // self.groups, kh, kw)}
        if self.args["bias"]:
            shapes["bias"] = (self.filters,)
        return shapes

    def macs(self) -> int:
        """out_elements · (C_in / groups) · kh · kw."""
        kh, kw = self.kernel
        return numel(self.out_shape) * (self.in_shape[0] // self.groups) * kh * kw

    def flops(self) -> int:
        """2 · MACs, plus one add per output element for the bias."""
        return 2 * self.macs() + (numel(self.out_shape) if self.args["bias"] else 0)
