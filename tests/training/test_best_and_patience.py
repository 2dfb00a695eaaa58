"""best.npz, early stopping and the time estimate, on a scripted validation curve: a stand-in backend
whose validation results are given in advance and whose one weight counts the steps taken, so each
checkpoint shows which epoch it holds. Reference: the epochs worked out by hand from the curve, with
Keras's rules (strictly better; stop after `patience` epochs without improvement)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cnncli.data import Dataset
from cnncli.engine.checkpoint import load_checkpoint
from cnncli.train_config import TrainConfig
from cnncli.training import loop as loop_module
from cnncli.training.loop import TrainLoop

ADAM = {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0}


class Graph:
    def signature(self) -> list[str]:
        return ["scripted"]


class ScriptedBackend:
    """Steps add 1 to the weight; validation returns the next (loss, accuracy) of the curve."""

    engine, rank, world = "numba", 0, 1

    def __init__(self, curve: list[tuple[float, float]]) -> None:
        self.graph, self.curve, self.evaluations = Graph(), curve, 0
        self.weight = np.zeros(1, np.float32)

    def step(self, x, y, lr):
        self.weight += 1
        return 0.5 * len(y), len(y) // 2, len(y)

    def agree(self, flag):
        return flag

    def evaluate(self, data):
        loss, accuracy = self.curve[self.evaluations]
        self.evaluations += 1
        return loss, accuracy, np.zeros(len(data.y), np.int64)

    def arrays(self):
        return {"w/value": self.weight.copy()}, {}

    def load(self, network, optimizer):
        self.weight = network["w/value"].copy()

    def rng_state(self):
        return None

    def set_rng_state(self, state):
        pass


class Events:
    def __init__(self) -> None:
        self.records: list[dict] = []

    def epoch_start(self, epoch, batches, done): ...
    def batch_end(self, epoch, batch, loss, accuracy, images_per_s): ...

    def epoch_end(self, record):
        self.records.append(record)


def data(n: int) -> Dataset:
    return Dataset(np.zeros((n, 1, 2, 2), np.float32), np.arange(n, dtype=np.int64) % 2, ["a", "b"], "scripted")


def make_loop(out: Path, curve, epochs: int = 10, **settings) -> TrainLoop:
    config = TrainConfig(epochs=epochs, batch_size=16, optimizer_args=ADAM, **settings)  # 2 steps per epoch
    return TrainLoop(ScriptedBackend(curve), config, data(32), data(4), out, {"spec_name": "scripted"}, Events())


def steps_in(path: Path) -> tuple[int, float]:
    network, _, meta = load_checkpoint(path)
    return meta["epoch"], float(network["w/value"][0])


def test_best_by_val_acc_and_early_stopping(tmp_path):
    curve = [(1.0, 0.5), (0.9, 0.7), (0.8, 0.6), (0.7, 0.7), (0.6, 0.9)]  # epoch 4 only ties epoch 2
    trainer = make_loop(tmp_path, curve, patience=2)
    history = trainer.fit()
    # best: epoch 2 (0.7); epochs 3 and 4 not strictly better -> stop before epoch 5
    assert [r["best"] for r in history] == [True, True, False, False]
    assert steps_in(tmp_path / "best.npz") == (2, 4.0) and steps_in(tmp_path / "last.npz") == (4, 8.0)
    assert history[-1]["early_stop"] == {"monitor": "val_acc", "patience": 2, "best_epoch": 2}
    assert "best 70.00% after epoch 2" in trainer.stopped_early
    _, _, meta = load_checkpoint(tmp_path / "last.npz")
    assert meta["best"] == {"epoch": 2, "monitor": "val_acc", "value": 0.7, "patience": 2}
    assert meta["stopped_early"] == trainer.stopped_early
    resumed = make_loop(tmp_path, curve, patience=2)  # a resumed run knows it stopped: no further epoch
    resumed.resume(tmp_path / "last.npz")
    assert len(resumed.fit()) == 4 and resumed.backend.evaluations == 0


def test_best_by_val_loss_without_patience_trains_every_epoch(tmp_path):
    curve = [(1.0, 0.9), (0.8, 0.5), (0.9, 0.95), (0.7, 0.1)]
    history = make_loop(tmp_path, curve, epochs=4, monitor="val_loss").fit()
    assert [r["best"] for r in history] == [True, True, False, True]
    assert steps_in(tmp_path / "best.npz") == (4, 8.0)


def test_no_validation_no_best_checkpoint(tmp_path):
    config = TrainConfig(epochs=2, batch_size=16, optimizer_args=ADAM)
    history = TrainLoop(ScriptedBackend([]), config, data(32), None, tmp_path, {}, Events()).fit()
    assert "best" not in history[0] and not (tmp_path / "best.npz").exists()


def test_the_estimate_from_the_first_timed_batches(tmp_path, monkeypatch):
    """A clock that advances 1 s per reading: batch b of epoch 1 ends at b + 1 s after the epoch starts
    (one reading at the start, one per batch). The first 2 batches are not timed; at batch 4 the 2 timed
    batches span 2 s >= 1.5 s: 1 s per batch. Estimate = 4 s passed + 44 batches left (12 of this epoch's
    16, then 2 epochs of 16) x 1 s + 3 validations of 4 images at (1 s / 16 images) / 3 = 48.25 s."""
    now = [0.0]

    def clock() -> float:
        now[0] += 1.0
        return now[0]

    monkeypatch.setattr(loop_module.time, "perf_counter", clock)
    estimates = []
    config = TrainConfig(epochs=3, batch_size=16, optimizer_args=ADAM)
    curve = [(1.0, 0.5)] * 3
    trainer = TrainLoop(ScriptedBackend(curve), config, data(256), data(4), tmp_path, {}, Events(),
                        on_estimate=lambda seconds, batches: estimates.append((seconds, batches)))
    trainer.fit()
    assert estimates == [(pytest.approx(48.25), 2)]
