"""`cnn diagram`: every writer shows every node and edge of the graph; bad input gets one line.

References: the graph's own node list and `inputs` (what the writers must not lose), torchvision's
ResNet-18 structure (5 identity and 3 projection shortcuts) and its published parameter count,
and Pillow/xml.etree reading the files back.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cnncli.cli.common import resolve_spec_path
from cnncli.cli.main import cli
from cnncli.diagram.layout import lay_out
from cnncli.diagram.model import build_diagram, build_until_error
from cnncli.diagram.raster import png_scale
from cnncli.graph import build_graph
from cnncli.spec import load_spec
from cnncli.spec.expand import INPUT

SVG = "{http://www.w3.org/2000/svg}"
BROKEN = """name: Broken
input: [1, 28, 28]
layers:
  - conv2d: {filters: 8, kernel: 3}
  - relu
  - residual:
      body:
        - conv2d: {filters: 16, kernel: 3, padding: 1}
        - relu
  - flatten
  - dense: 10
"""


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def graph_edges(ref: str) -> set[tuple[str, str]]:
    """(source, target) of every data edge, plus the last node -> output terminal."""
    graph = build_graph(load_spec(resolve_spec_path(ref)))
    edges = {(source, node.name) for node in graph.nodes for source in node.layer.inputs}
    return edges | {(graph.output.name, "output")}


@pytest.mark.parametrize("ref", ["googlenet", "resnet18", "lenet5"])
def test_svg_parses_and_names_every_node(ref, tmp_path):
    out = tmp_path / "net.svg"
    result = invoke("diagram", ref, "-o", out, "--show", "params,macs,rf")
    assert result.exit_code == 0, result.output
    root = ET.parse(out).getroot()
    nodes = [g for g in root.iter(f"{SVG}g") if "node" in g.get("class", "").split()]
    ids = [g.get("id") for g in nodes]
    titles = [g.find(f"{SVG}title").text for g in nodes]
    graph = build_graph(load_spec(resolve_spec_path(ref)))
    assert ids == titles == [INPUT] + [n.name for n in graph.nodes] + ["output"]
    drawn_edges = [g.find(f"{SVG}title").text for g in root.iter(f"{SVG}g") if "edge" in g.get("class", "").split()]
    assert {tuple(t.split(" → ")) for t in drawn_edges} == graph_edges(ref)
    assert len(drawn_edges) == len(graph_edges(ref))


def test_no_boxes_overlap_and_edges_flow_down():
    # GoogLeNet in full: 197 layers, 9 four-branch Inception blocks side by side
    graph, _ = build_until_error(load_spec(resolve_spec_path("googlenet")))
    layout = lay_out(build_diagram(graph), "TB")
    rects = [(p.x, p.y, p.x + p.w, p.y + p.h) for p in layout.boxes]
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    for route in layout.routes:
        ys = [y for _, y in route.path]
        assert ys == sorted(ys)  # data flows top to bottom, never back up


def test_lr_direction_flows_right():
    graph = build_graph(load_spec(resolve_spec_path("lenet5")))
    layout = lay_out(build_diagram(graph), "LR")
    xs = [p.x for p in layout.boxes]
    assert xs == sorted(xs) and len(set(round(p.y + p.h / 2, 3) for p in layout.boxes)) == 1  # one straight row


def test_png_size_and_not_blank(tmp_path):
    out = tmp_path / "net.png"
    assert invoke("diagram", "resnet18", "-o", out, "--depth", "1").exit_code == 0
    graph = build_graph(load_spec(resolve_spec_path("resnet18")))
    layout = lay_out(build_diagram(graph, depth=1), "TB")
    scale = png_scale(layout)
    image = np.asarray(Image.open(out).convert("L"))
    assert scale == 2 and image.shape == (layout.height * 2, layout.width * 2)  # 2 pixels per point
    assert 0.02 < (image < 250).mean() < 0.6  # boxes, text and edges, on a white page


def test_pdf_is_written(tmp_path):
    out = tmp_path / "net.pdf"
    assert invoke("diagram", "lenet5", "-o", out).exit_code == 0
    assert out.read_bytes()[:5] == b"%PDF-"


def test_dot_lists_every_edge(tmp_path):
    out = tmp_path / "net.dot"
    assert invoke("diagram", "googlenet", "-o", out).exit_code == 0
    text = out.read_text()
    edges = set(re.findall(r'^  "([^"]+)" -> "([^"]+)"', text, re.M))
    assert edges == graph_edges("googlenet")
    assert text.startswith("digraph") and text.rstrip().endswith("}")


def test_mermaid_lists_every_edge(tmp_path):
    out = tmp_path / "net.mmd"
    assert invoke("diagram", "resnet18", "-o", out, "--direction", "LR").exit_code == 0
    text = out.read_text()
    names = dict(re.findall(r"^  %% (.+)\n  (n\d+)[\[(]", text, re.M))
    ids = {v: k for k, v in names.items()}
    edges = {(ids[a], ids[b]) for a, b in re.findall(r"^  (n\d+) --> (n\d+)$", text, re.M)}
    assert edges == graph_edges("resnet18")
    assert "flowchart LR" in text


def test_shortcuts_of_resnet18():
    # torchvision's ResNet-18: 5 identity shortcuts (1 edge each) and 3 projection shortcuts
    # (input -> 1x1 conv -> batch norm -> add: 3 edges each)
    graph = build_graph(load_spec(resolve_spec_path("resnet18")))
    diagram = build_diagram(graph)
    assert sum(e.shortcut for e in diagram.edges) == 5 * 1 + 3 * 3


def test_depth_collapses_blocks_with_totals():
    # ResNet-18 at depth 1: stem, 7 block rows (layer1's two identical blocks as one "x2"), head
    graph = build_graph(load_spec(resolve_spec_path("resnet18")))
    diagram = build_diagram(graph, depth=1)
    groups = [b for b in diagram.boxes if b.kind == "group"]
    assert len(groups) == 7 and groups[0].repeat == 2 and "basic ×2" in groups[0].lines[0]
    params = [int(re.match(r"([\d,]+) params", line).group(1).replace(",", ""))
              for b in diagram.boxes for line in b.lines if re.match(r"[\d,]+ params", line)]
    assert sum(params) < 11_689_512  # groups always show params; single layers only with --show
    full = build_diagram(graph, depth=1, show=("params",))
    total = sum(int(m.group(1).replace(",", "")) for b in full.boxes for line in b.lines
                if (m := re.match(r"([\d,]+) params", line)))
    assert total == 11_689_512  # torchvision's published count
    assert len(diagram.edges) == len(diagram.boxes) - 1  # still one chain from input to output


def test_spec_that_does_not_fit_draws_up_to_the_failing_node(tmp_path):
    spec = tmp_path / "broken.yaml"
    spec.write_text(BROKEN)
    out = tmp_path / "broken.svg"
    result = invoke("diagram", spec, "-o", out)
    assert result.exit_code == 1
    assert result.stderr.count("error:") == 1 and "broken.yaml:6:5" in result.stderr
    root = ET.parse(out).getroot()
    nodes = {g.get("id"): g.get("class") for g in root.iter(f"{SVG}g") if "node" in g.get("class", "")}
    assert list(nodes) == ["input", "conv2d_1", "relu_1", "residual_1.conv2d_1", "residual_1.relu_1", "residual_1"]
    assert nodes["residual_1"] == "node error"
    texts = " ".join(t.text for t in root.iter(f"{SVG}text"))
    assert "add needs inputs of one shape" in texts and "flatten_1" not in texts


@pytest.mark.parametrize("args, message", [
    (["-o", "net.txt"], "unknown diagram format '.txt'"),
    (["-o", "net"], "unknown diagram format '(no extension)'"),
    (["-o", "net.svg", "--show", "flops"], "unknown item 'flops'"),
])
def test_bad_arguments_get_one_line(args, message, tmp_path):
    result = invoke("diagram", "lenet5", *[tmp_path / a if a.startswith("net") else a for a in args])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert not any(Path(tmp_path).iterdir())  # nothing written
