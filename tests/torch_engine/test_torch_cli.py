"""What `cnn train --engine torch` and `cnn export` say to bad input: one line, non-zero exit."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from click.testing import CliRunner

from cnncli.cli.main import cli

torch = pytest.importorskip("torch")


def run(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output


def one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    assert "Traceback" not in output
    return lines[0]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_device_cuda_without_a_gpu(tiny_spec, tiny_data, tmp_path) -> None:
    code, output = run("train", tiny_spec, "--data", tiny_data, "--out", tmp_path / "r", "--engine", "torch",
                       "--device", "cuda")
    assert code == 1
    assert "--device cuda: PyTorch sees no CUDA GPU here" in one_error_line(output)
    assert not (tmp_path / "r").exists()  # refused before any file was written


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_sync_bn_needs_cuda(tiny_spec, tiny_data, tmp_path) -> None:
    code, output = run("train", tiny_spec, "--data", tiny_data, "--out", tmp_path / "r", "--engine", "torch",
                       "--sync-bn")
    assert code == 1 and "--sync-bn needs CUDA GPUs (PyTorch's SyncBatchNorm runs on them only)" in \
        one_error_line(output)


def test_torch_only_flags_need_the_torch_engine(tiny_spec, tiny_data, tmp_path) -> None:
    code, output = run("train", tiny_spec, "--data", tiny_data, "--out", tmp_path / "r", "--device", "cpu")
    assert code == 1 and "--device needs the PyTorch engine: add --engine torch" in one_error_line(output)


def test_missing_extra_says_what_to_install(tiny_spec, tiny_data, tmp_path, monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("torch", "onnx")
                        else real(name, *a))
    code, output = run("train", tiny_spec, "--data", tiny_data, "--out", tmp_path / "r", "--engine", "torch")
    assert code == 1 and one_error_line(output) == (
        "error: cnn train --engine torch needs PyTorch, which is not installed: pip install 'cnncli[torch]'")
    code, output = run("export", tiny_spec, "--to", "onnx", "-o", tmp_path / "net.onnx")
    assert code == 1 and "pip install 'cnncli[onnx]'" in one_error_line(output)


def test_export_refuses_an_unknown_target_a_wrong_suffix_and_another_specs_checkpoint(tiny_spec, tiny_data,
                                                                                      tmp_path) -> None:
    code, output = run("export", tiny_spec, "--to", "tflite", "-o", tmp_path / "net.tflite")
    assert code == 2 and "'tflite' is not one of 'onnx', 'pytorch'" in output
    code, output = run("export", tiny_spec, "--to", "pytorch", "-o", tmp_path / "net.onnx")
    assert code == 1 and "a pytorch export is written to a .py file" in one_error_line(output)
    code, output = run("train", tiny_spec, "--data", tiny_data, "--out", tmp_path / "run", "--epochs", "1")
    assert code == 0, output
    other = tmp_path / "other.yaml"
    other.write_text(tiny_spec.read_text().replace("filters: 8", "filters: 9"))
    code, output = run("export", other, "--to", "pytorch", "-o", tmp_path / "net.py", "--weights",
                       tmp_path / "run" / "last.npz")
    assert code == 1 and "was trained with a different spec" in one_error_line(output)
    assert not (tmp_path / "net.py").exists()


def test_exported_module_with_weights_classifies_raw_pixels_as_evaluate_does(tiny_spec, tiny_data, tmp_path) -> None:
    """net.py + net.pt on raw 0-255 pixels: the probabilities of our engine on the standardised test images
    (reference: the Numba engine, `cnn evaluate`'s predictions)."""
    code, output = run("train", tiny_spec, "--data", tiny_data, "--out", tmp_path / "run", "--epochs", "1")
    assert code == 0, output
    code, output = run("export", tiny_spec, "--to", "pytorch", "-o", tmp_path / "net.py", "--weights",
                       tmp_path / "run" / "last.npz")
    assert code == 0, output
    spec = importlib.util.spec_from_file_location("exported_tiny", tmp_path / "net.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert "standardises them itself" in module.__doc__
    model = module.TinyNet()
    model.load_state_dict(torch.load(tmp_path / "net.pt"))
    model.eval()
    with np.load(tiny_data) as data:
        raw = data["x_test"].astype(np.float32)
    with torch.no_grad():
        exported = model(torch.from_numpy(raw)).numpy()

    from cnncli.cli.common import load_graph
    from cnncli.engine.restore import restore_network

    _, graph = load_graph(str(tiny_spec))
    network, meta = restore_network(graph, tmp_path / "run" / "last.npz")
    norm = meta["normalization"]
    standardised = (raw / 255 - np.float32(norm["mean"][0])) / np.float32(norm["std"][0])
    ours = network.predict_proba(np.ascontiguousarray(standardised, np.float32))
    np.testing.assert_allclose(exported, ours, rtol=1e-4, atol=1e-5)
    assert meta["preprocessing"]["scale"] == pytest.approx(1 / 255)  # uint8 pixels: the model takes 0-255
