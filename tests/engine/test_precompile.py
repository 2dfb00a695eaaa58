"""First-run compilation in parallel processes (cnncli/engine/precompile.py): the dry run finds the
kernels a step compiles, and a run compiled by two processes trains exactly as one compiled by one.
The reference is the engine itself compiling lazily, one kernel at a time (CNNCLI_COMPILE_WORKERS=1)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnncli.engine import precompile
from cnncli.engine.network import Network
from cnncli.engine.trainer import NumbaBackend, dry_run_phases, start_compiling
from cnncli.graph import build_graph
from cnncli.spec import load_spec_text
from cnncli.train_config import load_train_config

SPEC = """
input: [1, 12, 12]
layers:
  - conv2d: {filters: 4, kernel: 3}
  - relu
  - maxpool: 2
  - flatten
  - dense: 3
"""
STEP_KERNELS = {"flat_forward_pool", "flat_backward_pool", "_rows_gemm", "_xent", "_adam"}

# One process: a backend on SPEC takes three steps on fixed data; prints what its first step compiled
# (CompileReport) and the weights after the three steps. With "background", the compilation
# starts before the backend exists (as run_training starts it before it loads the data).
SCRIPT = """
import json, sys
import numpy as np
from cnncli.engine.setup import configure
configure(2)
from cnncli.engine.network import Network
from cnncli.engine.trainer import NumbaBackend, start_compiling
from cnncli.graph import build_graph
from cnncli.spec import load_spec_text
from cnncli.train_config import load_train_config
graph = build_graph(load_spec_text(sys.argv[1], "tiny.yaml"))
config = load_train_config({"epochs": 1, "batch_size": 16, "seed": 0, "optimizer": {"adam": {"lr": 0.01}}},
                           "tiny.yaml", {})
compiling = start_compiling(graph, config) if sys.argv[2] == "background" else None
backend = NumbaBackend(Network(graph, seed=0), config)
if compiling is not None:
    backend.use_compilation(compiling)
rng = np.random.default_rng(0)
x, y = rng.standard_normal((16, 1, 12, 12), dtype=np.float32), rng.integers(0, 3, 16)
losses = [backend.step(x, y, 0.01)[0] for _ in range(3)]
print(json.dumps({"kernels": backend.compiled.kernels, "by_worker": backend.compiled.by_worker, "losses": losses,
                  "weights": backend.network.flat.tolist()}))
"""


def assert_same_training(run: dict, reference: dict) -> None:
    """The same losses and weights as the reference run, up to float32 rounding: the same kernels,
    though compiled in another order or process (docs/engine.md: a run that compiles its kernels has
    been seen to differ from one that loads them in the last bits)."""
    np.testing.assert_allclose(run["losses"], reference["losses"], rtol=1e-6)
    np.testing.assert_allclose(run["weights"], reference["weights"], rtol=1e-5, atol=1e-7)


def backend_on(spec: str) -> NumbaBackend:
    graph = build_graph(load_spec_text(spec, "tiny.yaml"))
    config = load_train_config({"epochs": 1, "batch_size": 8, "seed": 0, "optimizer": {"adam": {"lr": 0.01}}},
                               "tiny.yaml", {})
    return NumbaBackend(Network(graph, seed=0), config)


def batch(n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return rng.standard_normal((n, 1, 12, 12), dtype=np.float32), rng.integers(0, 3, n)


def run_script(cache: Path, workers: int, mode: str = "first step") -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "CNNCLI_COMPILE_WORKERS": str(workers)}
    done = subprocess.run([sys.executable, "-c", SCRIPT, SPEC, mode], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_dry_run_records_every_kernel_of_a_step_and_computes_nothing():
    """In a fresh process no kernel is compiled yet, so the dry run sees every kernel a step calls."""
    script = """
