"""`depthwise: true` on conv2d: groups = the input channels (MobileNet, Howard et al. 2017).

Reference: torch.nn.Conv2d with groups = in_channels (parameter count and output shape)."""
import pytest

from cnncli.errors import SpecError
from cnncli.graph import build_graph
from cnncli.spec import load_spec_text

SPEC = ("name: mb\ninput: [3, 32, 32]\nlayers:\n  - conv2d: {filters: 32, kernel: 3, stride: 2, padding: 1}\n"
        "  - conv2d: {filters: 32, kernel: 3, padding: 1, depthwise: true%s}\n  - conv2d: {filters: 64, kernel: 1}\n")


def test_depthwise_sets_groups_to_the_input_channels():
    torch = pytest.importorskip("torch")
    graph = build_graph(load_spec_text(SPEC % "", "mb.yaml"))
    layer = graph.nodes[1].layer
    reference = torch.nn.Conv2d(32, 32, 3, padding=1, groups=32)
    assert layer.groups == 32 and layer.params() == sum(p.numel() for p in reference.parameters()) == 320
    assert list(layer.out_shape) == list(reference(torch.zeros(1, 32, 16, 16)).shape[1:])
    assert layer.macs() == 16 * 16 * 32 * 9  # one 3x3 window per output element


def test_depthwise_with_other_groups_is_refused():
    with pytest.raises(SpecError, match=r"mb.yaml:5:.*depthwise sets groups to the 32 input channels; drop groups: 4"):
        build_graph(load_spec_text(SPEC % ", groups: 4", "mb.yaml"))
