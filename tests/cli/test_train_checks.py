"""Refusals `cnn train` makes up front: a batch that cannot fit in memory, a crafted checkpoint, --threads."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cnncli.cli.common import load_graph
from cnncli.cli.main import cli
from cnncli.cli.train_checks import check_training_memory
from cnncli.errors import UsageError
from cnncli.train_config import TrainConfig


def test_a_batch_larger_than_memory_is_refused_with_the_estimate() -> None:
    """Reference: `cnn summary`'s training memory (analysis.training_memory), which the message quotes."""
    _, graph = load_graph("resnet50")
    config = TrainConfig(batch_size=512, optimizer="sgd", optimizer_args={"lr": 0.1, "momentum": 0.9})
    with pytest.raises(UsageError) as refused:
        check_training_memory(graph, config, available=8 * 10**9)
    message = str(refused.value)
    assert message.startswith("training at batch 512 needs at least ")
    assert "8.0 GB available; use --batch-size" in message and "`cnn summary -b 512`" in message
    suggested = int(message.rsplit("--batch-size ", 1)[1].split()[0])
    check_training_memory(graph, TrainConfig(batch_size=suggested, optimizer="sgd",
                                             optimizer_args={"lr": 0.1, "momentum": 0.9}), available=8 * 10**9)
    check_training_memory(graph, config, available=10**12)  # fits


def test_threads_out_of_range_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["train", "lenet5_relu", "--data", "mnist", "--threads", "99999999999",
                                      "--out", str(tmp_path / "r")])
    assert result.exit_code == 1 and "the thread count must be between 1 and" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "r").exists()


@pytest.mark.parametrize("field,value,expected", [
    ("epoch", "five", "field 'epoch' should be int, got str"),
    ("batch", -1, "field 'batch' is negative (-1)"),
    ("history", None, "field 'history' should be list, got NoneType"),
])
def test_crafted_checkpoint_headers_are_refused(tmp_path: Path, field: str, value: object, expected: str) -> None:
    from cnncli.engine.checkpoint import load_checkpoint

    header = {"format": "cnncli-checkpoint", "version": 1, "epoch": 1, "batch": 0, "step": 3, "partial": {},
              "history": [], "config": {}, "architecture": [], field: value}
    path = tmp_path / "crafted.npz"
    np.savez(path, meta=np.frombuffer(json.dumps(header).encode(), np.uint8))
    with pytest.raises(UsageError) as refused:
        load_checkpoint(path)
    assert f"damaged checkpoint header: {expected}" in str(refused.value)


def test_a_checkpoint_with_a_huge_unused_member_is_not_unpacked(tmp_path: Path) -> None:
    """A zip member that is not ours (here 'evil.npy', declared 64 TiB) is never read."""
    from cnncli.engine.checkpoint import load_checkpoint

    header = {"format": "cnncli-checkpoint", "version": 1, "epoch": 1, "batch": 0, "step": 3, "partial": {},
              "history": [], "config": {}, "architecture": []}
    path = tmp_path / "bomb.npz"
    np.savez(path, meta=np.frombuffer(json.dumps(header).encode(), np.uint8), **{"net:a/weight": np.ones(3)})
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("evil.npy", b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, "
                                     b"'shape': (8796093022208,), }" + b" " * 40 + b"\n")
    network, _, meta = load_checkpoint(path)
    assert list(network) == ["a/weight"] and meta["step"] == 3


def test_architecture_signatures_stay_those_older_checkpoints_hold() -> None:
    """Checkpoints store the graph's signature and refuse a spec whose signature differs; a new optional
    argument must not change the signature of a spec that does not use it (reference: the line
    release 7d2df43 wrote for the zoo's LeNet-5)."""
    _, graph = load_graph("lenet5_relu")
    assert graph.signature()[0] == (
        'conv2d_1 = conv2d({"bias": true, "dilation": [1, 1], "filters": 6, "groups": 1, "kernel": [5, 5], '
        '"padding": [[2, 2], [2, 2]], "stride": [1, 1]}) <- input -> [6, 28, 28]')
    _, depthwise = load_graph_text("input: [8, 6, 6]\nlayers:\n  - conv2d: {filters: 8, kernel: 3, depthwise: true}\n")
    assert '"groups": 8' in depthwise.signature()[0] and "depthwise" not in depthwise.signature()[0]


def load_graph_text(text: str):  # type: ignore[no-untyped-def]
    from cnncli.graph import build_graph
    from cnncli.spec import load_spec_text

    spec = load_spec_text(text, "inline.yaml")
    return spec, build_graph(spec)


def test_batchnorm_eps_must_be_positive(tmp_path: Path) -> None:
    """1/sqrt(var + eps) divides by zero on a constant channel when eps = 0."""
    spec = tmp_path / "eps.yaml"
    spec.write_text("input: [3, 8, 8]\nlayers:\n  - batchnorm: {eps: 0}\n")
    result = CliRunner().invoke(cli, ["validate", str(spec)])
    assert result.exit_code == 1 and "layers[0].batchnorm.eps: eps must be > 0 for batchnorm, got 0" in result.output


def test_an_entry_with_many_keys_gets_a_short_message(tmp_path: Path) -> None:
    """A 24,000-key entry once gave a 250 KB message; the message names the first keys and the count."""
    spec = tmp_path / "keys.yaml"
    keys = ", ".join(f"k{i}: {i}" for i in range(24_000))
    spec.write_text("input: [3, 8, 8]\nlayers:\n  - {" + keys + "}\n")
    result = CliRunner().invoke(cli, ["validate", str(spec)])
    assert result.exit_code == 1 and "k0, k1, k2, k3, k4, k5, k6, k7 … (24,000 in all)" in result.output
    assert len(result.output) < 500
