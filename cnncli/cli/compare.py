"""`cnn compare`: specs side by side (sizes, cost, memory, reach), or layer by layer for two."""
from __future__ import annotations

import json
from typing import Any

import click

from cnncli.analysis import OPTIMIZER_STATE, Analysis, analyze
from cnncli.cli.common import load_graph, parse_input_shape
from cnncli.errors import UsageError
from cnncli.flop_conventions import backward_flops
from cnncli.graph import Graph
from cnncli.layers.base import fmt_shape
from cnncli.report import console
from cnncli.report.columns import fmt_int, fmt_pair, megabytes
from cnncli.report.render import FORMATS
from cnncli.report.text_table import render_table


def summarize(graph: Graph, analysis: Analysis, batch_size: int, optimizer: str) -> dict[str, Any]:
    """One spec's figures: sizes, per-image cost, training memory at `batch_size`, reach."""
    t = analysis.totals
    backward = sum(backward_flops(node.layer) for node in graph.nodes)
    field = graph.output.field.size if len(graph.input_shape) == 3 else None
    return {
        "name": analysis.name, "input": list(graph.input_shape), "output": list(graph.output.layer.out_shape),
        "layers": len(graph.nodes), "params": t["params"], "buffers": t["buffers"], "macs": t["macs"],
        "flops": t["flops"], "training_flops": t["flops"] + backward,
        "training_memory": analysis.training_memory(batch_size, optimizer)["total"],
        "receptive_field": list(field) if field else None,
    }


ROWS = [("input", lambda s: fmt_shape(tuple(s["input"]))), ("output", lambda s: fmt_shape(tuple(s["output"]))),
        ("layers", lambda s: fmt_int(s["layers"])), ("params", lambda s: fmt_int(s["params"])),
        ("buffers", lambda s: fmt_int(s["buffers"])), ("MACs", lambda s: fmt_int(s["macs"])),
        ("FLOPs", lambda s: fmt_int(s["flops"])), ("training FLOPs", lambda s: fmt_int(s["training_flops"])),
        ("train mem", lambda s: megabytes(s["training_memory"])),
        ("receptive field", lambda s: fmt_pair(tuple(s["receptive_field"])) if s["receptive_field"] else "—")]


def _relative(value: int, base: int) -> str:
    return "" if base == 0 else f" ({value / base:.2f}×)"


def _wiring(graph: Graph) -> list[list[int]]:
    """Each node's inputs as positions (-1 for the network's input): the skeleton, names aside."""
    index = {node.name: i for i, node in enumerate(graph.nodes)}
    return [[index.get(name, -1) for name in node.layer.inputs] for node in graph.nodes]


def layer_rows(first: tuple[Graph, Analysis], second: tuple[Graph, Analysis]
               ) -> tuple[list[str], list[list[str]], list[dict[str, Any]]]:
    """Rows of two specs of one skeleton (as many nodes, wired alike), matched by position."""
    (graph_a, analysis_a), (graph_b, analysis_b) = first, second
    wiring_a, wiring_b = _wiring(graph_a), _wiring(graph_b)
    if wiring_a != wiring_b:
        k = next((i for i, (a, b) in enumerate(zip(wiring_a, wiring_b)) if a != b), min(len(wiring_a), len(wiring_b)))
        where = (f"node {k + 1} ('{graph_a.nodes[k].name}' vs '{graph_b.nodes[k].name}') is wired differently"
                 if k < min(len(wiring_a), len(wiring_b)) else
                 f"one has {len(wiring_a)} nodes, the other {len(wiring_b)}")
        raise UsageError(f"--by-layer needs two specs of one skeleton (as many layers, wired alike); {where}; "
                         f"compare them without --by-layer")
    pairs = list(zip(analysis_a.rows, analysis_b.rows))
    data = [{"name": [ra.name, rb.name], "type": [ra.type, rb.type],
             "output_shape": [list(ra.output_shape), list(rb.output_shape)], "params": [ra.params, rb.params],
             "macs": [ra.macs, rb.macs]} for ra, rb in pairs]
    headers = ["name", "type", "output A", "output B", "params A", "params B", "MACs A", "MACs B"]
    rows = [[ra.name if ra.name == rb.name else f"{ra.name} / {rb.name}",
             ra.type if ra.type == rb.type else f"{ra.type} / {rb.type}",
             fmt_shape(ra.output_shape), fmt_shape(rb.output_shape), fmt_int(ra.params),
             fmt_int(rb.params), fmt_int(ra.macs), fmt_int(rb.macs)] for ra, rb in pairs]
    return headers, rows, data


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC SPEC...")
@click.option("--input", "input_text", metavar="C,H,W", help="Analyse every spec with this input size.")
@click.option("--batch-size", "-b", type=click.IntRange(min=1), default=32, show_default=True,
              help="Batch size for the training memory.")
