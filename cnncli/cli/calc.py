"""`cnn calc conv|pool`: the one-layer calculator of the course notes.

Sizes per axis follow cnncli.shapes: out = floor((n + 2p − f) / s) + 1 (dilation: f -> d(f−1)+1).
Three modes: sizes (`--n`, the formula with the numbers in it), the solver (`--out`: every
padding, stride and dilation that gives that output), and numbers (`--x` and `--w`: the output
matrix, cross-correlation as deep-learning libraries compute it: y[i,j] = Σ x[i·s+u, j·s+v]·w[u,v]).
"""
from __future__ import annotations

import click

from cnncli.errors import UsageError
from cnncli.report import console
from cnncli.shapes import AxisArithmetic, conv_out, dropped, effective_kernel, same_padding

Pair = tuple[int, int]
SOLVER_ROWS = 24
MAX_DILATION = 3


class PairType(click.ParamType):
    """`5` -> (5, 5); `125,49` or `125x49` -> (125, 49): (H, W)."""

    name = "N or H,W"

    def __init__(self, minimum: int) -> None:
        self.minimum = minimum

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> Pair:
        if isinstance(value, tuple):
            return value  # type: ignore[return-value]
        parts = str(value).replace("x", ",").replace("×", ",").split(",")
        try:
            numbers = [int(p) for p in parts]
        except ValueError:
            numbers = []
        if len(numbers) not in (1, 2) or min(numbers) < self.minimum:
            self.fail(f"expected a number or H,W (each at least {self.minimum}), got '{value}'", param, ctx)
        return (numbers[0], numbers[-1])


def parse_matrix(text: str, what: str) -> list[list[float]]:
    """Rows separated by ';' or newlines, values by spaces or commas; `[[0,1],[2,3]]` works too."""
    body = text.strip().replace("],", ";").replace("[", "").replace("]", "")
    rows = [row.replace(",", " ").split() for row in body.replace("\n", ";").split(";") if row.strip()]
    try:
        matrix = [[float(v) for v in row] for row in rows]
    except ValueError:
        matrix = []
    if not matrix or len({len(row) for row in matrix}) != 1:
        raise UsageError(f"{what}: expected a matrix as rows of numbers separated by ';' (e.g. \"0 1 2; 3 4 5\"), "
                         f"got {text!r}" + ("" if not matrix else " (rows of different lengths)"))
    return matrix


def _fmt(value: float) -> str:
    return f"{value:g}"


def show_matrix(matrix: list[list[float]], title: str) -> None:
    cells = [[_fmt(v) for v in row] for row in matrix]
    width = max(len(c) for row in cells for c in row)
    console.out.print(f"[bold]{title}[/] ({len(matrix)}×{len(matrix[0])}):", markup=True)
    for row in cells:
        console.out.print("  " + " ".join(c.rjust(width) for c in row))


def windows(x: list[list[float]], f: Pair, s: Pair, pad: tuple[Pair, Pair], d: Pair,
            fill: float = 0.0) -> list[list[list[float]]]:
    """For each output position, the (dilated) window's values in row-major order; padding holds `fill`."""
    (top, bottom), (left, right) = pad
    h, w = len(x), len(x[0])
    padded = ([[fill] * (w + left + right) for _ in range(top)]
              + [[fill] * left + row + [fill] * right for row in x]
              + [[fill] * (w + left + right) for _ in range(bottom)])
    out_h, out_w = conv_out(h, f[0], pad[0], s[0], d[0]), conv_out(w, f[1], pad[1], s[1], d[1])
    return [[[padded[i * s[0] + u * d[0]][j * s[1] + v * d[1]] for u in range(f[0]) for v in range(f[1])]
             for j in range(out_w)] for i in range(out_h)]


def _pads(n: Pair, f: Pair, p: Pair | None, s: Pair, d: Pair, same: bool) -> tuple[Pair, Pair]:
    if same:
        return same_padding(n[0], f[0], s[0], d[0]), same_padding(n[1], f[1], s[1], d[1])
    p = p or (0, 0)
    return (p[0], p[0]), (p[1], p[1])


