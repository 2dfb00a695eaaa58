"""The training loop: mini-batches, optimizer steps, validation, checkpoints, exact resume.

Reproducibility: the data order of epoch e comes from a generator whose state at the start
of the epoch is saved, and dropout draws from its own generator, so a run resumed from any
checkpoint (even one saved mid-epoch by Ctrl-C) takes exactly the steps the uninterrupted
run would have taken.
"""
from __future__ import annotations

import math
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from cnncli import __version__
from cnncli.data import Dataset, iterate_batches
from cnncli.engine.checkpoint import check_compatible, load_checkpoint, save_checkpoint
from cnncli.engine.kernels.loss import softmax_cross_entropy
from cnncli.engine.network import Network
from cnncli.engine.optim import OPTIMIZERS, Optimizer
from cnncli.engine.schedule import Schedule
from cnncli.errors import UsageError
from cnncli.train_config import TrainConfig

CHECKPOINT = "last.npz"


class Events(Protocol):
    """What the trainer reports; the CLI renders it (the engine never prints)."""

    def epoch_start(self, epoch: int, batches: int, done: int) -> None: ...
    def batch_end(self, epoch: int, batch: int, loss: float, accuracy: float, images_per_s: float) -> None: ...
    def epoch_end(self, record: dict[str, Any]) -> None: ...


