"""The columns each analysis command shows, as (header, cell function, alignment)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cnncli.analysis import Analysis, Row


@dataclass(frozen=True)
class Column:
    header: str
    cell: Callable[[Row, Analysis], str]
    numeric: bool = False
    total: Callable[[Analysis], str] | None = None
    wrap: bool = False


def fmt_int(n: int) -> str:
    return f"{n:,}"


def fmt_shape(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def fmt_pair(pair: tuple[int, int] | None) -> str:
    if pair is None:
        return "—"
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}×{pair[1]}"


def fmt_param_shapes(row: Row) -> str:
    """E.g. `64×3×7×7 + 64`."""
    return " + ".join("×".join(str(d) for d in shape) for shape in row.param_shapes.values()) or "—"


def share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


NAME = Column("name", lambda r, a: r.name, wrap=True)
TYPE = Column("type", lambda r, a: r.type)
INPUTS = Column("inputs", lambda r, a: "" if r.follows_previous else ", ".join(r.inputs), wrap=True)
OUTPUT = Column("output", lambda r, a: fmt_shape(r.output_shape))
ARITHMETIC = Column("H, W arithmetic", lambda r, a: "\n".join(dict.fromkeys(r.arithmetic)))

RECEPTIVE = Column("receptive field", lambda r, a: fmt_pair(r.receptive_field), numeric=True)
STRIDE = Column("eff. stride", lambda r, a: fmt_pair(r.effective_stride), numeric=True)
PARAM_SHAPES = Column("param shapes", lambda r, a: fmt_param_shapes(r))
PARAMS = Column("params", lambda r, a: fmt_int(r.params), True, lambda a: fmt_int(a.totals["params"]))
BUFFERS = Column("buffers", lambda r, a: fmt_int(r.buffers), True, lambda a: fmt_int(a.totals["buffers"]))
PARAM_SHARE = Column("% params", lambda r, a: share(r.params, a.totals["params"]), True, lambda a: "100%")
MACS = Column("MACs", lambda r, a: fmt_int(r.macs), True, lambda a: fmt_int(a.totals["macs"]))
FLOPS = Column("FLOPs", lambda r, a: fmt_int(r.flops), True, lambda a: fmt_int(a.totals["flops"]))
FLOP_SHARE = Column("% FLOPs", lambda r, a: share(r.flops, a.totals["flops"]), True, lambda a: "100%")

COMMAND_COLUMNS: dict[str, list[Column]] = {
    "shapes": [NAME, TYPE, INPUTS, OUTPUT, ARITHMETIC, RECEPTIVE, STRIDE],
    "params": [NAME, TYPE, PARAM_SHAPES, PARAMS, BUFFERS, PARAM_SHARE],
    "flops": [NAME, TYPE, OUTPUT, MACS, FLOPS, FLOP_SHARE],
    "summary": [NAME, TYPE, OUTPUT, PARAMS, MACS, RECEPTIVE],
}
