"""`cnn export --to pytorch`: the written module, checked against our analysis (parameter and buffer
counts), our Numba engine (eval-mode outputs with the same weights) and PyTorch itself (it loads
net.pt and runs). Reference: the engine, whose layers are tested against PyTorch in tests/engine."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cnncli.cli.main import cli
from cnncli.export.common import class_name, python_names
from cnncli.export.pytorch_code import pytorch_source

torch = pytest.importorskip("torch")
from cnncli.torch_engine.module import GraphModule  # noqa: E402


def import_module_file(path: Path, name: str):  # type: ignore[no-untyped-def]
    """Import a written net.py as a module of its own (it must not need cnncli)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cnn_params_totals(name: str) -> dict:
    """The totals `cnn params NAME --format json` prints."""
    result = CliRunner().invoke(cli, ["params", name, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["totals"]


def test_every_zoo_spec_exports_with_counts_and_outputs_of_the_engine(zoo_case, tmp_path: Path) -> None:
    graph = zoo_case.graph
    path = tmp_path / "net.py"
    path.write_text(pytorch_source(graph, "spec.yaml", None))
    model = getattr(import_module_file(path, f"exported_{class_name(graph.name)}"), class_name(graph.name))()
    totals = cnn_params_totals(zoo_case.name)
    assert sum(p.numel() for p in model.parameters()) == totals["params"]
    assert sum(b.numel() for n, b in model.named_buffers() if n.endswith(("running_mean", "running_var"))) \
        == totals["buffers"]
    names = python_names(graph)
    state = model.state_dict()
    for key, value in zoo_case.state.items():
        node, tensor = key.rsplit("/", 1)
        state[f"{names[node]}.{tensor}"] = torch.from_numpy(value)
    model.load_state_dict(state)
    model.eval()
    with torch.no_grad():
        got = model(torch.from_numpy(zoo_case.x)).double().numpy()
    scale = max(1.0, float(np.abs(zoo_case.expected).max()))
    np.testing.assert_allclose(got, zoo_case.expected, rtol=1e-3, atol=1e-4 * scale)
    # `cnn train --engine torch` builds the same module at run time: same state dict, same outputs
    runtime = GraphModule(graph)
    runtime.load_state_dict(model.state_dict())
    runtime.eval()
    with torch.no_grad():
        np.testing.assert_array_equal(runtime(torch.from_numpy(zoo_case.x)).double().numpy(), got)


def test_forward_follows_named_inputs_and_comments_shapes() -> None:
    from cnncli.cli.common import load_graph

    _, graph = load_graph("resnet18")
    source = pytorch_source(graph, "resnet18.yaml", None)
    assert "class ResNet18(nn.Module):" in source
    assert "import cnncli" not in source and "from cnncli" not in source
    # the first residual add reads the block's body and the max-pooled input, kept in a named variable
    assert "maxpool_1 = F.max_pool2d(x, kernel_size=3, stride=2, padding=1)  # maxpool_1: [64, 56, 56]" in source
    assert "x = x + maxpool_1  # basic_1.residual_1: [64, 56, 56]" in source
