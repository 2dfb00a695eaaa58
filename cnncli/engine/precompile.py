"""A first run's kernels compiled by several processes at once.

Numba compiles a kernel the first time it meets new argument types, one kernel after another in
one process: on a first run (an empty cache) that is most of the first epoch (LeNet-5 ~9 s,
ResNet-20 ~14 s of LLVM work on one core). `start_compiling` does it in parallel instead:

1. a dry run of one training step and one evaluation batch on a throw-away copy of the network,
   with every call of a not-yet-compiled kernel recorded instead of made (Numba types the
   arguments; nothing is computed): the (kernel, signature) pairs the step will need;
2. those not in Numba's on-disk cache are grouped by kernel, the largest first (bytecode);
3. the process forks children (Compilation); each worker takes the next kernel from a shared
   counter and compiles it, the children into the cache only. The caller either works along at
   once (`compile_step_kernels`, before the first step) or goes on with other work, such as
   loading the data, while the children compile (`in_background`), and joins later;
4. `Compilation.finish`: this process takes what is left, waits for the children, then loads
   their kernels from the cache (or compiles what a child did not leave there).
The results are those of a run without it: the same kernels, compiled the same way. Nothing is
forked when everything is cached, on one core, off Linux, or with CNNCLI_COMPILE_WORKERS=1.
"""
from __future__ import annotations

import atexit
import os
import signal
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
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
    """What a Compilation did: the kernels, by the worker that compiled them (0: this process), and
    the seconds from its start to its finish."""

    kernels: list[str] = field(default_factory=list)
    by_worker: dict[int, list[str]] = field(default_factory=dict)
    seconds: float = 0.0


def default_workers() -> int:
    """CNNCLI_COMPILE_WORKERS, else as many as the run's threads (`--threads`: Numba's thread count)
    and usable cores allow, at most MAX_WORKERS; 1 where fork is not safe to use."""
    if not sys.platform.startswith("linux"):
        return 1
    value = os.environ.get(WORKERS_VARIABLE, "")
    if value.isdigit() and int(value) >= 1:
        return int(value)
    from numba import config

    return max(1, min(len(os.sched_getaffinity(0)), config.NUMBA_NUM_THREADS, MAX_WORKERS))


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
        for dispatcher, sig in dict.fromkeys(calls):  # each pair once, in call order
            if sig not in dispatcher.overloads and not _is_cached(dispatcher, sig):
                grouped.setdefault(id(dispatcher), (dispatcher, []))[1].append(sig)
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
    """A counter, owners and done flags in memory shared across fork: each worker first takes the
    kernel `firsts` gives it (if any), then the next one not taken."""

    def __init__(self, size: int, firsts: dict[int, int]) -> None:
        import multiprocessing

        shared = multiprocessing.get_context("fork")  # its lock needs no resource-tracker process
        self.size, self.firsts = size, firsts
        self.lock = shared.Lock()
        self.next = shared.RawValue("i", len(firsts))
        self.owner = shared.RawArray("i", [-1] * size)
        self.done = shared.RawArray("b", size)

    def take(self, worker: int) -> int | None:
        with self.lock:
            if worker in self.firsts:
                index = self.firsts.pop(worker)
            else:
                index = self.next.value
                self.next.value += 1
        if index >= self.size:
            return None
        self.owner[index] = worker
        return index

    def run(self, worker: int, kernels: list[Kernel]) -> None:
        while (index := self.take(worker)) is not None:
            _compile(kernels[index])
            self.done[index] = 1


