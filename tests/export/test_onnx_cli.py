"""`cnn export --to onnx --weights` end to end: a run trained by `cnn train`, exported, classifies
raw 8-bit test images in onnxruntime exactly as `cnn evaluate` does with the checkpoint."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from click.testing import CliRunner

from cnncli.cli.common import load_graph
from cnncli.cli.main import cli
from cnncli.engine.checkpoint import load_checkpoint
from cnncli.engine.network import Network

SPEC = """name: stripes
input: [1, 9, 9]
layers:
  - conv2d: {filters: 4, kernel: 3, padding: same, activation: relu}
  - batchnorm
  - maxpool: {kernel: 2, ceil_mode: true}
  - flatten
  - dense: 3
  - softmax
train:
  epochs: 1
  batch_size: 16
  optimizer: {adam: {lr: 0.003}}
"""


def stripes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three classes of 8-bit 9x9 images: a dotted row (every third pixel 255) at the top, middle or
    bottom, on uniform 0-255 noise: hard enough that one epoch leaves borderline images."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.integers(0, 256, (n, 9, 9)).astype(np.uint8)
    for i, label in enumerate(y):
        x[i, [1, 4, 7][label], ::3] = 255
    return x, y


def invoke(*args: object) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def test_exported_model_classifies_raw_pixels_as_evaluate_does(tmp_path: Path) -> None:
    # Reference: `cnn evaluate`'s accuracy on the same test images (our engine, with the run's
    # normalisation), against onnxruntime's argmax on the raw 0-255 pixels (56% when written: many
    # borderline images, so a small difference in the model would change it).
    (tmp_path / "stripes.yaml").write_text(SPEC)
    x, y = stripes(240, 0)
    x_test, y_test = stripes(97, 1)
    data = tmp_path / "stripes.npz"
    np.savez(data, x=x, y=y, x_test=x_test, y_test=y_test)
    invoke("train", tmp_path / "stripes.yaml", "--data", data, "--out", tmp_path / "run", "--seed", "2")
    checkpoint = tmp_path / "run" / "last.npz"
    evaluated = invoke("evaluate", tmp_path / "stripes.yaml", "--weights", checkpoint, "--data", data)
    accuracy = float(re.search(r"accuracy (\d+\.\d+)%", evaluated).group(1))

    invoke("export", tmp_path / "stripes.yaml", "--to", "onnx", "-o", tmp_path / "net.onnx", "--weights", checkpoint)
    model = onnx.load(str(tmp_path / "net.onnx"))
    assert "pixel values 0-255" in model.doc_string
    session = ort.InferenceSession(str(tmp_path / "net.onnx"), providers=["CPUExecutionProvider"])
    (probabilities,) = session.run(None, {"input": x_test[:, None].astype(np.float32)})
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    onnx_accuracy = 100 * float(np.mean(probabilities.argmax(axis=1) == y_test))
    assert f"{onnx_accuracy:.2f}" == f"{accuracy:.2f}"
    assert accuracy > 40  # above chance (33%): not a comparison of two untrained guessers

    # Reference: our engine with the checkpoint's weights, fed the test images standardised by hand
    # with the statistics the checkpoint recorded.
    arrays, _, meta = load_checkpoint(checkpoint)
    _, graph = load_graph(str(tmp_path / "stripes.yaml"))
    net = Network(graph)
    net.load_state(arrays)
    mean, std = meta["normalization"]["mean"][0], meta["normalization"]["std"][0]
    standardised = ((x_test[:, None] / 255 - mean) / std).astype(np.float32)
    np.testing.assert_allclose(probabilities, net.predict_proba(standardised), rtol=1e-5, atol=1e-6)
