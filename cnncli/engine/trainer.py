"""The Numba engine's side of training (cnncli.training.loop runs the loop): one step, evaluation, state."""
from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from cnncli.data import Dataset, iterate_batches
from cnncli.engine import precompile
from cnncli.engine.kernels.loss import softmax_cross_entropy
from cnncli.engine.network import Network
from cnncli.engine.optim import OPTIMIZERS, Optimizer
from cnncli.engine.precompile import Compilation, CompileReport, compile_step_kernels
from cnncli.graph import Graph
from cnncli.train_config import TrainConfig
from cnncli.training.loop import CHECKPOINT, Events, TrainingStopped, TrainLoop

DRY_RUN_MAX_PARAMS = 20_000_000

__all__ = ["CHECKPOINT", "NumbaBackend", "Trainer", "TrainingStopped", "evaluate", "evaluate_scores"]


def evaluate_scores(network: Network, data: Dataset, batch_size: int = 256) -> tuple[float, np.ndarray]:
    """(mean cross-entropy without label smoothing, logits [N, K]) in evaluation mode."""
    losses, scores = 0.0, np.empty((len(data.y), network.graph.output.layer.out_shape[0]), np.float32)
    for start, (x, y) in zip(range(0, len(data.y), batch_size), iterate_batches(data, batch_size, False, None)):
        logits = np.ascontiguousarray(network.forward(x, training=False))
        loss, _ = softmax_cross_entropy(logits, y)
        losses += float(loss) * len(y)
        scores[start:start + len(y)] = logits
    return losses / max(len(data.y), 1), scores


def evaluate(network: Network, data: Dataset, batch_size: int = 256) -> tuple[float, float, np.ndarray]:
    """(mean loss, accuracy, predicted classes) in evaluation mode."""
    loss, scores = evaluate_scores(network, data, batch_size)
    predictions = scores.argmax(axis=1)
    return loss, float((predictions == data.y).mean()) if len(data.y) else 0.0, predictions


def clip_grad_norm(grad: np.ndarray, max_norm: float) -> float:
    """torch.nn.utils.clip_grad_norm_ on the flat gradient: g ← g · min(1, max_norm / (‖g‖₂ + 1e-6)), in place;
    returns ‖g‖₂ before clipping."""
    wide = grad.astype(np.float64)
    norm = float(np.sqrt(np.dot(wide, wide)))
    coef = max_norm / (norm + 1e-6)
    if coef < 1.0:
        grad *= np.float32(coef)
    return norm


def dry_run_fits(graph: Graph) -> bool:
    """Whether precompile's dry run may copy the network: not for over DRY_RUN_MAX_PARAMS parameters
    (the copy would cost memory, and compilation is little next to one epoch of such a network)."""
    return sum(node.layer.params() for node in graph.nodes) <= DRY_RUN_MAX_PARAMS


def dry_run_phases(graph: Graph, config: TrainConfig, x: np.ndarray, y: np.ndarray,
                   lr: float) -> list[Callable[[], Any]]:
    """NumbaBackend.step on (x, y) and an evaluation batch as precompile's dry run runs them: on a
    fresh network and optimizer (a training run's own, and their random streams, stay untouched),
    without the checks between the phases."""
    dry = NumbaBackend(Network(graph), config)
    net, logits = dry.network, [np.empty((0, 0), np.float32)]

    def forward() -> None:
        logits[0] = np.ascontiguousarray(net.forward(x, training=True))

    return [forward,
            lambda: softmax_cross_entropy(logits[0], y, dry.label_smoothing),
            lambda: net.backward(np.zeros_like(logits[0])),
            lambda: dry.optimizer.step(net.flat, net.flat_grad, lr),
            lambda: softmax_cross_entropy(np.ascontiguousarray(net.forward(x, training=False)), y)]


def start_compiling(graph: Graph, config: TrainConfig) -> Compilation | None:
    """Start compiling, in forked children, what the first steps will need, from a dry run on a
    batch of zeros of config.batch_size images (a batch of the data has the same types; any kernel
    this misses, the first step's own dry run finds); None when there is nothing to compile."""
    if not dry_run_fits(graph):
        return None
    x = np.zeros((config.batch_size, *graph.input_shape), np.float32)
    y = np.zeros(config.batch_size, np.int64)
    return precompile.start_compiling(dry_run_phases(graph, config, x, y, config.lr), in_background=True)


