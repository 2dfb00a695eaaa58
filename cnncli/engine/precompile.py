"""A first run's kernels compiled by several processes at once.

Numba compiles a kernel the first time it meets new argument types, one kernel after another in
one process: on a first run (an empty cache) that is most of the first epoch (LeNet-5 ~9 s,
ResNet-20 ~14 s of LLVM work on one core). `compile_step_kernels` does it in parallel instead:

1. a dry run of one training step and one evaluation batch on a throw-away copy of the network,
   with every call of a not-yet-compiled kernel recorded instead of made (Numba types the
   arguments; nothing is computed): the (kernel, signature) pairs the step will need;
2. those not in Numba's on-disk cache are grouped by kernel, the largest first (bytecode);
3. the process forks `workers - 1` children; each process takes the next kernel from a shared
   counter (worker k's first is kernel k) and compiles it, the children into the cache only;
4. when the counter runs out the parent waits for the children, then loads their kernels from
   the cache (or compiles what a child did not leave there).
The results are those of a run without it: the same kernels, compiled the same way. Nothing is
forked when everything is cached, on one core, off Linux, or with CNNCLI_COMPILE_WORKERS=1.
"""
from __future__ import annotations

import os
import signal
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba.core.dispatcher import Dispatcher

WORKERS_VARIABLE = "CNNCLI_COMPILE_WORKERS"
MAX_WORKERS = 4
STALL_SECONDS = 120.0  # a child that finishes no kernel for this long is given up on (and its kernels compiled here)

Kernel = tuple[Dispatcher, list[tuple[Any, ...]]]  # a dispatcher and the signatures (argument types) to compile


@dataclass
class CompileReport:
    """What compile_step_kernels did: kernel names by the process that compiled them (parent: "0")."""

    kernels: list[str] = field(default_factory=list)
    by_worker: dict[int, list[str]] = field(default_factory=dict)
    seconds: float = 0.0


def default_workers() -> int:
    """CNNCLI_COMPILE_WORKERS, else the usable cores (at most MAX_WORKERS); 1 where fork is not safe to use."""
    if not sys.platform.startswith("linux"):
        return 1
    value = os.environ.get(WORKERS_VARIABLE, "")
    if value.isdigit() and int(value) >= 1:
        return int(value)
    return max(1, min(len(os.sched_getaffinity(0)), MAX_WORKERS))


@contextmanager
def _recording(calls: list[tuple[Dispatcher, tuple[Any, ...]]]) -> Iterator[None]:
    """Within: a call of a kernel with no compiled version for its argument types appends
    (dispatcher, argument types) to `calls` and does nothing (returns None)."""
    original = Dispatcher._compile_for_args

    def record(self: Dispatcher, *args: Any, **kwargs: Any) -> Callable[..., None]:
        calls.append((self, tuple(self.typeof_pyval(a) for a in args)))
        return lambda *a, **k: None

    Dispatcher._compile_for_args = record  # type: ignore[method-assign]
    try:
        with np.errstate(all="ignore"):
            yield
    finally:
        Dispatcher._compile_for_args = original  # type: ignore[method-assign]


def record_kernel_calls(phases: list[Callable[[], Any]]) -> list[tuple[Dispatcher, tuple[Any, ...]]]:
    """The (kernel, argument types) pairs that running `phases` in order would compile, in call
    order, without compiling or computing anything; a phase that fails on the uncomputed values
    ends early (its remaining kernels then compile when first called, as usual)."""
    calls: list[tuple[Dispatcher, tuple[Any, ...]]] = []
    with _recording(calls):
        for phase in phases:
            try:
                phase()
            except Exception:  # noqa: BLE001 - values are garbage in a dry run; what was recorded stands
                continue
    return calls


def _is_cached(dispatcher: Dispatcher, sig: tuple[Any, ...]) -> bool:
    """Whether Numba's cache index has `sig` for this kernel (Numba's own key: signature, CPU, bytecode)."""
    cache = dispatcher._cache
    index = cache._cache_file._load_index()
    return cache._index_key(sig, dispatcher.targetctx.codegen()) in index


def kernels_to_compile(calls: list[tuple[Dispatcher, tuple[Any, ...]]]) -> list[Kernel] | None:
    """The recorded calls' kernels that are neither compiled nor cached, each with its signatures,
    the largest first; None when Numba's cache cannot be read (no caching)."""
    grouped: dict[int, Kernel] = {}
    try:
        for dispatcher, sig in calls:
            if sig in dispatcher.overloads or _is_cached(dispatcher, sig):
                continue
            sigs = grouped.setdefault(id(dispatcher), (dispatcher, []))[1]
            if sig not in sigs:
                sigs.append(sig)
    except Exception:  # noqa: BLE001 - a cache of another kind, or none: the kernels compile lazily, as usual
        return None
    return sorted(grouped.values(), key=lambda kernel: -_size(kernel[0]))


