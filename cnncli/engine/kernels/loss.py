"""Softmax cross-entropy over logits [N, K] with integer labels [N].

loss = mean_n (logsumexp(z_n) - z_n[label_n]),  logsumexp(z) = m + log sum exp(z - m);
dlogits[n, k] = (softmax(z_n)[k] - [k == label_n]) / N.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _xent(z, labels, dz, losses):
    n_, k_ = z.shape
    inv_n = 1.0 / n_
    for n in range(n_):  # serial: a batch of logits is tiny next to one parallel region's cost
        m = z[n, 0]
        for k in range(1, k_):
            m = max(m, z[n, k])
        tot = 0.0
        for k in range(k_):
            e = np.exp(z[n, k] - m)
            dz[n, k] = e
            tot += e
        lab = labels[n]
        losses[n] = m + np.log(tot) - z[n, lab]
        scale = inv_n / tot
        for k in range(k_):
            dz[n, k] *= scale
        dz[n, lab] -= inv_n


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """(mean loss as a Python float, dlogits [N, K] already divided by N)."""
    n, k = logits.shape
    lab = np.asarray(labels, dtype=np.int64)
    if lab.shape != (n,) or (n and (lab.min() < 0 or lab.max() >= k)):
        raise ValueError(f"labels must be {n} integers in [0, {k})")
    dz = np.empty_like(logits)
    losses = np.empty(n, np.float64)
    _xent(logits, lab, dz, losses)
    return float(losses.mean()), dz
