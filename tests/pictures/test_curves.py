"""Learning curves and `cnn plot`; the analysis commands still import no matplotlib.

References: the smoothing against its closed form (a weighted mean of all earlier steps,
weights (1 − β)·β^(t−i) normalised by 1 − β^t, as pandas' ewm(adjust=True) computes it),
hand-computed figure sizes, and the figure's own artists (what was drawn, on which scale).
"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cnncli.cli.main import cli
from cnncli.report.plot import DPI, Run, learning_figure, save_learning_curves, smooth

HISTORY = [{"epoch": 1, "train_loss": 0.5, "train_acc": 0.84, "val_loss": 0.3, "val_acc": 0.9, "lr": 1e-3},
           {"epoch": 2, "train_loss": 0.2, "train_acc": 0.94, "val_loss": 0.15, "val_acc": 0.95, "lr": 5e-4}]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_smooth_is_the_debiased_moving_average():
    values = list(np.random.default_rng(0).uniform(0.1, 2.0, 400))
    span = 400 / 40
    beta = 1 - 2 / (span + 1)
    for t in (1, 2, 57, 400):
        weights = (1 - beta) * beta ** np.arange(t - 1, -1, -1)
        assert smooth(values)[t - 1] == pytest.approx(np.dot(weights, values[:t]) / (1 - beta ** t), rel=1e-12)
    assert smooth([0.7] * 50) == pytest.approx([0.7] * 50)


def test_one_epoch_still_draws_a_loss_curve():
    steps = [((i + 1) / 100, 2.0 * 0.97 ** i) for i in range(100)]
    fig = learning_figure([Run("", HISTORY[:1], steps)])
    loss, accuracy, rate = fig.axes[:3]
    assert loss.get_yscale() == "log"
    lines = {line.get_label(): line for line in loss.get_lines()}
    assert len(lines["train, smoothed"].get_xdata()) == 100 and len(lines["train, per step"].get_xdata()) == 100
    assert list(lines["validation"].get_xdata()) == [1]
    assert [line.get_label() for line in accuracy.get_lines()] == ["train", "validation"]
    assert [ax.get_xlabel() for ax in (loss, accuracy, rate)] == ["epoch"] * 3
    legend = fig.legends[0]
    fig.canvas.draw()
    box = legend.get_window_extent()
    assert all(box.y1 <= ax.get_window_extent().y0 for ax in (loss, accuracy, rate))  # legend below the data


def test_curves_png_size(tmp_path):
    save_learning_curves(HISTORY, tmp_path / "curves.png")
    image = np.asarray(Image.open(tmp_path / "curves.png").convert("L"))
    assert image.shape == (round(4.2 * DPI), 13 * DPI)  # 13 x 4.2 in at 150 dpi
    assert (image < 200).mean() > 0.01


def run_folder(path, history):
    path.mkdir()
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in history))
    return path


def test_plot_compares_runs(tmp_path):
    a = run_folder(tmp_path / "adam", HISTORY)
    b = run_folder(tmp_path / "sgd", [{**r, "val_acc": r["val_acc"] - 0.1} for r in HISTORY])
    out = tmp_path / "both.png"
    result = invoke("plot", a, b, "-o", out)
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (13 * DPI, round(4.2 * DPI))
    fig = learning_figure([Run("adam", HISTORY), Run("sgd", HISTORY)])
    labels = {t.get_text() for t in fig.legends[0].get_texts()}
    assert {"adam: train", "adam: validation", "sgd: train", "sgd: validation"} <= labels


def test_plot_bad_input(tmp_path):
    result = invoke("plot", tmp_path / "nowhere")
    assert result.exit_code == 1 and "no metrics.jsonl found" in result.output
    broken = run_folder(tmp_path / "broken", HISTORY)
    (broken / "metrics.jsonl").write_text(json.dumps(HISTORY[0]) + "\n{not json\n")
    result = invoke("plot", broken, "-o", tmp_path / "x.png")
    assert result.exit_code == 1 and "metrics.jsonl:2: expected one JSON object" in result.output
    result = invoke("plot", broken, "-o", tmp_path / "x.svg")
    assert result.exit_code == 1 and "writes PNG" in result.output


@pytest.mark.parametrize("command", ["shapes", "params"])
def test_analysis_imports_no_matplotlib(command):
    code = ("import sys; from cnncli.cli.main import cli\n"
            f"try:\n    cli([{command!r}, 'resnet18'], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('matplotlib', 'grandalf', 'numba', 'torch') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
