"""Training settings: the spec's `train:` section, overridden by command-line flags.

    train:
      epochs: 10
      batch_size: 64
      optimizer: {sgd: {lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 5e-4}}   # or adam, adamw
      schedule: {cosine: {min_lr: 0}}        # constant | step: {step_size, gamma} | cosine: {min_lr}
      warmup: 1                              # epochs of linear warm-up
      seed: 0
      val: 0.1                               # fraction of the training data held out
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from cnncli.errors import Position, SpecError
from cnncli.layers.args import Arg, ArgContext, parse_args

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
}
MAX_THREADS = 256


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
                "warmup": self.warmup, "seed": self.seed, "val": self.val}


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
    return _consistent(TrainConfig(optimizer=optimizer, optimizer_args=optimizer_args, schedule=schedule,
                                   schedule_args=schedule_args, **args), positions.get("warmup"))


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
    flags = {k: _flag(TRAIN_ARGS, k, v) if k in TRAIN_ARGS and k not in ("optimizer", "schedule") else v
             for k, v in flags.items() if v is not None}
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
