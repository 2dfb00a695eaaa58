"""Learning-rate schedules, as a function of the step (fractional epochs allowed).

constant: lr;  step: lr · γ^floor(epoch / step_size);
cosine: lr_min + (lr − lr_min) · (1 + cos(π · t / T)) / 2 over the epochs after warm-up;
warm-up (any schedule): linear from lr/warmup_steps to lr over the first `warmup` epochs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Schedule:
    kind: str = "constant"
    lr: float = 1e-3
    epochs: int = 1
    steps_per_epoch: int = 1
    step_size: int = 1
    gamma: float = 0.1
    min_lr: float = 0.0
    warmup: float = 0.0  # epochs

    def lr_at(self, step: int) -> float:
        """Learning rate for optimizer step `step` (0-based)."""
        epoch = step / self.steps_per_epoch
        warmup_steps = self.warmup * self.steps_per_epoch
        if warmup_steps and step < warmup_steps:
            return self.lr * (step + 1) / warmup_steps
        if self.kind == "step":
            return self.lr * self.gamma ** math.floor(epoch / self.step_size)
        if self.kind == "cosine":
            span = max(self.epochs - self.warmup, 1e-9)
            t = min(max(epoch - self.warmup, 0.0) / span, 1.0)
            return self.min_lr + (self.lr - self.min_lr) * (1 + math.cos(math.pi * t)) / 2
        return self.lr

