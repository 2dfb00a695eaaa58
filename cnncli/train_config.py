"""Training settings: the spec's `train:` section, overridden by command-line flags.

    train:
      epochs: 10
      batch_size: 64
      optimizer: {sgd: {lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 5e-4}}   # or adam, adamw
      schedule: {cosine: {min_lr: 0}}        # constant | step: {step_size, gamma} | cosine: {min_lr}
      warmup: 1                              # epochs of linear warm-up
      seed: 0
      val: 0.1                               # fraction of the training data held out
      augment: {crop: 4, flip: true, rotate: 10, shift: 0.1, cutout: 8}   # all off by default
      label_smoothing: 0.1                   # PyTorch's cross_entropy(label_smoothing=...)
      clip_grad_norm: 1.0                    # torch.nn.utils.clip_grad_norm_ over all gradients
      patience: 5                            # stop after 5 epochs without a better monitored value
      monitor: val_acc                       # or val_loss: what best.npz and patience follow
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from cnncli.errors import Position, SpecError
from cnncli.layers.args import Arg, ArgContext, describe, parse_args

OPTIMIZER_ARGS: dict[str, dict[str, Arg]] = {
    "sgd": {"lr": Arg("float", 0.01, minimum=0, above=True),
            "momentum": Arg("float", 0.0, minimum=0, maximum=1, below=True),
            "nesterov": Arg("bool", False), "weight_decay": Arg("float", 0.0, minimum=0)},
    "adam": {"lr": Arg("float", 1e-3, minimum=0, above=True),
             "beta1": Arg("float", 0.9, minimum=0, maximum=1, below=True),
             "beta2": Arg("float", 0.999, minimum=0, maximum=1, below=True),
             "eps": Arg("float", 1e-8, minimum=0, above=True), "weight_decay": Arg("float", 0.0, minimum=0)},
}
OPTIMIZER_ARGS["adamw"] = {**OPTIMIZER_ARGS["adam"], "weight_decay": Arg("float", 0.01, minimum=0)}
SCHEDULE_ARGS: dict[str, dict[str, Arg]] = {
    "constant": {},
    "step": {"step_size": Arg("int", 1, minimum=1), "gamma": Arg("float", 0.1, minimum=0, above=True)},
    "cosine": {"min_lr": Arg("float", 0.0, minimum=0)},
}
TRAIN_ARGS = {
    "epochs": Arg("int", 10, minimum=1), "batch_size": Arg("int", 64, minimum=1),
    "optimizer": Arg("activation", "adam"), "schedule": Arg("activation", "constant"),
    "warmup": Arg("float", 0.0, minimum=0), "seed": Arg("int", 0, minimum=0, maximum=2**63 - 1),
    "val": Arg("float", 0.1, minimum=0, maximum=1, below=True),
    "augment": Arg("activation", None), "label_smoothing": Arg("float", 0.0, minimum=0, maximum=1),
    "clip_grad_norm": Arg("float", 0.0, minimum=0), "patience": Arg("int", 0, minimum=0),
    "monitor": Arg("activation", "val_acc"),
}
AUGMENT_ARGS = {
    "crop": Arg("int", 0, minimum=0, maximum=1024), "flip": Arg("bool", False),
    "rotate": Arg("float", 0.0, minimum=0, maximum=180), "shift": Arg("float", 0.0, minimum=0, maximum=1, below=True),
    "cutout": Arg("int", 0, minimum=0),
}
MONITORS = ("val_acc", "val_loss")
MAX_THREADS = 256


@dataclass(frozen=True)
class Augment:
    """Which augmentations are on (all off by default); cnncli.training.augment applies them."""

    crop: int = 0
    flip: bool = False
    rotate: float = 0.0
    shift: float = 0.0
    cutout: int = 0

    @property
    def active(self) -> bool:
        return bool(self.crop or self.flip or self.rotate or self.shift or self.cutout)

    def describe(self) -> str:
        """For the run's header line: 'crop 4, flip, rotate ±10°, shift ±0.1, cutout 8' or 'none'."""
        parts = [f"crop {self.crop}" if self.crop else "", "flip" if self.flip else "",
                 f"rotate ±{self.rotate:g}°" if self.rotate else "", f"shift ±{self.shift:g}" if self.shift else "",
                 f"cutout {self.cutout}" if self.cutout else ""]
        return ", ".join(p for p in parts if p) or "none"

    def to_json(self) -> dict[str, float | int | bool]:
        return {"crop": self.crop, "flip": self.flip, "rotate": self.rotate, "shift": self.shift,
                "cutout": self.cutout}


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "adam"
    optimizer_args: dict[str, Any] = field(default_factory=dict)
    schedule: str = "constant"
    schedule_args: dict[str, Any] = field(default_factory=dict)
    warmup: float = 0.0
    seed: int = 0
    val: float = 0.1
    augment: Augment = Augment()
    label_smoothing: float = 0.0
    clip_grad_norm: float = 0.0  # 0: no clipping
    patience: int = 0  # 0: no early stopping
    monitor: str = "val_acc"

    @property
    def lr(self) -> float:
        return float(self.optimizer_args["lr"])

    def optimizer_kwargs(self) -> dict[str, Any]:
        """The optimizer's arguments as the optimizer classes take them (both engines): no `lr` (the
        schedule gives it per step); Adam's `beta1`, `beta2` as `betas`."""
        args = {k: v for k, v in self.optimizer_args.items() if k != "lr"}
        if "beta1" in args:
            args["betas"] = (args.pop("beta1"), args.pop("beta2"))
        return args

    def to_json(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "batch_size": self.batch_size,
                "optimizer": {self.optimizer: self.optimizer_args}, "schedule": {self.schedule: self.schedule_args},
                "warmup": self.warmup, "seed": self.seed, "val": self.val, "augment": self.augment.to_json(),
                "label_smoothing": self.label_smoothing, "clip_grad_norm": self.clip_grad_norm,
                "patience": self.patience, "monitor": self.monitor}

    def describe_extras(self) -> str:
        """The regularisation settings for the run's header line ('' when all are off)."""
        parts = [f"augment: {self.augment.describe()}" if self.augment.active else "",
                 f"label smoothing {self.label_smoothing:g}" if self.label_smoothing else "",
                 f"clip grad norm {self.clip_grad_norm:g}" if self.clip_grad_norm else "",
                 f"early stopping after {self.patience} epochs without a better {self.monitor}"
                 if self.patience else ""]
        return "; ".join(p for p in parts if p)


