"""`cnn train --engine torch`: the same run as the Numba engine, checkpoints that cross engines, DDP.

References: the Numba engine (itself tested against PyTorch layer by layer) for the per-epoch
losses; one process at batch 64 for DDP on 2 processes at batch 32 (the property that makes
DDP correct: averaged gradients of equal shares equal the global batch's gradient).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cnncli.cli.main import cli
from cnncli.engine.checkpoint import load_checkpoint

torch = pytest.importorskip("torch")

ENGINE_SETTINGS = [
    ["--optimizer", "adam", "--lr", "0.01", "--schedule", "cosine", "--warmup", "0.5"],
    ["--optimizer", "sgd", "--lr", "0.05", "--momentum", "0.9", "--weight-decay", "0.001"],
    ["--optimizer", "adamw", "--lr", "0.01", "--weight-decay", "0.05"],
    ["--optimizer", "adam", "--lr", "0.01", "--crop", "2", "--flip", "--rotate", "10", "--shift", "0.1",
     "--cutout", "4", "--label-smoothing", "0.1", "--clip-grad-norm", "0.5"],
]


def train(spec: Path, data: Path, out: Path, *extra: str) -> None:
    result = CliRunner().invoke(cli, ["train", str(spec), "--data", str(data), "--out", str(out), "--epochs", "2",
                                      "--batch-size", "32", "--val", "0.25", *extra])
    assert result.exit_code == 0, result.output


def history(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("settings", ENGINE_SETTINGS, ids=["adam-cosine-warmup", "sgd-momentum-wd", "adamw",
                                                           "augment-smoothing-clipping"])
def test_torch_engine_takes_the_numba_engines_steps(tiny_spec, tiny_data, tmp_path, settings) -> None:
    train(tiny_spec, tiny_data, tmp_path / "numba", *settings)
    train(tiny_spec, tiny_data, tmp_path / "torch", "--engine", "torch", *settings)
    for ours, theirs in zip(history(tmp_path / "numba"), history(tmp_path / "torch")):
        for key in ("train_loss", "val_loss", "lr"):
            assert theirs[key] == pytest.approx(ours[key], rel=1e-4, abs=1e-6), key
        assert theirs["val_acc"] == pytest.approx(ours["val_acc"], abs=1 / 64 + 1e-9)
    numba_net, numba_opt, _ = load_checkpoint(tmp_path / "numba" / "last.npz")
    torch_net, torch_opt, meta = load_checkpoint(tmp_path / "torch" / "last.npz")
    assert meta["engine"] == "torch" and sorted(torch_net) == sorted(numba_net)
    for key in numba_net:
        np.testing.assert_allclose(torch_net[key], numba_net[key], rtol=1e-3, atol=1e-4, err_msg=key)
    assert sorted(torch_opt) == sorted(numba_opt)


def test_checkpoints_cross_engines(tiny_spec, tiny_data, tmp_path) -> None:
    """One epoch in each engine equals two in one, and `cnn evaluate` (Numba) reproduces the torch run's
    test accuracy. Adam with a constant rate: the optimizer state crosses too, and the schedule does not
    depend on the number of epochs."""
    settings = ["--optimizer", "adam", "--lr", "0.01"]
    train(tiny_spec, tiny_data, tmp_path / "straight", "--engine", "torch", *settings)
    runner = CliRunner()
    base = ["train", str(tiny_spec), "--data", str(tiny_data), "--batch-size", "32", "--val", "0.25", *settings]
    first = runner.invoke(cli, base + ["--out", str(tmp_path / "mixed"), "--epochs", "1", "--engine", "torch"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(cli, base + ["--out", str(tmp_path / "mixed"), "--epochs", "2", "--resume"])
    assert second.exit_code == 0, second.output
    assert "resuming from" in second.output and "(torch engine)" in second.output
    a, b = history(tmp_path / "straight"), history(tmp_path / "mixed")
    assert [r["epoch"] for r in b] == [1, 2]
    assert b[1]["train_loss"] == pytest.approx(a[1]["train_loss"], rel=1e-4)
    torch_run = runner.invoke(cli, ["train", str(tiny_spec), "--data", str(tiny_data), "--out", str(tmp_path / "t"),
                                    "--epochs", "1", "--engine", "torch"])
    reported = next(line for line in torch_run.output.splitlines() if line.startswith("test accuracy"))
    evaluated = runner.invoke(cli, ["evaluate", str(tiny_spec), "--weights", str(tmp_path / "t" / "last.npz"),
                                    "--data", str(tiny_data)])
    assert evaluated.exit_code == 0, evaluated.output
    assert reported.split()[2] in evaluated.output  # the same "NN.NN%"


def test_ctrl_c_and_resume_are_exact_in_the_torch_engine(tiny_spec, tiny_data, tmp_path) -> None:
    from cnncli.cli.common import load_graph
    from cnncli.export.common import initial_state
    from cnncli.torch_engine.distributed import Placement
    from cnncli.torch_engine.trainer import TorchBackend, build_module
    from cnncli.train_config import TrainConfig
    from cnncli.training.loop import TrainingStopped, TrainLoop
    from cnncli.training_setup import prepare_training_data

    _, graph = load_graph(str(tiny_spec))
    config = TrainConfig(epochs=2, batch_size=16, optimizer="adam",
                         optimizer_args={"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0})
    data = prepare_training_data(graph, str(tiny_data), 0.0, 0, "error")

    class StopAfter:
        def __init__(self, n: int | None) -> None:
            self.n, self.seen = n, 0

        def epoch_start(self, *a) -> None: ...
        def epoch_end(self, record) -> None: ...

        def batch_end(self, *a) -> None:
            self.seen += 1
            if self.n is not None and self.seen == self.n:
                os.kill(os.getpid(), 2)  # SIGINT, as Ctrl-C

    def loop(out: Path, events) -> TrainLoop:
        placement = Placement(torch.device("cpu"))
        module = build_module(graph, initial_state(graph, 0), placement)
        backend = TorchBackend(graph, module, config, placement)
        return TrainLoop(backend, config, data.train, None, out, {"spec_name": "tiny"}, events)

    straight = loop(tmp_path / "a", StopAfter(None))
    straight.fit()
    interrupted = loop(tmp_path / "b", StopAfter(20))  # epoch 2, batch 4
    with pytest.raises(TrainingStopped, match="interrupted in epoch 2 after batch 4"):
        interrupted.fit()
    resumed = loop(tmp_path / "b", StopAfter(None))
    resumed.resume(tmp_path / "b" / "last.npz")
    resumed.fit()
    for key, value in straight.backend.arrays()[0].items():
        np.testing.assert_array_equal(resumed.backend.arrays()[0][key], value, err_msg=key)


def test_ddp_on_two_processes_equals_one_process_at_twice_the_batch(tiny_data, tmp_path) -> None:
    """torchrun, 2 processes over gloo on loopback, batch 32 each, vs one process at batch 64 (SGD, no batch
    norm): the same weights after an epoch of 4 steps, to float32 round-off."""
    spec = tmp_path / "nobn.yaml"
    spec.write_text("input: [1, 12, 12]\nlayers:\n  - conv2d: {filters: 4, kernel: 3}\n  - relu\n  - maxpool: 2\n"
                    "  - flatten\n  - dropout: 0.0\n  - dense: 4\n")
    common = ["train", str(spec), "--data", str(tiny_data), "--engine", "torch", "--epochs", "1", "--val", "0",
              "--optimizer", "sgd", "--lr", "0.1", "--momentum", "0.9"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           "-m", "cnncli", *common, "--batch-size", "32", "--out", str(tmp_path / "ddp")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "DistributedDataParallel over 2 processes (gloo)" in done.stderr
    assert done.stdout.count("test accuracy") == 1  # process 0 alone reports
    single = CliRunner().invoke(cli, common + ["--batch-size", "64", "--out", str(tmp_path / "one")])
    assert single.exit_code == 0, single.output
    ddp, _, meta = load_checkpoint(tmp_path / "ddp" / "last.npz")
    one, _, _ = load_checkpoint(tmp_path / "one" / "last.npz")
    assert meta["world_size"] == 2 and meta["step"] == 4
    for key in one:
        np.testing.assert_allclose(ddp[key], one[key], rtol=1e-5, atol=1e-6, err_msg=key)
    from cnncli.cli.common import load_graph
    from cnncli.export.common import initial_state

    start = initial_state(load_graph(str(spec))[1], 0)
    assert all(not np.allclose(one[key], start[key]) for key in start)  # the 4 steps did move every tensor


def test_ddp_with_augmentation_batch_norm_and_early_stopping_runs_and_resumes(tiny_spec, tiny_data, tmp_path) -> None:
    """torchrun, 2 processes: augmentation (drawn per process), label smoothing, clipping, batch norm and
    best.npz/patience together; one record per epoch from process 0 alone; --resume continues the run.
    Reference: the run's own files (one metrics line per epoch, the checkpoint's position)."""
    common = ["train", str(tiny_spec), "--data", str(tiny_data), "--engine", "torch", "--val", "0.25",
              "--batch-size", "16", "--crop", "2", "--flip", "--cutout", "3", "--label-smoothing", "0.1",
              "--clip-grad-norm", "1.0", "--patience", "5", "--out", str(tmp_path / "run")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "cnncli"]
    first = subprocess.run([*torchrun, *common, "--epochs", "1"], capture_output=True, text=True, timeout=300, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    again = subprocess.run([*torchrun, *common, "--epochs", "2", "--resume"], capture_output=True, text=True,
                           timeout=300, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert sum(line.startswith("test accuracy") for line in again.stdout.splitlines()) == 1  # process 0 alone
    assert "resuming from" in again.stderr
    assert [r["epoch"] for r in history(tmp_path / "run")] == [1, 2]
    _, _, meta = load_checkpoint(tmp_path / "run" / "last.npz")
    assert (meta["epoch"], meta["world_size"], meta["engine"]) == (2, 2, "torch")
    assert (tmp_path / "run" / "best.npz").exists()
