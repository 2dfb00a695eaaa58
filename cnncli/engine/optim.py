"""Optimizers on the flat parameter vector, with PyTorch's update rules.

SGD (torch.optim.SGD, dampening 0):  g = ∇ + λ·θ;  b = μ·b + g (b = g at the first step);
    θ −= lr · (g + μ·b if nesterov else b)      (plain g when μ = 0)
Adam: g = ∇ + λ·θ;  m = β₁m + (1−β₁)g;  v = β₂v + (1−β₂)g²;
    θ −= lr · (m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε)
AdamW: as Adam without λ in g, and θ −= lr·λ·θ first (decoupled weight decay).
"""
from __future__ import annotations

import numpy as np


class Optimizer:
    """Updates `params` in place from `grads`; `state()` / `load_state()` for checkpoints."""

    name = ""

    def __init__(self, size: int) -> None:
        self.step_count = 0
        self.slots: dict[str, np.ndarray] = {}
        self.size = size

    def step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        raise NotImplementedError

    def state(self) -> dict[str, np.ndarray]:
        return {"step_count": np.array(self.step_count, np.int64), **self.slots}

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.step_count = int(arrays["step_count"])
        for key in self.slots:
            self.slots[key][...] = arrays[key]


class SGD(Optimizer):
    name = "sgd"

    def __init__(self, size: int, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0) -> None:
        super().__init__(size)
        self.momentum, self.nesterov, self.weight_decay = momentum, nesterov, weight_decay
        if momentum:
            self.slots["momentum_buffer"] = np.zeros(size, np.float32)

    def step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        g = grads + np.float32(self.weight_decay) * params if self.weight_decay else grads
        if self.momentum:
            buf = self.slots["momentum_buffer"]
            if self.step_count == 0:
                buf[...] = g
            else:
                buf *= np.float32(self.momentum)
                buf += g
            g = g + np.float32(self.momentum) * buf if self.nesterov else buf
        params -= np.float32(lr) * g
        self.step_count += 1


class Adam(Optimizer):
    name = "adam"
    decoupled = False

    def __init__(self, size: int, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(size)
        self.beta1, self.beta2 = betas
        self.eps, self.weight_decay = eps, weight_decay
        self.slots["exp_avg"] = np.zeros(size, np.float32)
        self.slots["exp_avg_sq"] = np.zeros(size, np.float32)

    def step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        self.step_count += 1
        t = self.step_count
        if self.weight_decay and self.decoupled:
            params *= np.float32(1 - lr * self.weight_decay)
        g = grads + np.float32(self.weight_decay) * params if self.weight_decay and not self.decoupled else grads
        m, v = self.slots["exp_avg"], self.slots["exp_avg_sq"]
        m *= np.float32(self.beta1)
        m += np.float32(1 - self.beta1) * g
        v *= np.float32(self.beta2)
        v += np.float32(1 - self.beta2) * (g * g)
        step_size = lr / (1 - self.beta1 ** t)
        denom = np.sqrt(v) / np.float32(np.sqrt(1 - self.beta2 ** t))
        denom += np.float32(self.eps)
        params -= np.float32(step_size) * (m / denom)


class AdamW(Adam):
    name = "adamw"
    decoupled = True


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam, "adamw": AdamW}
