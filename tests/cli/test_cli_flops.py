"""`cnn flops --convention` and `--training` through the CLI (JSON).

References: ptflops' README figure for ResNet-18 (1.82 GMac) and fvcore's for ResNet-18
(1.819 G); a hand count of LeNet-5's backward pass (below)."""
import json

from click.testing import CliRunner

from cnncli.cli.main import cli


def run_json(*args: str) -> dict:
    result = CliRunner().invoke(cli, ["flops", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_conventions_match_published_resnet18_figures():
    assert round(run_json("resnet18", "--convention", "ptflops")["convention"]["total"] / 1e9, 2) == 1.82
    data = run_json("resnet18", "--convention", "fvcore")
    assert round(data["convention"]["total"] / 1e9, 3) == 1.819
    assert sum(data["convention"]["layers"].values()) == data["convention"]["total"]


def test_training_flops_of_lenet5_by_hand():
    data = run_json("lenet5", "--training", "--images", "60000")
    training = data["training"]
    # backward of the weighted layers: conv1 reads the input, so only its weight gradient:
    # 2·117,600 + 4,704 (bias); conv2 2·2·240,000 + 1,600; dense 2·2·(48,000 + 10,080 + 840) + (120 + 84 + 10);
    # every other layer repeats its forward FLOPs
    weighted = (2 * 117_600 + 4_704) + (4 * 240_000 + 1_600) + 4 * (48_000 + 10_080 + 840) + 214
    others = sum(layer["flops"] for layer in data["layers"] if layer["type"] not in ("conv2d", "dense"))
    assert training["backward"] == weighted + others
    assert training["total"] == training["forward"] + training["backward"]
    assert training["forward"] == data["totals"]["flops"]
    assert training["per_epoch"] == 60000 * training["total"]


def test_images_needs_training():
    result = CliRunner().invoke(cli, ["flops", "lenet5", "--images", "10"])
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: --images gives the FLOPs per epoch of training: add --training"
