"""`cnn calc conv|pool`: the one-layer size calculator of the course notes."""
from __future__ import annotations

import click

from cnncli.report import console
from cnncli.shapes import AxisArithmetic, conv_out, dropped, effective_kernel, same_padding


def _show(n: int, f: int, p: int | None, s: int, d: int, ceil_mode: bool, same: bool, channels: int | None,
          filters: int | None) -> None:
    if same:
        pad = same_padding(n, f, s, d)
        console.out.print(f"padding 'same' (TensorFlow): out = ceil({n} / {s}) = {-(-n // s)}; total padding "
                          f"max((out − 1)·{s} + {effective_kernel(f, d)} − {n}, 0) = {sum(pad)} → "
                          f"{pad[0]} before, {pad[1]} after"
                          + ("" if pad[0] == pad[1] else " (asymmetric)"))
        if s == 1 and d == 1 and (f - 1) % 2 == 0:
            console.out.print(f"  (stride 1: p = (f − 1) / 2 = {(f - 1) // 2} each side)")
    else:
        pad = (p or 0, p or 0)
    out = conv_out(n, f, pad, s, d, ceil_mode)
    if out < 1:
        raise click.UsageError(f"the kernel ({effective_kernel(f, d)}) is larger than the padded input "
                               f"({n + sum(pad)}): no output")
    console.out.print(f"[bold]{AxisArithmetic(n, f, pad, s, d, ceil_mode, out).formula()}[/]", markup=True)
    lost = dropped(n, f, pad, s, d) if not ceil_mode else 0
    if lost:
        console.out.print(f"[yellow]floor() drops the last {lost} input row(s)/column(s)[/]", markup=True)
    if channels is not None and filters is not None:
        weights = f * f * channels * filters
        console.out.print(f"output volume {out}×{out}×{filters}; parameters {f}·{f}·{channels}·{filters} + "
                          f"{filters} = {weights + filters:,}")


def _options(func):  # type: ignore[no-untyped-def]
    for option in reversed([
        click.option("--n", "n", type=click.IntRange(min=1), required=True, help="Input size (H or W)."),
        click.option("--f", "f", type=click.IntRange(min=1), required=True, help="Kernel size."),
        click.option("--p", "p", type=click.IntRange(min=0), default=None, help="Padding each side [0]."),
        click.option("--s", "s", type=click.IntRange(min=1), default=1, show_default=True, help="Stride."),
        click.option("--d", "d", type=click.IntRange(min=1), default=1, show_default=True, help="Dilation."),
        click.option("--same", is_flag=True, help="Solve the padding as TensorFlow's 'same'."),
    ]):
        func = option(func)
    return func


@click.group()
def calc() -> None:
    """One-layer calculator: output size with the formula and the numbers in it."""


@calc.command()
@_options
@click.option("--channels", "-c", type=click.IntRange(min=1), help="Input channels (to count parameters).")
@click.option("--filters", "-k", type=click.IntRange(min=1), help="Number of filters (to count parameters).")
def conv(n: int, f: int, p: int | None, s: int, d: int, same: bool, channels: int | None,
         filters: int | None) -> None:
    """Convolution: floor((n + 2p − f) / s) + 1.

    \b
    Example:
      cnn calc conv --n 125 --f 5 --p 2 --s 2
      cnn calc conv --n 39 --f 3 -c 3 -k 10
      cnn calc conv --n 28 --f 5 --s 2 --same
    """
    if same and p is not None:
        raise click.UsageError("give either --p or --same, not both")
    _show(n, f, p, s, d, False, same, channels, filters)


@calc.command()
@_options
@click.option("--ceil-mode", is_flag=True, help="Round up (PyTorch's ceil_mode).")
def pool(n: int, f: int, p: int | None, s: int, d: int, same: bool, ceil_mode: bool) -> None:
    """Pooling: floor((n + 2p − f) / s) + 1, or ceil with --ceil-mode.

    \b
    Example:
      cnn calc pool --n 28 --f 2 --s 2
      cnn calc pool --n 112 --f 3 --s 2 --ceil-mode
    """
    if same and p is not None:
        raise click.UsageError("give either --p or --same, not both")
    _show(n, f, p, s, d, ceil_mode, same, None, None)
