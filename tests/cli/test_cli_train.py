"""`cnn train`, `evaluate` and `predict` end to end on a small generated .npz (no network)."""
import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cnncli.cli.main import cli

SPEC = """name: tiny
input: [1, 10, 10]
layers:
  - conv2d: {filters: 4, kernel: 3, padding: 1, activation: relu}
  - maxpool: 2
  - flatten
  - dense: 3
  - softmax
train:
  epochs: 3
  batch_size: 16
  optimizer: {adam: {lr: 0.01}}
"""


def blobs(n: int, seed: int, size: int = 10):
    """Three classes of 8-bit images: a bright square top-left, centre or bottom-right."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.integers(0, 60, (n, size, size)).astype(np.uint8)
    for i, label in enumerate(y):
        a = [0, size // 2 - 2, size - 4][label]
        x[i, a:a + 4, a:a + 4] = 255
    return x, y


@pytest.fixture
def setup(tmp_path):
    (tmp_path / "tiny.yaml").write_text(SPEC)
    x, y = blobs(300, 0)
    xt, yt = blobs(90, 1)
    np.savez(tmp_path / "blobs.npz", x=x, y=y, x_test=xt, y_test=yt, classes=np.array(["tl", "mid", "br"]))
    return tmp_path


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_train_evaluate_predict(setup):
    out = setup / "run"
    result = invoke("train", setup / "tiny.yaml", "--data", setup / "blobs.npz", "--out", out, "--seed", "1")
    assert result.exit_code == 0, result.output
    assert "test accuracy" in result.stdout and "confusion matrix" in result.stdout
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    accuracy = float(result.stdout.split("test accuracy ")[1].split("%")[0])
    assert accuracy > 90  # chance is 33%

    result = invoke("evaluate", setup / "tiny.yaml", "--weights", out / "last.npz", "--data", setup / "blobs.npz")
    assert result.exit_code == 0 and f"accuracy {accuracy:.2f}%" in result.stdout

    image = np.full((10, 10), 20, np.uint8)
    image[6:10, 6:10] = 255
    Image.fromarray(image).save(setup / "br.png")
    result = invoke("predict", setup / "tiny.yaml", "--weights", out / "last.npz", setup / "br.png", "-k", "2",
                    "--format", "json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["predictions"]
    assert row["image"].endswith("br.png") and row["top"][0]["class"] == "br" and len(row["top"]) == 2
    assert row["top"][0]["probability"] > row["top"][1]["probability"]


def test_existing_run_is_never_overwritten_and_resume_extends_it(setup):
    out = setup / "run"
    assert invoke("train", setup / "tiny.yaml", "--data", setup / "blobs.npz", "--out", out, "--epochs", "1"
                  ).exit_code == 0
    before = (out / "last.npz").read_bytes()
    again = invoke("train", setup / "tiny.yaml", "--data", setup / "blobs.npz", "--out", out)
    assert again.exit_code == 1 and "already holds a training run" in again.stderr
    assert (out / "last.npz").read_bytes() == before
    resumed = invoke("train", setup / "tiny.yaml", "--data", setup / "blobs.npz", "--out", out, "--resume",
                     "--epochs", "2")
    assert resumed.exit_code == 0, resumed.output
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize("data,message", [
    ("nowhere.npz", "not found"),
    ("bad.npz", "missing array 'x' (found: none of x, y, x_test, y_test, classes)"),
    ("wrong_size.npz", "--pad"),
])
def test_data_errors_are_one_clear_message(setup, data, message):
    np.savez(setup / "bad.npz", images=np.zeros((4, 10, 10)))
    np.savez(setup / "wrong_size.npz", x=np.zeros((4, 8, 8), np.uint8), y=np.array([0, 1, 2, 0]))
    result = invoke("train", setup / "tiny.yaml", "--data", setup / data, "--out", setup / "r")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and message in result.stderr
    assert result.stderr.startswith("error:")


def test_pad_fits_smaller_images_and_predict_pads_as_training_did(setup):
    """Reference: the trained network on the image zero-padded (centred) and standardised by hand."""
    x, y = blobs(60, 3, size=8)
    np.savez(setup / "small.npz", x=x, y=y)
    result = invoke("train", setup / "tiny.yaml", "--data", setup / "small.npz", "--out", setup / "r", "--pad",
                    "--epochs", "1")
    assert result.exit_code == 0, result.output
    from cnncli.engine.checkpoint import load_checkpoint

    _, _, meta = load_checkpoint(setup / "r" / "last.npz")
    pre = meta["preprocessing"]
    assert (pre["fit"], pre["height"], pre["width"]) == ("pad", 10, 10)
    Image.fromarray(x[0]).save(setup / "small.png")
    result = invoke("predict", setup / "tiny.yaml", "--weights", setup / "r" / "last.npz", setup / "small.png",
                    "--format", "json", "-k", "3")
    assert result.exit_code == 0, result.output
    got = {t["class"]: t["probability"] for t in json.loads(result.stdout)["predictions"][0]["top"]}

    from cnncli.cli.common import load_graph
    from cnncli.engine.restore import restore_network

    _, graph = load_graph(str(setup / "tiny.yaml"))
    network, _ = restore_network(graph, setup / "r" / "last.npz")
    padded = np.pad(x[0].astype(np.float32) / 255, 1)  # 8x8 centred in 10x10
    standardised = ((padded - pre["mean"][0]) / pre["std"][0])[None, None].astype(np.float32)
    expected = network.predict_proba(standardised)[0]
    for index, name in enumerate(meta["classes"]):
        assert got[name] == pytest.approx(float(expected[index]), rel=1e-5, abs=1e-7)


def test_evaluate_matches_classes_by_name_and_refuses_unknown_ones(setup):
    out = setup / "run"
    assert invoke("train", setup / "tiny.yaml", "--data", setup / "blobs.npz", "--out", out, "--epochs", "1"
                  ).exit_code == 0
    x, y = blobs(30, 5)
    keep = y > 0  # only 'mid' and 'br', named in another order
    np.savez(setup / "two.npz", x=x[keep], y=2 - y[keep], classes=np.array(["br", "mid"]))
    result = invoke("evaluate", setup / "tiny.yaml", "--weights", out / "last.npz", "--data", setup / "two.npz")
    assert result.exit_code == 0, result.output
    assert f"on {keep.sum()} images" in result.stdout and "(numba engine)" in result.stdout
    np.savez(setup / "other.npz", x=x, y=y, classes=np.array(["tl", "mid", "cat"]))
    result = invoke("evaluate", setup / "tiny.yaml", "--weights", out / "last.npz", "--data", setup / "other.npz")
    assert result.exit_code == 1 and "classes 'cat' are not among the 3 classes" in result.stderr


def test_class_count_must_match_the_last_layer(setup):
    (setup / "four.yaml").write_text(SPEC.replace("dense: 3", "dense: 4"))
    result = invoke("train", setup / "four.yaml", "--data", setup / "blobs.npz", "--out", setup / "r")
    assert result.exit_code == 1 and "outputs 4 scores but the data has 3 classes" in result.stderr


def test_train_section_errors_point_at_the_spec(setup):
    (setup / "badtrain.yaml").write_text(SPEC.replace("adam: {lr: 0.01}", "adam: {learning_rate: 0.01}"))
    result = invoke("train", setup / "badtrain.yaml", "--data", setup / "blobs.npz", "--out", setup / "r")
    assert result.exit_code == 1 and "unknown argument 'learning_rate' for adam" in result.stderr