class NumbaBackend:
    """Steps a Network with one of our optimizers on the flat parameter vector (one process); the loss
    takes the config's label smoothing, the gradient its norm clipping."""

    engine = "numba"
    rank, world = 0, 1

    def __init__(self, network: Network, config: TrainConfig) -> None:
        self.network, self.graph, self.config = network, network.graph, config
        self.optimizer: Optimizer = OPTIMIZERS[config.optimizer](network.flat.size, **config.optimizer_kwargs())
        self.label_smoothing, self.clip = config.label_smoothing, config.clip_grad_norm
        self.compiled: CompileReport | None = None  # set by the first step
        self.compiling: Compilation | None = None  # see use_compilation; joined by the first step

    def step(self, x: np.ndarray, y: np.ndarray, lr: float) -> tuple[float, int, int]:
        if self.compiled is None:
            self.compiled = self.compile_kernels(x, y, lr)
        net = self.network
        logits = np.ascontiguousarray(net.forward(x, training=True))
        loss, dlogits = softmax_cross_entropy(logits, y, self.label_smoothing)
        loss = float(loss)
        if not math.isfinite(loss):
            return loss, 0, len(y)
        net.backward(dlogits)
        if not np.isfinite(net.flat_grad).all():  # e.g. an inf pixel that ReLU or max-pooling hid from the loss
            return math.nan, 0, len(y)
        if self.clip:
            clip_grad_norm(net.flat_grad, self.clip)
        self.optimizer.step(net.flat, net.flat_grad, lr)
        return loss * len(y), int((logits.argmax(axis=1) == y).sum()), len(y)

    def compile_kernels(self, x: np.ndarray, y: np.ndarray, lr: float) -> CompileReport:
        """Compile the kernels a step on (x, y) and an evaluation batch need, in parallel processes on a
        first run (precompile.py), after joining the compilation started in the background, if any
        (run_training starts one before it loads the data)."""
        report = self.compiling.finish() if self.compiling is not None else CompileReport()
        self.compiling = None
        if not dry_run_fits(self.graph):
            return report
        rest = compile_step_kernels(dry_run_phases(self.graph, self.config, x, y, lr))
        by_worker = {w: report.by_worker.get(w, []) + rest.by_worker.get(w, [])
                     for w in {**report.by_worker, **rest.by_worker}}
        return CompileReport(report.kernels + rest.kernels, by_worker, report.seconds + rest.seconds)

    def use_compilation(self, compiling: Compilation | None) -> None:
        """Take the compilation started before the data loaded (start_compiling) for the first step to
        join. None: that dry run found nothing to compile (or no second core), so the first step skips
        its own, which would find the same on every later run."""
        self.compiling = compiling
        if compiling is None:
            self.compiled = CompileReport()

    def agree(self, flag: bool) -> bool:
        return flag

    def evaluate(self, data: Dataset) -> tuple[float, float, np.ndarray]:
        return evaluate(self.network, data)

    def arrays(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        return self.network.state(), self.optimizer.state()

    def load(self, network: dict[str, np.ndarray], optimizer: dict[str, np.ndarray]) -> None:
        self.network.load_state(network)
        self.optimizer.load_state(optimizer)

    def rng_state(self) -> Any:
        return self.network.dropout_rng.bit_generator.state

    def set_rng_state(self, state: Any) -> None:
        self.network.dropout_rng.bit_generator.state = state


class Trainer(TrainLoop):
    """The training loop on the Numba engine: `Trainer(network, config, train, val, out_dir, meta, events).fit()`."""

    def __init__(self, network: Network, config: TrainConfig, train: Dataset, val: Dataset | None, out_dir: Path,
                 meta: dict[str, Any], events: Events) -> None:
        super().__init__(NumbaBackend(network, config), config, train, val, out_dir, meta, events)
        self.network = network

    def step(self, x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
        """One training step at the schedule's current rate: (mean loss, correct); what the benchmarks time."""
        loss_sum, correct, count = self.backend.step(x, y, self.schedule.lr_at(self.progress.step))
        self.progress.step += 1
        return loss_sum / count, correct