import json
import numpy as np
from cnncli.engine import precompile
from cnncli.engine.trainer import dry_run_phases
from tests.engine.test_precompile import SPEC, backend_on, batch
backend = backend_on(SPEC)
before = backend.network.flat.copy(), backend.rng_state()
calls = precompile.record_kernel_calls(dry_run_phases(backend.graph, backend.config, *batch(), 0.01))
assert np.array_equal(backend.network.flat, before[0]) and backend.rng_state() == before[1]
assert not any(d.overloads for d, _ in calls)  # recorded, not compiled
print(json.dumps(sorted({d.py_func.__qualname__ for d, _ in calls})))
"""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(root)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert STEP_KERNELS <= set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_first_step_compiles_once_and_leaves_the_network_as_it_was(monkeypatch):
    calls = []

    def dry_run_only(phases):
        calls.append(precompile.record_kernel_calls(phases))
        return precompile.CompileReport()

    monkeypatch.setattr("cnncli.engine.trainer.compile_step_kernels", dry_run_only)
    backend, reference = backend_on(SPEC), backend_on(SPEC)
    reference.compiled = precompile.CompileReport()  # as after its first step: no dry run
    x, y = batch()
    for _ in range(2):
        assert backend.step(x, y, 0.01) == reference.step(x, y, 0.01)
    assert len(calls) == 1
    assert np.array_equal(backend.network.flat, reference.network.flat)


def test_kernels_already_compiled_are_not_compiled_again():
    backend = backend_on(SPEC)
    x, y = batch()
    backend.step(x, y, 0.01)  # everything the step needs is now compiled in this process
    calls = precompile.record_kernel_calls(dry_run_phases(backend.graph, backend.config, x, y, 0.01))
    assert precompile.kernels_to_compile(calls) == []


def test_an_unreadable_cache_leaves_compilation_to_the_first_calls(monkeypatch):
    from numba import njit

    def unreadable(dispatcher, sig):
        raise RuntimeError("a cache of another kind")

    monkeypatch.setattr(precompile, "_is_cached", unreadable)
    twice = njit(lambda a: 2 * a)
    calls = precompile.record_kernel_calls([lambda: twice(21)])
    assert [d for d, _ in calls] == [twice] and not twice.overloads
    assert precompile.kernels_to_compile(calls) is None
    assert precompile.compile_step_kernels([lambda: twice(21)], workers=2).kernels == []
    assert twice(21) == 42  # compiled at its first call, as without precompile


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parallel compilation forks (Linux only)")
def test_two_processes_compile_a_first_run_which_then_trains_as_one_compiled_alone(tmp_path):
    parallel = run_script(tmp_path / "two", workers=2)
    assert STEP_KERNELS <= set(parallel["kernels"])
    assert parallel["by_worker"].get("1"), parallel  # the child took kernel 1 (and maybe more)
    assert sorted(sum(parallel["by_worker"].values(), [])) == sorted(parallel["kernels"])
    serial = run_script(tmp_path / "one", workers=1)
    assert serial["kernels"] == []  # one worker: nothing compiled ahead, every kernel at its first call
    assert_same_training(parallel, serial)
    cached = run_script(tmp_path / "two", workers=2)  # the cache the two processes filled: the same code
    assert cached["kernels"] == []
    assert (cached["losses"], cached["weights"]) == (parallel["losses"], parallel["weights"])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parallel compilation forks (Linux only)")
def test_compiling_in_the_background_before_the_first_step_trains_as_one_process_compiling_alone(tmp_path):
    """run_training starts the compilation before it loads the data, from a batch of zeros."""
    background = run_script(tmp_path / "background", workers=2, mode="background")
    assert STEP_KERNELS <= set(background["kernels"])
    assert background["by_worker"].get("1") and background["by_worker"].get("2"), background  # both children
    assert "0" not in background["by_worker"], background  # two children on two workers: the parent waits
    assert_same_training(background, run_script(tmp_path / "one", workers=1))


def test_a_network_too_large_to_copy_compiles_lazily(monkeypatch):
    monkeypatch.setattr("cnncli.engine.trainer.DRY_RUN_MAX_PARAMS", 10)
    backend = backend_on(SPEC)
    assert start_compiling(backend.graph, backend.config) is None
    assert backend.compile_kernels(*batch(), 0.01).kernels == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parallel compilation forks (Linux only)")
def test_cancel_stops_the_children():
    from numba import int64, njit

    kernels = [(njit(lambda a: a + 1), [(int64,)]) for _ in range(3)]
    compiling = precompile.Compilation(kernels, children=2, parent_first=False)
    pids = list(compiling.pids)
    assert len(pids) == 2
    compiling.cancel()
    assert compiling.pids == []
    for pid in pids:
        with pytest.raises(ChildProcessError):  # reaped: no such child any more
            os.waitpid(pid, os.WNOHANG)


def test_the_workers_follow_the_runs_threads_unless_told(monkeypatch):
    from numba import config

    monkeypatch.delenv(precompile.WORKERS_VARIABLE, raising=False)
    monkeypatch.setattr(config, "NUMBA_NUM_THREADS", 1)  # cnn train --threads 1
    assert precompile.default_workers() == 1
    monkeypatch.setenv(precompile.WORKERS_VARIABLE, "3")
    assert precompile.default_workers() == (3 if sys.platform.startswith("linux") else 1)


def test_a_run_whose_early_dry_run_found_nothing_skips_the_first_steps(monkeypatch):
    """cnn train's dry run before the data found everything cached: the first step does not repeat it."""
    calls = []
    monkeypatch.setattr("cnncli.engine.trainer.compile_step_kernels", lambda phases: calls.append(phases))
    backend = backend_on(SPEC)
    backend.use_compilation(None)
    backend.step(*batch(), 0.01)
    assert calls == [] and backend.compiled == precompile.CompileReport()
