"""Optimizers on the flat parameter vector, with PyTorch's update rules.

SGD (torch.optim.SGD, dampening 0):  g = ∇ + λ·θ;  b = μ·b + g (b = g at the first step);
    θ −= lr · (g + μ·b if nesterov else b)      (plain g when μ = 0)
Adam: g = ∇ + λ·θ;  m = β₁m + (1−β₁)g;  v = β₂v + (1−β₂)g²;
    θ −= lr · (m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε)
AdamW: as Adam without λ in g, and θ −= lr·λ·θ first (decoupled weight decay).
Each step is one fused pass over the flat vectors (Numba), in float32 with the operations in
this order (no fused multiply-add), so it equals the same formulas evaluated with numpy array
operations bit for bit (θ·1 is exact, so AdamW's decay of 1 for the others is harmless).
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _sgd(p, grad, buf, lr, momentum, nesterov, weight_decay, first):
    """In place: g = grad + weight_decay·p; buf = g (first) or momentum·buf + g; p −= lr·(g + momentum·buf
    if nesterov else buf), or p −= lr·g without momentum (buf empty). Serial: one vectorised
    pass over even 10^7 parameters costs less than a parallel region per step would save."""
    for i in range(p.size):
        g = grad[i] + weight_decay * p[i] if weight_decay != 0 else grad[i]
        if buf.size:
            b = g if first else buf[i] * momentum + g
            buf[i] = b
            g = g + momentum * b if nesterov else b
        p[i] -= lr * g


@njit(cache=True, error_model="numpy")  # IEEE division (no zero check): the loop vectorises
def _adam(p, grad, m, v, lr_t, beta1, beta2, one_minus_b1, one_minus_b2, bias2, eps, weight_decay, decay):
    """In place: p *= decay (AdamW, 1 otherwise); g = grad + weight_decay·p (Adam's L2, weight_decay = 0 for AdamW);
    m = β₁m + (1−β₁)g; v = β₂v + (1−β₂)g²; p −= lr_t · m / (√v / bias2 + ε)."""
    for i in range(p.size):
        pi = p[i] * decay
        g = grad[i] + weight_decay * pi if weight_decay != 0 else grad[i]
        mi = m[i] * beta1 + one_minus_b1 * g
        vi = v[i] * beta2 + one_minus_b2 * (g * g)
        m[i], v[i] = mi, vi
        p[i] = pi - lr_t * (mi / (np.sqrt(vi) / bias2 + eps))


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
        buf = self.slots.get("momentum_buffer", params[:0])
        f32 = np.float32
        _sgd(params, grads, buf, f32(lr), f32(self.momentum), self.nesterov, f32(self.weight_decay),
             self.step_count == 0)
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
        t, f32 = self.step_count, np.float32
        decay = f32(1 - lr * self.weight_decay) if self.weight_decay and self.decoupled else f32(1)
        weight_decay = f32(0) if self.decoupled else f32(self.weight_decay)
        _adam(params, grads, self.slots["exp_avg"], self.slots["exp_avg_sq"], f32(lr / (1 - self.beta1 ** t)),
              f32(self.beta1), f32(self.beta2), f32(1 - self.beta1), f32(1 - self.beta2),
              f32(np.sqrt(1 - self.beta2 ** t)), f32(self.eps), weight_decay, decay)


class AdamW(Adam):
    name = "adamw"
    decoupled = True


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam, "adamw": AdamW}