@click.option("--optimizer", type=click.Choice(sorted(OPTIMIZER_STATE)), default="adam", show_default=True)
@click.option("--by-layer", is_flag=True, help="Two specs of the same skeleton, layer by layer.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
def compare(specs: tuple[str, ...], input_text: str | None, batch_size: int, optimizer: str, by_layer: bool,
            fmt: str) -> None:
    """Specs side by side: params, buffers, MACs, training FLOPs, output, training memory at a
    batch size, receptive field; ratios are to the first spec.

    \b
    Example:
      cnn compare resnet18 resnet50
      cnn compare course/inception_vs_conv_3x3 course/inception_vs_conv_5x5 course/inception_vs_conv_inception
      cnn compare lenet5 lenet5_relu --by-layer
    """
    if len(specs) < 2:
        raise UsageError("compare needs two specs or more, e.g. cnn compare resnet18 resnet50")
    parse_input_shape(input_text)
    loaded = [load_graph(ref, input_text)[1] for ref in specs]
    analyses = [(graph, analyze(graph)) for graph in loaded]
    if by_layer:
        if len(specs) != 2:
            raise UsageError("--by-layer compares exactly two specs")
        headers, rows, data = layer_rows(analyses[0], analyses[1])
        names = [analysis.name for _, analysis in analyses]
        _emit(fmt, headers, rows, {"specs": names, "layers": data}, f"A: {names[0]}  ·  B: {names[1]}")
        return
    figures = [summarize(graph, analysis, batch_size, optimizer) for graph, analysis in analyses]
    headers = [""] + [f["name"] for f in figures]
    keys = {"params": "params", "MACs": "macs", "FLOPs": "flops", "training FLOPs": "training_flops",
            "train mem": "training_memory"}
    rows = [[label] + [show(f) + (_relative(f[keys[label]], figures[0][keys[label]]) if label in keys and i else "")
                       for i, f in enumerate(figures)] for label, show in ROWS]
    rows[ROWS.index(next(r for r in ROWS if r[0] == "train mem"))][0] = f"train mem (b={batch_size}, {optimizer})"
    _emit(fmt, headers, rows, {"batch_size": batch_size, "optimizer": optimizer, "specs": figures},
          "ratios are to the first spec; FLOPs per image (docs/conventions.md)")


def _emit(fmt: str, headers: list[str], rows: list[list[str]], data: dict[str, Any], note: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
    elif fmt == "csv":
        import csv
        import io
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerows([headers] + rows)
        click.echo(buffer.getvalue(), nl=False)
    elif fmt == "markdown":
        click.echo("\n".join("| " + " | ".join(r) + " |" for r in [headers, ["---"] * len(headers)] + rows))
    else:
        right = [False, False] + [True] * (len(headers) - 2) if headers[1] == "type" else \
            [False] + [True] * (len(headers) - 1)
        click.echo(render_table("compare", headers, rows, right))
        console.out.print(note)
