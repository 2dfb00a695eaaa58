"""`cnn filters` and `cnn featuremaps` on a small network trained here, and their errors.

References: PyTorch (the maps of a layer equal torch's convolution, ReLU and max-pooling of
the standardised image with the checkpoint's weights), the colour maps' definitions (a kernel
of positive weights draws only red, a negative one only blue) and hand-computed figure sizes.
"""
from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cnncli.cli.main import cli
from cnncli.report.maps import DPI, save_filters

SPEC = """name: tiny
input: [1, 10, 10]
layers:
  - conv2d: {filters: 4, kernel: 3, padding: 1}
  - relu
  - maxpool: 2
  - flatten
  - dense: 3
train:
  epochs: 1
  batch_size: 16
"""


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny net trained 1 epoch on three classes of squares (as in tests/cli/test_cli_train.py)."""
    folder = tmp_path_factory.mktemp("pictures")
    (folder / "tiny.yaml").write_text(SPEC)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 96)
    x = rng.integers(0, 60, (96, 10, 10)).astype(np.uint8)
    for i, label in enumerate(y):
        a = [0, 3, 6][label]
        x[i, a:a + 4, a:a + 4] = 255
    np.savez(folder / "data.npz", x=x, y=y, classes=np.array(["tl", "mid", "br"]))
    Image.fromarray(x[0]).save(folder / "digit.png")
    result = invoke("train", folder / "tiny.yaml", "--data", folder / "data.npz", "--out", folder / "run")
    assert result.exit_code == 0, result.output
    return folder


def test_filters_png(run):
    out = run / "filters.png"
    result = invoke("filters", run / "tiny.yaml", "--weights", run / "run" / "last.npz", "-o", out)
    assert result.exit_code == 0, result.output
    image = np.asarray(Image.open(out).convert("RGB"))
    # 4 filters, one channel: a 2 x 2 grid of 0.9 in tiles; width at least 4.5 in, + 1.1 in for titles
    assert image.shape[:2] == (round((2 * 0.9 + 1.1) * DPI), round(4.5 * DPI))
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 50  # tiles in many shades, not a blank page


@pytest.mark.parametrize("sign", [1, -1])
def test_filter_colours_follow_the_sign(sign, tmp_path):
    # RdBu_r: positive weights are red (R > B), negative blue (B > R), zero white
    weight = sign * np.abs(np.random.default_rng(1).standard_normal((4, 1, 5, 5))).astype(np.float32)
    save_filters(weight, "signs", tmp_path / "f.png")
    pixels = np.asarray(Image.open(tmp_path / "f.png").convert("RGB")).astype(int).reshape(-1, 3)
    tiles = pixels[(pixels.max(axis=1) - pixels.min(axis=1)) > 60]  # strongly coloured pixels
    red, blue = (tiles[:, 0] > tiles[:, 2]).sum(), (tiles[:, 2] > tiles[:, 0]).sum()
    bar = 0.5 * len(tiles)  # the colour bar holds both ends of the scale; the tiles only one
    assert (red > blue + 0.1 * bar) if sign > 0 else (blue > red + 0.1 * bar)


def test_colour_filters_for_three_channels(tmp_path):
    weight = np.random.default_rng(2).standard_normal((8, 3, 3, 3)).astype(np.float32)
    assert save_filters(weight, "rgb", tmp_path / "f.png") == ""
    image = np.asarray(Image.open(tmp_path / "f.png").convert("RGB"))
    # 8 filters -> 3 columns x 3 rows of 0.9 in tiles
    assert image.shape[:2] == (round((3 * 0.9 + 1.1) * DPI), round(4.5 * DPI))


def test_featuremaps_match_pytorch(run):
    torch = pytest.importorskip("torch")
    from cnncli.cli.featuremaps import prefix_graph
    from cnncli.engine.checkpoint import load_checkpoint, run_preprocessing
    from cnncli.engine.network import Network
    from cnncli.export.common import checkpoint_state
    from cnncli.graph import build_graph
    from cnncli.spec import load_spec

    graph = build_graph(load_spec(run / "tiny.yaml"))
    state, transform = checkpoint_state(graph, run / "run" / "last.npz")
    assert transform.scale == pytest.approx(1 / 255)  # 8-bit training images
    checkpoint = run / "run" / "last.npz"
    x = run_preprocessing(checkpoint, load_checkpoint(checkpoint)[2]).images([run / "digit.png"])
    part = Network(prefix_graph(graph, "maxpool_1"))
    part.load_state(state)
    ours = part.forward(x, training=False)
    t = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(state["conv2d_1/weight"]),
                                   torch.from_numpy(state["conv2d_1/bias"]), padding=1)
    expected = torch.nn.functional.max_pool2d(torch.relu(t), 2).numpy()
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)


def test_featuremaps_png(run):
    out = run / "maps.png"
    result = invoke("featuremaps", run / "tiny.yaml", run / "digit.png", "--weights", run / "run" / "last.npz",
                    "-o", out)
    assert result.exit_code == 0, result.output
    assert "2 layers; predicted" in result.output  # conv2d_1 and maxpool_1
    image = np.asarray(Image.open(out).convert("L"))
    # 10 in wide (fewer than 16 maps); 2.4 in for the image and predictions + 1.05 in per layer
    assert image.shape == (round((2.4 + 2 * 1.05) * DPI), round(10 * DPI))
    assert image.std() > 10


@pytest.mark.parametrize("command, extra, message", [
    ("filters", ["--layer", "relu_1"], "--layer relu_1: it is a relu layer, without kernels to draw; "
                                       "choose a convolution: conv2d_1"),
    ("filters", ["--layer", "conv2d_9"], "--layer conv2d_9: no such node"),
    ("filters", ["-o", "f.jpg"], "`cnn filters` writes PNG"),
    ("featuremaps", ["IMAGE=tiny.yaml"], "tiny.yaml: cannot read the image (not in a format cnncli reads"),
    ("featuremaps", ["IMAGE=missing.png"], "missing.png: no such image file"),
    ("featuremaps", ["--layer", "dense_1"], "--layer dense_1: its output [3] is not a stack of maps"),
])
def test_bad_input_gets_one_line(run, command, extra, message):
    image = next((e.split("=")[1] for e in extra if e.startswith("IMAGE=")), "digit.png")
    flags = [run / e if e.endswith((".jpg", ".png")) else e for e in extra if not e.startswith("IMAGE=")]
    args = [command, run / "tiny.yaml"] + ([run / image] if command == "featuremaps" else [])
    result = invoke(*args, "--weights", run / "run" / "last.npz", *flags)
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and message in result.output, result.output


def test_weights_of_another_spec_are_refused(run):
    result = invoke("filters", "lenet5_relu", "--weights", run / "run" / "last.npz", "-o", run / "x.png")
    assert result.exit_code == 1 and "was trained with a different spec" in result.output


def test_plot_places_the_checkpoints_step_losses_in_epochs(run):
    # the trainer keeps [step, mean loss of a block of steps]; 96 images at batch 16 = 6 steps per epoch
    from cnncli.cli.plot import read_run
    from cnncli.engine.checkpoint import load_checkpoint

    history, steps = read_run(run / "run")
    _, _, meta = load_checkpoint(run / "run" / "last.npz")
    assert [r["epoch"] for r in history] == [1]
    assert steps == [(s / 6, loss) for s, loss in meta["step_losses"]] and steps[-1][0] == pytest.approx(1.0)
