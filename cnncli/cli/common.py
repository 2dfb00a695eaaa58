"""What the analysis commands share: resolving a spec argument, --input, --format, rendering."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from cnncli.analysis import Analysis, analyze
from cnncli.errors import SpecError
from cnncli.graph import Graph, build_graph
from cnncli.report import console
from cnncli.report.columns import Column
from cnncli.report.render import FORMATS, as_csv, as_json, as_markdown, as_table
from cnncli.spec import Spec, load_spec
from cnncli.spec.loader import check_input_dims
from cnncli.spec.scale import Scale
from cnncli.zoo import find_zoo_spec, zoo_specs

CONVENTIONS = """\b
Conventions: params are learnable parameters as PyTorch counts them; buffers are
batch-norm running statistics (never added into params); MACs are multiply-accumulates
of conv and dense layers, bias excluded (torchvision's published figures; fvcore adds
batch norm: cnn flops --convention); FLOPs are 2 x MACs plus bias, normalisation,
activation, pooling and merge operations (docs/conventions.md)."""


def resolve_spec_path(ref: str) -> Path:
    """A spec argument is a file path or the name of a zoo spec (`resnet18`)."""
    path = Path(ref)
    if path.exists():
        return path
    zoo = find_zoo_spec(ref)
    if zoo is not None:
        return zoo
    names = ", ".join(zoo_specs())
    raise SpecError(None, "", f"no spec file '{ref}' and no zoo spec of that name (zoo: {names}); "
                              f"`cnn zoo` lists them")


def parse_input_shape(text: str | None) -> tuple[int, ...] | None:
    """`--input 3,224,224` (or `3x224x224`) -> (3, 224, 224)."""
    if text is None:
        return None
    parts = text.replace("x", ",").replace("×", ",").replace(" ", "").strip("[]").split(",")
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        shape = ()
    if len(shape) not in (1, 3) or min(shape, default=0) < 1:
        raise click.BadParameter(f"expected C,H,W (e.g. 3,224,224) with positive numbers, got '{text}'",
                                 param_hint="--input")
    check_input_dims(shape, None, "--input")
    return shape


def load_graph(ref: str, input_text: str | None = None, width_mult: float | None = None,
               depth_mult: float | None = None) -> tuple[Spec, Graph]:
    """Load a spec (path or zoo name) and build its graph; multipliers override the spec's `scale:`."""
    spec = load_spec(resolve_spec_path(ref), width_mult, depth_mult)
    graph = build_graph(spec, parse_input_shape(input_text))
    if spec.scale != Scale():
        graph.name += f" ({spec.scale.describe()})"
    return spec, graph


def spec_argument(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.argument("spec", metavar="SPEC")(func)


def analysis_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--input, --width-mult, --depth-mult, --depth, --wide and --format, shared by every analysis command."""
    func = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                        help="Output format; json is the same object for every analysis command.")(func)
    func = click.option("--wide", is_flag=True,
                        help="Show every column even if the table is wider than the terminal.")(func)
    func = click.option("--depth", "-d", type=click.IntRange(min=1), default=None, metavar="N",
                        help="Show blocks nested deeper than N as one row with their totals "
                             "(repeats as ×3); default: every layer.")(func)
    func = click.option("--depth-mult", type=click.FloatRange(min=0, max=16, min_open=True), metavar="D",
                        help="Depth multiplier: every repeat n becomes ceil(D·n) (EfficientNet).")(func)
    func = click.option("--width-mult", type=click.FloatRange(min=0, max=16, min_open=True), metavar="W",
                        help="Width multiplier: conv filters f become W·f, to a multiple of 8 (MobileNet).")(func)
    return click.option("--input", "input_text", metavar="C,H,W",
                        help="Override the spec's input size, e.g. 3,224,224.")(func)


def show_analysis(columns: list[Column], analysis: Analysis, fmt: str, footer: list[str],
                  extra_json: dict | None = None, wide: bool = False) -> None:
    """Print these columns of the analysis in the chosen format, then warnings on stderr."""
    if fmt == "json":
        console.out.print_json(as_json(analysis, extra_json)) if console.out.is_terminal else \
            click.echo(as_json(analysis, extra_json))
    elif fmt == "csv":
        click.echo(as_csv(analysis, columns), nl=False)
    elif fmt == "markdown":
        click.echo(as_markdown(analysis, columns), nl=False)
    else:
        title = f"{analysis.name} — input {list(analysis.input_shape)}"
        width = None if wide else console.out.width
        table, dropped = as_table(analysis, columns, title, console.out.is_terminal, width)
        click.echo(table)
        for line in footer:
            console.out.print(line, markup=True)  # footers: our markup around numbers
        if dropped:
            console.out.print(f"[dim]columns left out to fit {console.out.width} characters: {', '.join(dropped)} "
                              f"(--wide shows them)[/]", markup=True)
    for warning in analysis.warnings:
        console.warning(warning)


def load_analysis(ref: str, input_text: str | None, depth: int | None = None, width_mult: float | None = None,
                  depth_mult: float | None = None) -> Analysis:
    """Load a spec (path or zoo name), build its graph and analyse it."""
    return analyze(load_graph(ref, input_text, width_mult, depth_mult)[1], depth)