def show_sizes(n: Pair, f: Pair, p: Pair | None, s: Pair, d: Pair, ceil_mode: bool, same: bool) -> Pair:
    """Print each axis's formula with its numbers (one line when both axes agree); return (out_h, out_w)."""
    pads = _pads(n, f, p, s, d, same)
    outs = []
    axes = [("", 0)] if n[0] == n[1] and f[0] == f[1] and s[0] == s[1] and d[0] == d[1] and pads[0] == pads[1] \
        else [("H: ", 0), ("W: ", 1)]
    for label, a in axes:
        if same:
            total = sum(pads[a])
            console.out.print(f"{label}padding 'same' (TensorFlow): out = ceil({n[a]} / {s[a]}) = {-(-n[a] // s[a])};"
                              f" total padding max((out − 1)·{s[a]} + {effective_kernel(f[a], d[a])} − {n[a]}, 0) = "
                              f"{total} → {pads[a][0]} before, {pads[a][1]} after"
                              + ("" if pads[a][0] == pads[a][1] else " (asymmetric)"))
        out = conv_out(n[a], f[a], pads[a], s[a], d[a], ceil_mode)
        if out < 1:
            raise UsageError(f"{label}the kernel ({effective_kernel(f[a], d[a])}) is larger than the padded input "
                             f"({n[a] + sum(pads[a])}): no output; use a smaller kernel or more padding")
        formula = AxisArithmetic(n[a], f[a], pads[a], s[a], d[a], ceil_mode, out).formula()
        console.out.print(f"{label}[bold]{formula}[/]", markup=True)
        lost = 0 if ceil_mode else dropped(n[a], f[a], pads[a], s[a], d[a])
        if lost:
            console.out.print(f"[yellow]{label}floor() drops the last {lost} input row(s)/column(s)[/]", markup=True)
        outs.append(out)
    return (outs[0], outs[-1])


def solve(n: int, f: int, out: int) -> list[tuple[int, int, int]]:
    """Every (padding p, stride s, dilation d) with floor((n + 2p − d(f−1) − 1) / s) + 1 = out,
    with p < d(f−1) + 1 (more padding only adds windows of zeros) and d ≤ MAX_DILATION."""
    found = []
    for d in range(1, (MAX_DILATION if f > 1 else 1) + 1):
        span = effective_kernel(f, d)
        for p in range(span):
            for s in range(1, n + 2 * p + 1):
                if conv_out(n, f, (p, p), s, d) == out:
                    found.append((p, s, d))
    return sorted(found, key=lambda t: (t[2], t[1], t[0]))


