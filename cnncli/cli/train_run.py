"""The body of `cnn train` once settings are known (imports the engine, so Numba loads here)."""
from __future__ import annotations

from pathlib import Path

from cnncli.cli.train_view import TrainingView, confusion_matrix, epoch_table
from cnncli.data.fit import FitMode
from cnncli.data.progress import Progress
from cnncli.engine.checkpoint import load_checkpoint
from cnncli.engine.network import Network
from cnncli.engine.trainer import CHECKPOINT, Trainer, TrainingStopped, evaluate
from cnncli.errors import UsageError
from cnncli.graph import Graph
from cnncli.report import console
from cnncli.report.plot import save_learning_curves
from cnncli.spec import Spec
from cnncli.train_config import TrainConfig
from cnncli.training_setup import prepare_training_data


def _check_out_dir(out_dir: Path, resume: bool) -> None:
    checkpoint = out_dir / CHECKPOINT
    if resume and not checkpoint.exists():
        raise UsageError(f"--resume: there is no checkpoint {checkpoint} to continue from")
    if not resume and checkpoint.exists():
        raise UsageError(f"{out_dir} already holds a training run ({checkpoint}); continue it with --resume, "
                         f"or choose another folder with --out")


def run_training(spec: Spec, graph: Graph, config: TrainConfig, data: str, out_dir: Path, resume: bool,
                 fit: FitMode, progress: Progress) -> None:
    """Prepare data, train (or resume), then report test accuracy and the confusion matrix."""
    _check_out_dir(out_dir, resume)
    if resume:  # the data split and normalisation must be those of the original run
        config = TrainConfig(**{**vars(config), **_saved_config(out_dir / CHECKPOINT)})
    prepared = prepare_training_data(graph, data, config.val, config.seed, fit, progress)
    console.info(f"data: {prepared.source}; train {len(prepared.train):,}, validation "
                 f"{len(prepared.val) if prepared.val else 0:,}, test {len(prepared.test) if prepared.test else 0:,} "
                 f"images of {list(prepared.train.shape)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    network = Network(graph, seed=config.seed)
    meta = {"spec_name": spec.name, "spec_file": spec.file, "spec_sha256": spec.sha256, "spec_text": spec.text,
            "input_shape": list(graph.input_shape), "classes": prepared.classes, "data": data, "fit": fit,
            "normalization": {"mean": prepared.mean.tolist(), "std": prepared.std.tolist()}}
    with TrainingView(out_dir / "metrics.jsonl", config.epochs) as view:
        trainer = Trainer(network, config, prepared.train, prepared.val, out_dir, meta, view)
        if resume:
            saved = trainer.resume(out_dir / CHECKPOINT)
            console.info(f"resuming from {out_dir / CHECKPOINT}: epoch {saved['epoch']}, batch {saved['batch']}")
        epochs = f"{config.epochs} epoch" + ("" if config.epochs == 1 else "s")
        console.info(f"training {spec.name}: {epochs}, batch {config.batch_size}, {config.optimizer} "
                     f"lr {config.lr:g}, {config.schedule} schedule, seed {config.seed}; run folder {out_dir}")
        try:
            history = trainer.fit()
        except TrainingStopped as stopped:
            console.error(str(stopped))
            raise SystemExit(stopped.exit_code) from None
    save_learning_curves(history, out_dir / "curves.png")
    console.out.print(epoch_table(history))
    if prepared.test is not None:
        loss, accuracy, predictions = evaluate(network, prepared.test)
        console.out.print(f"[bold]test accuracy {accuracy:.2%}[/] (loss {loss:.4f}) on {len(prepared.test):,} images",
                          markup=True)
        console.out.print(confusion_matrix(prepared.test.y, predictions, prepared.classes))
    console.out.print(f"checkpoint: {out_dir / CHECKPOINT}   curves: {out_dir / 'curves.png'}   "
                      f"metrics: {out_dir / 'metrics.jsonl'}")


def _saved_config(path: Path) -> dict:
    """The settings a run was started with (epochs may be raised by the new command line)."""
    _, _, meta = load_checkpoint(path)
    saved = meta["config"]
    (optimizer, optimizer_args), = saved["optimizer"].items()
    (schedule, schedule_args), = saved["schedule"].items()
    return {"batch_size": saved["batch_size"], "optimizer": optimizer, "optimizer_args": optimizer_args,
            "schedule": schedule, "schedule_args": schedule_args, "warmup": saved["warmup"],
            "seed": saved["seed"], "val": saved["val"]}
