"""The fused optimizer steps (cnncli/engine/optim.py).

References: the update formulas written with numpy array operations in float32 (the
implementation before the fused kernels; must match bit for bit), and torch.optim.SGD /
Adam / AdamW on the same vectors over several steps (to float32 round-off).
"""
from __future__ import annotations

import numpy as np
import pytest

from cnncli.engine.optim import SGD, Adam, AdamW

f32 = np.float32


def numpy_sgd(p, grads, buf, lr, momentum, nesterov, wd, first):
    g = grads + f32(wd) * p if wd else grads
    if momentum:
        if first:
            buf[...] = g
        else:
            buf *= f32(momentum)
            buf += g
        g = g + f32(momentum) * buf if nesterov else buf
    p -= f32(lr) * g


def numpy_adam(p, grads, m, v, t, lr, b1, b2, eps, wd, decoupled):
    if wd and decoupled:
        p *= f32(1 - lr * wd)
    g = grads + f32(wd) * p if wd and not decoupled else grads
    m *= f32(b1)
    m += f32(1 - b1) * g
    v *= f32(b2)
    v += f32(1 - b2) * (g * g)
    denom = np.sqrt(v) / f32(np.sqrt(1 - b2 ** t))
    denom += f32(eps)
    p -= f32(lr / (1 - b1 ** t)) * (m / denom)


SGD_CASES = [dict(), dict(momentum=0.9), dict(momentum=0.9, nesterov=True, weight_decay=5e-4),
             dict(weight_decay=1e-2)]
ADAM_CASES = [(Adam, dict()), (Adam, dict(weight_decay=1e-2)), (AdamW, dict(weight_decay=1e-2)),
              (Adam, dict(betas=(0.8, 0.99), eps=1e-6))]


def vectors(rng, n=40_000):  # more than two of the kernels' blocks, not a multiple of one
    return rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)


@pytest.mark.parametrize("args", SGD_CASES)
def test_sgd_equals_the_numpy_formulas(rng, args):
    p, _ = vectors(rng)
    ref, buf = p.copy(), np.zeros_like(p)
    opt = SGD(p.size, **args)
    for step in range(4):
        g = rng.standard_normal(p.size).astype(np.float32)
        opt.step(p, g, 0.05)
        numpy_sgd(ref, g, buf, 0.05, args.get("momentum", 0.0), args.get("nesterov", False),
                  args.get("weight_decay", 0.0), step == 0)
        np.testing.assert_array_equal(p, ref)


@pytest.mark.parametrize("cls,args", ADAM_CASES)
def test_adam_equals_the_numpy_formulas(rng, cls, args):
    p, _ = vectors(rng)
    ref, m, v = p.copy(), np.zeros_like(p), np.zeros_like(p)
    opt = cls(p.size, **args)
    b1, b2 = args.get("betas", (0.9, 0.999))
    for t in range(1, 5):
        g = rng.standard_normal(p.size).astype(np.float32)
        opt.step(p, g, 1e-3)
        numpy_adam(ref, g, m, v, t, 1e-3, b1, b2, args.get("eps", 1e-8), args.get("weight_decay", 0.0),
                   cls is AdamW)
        np.testing.assert_array_equal(p, ref)


@pytest.mark.parametrize("kind,args", [("sgd", a) for a in SGD_CASES] + [(c.__name__, a) for c, a in ADAM_CASES])
def test_optimizers_match_torch(rng, kind, args):
    torch = pytest.importorskip("torch")
    p, _ = vectors(rng, 1000)
    tp = torch.tensor(p.copy(), requires_grad=True)
    ours = {"sgd": SGD, "Adam": Adam, "AdamW": AdamW}[kind](p.size, **args)
    theirs = {"sgd": torch.optim.SGD, "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW}[kind]([tp], lr=0.01,
                                                                                                 **args)
    for _ in range(5):
        g = rng.standard_normal(p.size).astype(np.float32)
        ours.step(p, g, 0.01)
        tp.grad = torch.tensor(g)
        theirs.step()
    np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-5, atol=1e-6)