def _fork_child(queue: _Queue, worker: int, kernels: list[Kernel]) -> int:
    """Start a child that compiles its share of `kernels` into the cache; returns its pid."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+: fork in a threaded process
        pid = os.fork()
    if pid:
        return pid
    code = 1
    try:  # the child: compile, print nothing, hold no pipe of the parent's, run no exit handler
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        quiet = os.open(os.devnull, os.O_WRONLY)
        os.dup2(quiet, 1)
        os.dup2(quiet, 2)
        warnings.simplefilter("ignore")
        queue.run(worker, kernels)
        code = 0
    finally:
        os._exit(code)


class Compilation:
    """`kernels` being compiled by `children` forked processes (workers 1..children) while this
    one goes on; `finish` joins them. With `parent_first` this process takes kernel 0 at once
    (children then start at 1), else the children take the first ones and this process whatever
    is left when it calls `finish`, unless the children already are `workers` (one per core): a
    third compiling process on two cores slowed the longest kernel, which bounds the whole, by a
    third (ResNet-20: its flat_backward done at 18.2 s instead of 16.1 s, bench/PROFILE.md)."""

    def __init__(self, kernels: list[Kernel], children: int, parent_first: bool, workers: int = 0) -> None:
        self.kernels, self.started, self.workers = kernels, time.perf_counter(), workers
        offset = 1 if parent_first else 0
        firsts = {worker: worker - 1 + offset for worker in range(1, children + 1)}
        self.queue = _Queue(len(kernels), {0: 0, **firsts} if parent_first else firsts)
        self.pids: list[int] = []
        for worker in range(1, children + 1):
            try:
                self.pids.append(_fork_child(self.queue, worker, kernels))
            except OSError:  # no memory or process slot: this process compiles the rest in `finish`
                break
        atexit.register(self.cancel)  # a run that ends before it joins them (bad data, Ctrl-C) stops them

    def finish(self) -> CompileReport:
        """Take the kernels left (unless the children are all the workers: workers 0 means no such
        limit), wait for the children, then load theirs from the cache (and compile any a child did
        not finish)."""
        atexit.unregister(self.cancel)
        try:
            if not self.workers or len(self.pids) < self.workers:
                self.queue.run(0, self.kernels)
        finally:
            self._wait()
        by_worker: dict[int, list[str]] = {}
        for index, kernel in enumerate(self.kernels):
            _compile(kernel)
            by_worker.setdefault(self.queue.owner[index] if self.queue.done[index] else 0, []).append(_name(kernel))
        return CompileReport([_name(k) for k in self.kernels], by_worker, time.perf_counter() - self.started)

    def cancel(self) -> None:
        """Stop the children that still run (at exit, when `finish` was never called)."""
        for pid in self.pids:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._wait()

    def _wait(self) -> None:
        """Wait for the children while they make progress; kill one that finishes nothing for STALL_SECONDS."""
        done, progress_at = sum(self.queue.done), time.monotonic()
        while self.pids:
            self.pids = [pid for pid in self.pids if not os.waitpid(pid, os.WNOHANG)[0]]
            if sum(self.queue.done) != done:
                done, progress_at = sum(self.queue.done), time.monotonic()
            elif time.monotonic() - progress_at > STALL_SECONDS:
                for pid in self.pids:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                self.pids = []
            if self.pids:
                time.sleep(0.01)


def start_compiling(phases: list[Callable[[], Any]], workers: int | None = None,
                    in_background: bool = False) -> Compilation | None:
    """Start compiling what the dry run of `phases` shows a step needs, when more than one worker
    (default: default_workers()) and more than one kernel missing from the cache make it worth a
    fork; None otherwise. In the background all `workers` are children, for a caller that has
    other work to do (loading data) before it calls `finish`; else this process is one of them."""
    workers = default_workers() if workers is None else workers
    if workers <= 1:
        return None
    kernels = kernels_to_compile(record_kernel_calls(phases))
    if not kernels or len(kernels) < 2:  # nothing or one kernel to compile: the first call does it as usual
        return None
    children = min(workers, len(kernels)) - (0 if in_background else 1)
    return Compilation(kernels, children, parent_first=not in_background, workers=workers)


def compile_step_kernels(phases: list[Callable[[], Any]], workers: int | None = None) -> CompileReport:
    """start_compiling with this process as one of the workers, then finish: the kernels a step
    needs are compiled or loaded when it returns."""
    compilation = start_compiling(phases, workers)
    return CompileReport() if compilation is None else compilation.finish()
