"""The body of `cnn train` once settings are known: data, the engine, the loop, the run folder.

The run folder holds one run: `last.npz` (the checkpoint: weights, optimizer, position, the
history), `best.npz` (the checkpoint of the epoch with the best monitored validation value),
`metrics.jsonl` (rewritten from the checkpoint's history each time it is saved, so the
two never disagree) and `curves.png` (redrawn at the same time). Under torchrun only process 0
prints and writes.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cnncli.atomic import atomic_write
from cnncli.cli.train_checks import check_training_memory
from cnncli.cli.train_view import Silent, TrainingView, confusion_matrix, epoch_table
from cnncli.data import Dataset
from cnncli.data.fit import FitMode
from cnncli.data.preprocessing import Preprocessing
from cnncli.data.progress import Progress as DownloadProgress
from cnncli.engine.checkpoint import load_checkpoint
from cnncli.errors import UsageError
from cnncli.graph import Graph
from cnncli.report import console
from cnncli.spec import Spec
from cnncli.train_config import TrainConfig, load_train_config
from cnncli.training.augment import check_augment_fits, looks_like_digits
from cnncli.training.loop import CHECKPOINT, Backend, Progress, TrainingStopped, TrainLoop
from cnncli.training.monitor import BEST, describe_value
from cnncli.training_setup import PreparedData, prepare_training_data

if TYPE_CHECKING:
    from cnncli.engine.precompile import Compilation

RUN_FILES = ("metrics.jsonl", "curves.png", BEST)


def check_out_dir(out_dir: Path, resume: bool) -> None:
    """A folder holds one run: a new run needs a folder without one; --resume needs its checkpoint.
    The folder must be writable before any time is spent on data or training."""
    checkpoint = out_dir / CHECKPOINT
    if resume and not checkpoint.exists():
        raise UsageError(f"--resume: there is no checkpoint {checkpoint} to continue from")
    if not resume:
        if checkpoint.exists():
            raise UsageError(f"{out_dir} already holds a training run ({checkpoint}); continue it with --resume, "
                             f"or choose another folder with --out")
        leftovers = [name for name in RUN_FILES if (out_dir / name).exists()]
        if leftovers:
            raise UsageError(f"{out_dir} holds files of an earlier run ({', '.join(leftovers)}) but no checkpoint; "
                             f"choose another folder with --out, or remove them")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".cnncli-write-test-{id(out_dir)}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise UsageError(f"--out {out_dir}: cannot write there ({err.strerror or err}); choose a writable folder "
                         f"with --out") from None


def data_fingerprint(train: Dataset) -> str:
    """sha256 of the training split's labels, shape and every 97th image: a resumed run must see the same data."""
    digest = hashlib.sha256(json.dumps([list(train.x.shape), train.classes, str(train.x.dtype)]).encode())
    digest.update(np.ascontiguousarray(train.y).tobytes())
    digest.update(np.ascontiguousarray(train.x[::97]).tobytes())
    return digest.hexdigest()