def _size(dispatcher: Dispatcher) -> int:
    """Bytecode bytes of a kernel and of every Numba function it reaches through its globals: a
    proxy for its compile time (largest first makes the processes finish together)."""
    seen: set[int] = set()
    stack, total = [dispatcher], 0
    while stack:
        function = stack.pop().py_func
        if id(function) in seen:
            continue
        seen.add(id(function))
        total += len(function.__code__.co_code)
        names = function.__code__.co_names
        stack.extend(value for name in names if isinstance(value := function.__globals__.get(name), Dispatcher))
    return total


def _name(kernel: Kernel) -> str:
    return kernel[0].py_func.__qualname__


def _compile(kernel: Kernel) -> None:
    dispatcher, sigs = kernel
    for sig in sigs:
        try:
            dispatcher.compile(sig)
        except Exception:  # noqa: BLE001 - left to the first real call, which reports it as usual
            pass


class _Queue:
    """A counter and done flags in memory shared across fork: worker k first takes kernel k, then
    every worker the next one not taken."""

    def __init__(self, size: int, workers: int) -> None:
        import multiprocessing

        shared = multiprocessing.get_context("fork")  # its lock needs no resource-tracker process
        self.size = size
        self.lock = shared.Lock()
        self.next = shared.RawValue("i", workers)
        self.owner = shared.RawArray("i", [-1] * size)
        self.done = shared.RawArray("b", size)

    def take(self, worker: int, first: bool) -> int | None:
        if first:
            index = worker
        else:
            with self.lock:
                index = self.next.value
                self.next.value += 1
        if index >= self.size:
            return None
        self.owner[index] = worker
        return index

    def run(self, worker: int, kernels: list[Kernel]) -> None:
        index = self.take(worker, first=True)
        while index is not None:
            _compile(kernels[index])
            self.done[index] = 1
            index = self.take(worker, first=False)


def _fork_child(queue: _Queue, worker: int, kernels: list[Kernel]) -> int:
    """Start a child that compiles its share of `kernels` into the cache; returns its pid."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+: fork in a threaded process
        pid = os.fork()
    if pid:
        return pid
    code = 1
    try:  # the child: compile, never print, never run the parent's exit handlers
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        warnings.simplefilter("ignore")
        queue.run(worker, kernels)
        code = 0
    finally:
        os._exit(code)


def _wait(pids: list[int], queue: _Queue) -> None:
    """Wait for the children while they make progress; kill one that finishes nothing for STALL_SECONDS."""
    last_done, progress_at = sum(queue.done), time.monotonic()
    running = set(pids)
    while running:
        for pid in list(running):
            if os.waitpid(pid, os.WNOHANG)[0]:
                running.discard(pid)
        done = sum(queue.done)
        if done != last_done:
            last_done, progress_at = done, time.monotonic()
        elif time.monotonic() - progress_at > STALL_SECONDS:
            for pid in running:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            return
        if running:
            time.sleep(0.01)


def compile_in_parallel(kernels: list[Kernel], workers: int) -> dict[int, list[str]]:
    """Compile `kernels` with `workers` processes (this one included); every kernel is compiled or
    loaded in this process at the end. Returns the kernel names by worker (0: this process)."""
    workers = min(workers, len(kernels))
    if workers <= 1:
        for kernel in kernels:
            _compile(kernel)
        return {0: [_name(k) for k in kernels]}
    queue = _Queue(len(kernels), workers)
    pids = []
    for worker in range(1, workers):
        try:
            pids.append(_fork_child(queue, worker, kernels))
        except OSError:  # no memory or process slot: this process compiles the rest (the loop at the end)
            break
    try:
        queue.run(0, kernels)
    finally:
        _wait(pids, queue)
    for kernel in kernels:  # the children's from the cache; anything a child did not finish is compiled now
        _compile(kernel)
    by_worker: dict[int, list[str]] = {}
    for index, kernel in enumerate(kernels):
        by_worker.setdefault(queue.owner[index] if queue.done[index] else 0, []).append(_name(kernel))
    return by_worker


def compile_step_kernels(phases: list[Callable[[], Any]], workers: int | None = None) -> CompileReport:
    """Compile what the dry run of `phases` shows a step needs, in parallel when more than one worker
    (default: default_workers()) and more than one kernel is missing from the cache."""
    started = time.perf_counter()
    workers = default_workers() if workers is None else workers
    if workers <= 1:
        return CompileReport()
    kernels = kernels_to_compile(record_kernel_calls(phases))
    if not kernels or len(kernels) < 2:  # nothing or one kernel to compile: the first call does it as usual
        return CompileReport()
    by_worker = compile_in_parallel(kernels, workers)
    return CompileReport([_name(k) for k in kernels], by_worker, time.perf_counter() - started)
