"""The training loop: mini-batches, optimizer steps, validation, checkpoints, exact resume.

Reproducibility: the data order of epoch e comes from a generator whose state at the start of
the epoch is saved, and dropout draws from the backend's own generator, so a run resumed from
any checkpoint (even one saved mid-epoch by Ctrl-C) takes exactly the steps the uninterrupted
run would have taken.

Data parallel training (several processes, `Backend.world` > 1): every process draws the same
permutation; a global batch is `batch_size · world` consecutive indices of it, and process r
takes every world-th of them from r (what torch's DistributedSampler does with one shared
permutation). With equal shares, the mean of the processes' mean-loss gradients is the gradient
of the global batch, so N processes at batch B take the steps one process takes at batch N·B.
A last global batch smaller than `world` is skipped (a process would get no images).

Each drawn batch is augmented here (cnncli.training.augment) before the backend sees it, so both
engines train on the same arrays. After every epoch with validation, `best.npz` is written beside
`last.npz` when the monitored value improved (cnncli.training.monitor), and training stops early
after `patience` epochs without improvement. The first batches of a run are timed for an estimate
of the whole run (`on_estimate`).
"""
from __future__ import annotations

import math
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from cnncli import __version__
from cnncli.atomic import atomic_writer
from cnncli.data import Dataset
from cnncli.engine.checkpoint import load_checkpoint, save_checkpoint, validate_resume
from cnncli.engine.schedule import Schedule
from cnncli.errors import UsageError
from cnncli.graph import Graph
from cnncli.train_config import TrainConfig
from cnncli.training.augment import augment_batch, batch_rng
from cnncli.training.monitor import BEST, best_epoch, better, describe_value, should_stop

CHECKPOINT = "last.npz"
STEP_LOSS_POINTS = 50  # per-step training loss kept for the curves: about this many points per epoch
ESTIMATE_SKIP = 2  # batches not timed for the estimate (the first ones compile kernels)
ESTIMATE_SECONDS = 1.5  # time the batches after those for at least this long (or the whole first epoch)
EVAL_COST = 1 / 3  # time of an evaluated image relative to a trained one (a forward pass of three)


class Events(Protocol):
    """What the trainer reports; the CLI renders it (the loop never prints)."""

    def epoch_start(self, epoch: int, batches: int, done: int) -> None: ...
    def batch_end(self, epoch: int, batch: int, loss: float, accuracy: float, images_per_s: float) -> None: ...
    def epoch_end(self, record: dict[str, Any]) -> None: ...


