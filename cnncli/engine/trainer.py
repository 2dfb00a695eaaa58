"""The Numba engine's side of training (cnncli.training.loop runs the loop): one step, evaluation, state."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from cnncli.data import Dataset, iterate_batches
from cnncli.engine.kernels.loss import softmax_cross_entropy
from cnncli.engine.network import Network
from cnncli.engine.optim import OPTIMIZERS, Optimizer
from cnncli.train_config import TrainConfig
from cnncli.training.loop import CHECKPOINT, Events, TrainingStopped, TrainLoop

__all__ = ["CHECKPOINT", "NumbaBackend", "Trainer", "TrainingStopped", "evaluate"]


def evaluate(network: Network, data: Dataset, batch_size: int = 256) -> tuple[float, float, np.ndarray]:
    """(mean loss, accuracy, predicted classes) in evaluation mode."""
    losses, predictions = 0.0, np.empty(len(data.y), np.int64)
    for start, (x, y) in zip(range(0, len(data.y), batch_size), iterate_batches(data, batch_size, False, None)):
        logits = np.ascontiguousarray(network.forward(x, training=False))
        loss, _ = softmax_cross_entropy(logits, y)
        losses += float(loss) * len(y)
        predictions[start:start + len(y)] = logits.argmax(axis=1)
    count = max(len(data.y), 1)
    return losses / count, float((predictions == data.y).mean()) if len(data.y) else 0.0, predictions


class NumbaBackend:
    """Steps a Network with one of our optimizers on the flat parameter vector (one process)."""

    engine = "numba"
    rank, world = 0, 1

    def __init__(self, network: Network, config: TrainConfig) -> None:
        self.network, self.graph = network, network.graph
        self.optimizer: Optimizer = OPTIMIZERS[config.optimizer](network.flat.size, **config.optimizer_kwargs())

    def step(self, x: np.ndarray, y: np.ndarray, lr: float) -> tuple[float, int, int]:
        net = self.network
        logits = np.ascontiguousarray(net.forward(x, training=True))
        loss, dlogits = softmax_cross_entropy(logits, y)
        loss = float(loss)
        if not math.isfinite(loss):
            return loss, 0, len(y)
        net.backward(dlogits)
        if not np.isfinite(net.flat_grad).all():  # e.g. an inf pixel that ReLU or max-pooling hid from the loss
            return math.nan, 0, len(y)
        self.optimizer.step(net.flat, net.flat_grad, lr)
        return loss * len(y), int((logits.argmax(axis=1) == y).sum()), len(y)

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