def show_solutions(n: Pair, f: Pair, out: Pair) -> None:
    axes = [("", 0)] if (n[0], f[0], out[0]) == (n[1], f[1], out[1]) else [("H: ", 0), ("W: ", 1)]
    for label, a in axes:
        found = solve(n[a], f[a], out[a])
        if not found:
            raise UsageError(f"{label}no padding, stride or dilation takes {n[a]} to {out[a]} with a {f[a]}-wide "
                             f"kernel; try another kernel size (or an output of at most {n[a] + f[a] - 1})")
        console.out.print(f"{label}{n[a]} → {out[a]} with kernel {f[a]}: floor((n + 2p − d(f−1) − 1) / s) + 1")
        for p, s, d in found[:SOLVER_ROWS]:
            same = " ('same')" if (p, p) == same_padding(n[a], f[a], s, d) and out[a] == -(-n[a] // s) else ""
            console.out.print(f"  padding {p}, stride {s}" + (f", dilation {d}" if d > 1 else "") + same)
        if len(found) > SOLVER_ROWS:
            console.out.print(f"  ... and {len(found) - SOLVER_ROWS} more (larger strides or dilations)")


def _options(func):  # type: ignore[no-untyped-def]
    for option in reversed([
        click.option("--n", "n", type=PairType(1), help="Input size: N, or H,W (e.g. 125,49)."),
        click.option("--f", "f", type=PairType(1), help="Kernel size: F or FH,FW."),
        click.option("--p", "p", type=PairType(0), default=None, help="Padding each side: P or PH,PW [0]."),
        click.option("--s", "s", type=PairType(1), default=None, help="Stride: S or SH,SW."),
        click.option("--d", "d", type=PairType(1), default="1", show_default=True, help="Dilation: D or DH,DW."),
        click.option("--same", is_flag=True, help="Solve the padding as TensorFlow's 'same'."),
        click.option("--out", "out", type=PairType(1), help="Solve: list paddings, strides and dilations giving it."),
        click.option("--x", "x_text", metavar="MATRIX", help='Input values, rows split by ";": "0 1 2; 3 4 5; 6 7 8".'),
        click.option("--channels", "-c", type=click.IntRange(min=1), help="Input channels (volume and parameters)."),
    ]):
        func = option(func)
    return func


def _check(n: Pair | None, f: Pair | None, p: Pair | None, same: bool, out: Pair | None, x_text: str | None) -> None:
    if same and p is not None:
        raise UsageError("give either --p or --same, not both")
    if out is not None and (x_text is not None or p is not None or same):
        raise UsageError("--out solves for the padding, stride and dilation: give it with --n and --f only")
    if n is None and x_text is None:
        raise UsageError("give the input size --n (or the input values --x)")
    if f is None:
        raise UsageError("give the kernel size --f")


@click.group()
def calc() -> None:
    """One-layer calculator: output size with the formula and the numbers in it, a solver, and
    the output matrix of small examples."""


@calc.command()
@_options
@click.option("--w", "w_text", metavar="MATRIX", help='Kernel values, e.g. "1 0 -1; 1 0 -1; 1 0 -1" (sets --f).')
@click.option("--filters", "-k", type=click.IntRange(min=1), help="Number of filters (with -c: parameters).")
def conv(n: Pair | None, f: Pair | None, p: Pair | None, s: Pair | None, d: Pair, same: bool, out: Pair | None,
         x_text: str | None, channels: int | None, w_text: str | None, filters: int | None) -> None:
    """Convolution: floor((n + 2p − f) / s) + 1 per axis.

    \b
    Example:
      cnn calc conv --n 125 --f 5 --p 2 --s 2
      cnn calc conv --n 125,49 --f 5,3 --s 2,1
      cnn calc conv --n 39 --f 3 -c 3 -k 10
      cnn calc conv --n 28 --f 5 --out 14
      cnn calc conv --x "10 10 10 0 0 0; 10 10 10 0 0 0; 10 10 10 0 0 0; 10 10 10 0 0 0; 10 10 10 0 0 0; 10 10 10 0 0 0" --w "1 0 -1; 1 0 -1; 1 0 -1"
    """  # noqa: E501 (the example is one command line)
    weights = None
    if w_text is not None:
        weights, f = matrix_with_size(w_text, "--w", f, "--f", "kernel")
    if filters is not None and channels is None:
        raise UsageError("-k (filters) counts parameters together with -c (input channels): give -c too, "
                         "e.g. -c 3 -k 10")
    _check(n, f, p, same, out, x_text)
    assert f is not None
    run(n, f, p, s or (1, 1), d, same, out, x_text, weights, False, channels, filters, "conv")


@calc.command()
@_options
@click.option("--ceil-mode", is_flag=True, help="Round up (PyTorch's ceil_mode).")
@click.option("--mode", type=click.Choice(["max", "avg"]), default="max", show_default=True,
              help="With --x: max or average pooling.")
def pool(n: Pair | None, f: Pair | None, p: Pair | None, s: Pair | None, d: Pair, same: bool, out: Pair | None,
         x_text: str | None, channels: int | None, ceil_mode: bool, mode: str) -> None:
    """Pooling: floor((n + 2p − f) / s) + 1, or ceil with --ceil-mode; the stride defaults to
    the kernel size, as `maxpool: 2` in a spec (and PyTorch, Keras) has it.

    \b
    Example:
      cnn calc pool --n 28 --f 2
      cnn calc pool --n 112 --f 3 --s 2 --ceil-mode
      cnn calc pool --x "1 3 2 1; 2 9 1 1; 1 3 2 3; 5 6 1 2" --f 2
    """
    _check(n, f, p, same, out, x_text)
    assert f is not None
    run(n, f, p, s or f, d, same, out, x_text, None, ceil_mode, channels, None, mode)


def matrix_with_size(text: str, flag: str, given: Pair | None, size_flag: str,
                     what: str) -> tuple[list[list[float]], Pair]:
    """The matrix written after `flag` and its (rows, columns), which a size given by `size_flag` must equal."""
    matrix = parse_matrix(text, flag)
    shape = (len(matrix), len(matrix[0]))
    if given is not None and given != shape:
        raise UsageError(f"{size_flag} {given[0]},{given[1]} disagrees with the {shape[0]}×{shape[1]} {what} "
                         f"given by {flag}")
    return matrix, shape


def run(n: Pair | None, f: Pair, p: Pair | None, s: Pair, d: Pair, same: bool, out: Pair | None, x_text: str | None,
        weights: list[list[float]] | None, ceil_mode: bool, channels: int | None, filters: int | None,
        op: str) -> None:
    """Sizes, solutions or values for one layer (`op`: conv, max or avg)."""
    x = None
    if x_text is not None:
        x, n = matrix_with_size(x_text, "--x", n, "--n", "input")
    assert n is not None
    if out is not None:
        show_solutions(n, f, out)
        return
    size = show_sizes(n, f, p, s, d, ceil_mode, same)
    if channels is not None and op != "conv":
        console.out.print(f"output volume {size[0]}×{size[1]}×{channels}; pooling has no parameters")
    elif channels is not None and filters is None:
        console.out.print(f"output {size[0]}×{size[1]} per filter; give -k (filters) to count parameters")
    elif channels is not None and filters is not None:
        console.out.print(f"output volume {size[0]}×{size[1]}×{filters}; parameters {f[0]}·{f[1]}·{channels}·{filters}"
                          f" + {filters} = {f[0] * f[1] * channels * filters + filters:,}")
    if x is None:
        return
    if op == "conv" and weights is None:
        raise UsageError("--x needs the kernel values --w for a convolution")
    if ceil_mode:
        raise UsageError("--x with --ceil-mode is not supported; pad the input instead")
    pads = _pads(n, f, p, s, d, same)
    fill = float("-inf") if op == "max" else 0.0
    cells = windows(x, f, s, pads, d, fill)
    if op == "conv":
        flat = [v for row in weights or [] for v in row]
        result = [[sum(a * b for a, b in zip(window, flat)) for window in row] for row in cells]
    elif op == "max":
        result = [[max(window) for window in row] for row in cells]
    else:  # average over the whole window, padding included (PyTorch's count_include_pad)
        result = [[sum(window) / len(window) for window in row] for row in cells]
    show_matrix(result, "output" if op == "conv" else f"{op} pooled")
