"""The training loop on generated data: learning, exact resume, Ctrl-C, non-finite loss."""
from pathlib import Path

import numpy as np
import pytest

from cnncli.data import Dataset
from cnncli.engine.checkpoint import load_checkpoint
from cnncli.engine.network import Network
from cnncli.engine.trainer import CHECKPOINT, Trainer, TrainingStopped, evaluate
from cnncli.graph import build_graph
from cnncli.spec import load_spec_text
from cnncli.train_config import TrainConfig, load_train_config

SPEC = """
input: [1, 8, 8]
layers:
  - conv2d: {filters: 4, kernel: 3, padding: 1}
  - batchnorm
  - relu
  - maxpool: 2
  - flatten
  - dropout: 0.2
  - dense: 4
"""


def bars(n: int, seed: int) -> Dataset:
    """Four classes: a bright bar in the top, bottom, left or right half, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    x = rng.normal(0, 0.3, (n, 1, 8, 8)).astype(np.float32)
    for i, label in enumerate(y):
        region = [np.s_[1:3, :], np.s_[5:7, :], np.s_[:, 1:3], np.s_[:, 5:7]][label]
        x[i, 0][region] += 1.0
    return Dataset(np.ascontiguousarray(x), y.astype(np.int64), ["top", "bottom", "left", "right"], "generated")


class Quiet:
    """Trainer events that record, and can raise the Ctrl-C flag after a given batch."""

    def __init__(self, stop_after: int | None = None, flag: list[bool] | None = None) -> None:
        self.records, self.stop_after, self.batches = [], stop_after, 0

    def epoch_start(self, epoch, batches, done):
        pass

    def batch_end(self, epoch, batch, loss, accuracy, images_per_s):
        self.batches += 1
        if self.stop_after is not None and self.batches == self.stop_after:
            import os
            import signal
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C does

    def epoch_end(self, record):
        self.records.append(record)


def make_trainer(out: Path, epochs: int, events=None, lr: float = 0.01, seed: int = 3, **train) -> Trainer:
    graph = build_graph(load_spec_text(SPEC, "tiny.yaml"))
    config = load_train_config({"epochs": epochs, "batch_size": 16, "seed": seed,
                                "optimizer": {"adam": {"lr": lr}}, **train}, "tiny.yaml", {})
    return Trainer(Network(graph, seed=seed), config, bars(400, 1), bars(100, 2), out, {"spec_name": "tiny"},
                   events or Quiet())


def weights(trainer: Trainer) -> np.ndarray:
    return trainer.network.flat.copy()


def test_learns_well_above_chance(tmp_path):
    trainer = make_trainer(tmp_path, epochs=4)
    history = trainer.fit()
    _, accuracy, _ = evaluate(trainer.network, bars(200, 9))
    assert accuracy > 0.9  # chance is 0.25
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert (tmp_path / CHECKPOINT).exists()


def test_two_epochs_equal_one_plus_resume(tmp_path):
    straight = make_trainer(tmp_path / "a", epochs=2)
    straight.fit()
    first = make_trainer(tmp_path / "b", epochs=1)
    first.fit()
    resumed = make_trainer(tmp_path / "b", epochs=2)
    resumed.resume(tmp_path / "b" / CHECKPOINT)
    resumed.fit()
    np.testing.assert_array_equal(weights(straight), weights(resumed))
    np.testing.assert_array_equal(straight.network.buffers[1]["running_var"], resumed.network.buffers[1]["running_var"])
    assert straight.progress.history[-1]["train_loss"] == resumed.progress.history[-1]["train_loss"]


AUGMENTED = {"augment": {"crop": 2, "flip": True, "rotate": 10, "shift": 0.1, "cutout": 3},
             "label_smoothing": 0.1, "clip_grad_norm": 0.5}


@pytest.mark.parametrize("train", [{}, AUGMENTED], ids=["plain", "augmented-smoothed-clipped"])
def test_ctrl_c_saves_mid_epoch_and_resume_is_exact(tmp_path, train):
    straight = make_trainer(tmp_path / "a", epochs=2, **train)
    straight.fit()
    interrupted = make_trainer(tmp_path / "b", epochs=2, events=Quiet(stop_after=30), **train)  # epoch 2, batch 5
    with pytest.raises(TrainingStopped, match="interrupted in epoch 2 after batch 5") as stopped:
        interrupted.fit()
    assert stopped.value.exit_code == 130
    _, _, meta = load_checkpoint(tmp_path / "b" / CHECKPOINT)
    assert (meta["epoch"], meta["batch"]) == (1, 5)
    resumed = make_trainer(tmp_path / "b", epochs=2, **train)
    resumed.resume(tmp_path / "b" / CHECKPOINT)
    resumed.fit()
    np.testing.assert_array_equal(weights(straight), weights(resumed))


@pytest.mark.parametrize("setting", [{"augment": {"crop": 2}}, {"augment": {"flip": True}},
                                     {"augment": {"rotate": 20}}, {"augment": {"shift": 0.2}},
                                     {"augment": {"cutout": 3}}, {"label_smoothing": 0.2},
                                     {"clip_grad_norm": 0.05}], ids=lambda s: str(s))
def test_each_setting_changes_the_steps_and_validation_is_never_augmented(tmp_path, setting):
    """Reference: the same run without the setting (its weights must differ), and the trained network's
    own evaluation of the validation set (the recorded val_loss is the plain cross-entropy of unchanged images)."""
    plain = make_trainer(tmp_path / "plain", epochs=1)
    plain.fit()
    changed = make_trainer(tmp_path / "changed", epochs=1, **setting)
    history = changed.fit()
    assert not np.array_equal(weights(plain), weights(changed))
    loss, accuracy, _ = evaluate(changed.network, bars(100, 2))
    assert (history[0]["val_loss"], history[0]["val_acc"]) == (loss, accuracy)


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    trainer = make_trainer(tmp_path, epochs=1)
    trainer.fit()
    good = (tmp_path / CHECKPOINT).read_bytes()
    exploding = make_trainer(tmp_path, epochs=3)
    exploding.resume(tmp_path / CHECKPOINT)
    exploding.train.x[5, 0, 0, 0] = np.inf  # one corrupt pixel
    with pytest.raises(TrainingStopped, match="loss or its gradient became (nan|inf)") as stopped:
        exploding.fit()
    assert stopped.value.exit_code == 1
    assert (tmp_path / CHECKPOINT).read_bytes() == good


def test_same_seed_same_numbers(tmp_path):
    a, b = make_trainer(tmp_path / "a", epochs=1), make_trainer(tmp_path / "b", epochs=1)
    a.fit()
    b.fit()
    np.testing.assert_array_equal(weights(a), weights(b))


def test_resume_refuses_another_architecture(tmp_path):
    from cnncli.errors import UsageError

    make_trainer(tmp_path, epochs=1).fit()
    graph = build_graph(load_spec_text(SPEC.replace("filters: 4", "filters: 5"), "tiny.yaml"))
    other = Trainer(Network(graph), TrainConfig(epochs=1, optimizer_args={"lr": 0.01, "beta1": 0.9, "beta2": 0.999,
                                                                          "eps": 1e-8, "weight_decay": 0.0}),
                    bars(10, 1), None, tmp_path / "c", {}, Quiet())
    with pytest.raises(UsageError, match="different spec"):
        other.resume(tmp_path / CHECKPOINT)