class TrainingStopped(UsageError):
    """Training ended early (Ctrl-C or a non-finite loss); the message says what was kept."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Progress:
    """Where training stands; everything needed to continue exactly."""

    epoch: int = 0
    batch: int = 0
    step: int = 0
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    data_state: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


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


@contextmanager
def _stop_on_sigint() -> Iterator[list[bool]]:
    """The first Ctrl-C sets a flag checked between batches; a second one interrupts at once."""
    flag = [False]
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        if flag[0]:
            raise KeyboardInterrupt
        flag[0] = True

    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: leave Ctrl-C as it is
        yield flag
        return
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


class Trainer:
    """Trains a Network on Dataset with a TrainConfig, checkpointing into `out_dir`."""

    def __init__(self, network: Network, config: TrainConfig, train: Dataset, val: Dataset | None,
                 out_dir: Path, meta: dict[str, Any], events: Events) -> None:
        self.network, self.config, self.train, self.val = network, config, train, val
        self.out_dir, self.meta, self.events = out_dir, meta, events
        self.steps_per_epoch = math.ceil(len(train.y) / config.batch_size)
        args = dict(config.optimizer_args)
        lr = args.pop("lr")
        if config.optimizer.startswith("adam"):
            args["betas"] = (args.pop("beta1"), args.pop("beta2"))
        self.optimizer: Optimizer = OPTIMIZERS[config.optimizer](network.flat.size, **args)
        self.schedule = Schedule(kind=config.schedule, lr=lr, epochs=config.epochs,
                                 steps_per_epoch=self.steps_per_epoch, warmup=config.warmup, **config.schedule_args)
        self.data_rng = np.random.default_rng([config.seed, 2])
        self.progress = Progress()

    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / CHECKPOINT

    # -- checkpoints ---------------------------------------------------------------------------
    def save(self) -> None:
        p = self.progress
        meta = {**self.meta, "cnncli_version": __version__, "architecture": self.network.graph.signature(),
                "epoch": p.epoch, "batch": p.batch, "step": p.step,
                "partial": {"loss_sum": p.loss_sum, "correct": p.correct, "seen": p.seen},
                "data_state": p.data_state, "dropout_state": self.network.dropout_rng.bit_generator.state,
                "history": p.history, "config": self.config.to_json()}
        save_checkpoint(self.checkpoint_path, self.network.state(), self.optimizer.state(), meta)

    def resume(self, path: Path) -> dict[str, Any]:
        """Restore weights, optimizer, RNGs and position from a checkpoint of this spec."""
        net_arrays, optim_arrays, meta = load_checkpoint(path)
        check_compatible(path, meta, net_arrays, self.network.state(), self.network.graph.signature())
        self.network.load_state(net_arrays)
        self.optimizer.load_state(optim_arrays)
        self.network.dropout_rng.bit_generator.state = meta["dropout_state"]
        partial = meta["partial"]
        self.progress = Progress(epoch=meta["epoch"], batch=meta["batch"], step=meta["step"],
                                 loss_sum=partial["loss_sum"], correct=partial["correct"], seen=partial["seen"],
                                 data_state=meta["data_state"], history=list(meta["history"]))
        self.data_rng.bit_generator.state = meta["data_state"]
        return meta

    # -- the loop -------------------------------------------------------------------------------
    def fit(self) -> list[dict[str, Any]]:
        """Train up to `config.epochs` epochs; returns the history (one record per epoch)."""
        with _stop_on_sigint() as stop:
            while self.progress.epoch < self.config.epochs:
                self._epoch(stop)
        return self.progress.history

    def _epoch(self, stop: list[bool]) -> None:
        p = self.progress
        if p.batch == 0:
            p.data_state = self.data_rng.bit_generator.state
            p.loss_sum, p.correct, p.seen = 0.0, 0, 0
        else:  # resuming mid-epoch: replay this epoch's order from its saved start state
            self.data_rng.bit_generator.state = p.data_state
        batches = iterate_batches(self.train, self.config.batch_size, True, self.data_rng)
        self.events.epoch_start(p.epoch, self.steps_per_epoch, p.batch)
        started, images = time.perf_counter(), 0
        for b, (x, y) in enumerate(islice(batches, p.batch, None), start=p.batch):
            if stop[0]:
                self._stopped(f"interrupted in epoch {p.epoch + 1} after batch {b}")
            loss, correct = self._step(x, y)
            if not math.isfinite(loss):
                raise TrainingStopped(
                    f"the loss or its gradient became {loss} in epoch {p.epoch + 1}, batch {b + 1} (learning rate "
                    f"{self.schedule.lr_at(p.step):g}); stopped. The last good checkpoint is kept in "
                    f"{self.checkpoint_path if self.checkpoint_path.exists() else '(none yet)'}. "
                    f"Try a lower --lr, and check the data for NaN or infinite values.", exit_code=1)
            p.batch, images = b + 1, images + len(y)
            p.loss_sum, p.correct, p.seen = p.loss_sum + loss * len(y), p.correct + correct, p.seen + len(y)
            elapsed = time.perf_counter() - started
            self.events.batch_end(p.epoch, b + 1, p.loss_sum / p.seen, p.correct / p.seen,
                                  images / elapsed if elapsed > 0 else 0.0)
        seconds = time.perf_counter() - started
        record = {"epoch": p.epoch + 1, "train_loss": p.loss_sum / max(p.seen, 1),
                  "train_acc": p.correct / max(p.seen, 1), "lr": self.schedule.lr_at(max(p.step - 1, 0)),
                  "seconds": seconds, "images_per_s": images / seconds if seconds > 0 else 0.0}
        if self.val is not None and len(self.val.y):
            record["val_loss"], record["val_acc"], _ = evaluate(self.network, self.val)
        p.history.append(record)
        p.epoch, p.batch = p.epoch + 1, 0
        p.data_state = self.data_rng.bit_generator.state  # where the next epoch's order starts
        self.save()
        self.events.epoch_end(record)

    def _step(self, x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
        net = self.network
        logits = np.ascontiguousarray(net.forward(x, training=True))
        loss, dlogits = softmax_cross_entropy(logits, y)
        loss = float(loss)
        if not math.isfinite(loss):
            return loss, 0
        net.backward(dlogits)
        if not np.isfinite(net.flat_grad).all():  # e.g. an inf pixel that ReLU or max-pooling hid from the loss
            return math.nan, 0
        self.optimizer.step(net.flat, net.flat_grad, self.schedule.lr_at(self.progress.step))
        self.progress.step += 1
        return loss, int((logits.argmax(axis=1) == y).sum())

    def _stopped(self, what: str) -> None:
        self.save()
        raise TrainingStopped(f"{what}; saved {self.checkpoint_path}. Continue with --resume.", exit_code=130)