def _choice(value: Any, table: dict[str, dict[str, Arg]], what: str, ctx: ArgContext) -> tuple[str, dict[str, Any]]:
    """`adam`, or `{adam: {lr: 0.001}}` -> ('adam', {all arguments with defaults})."""
    if isinstance(value, str):
        name, raw, positions = value, {}, {}
    elif isinstance(value, dict) and len(value) == 1:
        (name, raw), = value.items()
        raw = raw or {}
        positions = getattr(raw, "value_pos", {})
        if not isinstance(raw, dict):
            raise ctx.error(what, f"{what} arguments are a mapping, e.g. {{{name}: {{lr: 0.01}}}}, got {raw!r}")
    else:
        raise ctx.error(what, f"{what} is a name ({', '.join(table)}) or a one-key mapping, got {value!r}")
    if name not in table:
        raise ctx.error(what, f"unknown {what} '{name}' (known: {', '.join(table)})")
    sub = ArgContext(name, f"{ctx.path}.{what}.{name}", ctx.value_pos.get(what), dict(positions))
    return name, parse_args(table[name], dict(raw), sub)


def load_train_config(section: dict[str, Any], file: str, positions: dict[str, Position]) -> TrainConfig:
    """Validate a spec's `train:` section (errors point at its lines)."""
    ctx = ArgContext("train", "train", Position(file, 1, 1), positions)
    args = parse_args(TRAIN_ARGS, dict(section), ctx)
    optimizer, optimizer_args = _choice(args.pop("optimizer"), OPTIMIZER_ARGS, "optimizer", ctx)
    schedule, schedule_args = _choice(args.pop("schedule"), SCHEDULE_ARGS, "schedule", ctx)
    args["augment"] = _augment(args["augment"], ctx)
    args["monitor"] = _monitor(args["monitor"], ctx)
    return _consistent(TrainConfig(optimizer=optimizer, optimizer_args=optimizer_args, schedule=schedule,
                                   schedule_args=schedule_args, **args), positions.get("warmup"))


