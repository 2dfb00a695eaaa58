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


def test_evaluate_a_run_folder_uses_best_and_reports_per_class_metrics(setup):
    """Reference: the metrics recomputed by hand from the confusion matrix the JSON itself reports, and
    the accuracy `cnn evaluate --weights best.npz` prints."""
    out = setup / "run"
    result = invoke("train", setup / "tiny.yaml", "--data", setup / "blobs.npz", "--out", out, "--crop", "1",
                    "--label-smoothing", "0.1", "--clip-grad-norm", "1", "--monitor", "val_loss")
    assert result.exit_code == 0, result.output
    assert "augment: crop 1; label smoothing 0.1; clip grad norm 1" in result.stderr
    assert "estimated time: about" in result.stderr
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    best_epoch = min(records, key=lambda r: r["val_loss"])["epoch"]
    assert [r["best"] for r in records][0] and sum(r["best"] for r in records) >= 1
    result = invoke("evaluate", out, "--data", setup / "blobs.npz", "--format", "json")  # the run folder alone
    assert result.exit_code == 0, result.output
    assert f"weights: {out / 'best.npz'} (epoch {best_epoch}, the best val_loss" in result.stderr
    report = json.loads(result.stdout)
    assert report["epoch"] == best_epoch and report["weights"] == str(out / "best.npz")
    counts = np.array(report["confusion_matrix"])
    assert counts.sum() == report["images"] == 90
    for c, row in enumerate(report["classes"]):
        tp = counts[c, c]
        assert row["support"] == counts[c].sum()
        assert row["precision"] == pytest.approx(tp / counts[:, c].sum() if counts[:, c].sum() else 0.0)
        assert row["recall"] == pytest.approx(tp / counts[c].sum())
    assert report["accuracy"] == pytest.approx(np.trace(counts) / 90)
    assert "top_k" not in report  # 3 classes: no top-k unless asked
    table = invoke("evaluate", setup / "tiny.yaml", "--weights", out, "--data",
                   setup / "blobs.npz", "-k", "2")
    assert table.exit_code == 0 and f"accuracy {report['accuracy']:.2%}, top-2" in table.stdout
    csv_out = invoke("evaluate", out, "--data", setup / "blobs.npz", "--format", "csv", "-k", "2").stdout.splitlines()
    assert csv_out[0] == "class,precision,recall,f1,support" and csv_out[1].startswith("tl,")
    assert csv_out[-1].startswith("top-2 accuracy,,,") and csv_out[-2] == f"accuracy,,,{report['accuracy']:.4f},90"
    refused = invoke("evaluate", out, "--data", setup / "blobs.npz", "-k", "4")
    assert refused.exit_code == 1 and "only 3 classes" in refused.stderr
    markdown = invoke("evaluate", out, "--data", setup / "blobs.npz", "--format", "markdown").stdout.splitlines()
    assert markdown[0] == "| class | precision | recall | f1 | support |"
    assert markdown[-1] == f"| accuracy |  |  | {report['accuracy']:.4f} | 90 |"
    last = invoke("evaluate", setup / "tiny.yaml", "--weights", out / "last.npz", "--data", setup / "blobs.npz")
    assert f"weights: {out / 'last.npz'} (epoch 3)" in last.stderr
    missing = invoke("evaluate", setup / "tiny.yaml", "--data", setup / "blobs.npz")
    assert missing.exit_code == 1 and "evaluate needs trained weights" in missing.stderr


@pytest.mark.parametrize("args,message", [
    (["--patience", "2", "--val", "0"], "--patience 2 needs validation data"),
    (["--crop", "10"], "augmentation: crop 10 moves the image by its whole size"),
])
def test_settings_that_cannot_work_are_refused(setup, args, message):
    result = invoke("train", setup / "tiny.yaml", "--data", setup / "blobs.npz", "--out", setup / "r", *args)
    assert result.exit_code == 1 and message in result.stderr and "Traceback" not in result.output


def test_flip_on_digits_warns_and_spec_augment_errors_point_at_the_spec(setup):
    x, y = blobs(60, 4)
    np.savez(setup / "digits.npz", x=x, y=y, classes=np.array(["0", "1", "2"]))
    result = invoke("train", setup / "tiny.yaml", "--data", setup / "digits.npz", "--out", setup / "r", "--flip",
                    "--epochs", "1")
    assert result.exit_code == 0 and "warning: --flip on digits" in result.stderr
    (setup / "bad.yaml").write_text(SPEC + "  augment: {crop: 2, flip: yes please}\n")
    result = invoke("train", setup / "bad.yaml", "--data", setup / "blobs.npz", "--out", setup / "r2")
    assert result.exit_code == 1 and "train.augment.flip" in result.stderr and "expects true or false" in result.stderr


def test_a_run_folder_stands_for_its_checkpoint_in_every_command(setup):
    """predict, filters and export take the run folder as --weights: best.npz when there is one (reference:
    the same command given the file itself)."""
    out = setup / "run"
    assert invoke("train", setup / "tiny.yaml", "--data", setup / "blobs.npz", "--out", out, "--epochs", "2"
                  ).exit_code == 0
    chosen = out / ("best.npz" if (out / "best.npz").exists() else "last.npz")
    image = np.full((10, 10), 20, np.uint8)
    Image.fromarray(image).save(setup / "img.png")
    by_folder = invoke("predict", setup / "tiny.yaml", "--weights", out, setup / "img.png", "--format", "json")
    by_file = invoke("predict", setup / "tiny.yaml", "--weights", chosen, setup / "img.png", "--format", "json")
    assert by_folder.exit_code == 0, by_folder.output
    assert json.loads(by_folder.stdout)["predictions"] == json.loads(by_file.stdout)["predictions"]
    assert json.loads(by_folder.stdout)["weights"] == str(chosen)
    assert invoke("export", setup / "tiny.yaml", "--to", "pytorch", "-o", setup / "net.py", "--weights", out
                  ).exit_code == 0
    missing = invoke("predict", setup / "tiny.yaml", "--weights", setup, setup / "img.png")
    assert missing.exit_code == 1 and "not a run folder (no best.npz or last.npz)" in missing.stderr
