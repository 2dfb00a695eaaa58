"""One engine per process, driven over a pipe, so that the two engines can be interleaved.

Each engine runs in its own worker process with its own thread pool (Numba's, or PyTorch's
OpenMP), so neither sees the other's libraries or thread settings; the parent sends one
timing request at a time and pauses between requests, so the idle worker's threads are
asleep while the other one is timed. Protocol: one JSON object per line each way.
    {"op": "ping"}                               -> {}   (once the engine is imported)
    {"op": "load", "workload": label}            -> {}   (built and warmed up; WORKLOADS or INFERENCE)
    {"op": "time", "steps": k}                   -> {"seconds": s, "loss": last loss}
    {"op": "conv", "shape": i, "reps": r}        -> {"ms": median fwd+bwd time of SHAPES[i]}
    {"op": "peak"}                               -> {"gflops": FMA peak of our tile, every thread} (ours)
Run `python bench/worker.py ours|torch|torch-engine THREADS` (the parent does this).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WARMUP_STEPS = 5


def thread_env(threads: int) -> dict[str, str]:
    """Environment for a worker: every thread pool (Numba, OpenMP, BLAS) at `threads`."""
    from cnncli.engine.setup import thread_environment

    return {**os.environ, **thread_environment(threads)}


class Worker:
    """Parent side: a running worker process (JSON lines each way). By default this file's
    worker for `engine`; `command` runs another script's (bench/depthwise_speed.py), `env`
    adds variables (PYTHONPATH of another checkout)."""

    def __init__(self, engine: str, threads: int, command: list[str] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.engine = engine
        self.proc = subprocess.Popen([sys.executable, *(command or [str(HERE / "worker.py"), engine, str(threads)])],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env={**thread_env(threads), **(env or {})})
        self.ask(op="ping")  # the engine is imported: the process is idle from now on

    def ask(self, **request: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.engine} worker exited (code {self.proc.wait()})")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"{self.engine} worker: {answer['error']}")
        return answer

    def close(self) -> None:
        if self.proc.poll() is None:
            self.ask(op="quit")
            self.proc.wait()


def _serve(engine: str, threads: int) -> None:
    """Child side: answer requests until "quit"."""
    import conv_timing  # noqa: PLC0415
    import workloads  # noqa: PLC0415 (bench/ is on sys.path: this file's folder)

    if engine in ("torch", "torch-engine"):
        import torch

        torch.set_num_threads(threads)
    else:
        from cnncli.engine.setup import configure

        configure(threads)  # as `cnn train` does
        import cnncli.engine.trainer  # noqa: F401  (imports Numba)
    step = None
    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        try:
            if op in ("quit", "ping"):
                answer: dict[str, Any] = {}
            elif op == "load":
                label = request["workload"]
                if label in workloads.INFERENCE:
                    name, batch = workloads.INFERENCE[label]
                    build = {"ours": workloads.build_ours_eval, "torch": workloads.build_torch_eval}[engine]
                else:
                    name, batch = workloads.WORKLOADS[label]
                    build = {"ours": workloads.build_ours, "torch": workloads.build_torch,
                             "torch-engine": workloads.build_torch_engine}[engine]
                step = build(name, batch)
                for _ in range(WARMUP_STEPS):
                    step()
                answer = {}
            elif op == "time":
                assert step is not None
                started = time.perf_counter()
                for _ in range(request["steps"]):
                    loss = step()
                answer = {"seconds": time.perf_counter() - started, "loss": loss}
            elif op == "conv":
                answer = {"ms": conv_timing.time_shape(engine, request["shape"], request["reps"])}
            elif op == "peak":
                answer = {"gflops": conv_timing.fma_peak()}
            else:
                answer = {"error": f"unknown op {op}"}
        except Exception as exc:  # report to the parent instead of dying silently
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
        if op == "quit":
            return


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]))
