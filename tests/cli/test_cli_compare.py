"""`cnn compare`: specs side by side, and layer by layer.

References: the hand counts in the course specs' headers (DeepLearning.AI "Inception network
motivation": 3x3 conv 442,624 params / 346,816,512 MACs, 5x5 conv 1,229,056 / 963,379,200,
inception 3a 163,696 / 128,049,152) and torchvision's ResNet-18/50 figures (DESIGN.md).
"""
import json

from click.testing import CliRunner

from cnncli.cli.main import cli

COURSE = ["course/inception_vs_conv_3x3", "course/inception_vs_conv_5x5", "course/inception_vs_conv_inception"]


def run(*args: str):
    return CliRunner().invoke(cli, ["compare", *args])


def test_inception_motivation_table():
    data = json.loads(run(*COURSE, "--format", "json").stdout)
    figures = {(s["params"], s["macs"]) for s in data["specs"]}
    assert figures == {(442_624, 346_816_512), (1_229_056, 963_379_200), (163_696, 128_049_152)}
    assert all(s["output"] == [256, 28, 28] for s in data["specs"])
    assert [s["receptive_field"] for s in data["specs"]] == [[3, 3], [5, 5], [5, 5]]
    table = run(*COURSE).stdout
    assert "963,379,200 (2.78×)" in table and "128,049,152 (0.37×)" in table


def test_resnet18_vs_50_and_memory_at_a_batch_size():
    data = json.loads(run("resnet18", "resnet50", "-b", "8", "--format", "json").stdout)
    a, b = data["specs"]
    assert (a["params"], b["params"]) == (11_689_512, 25_557_032)
    assert (a["macs"], b["macs"]) == (1_814_073_344, 4_089_184_256)
    summary = json.loads(CliRunner().invoke(cli, ["summary", "resnet50", "-b", "8", "--format", "json"]).stdout)
    assert b["training_memory"] == summary["training_memory"]["total"]
    flops = json.loads(CliRunner().invoke(cli, ["flops", "resnet50", "--training", "--format", "json"]).stdout)
    assert b["training_flops"] == flops["training"]["total"]


def test_by_layer_matches_positions_and_refuses_other_skeletons():
    data = json.loads(run("lenet5", "lenet5_relu", "--by-layer", "--format", "json").stdout)
    assert data["layers"][2]["type"] == ["avgpool", "maxpool"]
    assert all(row["params"][0] == row["params"][1] for row in data["layers"])  # same weights, other functions
    result = run("lenet5", "resnet18", "--by-layer")
    assert result.exit_code == 1
    assert result.stderr.strip() == ("error: --by-layer needs two specs of one skeleton (as many layers, wired "
                                     "alike); node 10 ('dense_2' vs 'basic_1.residual_1') is wired differently; "
                                     "compare them without --by-layer")


def test_one_spec_is_not_a_comparison():
    result = run("lenet5")
    assert result.exit_code == 1 and "compare needs two specs or more" in result.stderr