def saved_config(path: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """The settings a run was started with (epochs may be raised by the new command line), checked by the
    rules of a spec's `train:` section (the header stores them in that form)."""
    saved = load_train_config(meta["config"], str(path), {})
    return {key: getattr(saved, key) for key in ("batch_size", "optimizer", "optimizer_args", "schedule",
                                                 "schedule_args", "warmup", "seed", "val", "augment",
                                                 "label_smoothing", "clip_grad_norm", "patience", "monitor")}


def check_settings(config: TrainConfig, graph: Graph, data: str, classes: list[str]) -> None:
    """Settings that need validation data or do not fit the images; a flip on digits is only warned about."""
    if config.patience and not config.val:
        raise UsageError(f"--patience {config.patience} needs validation data to watch; drop --val 0 (or set "
                         f"--val 0.1), or drop --patience")
    problem = check_augment_fits(config.augment, *graph.input_shape[1:3])
    if problem:
        raise UsageError(f"augmentation: {problem}")
    if config.augment.flip and looks_like_digits(data, classes):
        console.warning("--flip on digits: a mirrored digit can read as another one (or as none); "
                        "consider --crop, --rotate or --shift instead")


def _check_same_data(meta: dict[str, Any], data: str, fingerprint: str, path: Path) -> None:
    if meta.get("data_fingerprint", fingerprint) != fingerprint:
        raise UsageError(f"--resume: {path} was trained on other data ({meta.get('data', '?')}: its training split "
                         f"differs from that of --data {data}); resume with the same --data, or start a new run")


def write_run_files(out_dir: Path, progress: Progress, steps_per_epoch: int) -> None:
    """metrics.jsonl and curves.png from the history the checkpoint just saved."""
    from cnncli.report.plot import save_learning_curves

    lines = "".join(json.dumps(record) + "\n" for record in progress.history)
    atomic_write(out_dir / "metrics.jsonl", lines.encode("utf-8"))
    if progress.history:
        per_step = [(step / steps_per_epoch, loss) for step, loss in progress.step_losses]
        save_learning_curves(progress.history, out_dir / "curves.png", per_step)


def _backend(engine: str, graph: Graph, config: TrainConfig, placement: Any, sync_bn: bool,
             compiling: Compilation | None) -> Backend:
    if engine == "torch":
        from cnncli.export.common import initial_state
        from cnncli.torch_engine.trainer import TorchBackend, build_module

        module = build_module(graph, initial_state(graph, config.seed), placement, sync_bn)
        return TorchBackend(graph, module, config, placement)
    from cnncli.engine.network import Network
    from cnncli.engine.trainer import NumbaBackend

    backend = NumbaBackend(Network(graph, seed=config.seed), config)
    backend.use_compilation(compiling)
    return backend


def _start_compiling(engine: str, graph: Graph, config: TrainConfig) -> Compilation | None:
    """The Numba engine's kernels compiled in forked children while this process loads the data
    (engine/precompile.py; the first step joins them)."""
    if engine != "numba":
        return None
    from cnncli.engine.trainer import start_compiling

    return start_compiling(graph, config)


def _prepare_data_once_per_machine(graph: Graph, data: str, config: TrainConfig, fit: FitMode,
                                   progress: DownloadProgress, placement: Any) -> PreparedData:
    """Under torchrun the first process of each machine fetches and caches the data before the others read it."""
    if placement is None:
        return prepare_training_data(graph, data, config.val, config.seed, fit, progress)
    from cnncli.torch_engine.distributed import barrier

    first = placement.local_rank == 0
    if not first:
        barrier(placement)
    prepared = prepare_training_data(graph, data, config.val, config.seed, fit, progress)
    if first:
        barrier(placement)
    return prepared


def _run_meta(spec: Spec, graph: Graph, prepared: PreparedData, data: str, fit: FitMode) -> dict[str, Any]:
    return {"spec_name": spec.name, "spec_file": spec.file, "spec_sha256": spec.sha256, "spec_text": spec.text,
            "input_shape": list(graph.input_shape), "classes": prepared.classes, "data": data, "fit": fit,
            "data_fingerprint": data_fingerprint(prepared.train),
            "preprocessing": Preprocessing.of(prepared.train, fit).to_json(),
            "normalization": {"mean": prepared.mean.tolist(), "std": prepared.std.tolist()}}


def run_training(spec: Spec, graph: Graph, config: TrainConfig, data: str, out_dir: Path, resume: bool,
                 fit: FitMode, progress: DownloadProgress, engine: str = "numba", placement: Any = None,
                 sync_bn: bool = False) -> None:
    """Prepare data, train (or resume), then report test accuracy and the confusion matrix (process 0)."""
    main = placement is None or placement.rank == 0
    check_out_dir(out_dir, resume)
    saved_meta = load_checkpoint(out_dir / CHECKPOINT)[2] if resume else None
    if saved_meta is not None:  # the data split and normalisation must be those of the original run
        config = TrainConfig(**{**vars(config), **saved_config(out_dir / CHECKPOINT, saved_meta)})
    check_training_memory(graph, config)
    compiling = _start_compiling(engine, graph, config)
    prepared = _prepare_data_once_per_machine(graph, data, config, fit, progress, placement)
    meta = _run_meta(spec, graph, prepared, data, fit)
    if saved_meta is not None:
        _check_same_data(saved_meta, data, meta["data_fingerprint"], out_dir / CHECKPOINT)
    check_settings(config, graph, data, prepared.classes)
    console.info(f"data: {prepared.source}; train {len(prepared.train):,}, validation "
                 f"{len(prepared.val) if prepared.val else 0:,}, test {len(prepared.test) if prepared.test else 0:,} "
                 f"images of {list(prepared.train.shape)}")
    backend = _backend(engine, graph, config, placement, sync_bn, compiling)
    with (TrainingView(config.epochs) if main else Silent()) as view:
        loop = TrainLoop(backend, config, prepared.train, prepared.val, out_dir, meta, view,
                         on_saved=lambda p: write_run_files(out_dir, p, loop.steps_per_epoch),
                         on_estimate=view.estimate if main else None)
        if resume:
            saved = loop.resume(out_dir / CHECKPOINT)
            if main:
                write_run_files(out_dir, loop.progress, loop.steps_per_epoch)
            console.info(f"resuming from {out_dir / CHECKPOINT} ({saved.get('engine', 'numba')} engine): "
                         f"epoch {saved['epoch']}, batch {saved['batch']}")
        where = f" on {placement.describe()}" if placement is not None else ""
        per = f" per process (x{backend.world} = {config.batch_size * backend.world})" if backend.world > 1 else ""
        epochs = f"{config.epochs} epoch" + ("" if config.epochs == 1 else "s")
        console.info(f"training {spec.name} with the {engine} engine{where}: {epochs}, batch {config.batch_size}{per}, "
                     f"{config.optimizer} lr {config.lr:g}, {config.schedule} schedule, seed {config.seed}; "
                     + (f"{config.describe_extras()}; " if config.describe_extras() else "")
                     + f"run folder {out_dir}")
        try:
            history = loop.fit()
        except TrainingStopped as stopped:
            console.error(str(stopped))
            raise SystemExit(stopped.exit_code) from None
    if not main:
        return
    if loop.stopped_early:
        console.info(loop.stopped_early)
    console.out.print(epoch_table(history))
    if prepared.test is not None:
        loss, accuracy, predictions = backend.evaluate(prepared.test)
        console.out.print(f"[bold]test accuracy {accuracy:.2%}[/] (loss {loss:.4f}) on {len(prepared.test):,} images",
                          markup=True)
        console.out.print(confusion_matrix(prepared.test.y, predictions, prepared.classes))
        _report_best(backend, prepared.test, out_dir, history[-1]["epoch"] if history else 0)
    best = f"   best: {out_dir / BEST}" if (out_dir / BEST).exists() else ""
    console.out.print(f"checkpoint: {out_dir / CHECKPOINT}{best}   curves: {out_dir / 'curves.png'}   "
                      f"metrics: {out_dir / 'metrics.jsonl'}")


def _report_best(backend: Backend, test: Dataset, out_dir: Path, last_epoch: int) -> None:
    """The test accuracy of best.npz too, when it holds an earlier epoch than the last (the backend then
    holds the best weights)."""
    if not (out_dir / BEST).exists():
        return
    network, optimizer, meta = load_checkpoint(out_dir / BEST)
    best = meta.get("best") or {}
    if meta["epoch"] == last_epoch:
        return
    backend.load(network, optimizer)
    loss, accuracy, _ = backend.evaluate(test)
    console.out.print(f"best.npz (epoch {meta['epoch']}, {best.get('monitor', 'val_acc')} "
                      f"{describe_value(best.get('value', 0.0), best.get('monitor', 'val_acc'))}): test accuracy "
                      f"{accuracy:.2%} (loss {loss:.4f})", highlight=False)