class Backend(Protocol):
    """One engine's side of training. `step` returns sums over all processes."""

    engine: str
    graph: Graph
    rank: int
    world: int

    def step(self, x: np.ndarray, y: np.ndarray, lr: float) -> tuple[float, int, int]:
        """One optimizer step: (loss · images, correct, images) summed over processes; the loss is
        non-finite when the loss or a gradient was on any process (no step is taken then)."""
        ...

    def agree(self, flag: bool) -> bool:
        """True on every process when `flag` is true on any (one process in a single-process run)."""
        ...

    def evaluate(self, data: Dataset) -> tuple[float, float, np.ndarray]:
        """(mean loss, accuracy, predicted classes) in evaluation mode."""
        ...

    def arrays(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """(network tensors keyed `<node>/<tensor>`, optimizer state as flat slots)."""
        ...

    def load(self, network: dict[str, np.ndarray], optimizer: dict[str, np.ndarray]) -> None: ...
    def rng_state(self) -> Any: ...
    def set_rng_state(self, state: Any) -> None: ...


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
    step_losses: list[list[float]] = field(default_factory=list)  # [step, mean loss of the steps since the last]


def shard_batches(data: Dataset, batch_size: int, rng: np.random.Generator, rank: int = 0,
                  world: int = 1) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """This process's part of each shuffled global batch of `batch_size · world` images (see the module notes).
    With world = 1 it draws and slices exactly as `cnncli.data.iterate_batches(data, batch_size, True, rng)`."""
    order = rng.permutation(len(data))
    size = batch_size * world
    for start in range(0, len(data), size):
        chunk = order[start:start + size]
        if len(chunk) < world:
            return
        index = chunk[rank::world] if world > 1 else chunk
        yield data.batch(index), np.take(data.y, index)


def steps_per_epoch(images: int, batch_size: int, world: int) -> int:
    """Optimizer steps in one epoch: ceil(images / (batch · world)), less a last batch too small to share."""
    size = batch_size * world
    full, rest = divmod(images, size)
    return full + (1 if rest >= world else 0)


@contextmanager
def stop_on_sigint() -> Iterator[list[bool]]:
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


class TrainLoop:
    """Trains `backend` on `train` with `config`, checkpointing into `out_dir` (process 0 writes)."""

    def __init__(self, backend: Backend, config: TrainConfig, train: Dataset, val: Dataset | None, out_dir: Path,
                 meta: dict[str, Any], events: Events, on_saved: Callable[[Progress], None] | None = None,
                 on_estimate: Callable[[float, int], None] | None = None) -> None:
        """`on_saved(progress)` runs after each checkpoint is written (the CLI rewrites metrics and curves);
        `on_estimate(seconds, batches)` once per `fit`, with the time the remaining epochs should take as
        measured on that many batches."""
        self.backend, self.config, self.train, self.val = backend, config, train, val
        self.on_saved, self.on_estimate = on_saved, on_estimate
        self.stopped_early: str | None = None
        mean, std = train.mean, train.std
        self.black = None if mean is None or std is None else (-mean / std).astype(np.float32)
        self.out_dir, self.meta, self.events = out_dir, meta, events
        self.steps_per_epoch = steps_per_epoch(len(train.y), config.batch_size, backend.world)
        self.schedule = Schedule(kind=config.schedule, lr=config.lr, epochs=config.epochs,
                                 steps_per_epoch=self.steps_per_epoch, warmup=config.warmup, **config.schedule_args)
        self.data_rng = np.random.default_rng([config.seed, 2])
        self.progress = Progress()
        self._loss_block: list[float] = []
        self._timing: list[float] | None = None  # batch end times of the first epoch of `fit`, for the estimate

    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / CHECKPOINT

    @property
    def best_path(self) -> Path:
        return self.out_dir / BEST

    @property
    def is_main(self) -> bool:
        return self.backend.rank == 0

    # -- checkpoints ---------------------------------------------------------------------------
    def save(self) -> None:
        """Write the checkpoint (process 0 only): weights, optimizer, RNGs, position and history in one file."""
        if not self.is_main:
            return
        p = self.progress
        network, optimizer = self.backend.arrays()
        meta = {**self.meta, "cnncli_version": __version__, "engine": self.backend.engine,
                "architecture": self.backend.graph.signature(),
                "world_size": self.backend.world, "epoch": p.epoch, "batch": p.batch, "step": p.step,
                "partial": {"loss_sum": p.loss_sum, "correct": p.correct, "seen": p.seen},
                "data_state": p.data_state, "dropout_state": self.backend.rng_state(),
                "history": p.history, "step_losses": p.step_losses, "config": self.config.to_json(),
                "best": self._best_json(), "stopped_early": self.stopped_early}
        save_checkpoint(self.checkpoint_path, network, optimizer, meta)
        if self.on_saved is not None:
            self.on_saved(p)

    def _best_json(self) -> dict[str, Any] | None:
        best = best_epoch(self.progress.history, self.config.monitor)
        return None if best is None else {"epoch": best[0], "monitor": self.config.monitor, "value": best[1],
                                          "patience": self.config.patience}

    def _save_best(self) -> None:
        """Copy the checkpoint just written to best.npz (atomically: a crash leaves the previous best)."""
        if not self.is_main:
            return
        with self.checkpoint_path.open("rb") as source, atomic_writer(self.best_path) as target:
            shutil.copyfileobj(source, target)

    def resume(self, path: Path) -> dict[str, Any]:
        """Restore weights, optimizer, RNGs and position from a checkpoint of this spec (either engine)."""
        net_arrays, optim_arrays, meta = load_checkpoint(path)
        validate_resume(path, meta, net_arrays, self.backend.arrays()[0], self.backend.graph.signature(),
                        self.backend.world)
        self.backend.load(net_arrays, optim_arrays)
        if meta.get("engine", "numba") == self.backend.engine:  # dropout masks continue exactly in the same engine
            self.backend.set_rng_state(meta["dropout_state"])
        partial = meta["partial"]
        self.progress = Progress(epoch=meta["epoch"], batch=meta["batch"], step=meta["step"],
                                 loss_sum=partial["loss_sum"], correct=partial["correct"], seen=partial["seen"],
                                 data_state=meta["data_state"], history=list(meta["history"]),
                                 step_losses=list(meta.get("step_losses", [])))
        self.data_rng.bit_generator.state = meta["data_state"]
        return meta

    # -- the loop -------------------------------------------------------------------------------
    def fit(self) -> list[dict[str, Any]]:
        """Train up to `config.epochs` epochs; returns the history (one record per epoch)."""
        self._timing = []
        with stop_on_sigint() as stop:
            while self.progress.epoch < self.config.epochs:
                # process 0 alone validates, so it decides for all
                if self.backend.agree(should_stop(self.progress.history, self.config.monitor, self.config.patience)):
                    self._stop_early()
                    break
                self._epoch(stop)
        return self.progress.history

    def _stop_early(self) -> None:
        epoch, value = best_epoch(self.progress.history, self.config.monitor) or (0, 0.0)
        self.progress.history[-1]["early_stop"] = {"monitor": self.config.monitor, "patience": self.config.patience,
                                                   "best_epoch": epoch}
        self.stopped_early = (f"early stopping after epoch {self.progress.epoch}: {self.config.monitor} has not "
                              f"improved for {self.config.patience} epoch{'s' if self.config.patience > 1 else ''} "
                              f"(best {describe_value(value, self.config.monitor)} after epoch {epoch}, kept in "
                              f"{self.best_path})")
        self.save()  # the checkpoint records that the run stopped

    def _epoch(self, stop: list[bool]) -> None:
        p = self.progress
        if p.batch == 0:
            p.data_state = self.data_rng.bit_generator.state
            p.loss_sum, p.correct, p.seen = 0.0, 0, 0
        else:  # resuming mid-epoch: replay this epoch's order from its saved start state
            self.data_rng.bit_generator.state = p.data_state
        batches = shard_batches(self.train, self.config.batch_size, self.data_rng, self.backend.rank,
                                self.backend.world)
        self.events.epoch_start(p.epoch, self.steps_per_epoch, p.batch)
        started, images = time.perf_counter(), 0
        augment = self.config.augment
        for b, (x, y) in enumerate(islice(batches, p.batch, None), start=p.batch):
            if self.backend.agree(stop[0]):
                self._stopped(f"interrupted in epoch {p.epoch + 1} after batch {b}")
            if augment.active:
                x = augment_batch(x, augment, batch_rng(self.config.seed, self.backend.rank, p.step), self.black)
            lr = self.schedule.lr_at(p.step)
            loss_sum, correct, count = self.backend.step(x, y, lr)
            if not math.isfinite(loss_sum):
                raise TrainingStopped(
                    f"the loss or its gradient became {loss_sum} in epoch {p.epoch + 1}, batch {b + 1} (learning "
                    f"rate {lr:g}); stopped. The last good checkpoint is kept in "
                    f"{self.checkpoint_path if self.checkpoint_path.exists() else '(none yet)'}. "
                    f"Try a lower --lr, and check the data for NaN or infinite values.", exit_code=1)
            p.step += 1
            p.batch, images = b + 1, images + count
            p.loss_sum, p.correct, p.seen = p.loss_sum + loss_sum, p.correct + correct, p.seen + count
            self._record_step_loss(loss_sum / count)
            elapsed = time.perf_counter() - started
            self._time_batch(elapsed, last=b + 1 == self.steps_per_epoch)
            self.events.batch_end(p.epoch, b + 1, p.loss_sum / p.seen, p.correct / p.seen,
                                  images / elapsed if elapsed > 0 else 0.0)
        seconds = time.perf_counter() - started
        record = {"epoch": p.epoch + 1, "train_loss": p.loss_sum / max(p.seen, 1),
                  "train_acc": p.correct / max(p.seen, 1), "lr": self.schedule.lr_at(max(p.step - 1, 0)),
                  "seconds": seconds, "images_per_s": images / seconds if seconds > 0 else 0.0}
        improved = False
        if self.val is not None and len(self.val.y) and self.is_main:
            record["val_loss"], record["val_acc"], _ = self.backend.evaluate(self.val)
            previous = best_epoch(p.history, self.config.monitor)
            improved = better(record[self.config.monitor], previous[1] if previous else None, self.config.monitor)
            record["best"] = improved
        p.history.append(record)
        p.epoch, p.batch = p.epoch + 1, 0
        p.data_state = self.data_rng.bit_generator.state  # where the next epoch's order starts
        self.save()
        if improved:
            self._save_best()
        self.events.epoch_end(record)

    def _time_batch(self, elapsed: float, last: bool) -> None:
        """Time the batches after the first ESTIMATE_SKIP; once ESTIMATE_SECONDS have passed (or the epoch
        ends), report this `fit`'s whole time: what has passed, batches left × seconds per batch, and
        validation at EVAL_COST of a trained image's time."""
        marks = self._timing
        if self.on_estimate is None or marks is None:
            return
        marks.append(elapsed)
        count = len(marks) - ESTIMATE_SKIP
        if count >= 1 and (marks[-1] - marks[ESTIMATE_SKIP - 1] >= ESTIMATE_SECONDS or last):
            per_batch = (marks[-1] - marks[ESTIMATE_SKIP - 1]) / count
        elif last:  # an epoch too short to skip the first batches
            per_batch, count = marks[-1] / len(marks), len(marks)
        else:
            return
        p = self.progress
        batches_left = self.steps_per_epoch - p.batch + (self.config.epochs - p.epoch - 1) * self.steps_per_epoch
        per_image = per_batch / (self.config.batch_size * self.backend.world)
        val_images = len(self.val.y) if self.val is not None else 0
        evaluations = (self.config.epochs - p.epoch) * val_images * per_image * EVAL_COST
        self.on_estimate(elapsed + batches_left * per_batch + evaluations, count)
        self._timing = None

    def _record_step_loss(self, loss: float) -> None:
        """Keep the mean loss of every block of steps (about STEP_LOSS_POINTS blocks per epoch)."""
        self._loss_block.append(loss)
        if len(self._loss_block) >= max(1, self.steps_per_epoch // STEP_LOSS_POINTS):
            self.progress.step_losses.append([self.progress.step, float(np.mean(self._loss_block))])
            self._loss_block = []

    def _stopped(self, what: str) -> None:
        self.save()
        raise TrainingStopped(f"{what}; saved {self.checkpoint_path}. Continue with --resume.", exit_code=130)
