"""The columns each analysis command shows, as (header, cell function, alignment, when to drop).

`drop` orders the columns given up first when a table does not fit the terminal (higher goes
first; 0 is never dropped); `--wide` keeps them all.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cnncli.analysis import Analysis, Row
from cnncli.layers.base import fmt_shape


@dataclass(frozen=True)
class Column:
    header: str
    cell: Callable[[Row, Analysis], str]
    numeric: bool = False
    total: Callable[[Analysis], str] | None = None
    wrap: str = ""  # where a cell may be broken over lines ("." for names), "" for never
    narrowest: int = 16  # a wrapped column is not made narrower than this
    drop: int = 0
    per_layer: bool = False  # a count the input row does not have

    def text(self, row: Row, analysis: Analysis) -> str:
        """The cell; layer counts are left blank on the input row."""
        if row.kind == "input" and self.per_layer:
            return ""
        return self.cell(row, analysis)


def fmt_int(n: int) -> str:
    return f"{n:,}"


def fmt_pair(pair: tuple[int, int] | None) -> str:
    if pair is None:
        return "—"
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}×{pair[1]}"


def fmt_param_shapes(row: Row) -> str:
    """E.g. `64×3×7×7 + 64`."""
    return " + ".join("×".join(str(d) for d in shape) for shape in row.param_shapes.values()) or "—"


def share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


def megabytes(n: float) -> str:
    """Bytes as MB (10^6), two decimals."""
    return f"{n / 1e6:,.2f} MB"


def _name(row: Row, analysis: Analysis) -> str:
    return row.name + (f" ×{row.repeat}" if row.repeat > 1 else "")


NAME = Column("name", _name, wrap=".")
TYPE = Column("type", lambda r, a: r.type)
INPUTS = Column("inputs", lambda r, a: "" if r.follows_previous else ", ".join(r.inputs), wrap=", ", drop=5)
OUTPUT = Column("output", lambda r, a: fmt_shape(r.output_shape))
ACTIVATIONS = Column("activations", lambda r, a: fmt_int(r.activation_values), True, drop=3)
ARITHMETIC = Column("H, W arithmetic", lambda r, a: "\n".join(dict.fromkeys(r.arithmetic)), drop=2, per_layer=True)

RECEPTIVE = Column("recep. field", lambda r, a: fmt_pair(r.receptive_field), numeric=True, drop=4)
STRIDE = Column("eff. stride", lambda r, a: fmt_pair(r.effective_stride), numeric=True, drop=6)
PARAM_SHAPES = Column("param shapes", lambda r, a: fmt_param_shapes(r), drop=4, per_layer=True)


def _count(header: str, key: str, drop: int = 0) -> Column:
    """A per-layer count with its total in the footer."""
    return Column(header, lambda r, a: fmt_int(getattr(r, key)), True, lambda a: fmt_int(a.totals[key]),
                  drop=drop, per_layer=True)


def _share(header: str, key: str) -> Column:
    return Column(header, lambda r, a: share(getattr(r, key), a.totals[key]), True, lambda a: "100%", drop=3,
                  per_layer=True)


PARAMS = _count("params", "params")
BUFFERS = _count("buffers", "buffers", drop=2)
PARAM_SHARE = _share("% params", "params")
MACS = _count("MACs", "macs")
FLOPS = _count("FLOPs", "flops", drop=2)
FLOP_SHARE = _share("% FLOPs", "flops")

COMMAND_COLUMNS: dict[str, list[Column]] = {
    "shapes": [NAME, TYPE, INPUTS, OUTPUT, ACTIVATIONS, ARITHMETIC, RECEPTIVE, STRIDE],
    "params": [NAME, TYPE, PARAM_SHAPES, PARAMS, BUFFERS, PARAM_SHARE],
    "flops": [NAME, TYPE, OUTPUT, MACS, FLOPS, FLOP_SHARE],
    "summary": [NAME, TYPE, OUTPUT, PARAMS, MACS, RECEPTIVE],
}


def memory_columns(batch_size: int, optimizer: str) -> list[Column]:
    """Activation memory of each row's output, and everything the row costs to train, at a batch size."""
    return [
        Column(f"act. MB (b={batch_size})", lambda r, a: megabytes(4 * batch_size * r.activation_values),
               numeric=True, drop=4),
        Column(f"train mem (act+w+g+{optimizer}, b={batch_size})",
               lambda r, a: megabytes(r.training_bytes(batch_size, optimizer)), numeric=True,
               total=lambda a: megabytes(a.training_memory(batch_size, optimizer)["total"]), drop=1),
    ]
