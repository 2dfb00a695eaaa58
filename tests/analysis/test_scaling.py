"""Width and depth multipliers (`scale:`, --width-mult, --depth-mult).

References: torchvision's `_make_divisible` (mobilenetv2.py), re-implemented here from its source
as the independent check; torchvision's ResNet-18 BasicBlock(64) with 73,984 parameters (what a
128-channel block becomes at width 0.5); EfficientNet's `round_repeats` = ceil(d · n).
"""
import json
import math

import pytest
from click.testing import CliRunner

from cnncli.cli.common import load_graph
from cnncli.cli.main import cli
from cnncli.grouping import Group, collapse
from cnncli.spec.scale import make_divisible


def torchvision_make_divisible(v, divisor=8, min_value=None):
    """torchvision.models._utils._make_divisible, verbatim."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


@pytest.mark.parametrize("channels", [3, 6, 16, 24, 32, 64, 96, 160, 320, 1280])
@pytest.mark.parametrize("width", [0.25, 0.35, 0.5, 0.75, 1.3, 2.0])
def test_channel_rounding_is_mobilenets(channels, width):
    assert make_divisible(channels * width) == torchvision_make_divisible(channels * width)


def test_width_half_resnet18_blocks_are_the_narrower_blocks():
    _, graph = load_graph("resnet18", None, 0.5)
    blocks = {g.names[0]: g for g in collapse(graph, 1) if isinstance(g, Group)}
    assert blocks["basic_3"].params == 73_984  # a 128-channel block at width 0.5 = torchvision's BasicBlock(64)
    assert graph.nodes[0].layer.out_shape == (32, 112, 112)


def test_depth_multiplier_rounds_repeats_up():
    _, graph = load_graph("resnet50", None, None, 0.33)
    repeats = [g.repeat for g in collapse(graph, 1) if isinstance(g, Group) and g.type == "bottleneck"]
    assert repeats == [math.ceil(0.33 * n) for n in (2, 3, 5, 2)] == [1, 1, 2, 1]


def test_scale_key_equals_the_flags_and_flags_win(tmp_path):
    body = "input: [3, 32, 32]\nlayers:\n  - conv2d: {filters: 64, kernel: 3}\n  - conv2d: {filters: 48, kernel: 3}\n"
    scaled = tmp_path / "scaled.yaml"
    scaled.write_text("name: s\nscale: {width: 0.25}\n" + body)
    plain = tmp_path / "plain.yaml"
    plain.write_text("name: s\n" + body)

    def shapes(*args):
        data = json.loads(CliRunner().invoke(cli, ["shapes", *args, "--format", "json"]).stdout)
        return [layer["output_shape"][0] for layer in data["layers"]]

    assert shapes(str(scaled)) == shapes(str(plain), "--width-mult", "0.25") == [16, 16]  # 64/4; 12 -> 16
    assert shapes(str(scaled), "--width-mult", "1") == [64, 48]


def test_bad_scale_is_a_message(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: s\nscale: {width: 0}\ninput: [3, 8, 8]\nlayers: [relu]\n")
    result = CliRunner().invoke(cli, ["shapes", str(path)])
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"error: {path}:2:16: scale.width: scale.width is a multiplier above 0 and at "
                                     f"most 16, got 0")
