"""Where a training step's time goes: per op (forward / backward), loss, optimizer, data.

    python bench/profile_step.py lenet5_relu 64 [--steps 200] [--root DIR] [--by-kind]

Runs the steps `cnn train` runs (Trainer.step on batches drawn as iterate_batches draws
them, synthetic data) and times each part with perf_counter: the batch gather, every op's
forward and backward (a fused op counts once, named after all its nodes), the loss, the
non-finite check and the optimizer; "python" is the step time no part accounts for (the
graph executor, argument handling). `--root` profiles another checkout of cnncli (for
example the commit before issue 4, extracted with `git archive`); it must accept the same
spec. Times are means over --steps after 10 warm-up steps; this is single-run, not
interleaved: use bench/train_speed.py for comparisons.
"""
from __future__ import annotations

import argparse
import collections
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent


def timed(acc: dict[str, float], name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            acc[name] += time.perf_counter() - started
    return wrapper


def _own_sum(op: Any) -> bool:
    """Whether op's class has a backward_of_sum of its own (the base class's calls backward, timed already)."""
    owners = [k for k in type(op).__mro__ if "backward_of_sum" in vars(k)]
    return bool(owners) and owners[0].__name__ != "Op"


def instrument(net: Any, acc: dict[str, float], by_kind: bool) -> None:
    """Wrap every op's forward and backward (and backward_of_sum; fused steps if the engine has them), named after
    its nodes, or after their layer types when by_kind (then same-kind ops add up)."""
    def label(indices: list[int]) -> str:
        return "+".join(net.nodes[i].layer.type_name if by_kind else net.nodes[i].name for i in indices)

    if hasattr(net, "steps"):
        units = [(label(s.nodes), s.op) for s in net.steps]
    else:
        units = [(label([i]), op) for i, op in enumerate(net.ops)]
    for name, op in units:
        op.forward = timed(acc, f"F {name}", op.forward)
        op.backward = timed(acc, f"B {name}", op.backward)
        if _own_sum(op):  # a residual block's input: the sum of two gradients
            op.backward_of_sum = timed(acc, f"B {name}", op.backward_of_sum)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("spec")
    ap.add_argument("batch", type=int)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--root", type=Path, default=HERE.parent, help="cnncli checkout to profile")
    ap.add_argument("--by-kind", action="store_true", help="add up the ops of the same layer types")
    args = ap.parse_args()
    sys.path.insert(0, str(args.root))

    try:
        from cnncli.engine.setup import configure
    except ImportError:  # a --root checkout from before it: importing the engine set the process up
        pass
    else:
        configure()  # as `cnn train` does
    import cnncli.engine.trainer as trainer_mod
    from cnncli.data import Dataset, iterate_batches
    from cnncli.engine.network import Network
    from cnncli.engine.trainer import Trainer
    from cnncli.graph import build_graph
    from cnncli.spec import load_spec
    from cnncli.train_config import load_train_config

    sys.path.insert(0, str(HERE))
    import workloads

    graph = build_graph(load_spec(workloads.spec_path(args.spec)))
    classes = graph.output.layer.out_shape[0]
    x, y = workloads.synthetic(tuple(graph.input_shape), classes)
    data = Dataset(x, y, [str(i) for i in range(classes)], "synthetic")
    kind, opt_args = workloads.optimizer_of(args.spec)
    config = load_train_config({"epochs": 1, "batch_size": args.batch, "optimizer": {kind: opt_args}}, "p.yaml", {})
    trainer = Trainer(Network(graph, seed=0), config, data, None, Path("/nonexistent"), {}, events=None)  # type: ignore
    acc: dict[str, float] = collections.defaultdict(float)
    instrument(trainer.network, acc, args.by_kind)
    trainer_mod.softmax_cross_entropy = timed(acc, "= loss", trainer_mod.softmax_cross_entropy)
    new_loop = hasattr(trainer, "backend")  # a --root checkout from before the shared training loop: _step
    optimizer = trainer.backend.optimizer if new_loop else trainer.optimizer  # type: ignore[attr-defined]
    train_step = trainer.step if new_loop else trainer._step  # type: ignore[attr-defined]
    optimizer.step = timed(acc, "= optimizer", optimizer.step)
    real_isfinite = np.isfinite
    rng = np.random.default_rng(1)

    def batches() -> Any:
        while True:
            yield from iterate_batches(data, args.batch, True, rng)

    source = batches()
    for _ in range(10):
        train_step(*next(source))
    acc.clear()
    total = 0.0
    np.isfinite = timed(acc, "= non-finite check", real_isfinite)  # the trainer's only np.isfinite call
    try:
        for _ in range(args.steps):
            started = time.perf_counter()
            xb, yb = timed(acc, "= data gather", next)(source)
            if len(yb) != args.batch:
                xb, yb = timed(acc, "= data gather", next)(source)
            train_step(xb, yb)
            total += time.perf_counter() - started
    finally:
        np.isfinite = real_isfinite
    ops = {k: v for k, v in acc.items() if not k.startswith("=")}
    rest = {k: v for k, v in acc.items() if k.startswith("=")}
    rest["= python (executor, glue)"] = total - sum(acc.values())
    step = total / args.steps * 1e3
    print(f"{args.spec} batch {args.batch}: {step:.3f} ms/step, {args.batch / step * 1e3:,.0f} img/s "
          f"({args.root})")
    for label, group in (("forward", "F "), ("backward", "B ")):
        part = {k: v for k, v in ops.items() if k.startswith(group)}
        print(f"  {label:<44}{sum(part.values()) / args.steps * 1e3:9.3f} ms {100 * sum(part.values()) / total:5.1f}%")
        for name, value in sorted(part.items(), key=lambda kv: -kv[1])[:8]:
            print(f"    {name[2:][:42]:<42}{value / args.steps * 1e3:9.3f} ms {100 * value / total:5.1f}%")
    for name, value in sorted(rest.items(), key=lambda kv: -kv[1]):
        print(f"  {name[2:]:<44}{value / args.steps * 1e3:9.3f} ms {100 * value / total:5.1f}%")


if __name__ == "__main__":
    main()