def _augment(value: Any, ctx: ArgContext) -> Augment:
    """`augment: {crop: 4, flip: true, ...}` (absent or null: none)."""
    if value is None:
        return Augment()
    if not isinstance(value, dict):
        raise ctx.error("augment", f"augment is a mapping such as {{crop: 4, flip: true}} (its arguments: "
                                   f"{', '.join(AUGMENT_ARGS)}), got {describe(value)}")
    sub = ArgContext("augment", f"{ctx.path}.augment", ctx.value_pos.get("augment"),
                     dict(getattr(value, "value_pos", {})))
    return Augment(**parse_args(AUGMENT_ARGS, dict(value), sub))


def _monitor(value: Any, ctx: ArgContext) -> str:
    if value not in MONITORS:
        raise ctx.error("monitor", f"monitor is {' or '.join(MONITORS)}, got {describe(value)}")
    return str(value)


def _consistent(config: TrainConfig, warmup_pos: Position | None = None) -> TrainConfig:
    """Settings that are valid alone but not together: a warm-up longer than the training."""
    if config.warmup > config.epochs:
        raise SpecError(warmup_pos, "train.warmup", f"a warm-up of {config.warmup:g} epochs is longer than the "
                                                    f"{config.epochs} epochs of training, so the learning rate "
                                                    f"would never reach lr; use a warm-up of at most {config.epochs}")
    return config


def _flag(schema: dict[str, Arg], key: str, value: Any) -> Any:
    """A command-line value checked by the same rule as the spec's (finite, in range): SpecError at `--key`."""
    try:
        return parse_args({key: schema[key]}, {key: value}, ArgContext("training", "", None, {}))[key]
    except SpecError as err:
        raise SpecError(None, f"--{key.replace('_', '-')}", err.message) from None


def check_threads(threads: int | None) -> int | None:
    """`--threads`: None (all cores) or 1..MAX_THREADS, else a SpecError at `--threads`."""
    if threads is not None and not 1 <= threads <= MAX_THREADS:
        raise SpecError(None, "--threads", f"the thread count must be between 1 and {MAX_THREADS}, got {threads:,}")
    return threads


def with_overrides(config: TrainConfig, **flags: Any) -> TrainConfig:
    """Command-line flags win over the spec; None means 'not given'. `lr`, `momentum` and
    `weight_decay` go into the optimizer's arguments; a new optimizer starts from its defaults."""
    flags = {k: _flag(TRAIN_ARGS, k, v) if k in TRAIN_ARGS and k not in ("optimizer", "schedule", "monitor") else v
             for k, v in flags.items() if v is not None}
    augment = {k: _flag(AUGMENT_ARGS, k, flags.pop(k)) for k in AUGMENT_ARGS if k in flags}
    if augment:
        flags["augment"] = replace(config.augment, **augment)
    optimizer = flags.pop("optimizer", config.optimizer)
    if optimizer != config.optimizer:
        optimizer_args = parse_args(OPTIMIZER_ARGS[optimizer], {}, ArgContext(optimizer, "--optimizer", None, {}))
    else:
        optimizer_args = dict(config.optimizer_args)
    for key in ("lr", "momentum", "weight_decay"):
        if key in flags:
            value = flags.pop(key)
            if key not in OPTIMIZER_ARGS[optimizer]:
                raise SpecError(None, f"--{key.replace('_', '-')}", f"{optimizer} has no {key}")
            optimizer_args[key] = _flag(OPTIMIZER_ARGS[optimizer], key, value)
    schedule = flags.pop("schedule", config.schedule)
    schedule_args = config.schedule_args if schedule == config.schedule else \
        parse_args(SCHEDULE_ARGS[schedule], {}, ArgContext(schedule, "--schedule", None, {}))
    return _consistent(replace(config, optimizer=optimizer, optimizer_args=optimizer_args, schedule=schedule,
                               schedule_args=schedule_args, **flags))
