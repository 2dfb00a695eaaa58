"""The block tree behind `--depth N` (cnncli.grouping).

References: the graph's own totals (every row of a collapsed table must add up to them) and
He et al. 2015, table 1 (ResNet-50's stages hold 3, 4, 6, 3 bottleneck blocks, the first of
each with a projection shortcut); Szegedy et al. 2014 (GoogLeNet has nine inception modules).
"""
import pytest

from cnncli.cli.common import load_graph
from cnncli.grouping import Group, collapse, max_depth
from cnncli.zoo import zoo_specs


def _totals(rows):
    keys = ("params", "buffers", "macs", "flops")
    out = dict.fromkeys(keys, 0)
    for row in rows:
        for key in keys:
            out[key] += getattr(row, key) if isinstance(row, Group) else getattr(row.layer, key)()
    return out


@pytest.mark.parametrize("ref", sorted(zoo_specs()))
def test_rows_add_up_to_the_graph_at_every_depth(ref):
    _, graph = load_graph(ref)
    whole = _totals(graph.nodes)
    for depth in range(1, max_depth(graph) + 2):
        rows = collapse(graph, depth)
        assert _totals(rows) == whole, depth
        # every node appears exactly once, in execution order
        flat = [n for r in rows for n in (r.nodes if isinstance(r, Group) else [r])]
        assert [n.name for n in flat] == [n.name for n in graph.nodes]


def test_resnet50_depth1_has_the_papers_stages():
    _, graph = load_graph("resnet50")
    groups = [r for r in collapse(graph, 1) if isinstance(r, Group)]
    assert [(g.type, g.repeat) for g in groups] == [
        ("bottleneck_proj", 1), ("bottleneck", 2), ("bottleneck_proj", 1), ("bottleneck", 3),
        ("bottleneck_proj", 1), ("bottleneck", 5), ("bottleneck_proj", 1), ("bottleneck", 2)]
    assert [tuple(g.out_shape) for g in groups][::2] == [(256, 56, 56), (512, 28, 28), (1024, 14, 14), (2048, 7, 7)]
    assert groups[5].names == [f"bottleneck_{k}" for k in range(6, 11)]
    # torchvision's layer3[1] has 1,117,184 params (1024->256->256->1024 with batch norm), five copies
    assert groups[5].params == 5 * 1_117_184


def test_googlenet_groups_by_depth():
    _, graph = load_graph("googlenet")
    top = [r for r in collapse(graph, 1) if isinstance(r, Group)]
    assert sum(g.type == "inception" for g in top) == 9
    assert {g.type for g in collapse(graph, 3) if isinstance(g, Group)} == {"branch"}
    branch = next(g for g in collapse(graph, 3) if isinstance(g, Group))
    assert branch.name == "inception_1.concat_1.b1" and branch.depth == 3


def test_depth_none_is_every_node_and_names_do_not_decide_groups():
    # a fused activation (`conv2d_1.relu`) has a dotted name but sits in no group
    from cnncli.graph import build_graph
    from cnncli.spec import load_spec_text
    spec = load_spec_text("name: t\ninput: [1, 8, 8]\nlayers:\n  - conv2d: {filters: 2, kernel: 3, activation: relu}\n"
                          "  - residual: {body: [conv2d: {filters: 2, kernel: 3, padding: 1}]}\n", "t.yaml")
    graph = build_graph(spec)
    assert collapse(graph, None) == graph.nodes
    rows = collapse(graph, 1)
    assert [r.name for r in rows] == ["conv2d_1", "conv2d_1.relu", "residual_1"]
    assert isinstance(rows[2], Group) and rows[2].type == "residual" and len(rows[2].nodes) == 2
