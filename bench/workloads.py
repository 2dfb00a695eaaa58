"""The training workloads of bench/train_speed.py, built in either engine.

Both engines get the same network (ours from specs/<name>.yaml; PyTorch's from the hand-built
reference models in tests/reference/torch_zoo.py, which the zoo tests check layer by layer
against the same spec), the same optimizer and hyper-parameters (the spec's `train:` section),
the same batch size and the same synthetic data (standard-normal images, uniform labels), and
the same per-step work a training loop does: gather a shuffled batch, forward, loss, backward,
optimizer step, and read the loss and the number of correct predictions back as numbers.
Ours runs the real trainer step (Trainer.step: also the non-finite checks of `cnn train`).
The INFERENCE workloads time what `cnn evaluate` does per batch instead: an evaluation-mode
forward and the loss (ours: the loop of trainer.evaluate_scores; PyTorch: model.eval() under
torch.no_grad()).
"""
from __future__ import annotations

import importlib.util
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORKLOADS: dict[str, tuple[str, int]] = {  # label -> (spec name, batch size)
    "LeNet-5 b64": ("lenet5_relu", 64),
    "LeNet-5 b256": ("lenet5_relu", 256),
    "ResNet-20 b64": ("resnet20_cifar", 64),
    "MobileNet b64": ("mobilenet_mnist", 64),
}
INFERENCE: dict[str, tuple[str, int]] = {  # label -> (spec name, batch size): eval-mode forward only
    "LeNet-5 eval b256": ("lenet5_relu", 256),
    "ResNet-20 eval b256": ("resnet20_cifar", 256),
    "MobileNet eval b256": ("mobilenet_mnist", 256),
}
IMAGES = 4096  # synthetic training set size: batches are gathered from it in shuffled order

Step = Callable[[], float]


def spec_path(name: str) -> Path:
    return ROOT / "specs" / f"{name}.yaml"


def optimizer_of(name: str) -> tuple[str, dict[str, Any]]:
    """(optimizer, its arguments) from the spec's `train:` section."""
    import yaml

    (kind, args), = yaml.safe_load(spec_path(name).read_text())["train"]["optimizer"].items()
    return kind, dict(args)


def synthetic(shape: tuple[int, ...], classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((IMAGES, *shape), dtype=np.float32)
    return x, rng.integers(0, classes, IMAGES).astype(np.int64)


def _batches(data: Any, batch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Full batches forever, reshuffled every epoch, as `cnn train` draws them."""
    from cnncli.data import iterate_batches

    rng = np.random.default_rng(1)
    while True:
        for x, y in iterate_batches(data, batch, True, rng):
            if len(y) == batch:
                yield x, y


def _spec_workload(name: str, batch: int) -> tuple[Any, Any, Any]:
    """(graph, synthetic Dataset, TrainConfig) for a zoo spec, as `cnn train` would build them."""
    from cnncli.data import Dataset
    from cnncli.graph import build_graph
    from cnncli.spec import load_spec
    from cnncli.train_config import load_train_config

    graph = build_graph(load_spec(spec_path(name)))
    classes = graph.output.layer.out_shape[0]
    x, y = synthetic(tuple(graph.input_shape), classes)
    data = Dataset(x, y, [str(i) for i in range(classes)], "synthetic")
    kind, args = optimizer_of(name)
    config = load_train_config({"epochs": 1, "batch_size": batch, "seed": 0, "optimizer": {kind: args}},
                               f"{name}.yaml", {})
    return graph, data, config


def build_ours(name: str, batch: int) -> Step:
    """One training step of our engine; returns the batch loss."""
    from cnncli.engine.network import Network
    from cnncli.engine.trainer import Trainer

    graph, data, config = _spec_workload(name, batch)
    out = Path(tempfile.gettempdir()) / "cnncli-bench"  # never written: no checkpoints are saved
    trainer = Trainer(Network(graph, seed=0), config, data, None, out, {}, events=None)  # type: ignore[arg-type]
    batches = _batches(data, batch)

    def step() -> float:
        xb, yb = next(batches)
        loss, _correct = trainer.step(xb, yb)
        return loss

    return step


def build_ours_eval(name: str, batch: int) -> Step:
    """One batch of `cnn evaluate` in our engine (trainer.evaluate_scores' loop body); returns the loss."""
    from cnncli.engine.kernels.loss import softmax_cross_entropy
    from cnncli.engine.network import Network

    graph, data, _config = _spec_workload(name, batch)
    network = Network(graph, seed=0)
    batches = _batches(data, batch)

    def step() -> float:
        xb, yb = next(batches)
        loss, _ = softmax_cross_entropy(np.ascontiguousarray(network.forward(xb, training=False)), yb)
        return float(loss)

    return step


def build_torch_engine(name: str, batch: int) -> Step:
    """One step of `cnn train --engine torch`: the spec's graph as a torch module (cnncli.torch_engine),
    with its loss, finite checks and the loss and accuracy read back, on the CPU."""
    import torch

    from cnncli.export.common import initial_state
    from cnncli.torch_engine.distributed import Placement
    from cnncli.torch_engine.trainer import TorchBackend, build_module

    graph, data, config = _spec_workload(name, batch)
    placement = Placement(torch.device("cpu"))
    backend = TorchBackend(graph, build_module(graph, initial_state(graph, 0), placement), config, placement)
    batches = _batches(data, batch)

    def step() -> float:
        xb, yb = next(batches)
        loss_sum, _correct, count = backend.step(xb, yb, config.lr)
        return loss_sum / count

    return step


def _torch_zoo() -> Any:
    spec = importlib.util.spec_from_file_location("cnncli_torch_zoo", ROOT / "tests" / "reference" / "torch_zoo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _torch_model(name: str, batch: int) -> tuple[Any, Iterator[tuple[np.ndarray, np.ndarray]]]:
    """(the hand-built PyTorch twin in training mode, its synthetic batches)."""
    import torch

    from cnncli.data import Dataset

    builder, shape = _torch_zoo().ZOO[name]
    model = builder().train()
    classes = model(torch.zeros(2, *shape)).shape[1]
    x, y = synthetic(shape, classes)
    return model, _batches(Dataset(x, y, [str(i) for i in range(classes)], "synthetic"), batch)


def build_torch_eval(name: str, batch: int) -> Step:
    """The same evaluation batch in PyTorch: model.eval() forward and loss under torch.no_grad()."""
    import torch

    model, batches = _torch_model(name, batch)
    model.eval()
    loss_fn = torch.nn.CrossEntropyLoss()

    def step() -> float:
        xb, yb = next(batches)
        with torch.no_grad():
            return loss_fn(model(torch.from_numpy(xb)), torch.from_numpy(yb)).item()

    return step


def build_torch(name: str, batch: int) -> Step:
    """The same training step in PyTorch (the usual loop: zero_grad, forward, loss, backward, step)."""
    import torch

    model, batches = _torch_model(name, batch)
    kind, args = optimizer_of(name)
    if kind == "sgd":
        opt = torch.optim.SGD(model.parameters(), **args)
    else:
        opt = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[kind](model.parameters(), **args)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step() -> float:
        xb, yb = next(batches)
        xt, yt = torch.from_numpy(xb), torch.from_numpy(yb)
        opt.zero_grad()
        logits = model(xt)
        loss = loss_fn(logits, yt)
        loss.backward()
        opt.step()
        int((logits.argmax(dim=1) == yt).sum())
        return loss.item()

    return step


def param_count_torch(name: str) -> int:
    builder, _ = _torch_zoo().ZOO[name]
    return sum(p.numel() for p in builder().parameters())
