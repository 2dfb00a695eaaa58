"""Pure size arithmetic of convolution and pooling, one spatial axis at a time.

The course formula for an n-wide input, kernel f, padding p each side and stride s is
    out = floor((n + 2p - f) / s) + 1
and in general, with padding split as (lo, hi) and dilation d (effective kernel d·(f-1)+1),
    out = floor((n + lo + hi - d·(f-1) - 1) / s) + 1.
Pooling with ceil_mode uses ceil instead of floor, then drops a last window that would
start inside the right padding (PyTorch's rule).
"""
from __future__ import annotations

from dataclasses import dataclass
from math import gcd


def effective_kernel(f: int, d: int = 1) -> int:
    """Span of a dilated kernel: d·(f-1) + 1."""
    return d * (f - 1) + 1


def conv_out(n: int, f: int, pad: tuple[int, int] = (0, 0), s: int = 1, d: int = 1,
             ceil_mode: bool = False) -> int:
    """Output length: floor((n + lo + hi - d·(f-1) - 1) / s) + 1 (ceil, PyTorch-style, if ceil_mode).

    Returns 0 when the (padded) input is shorter than the kernel; callers report that.
    """
    lo, hi = pad
    span = n + lo + hi - effective_kernel(f, d)
    if span < 0:
        return 0
    if not ceil_mode:
        return span // s + 1
    out = -(-span // s) + 1
    if (out - 1) * s >= n + lo:  # the last window would start in the right padding
        out -= 1
    return out


def dropped(n: int, f: int, pad: tuple[int, int] = (0, 0), s: int = 1, d: int = 1) -> int:
    """Input rows (or columns) that no window reaches because floor() cut a partial window.

    The windows cover up to index (out-1)·s + d·(f-1) of the padded input; the rest of the
    real input beyond that is never read: max(0, n + lo - ((out-1)·s + d·(f-1) + 1)).
    """
    out = conv_out(n, f, pad, s, d)
    if out < 1:
        return 0
    covered = (out - 1) * s + effective_kernel(f, d)
    return max(0, n + pad[0] - covered)


def same_padding(n: int, f: int, s: int = 1, d: int = 1) -> tuple[int, int]:
    """TensorFlow's 'same': out = ceil(n / s); total = max((out-1)·s + d·(f-1) + 1 - n, 0),
    split lo = total // 2, hi = total - lo (the extra row goes to the bottom/right)."""
    out = -(-n // s)
    total = max((out - 1) * s + effective_kernel(f, d) - n, 0)
    return total // 2, total - total // 2


def adaptive_bins(n: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive pooling bins: [floor(i·n/out), ceil((i+1)·n/out)) for i < out."""
    return [((i * n) // out, -(-((i + 1) * n) // out)) for i in range(out)]


@dataclass(frozen=True)
class BinStats:
    """What the analysis needs of adaptive_bins(n, out), in closed form (no list of `out` bins)."""

    largest: int  # the widest bin
    step: int  # the smallest distance between the starts of neighbouring bins (n when out = 1)
    total: int  # the sizes of all bins added up


def adaptive_bin_stats(n: int, out: int) -> BinStats:
    """With q, r = divmod(n, out) and g = gcd(n, out): the bin sizes are q when r = 0, else q + 1 or (when
    r > g) q + 2; neighbouring starts differ by q or q + 1, bin 0 to bin 1 by q; the sizes add up to
    Σ ceil((i+1)·n/out) − Σ floor(i·n/out) = n + out − g (the floor sum is ((n−1)(out−1) + g − 1) / 2,
    the ceilings add n and one for each of the out − g multiples i + 1 where out ∤ (i + 1)·n)."""
    q, r = divmod(n, out)
    g = gcd(n, out)
    largest = q if r == 0 else q + 2 if r > g else q + 1
    return BinStats(largest, q if out >= 2 else n, n + out - g)


@dataclass(frozen=True)
class AxisArithmetic:
    """One axis of a windowed layer, for showing the formula with the numbers in it."""

    n: int
    f: int
    pad: tuple[int, int]
    s: int
    d: int
    ceil_mode: bool
    out: int

    def formula(self) -> str:
        """E.g. `floor((224 + 2·3 − 7) / 2) + 1 = 112`."""
        lo, hi = self.pad
        if lo == hi:
            padding = f" + 2·{lo}" if lo else ""
        else:
            padding = f" + {lo} + {hi}"
        kernel = f"{self.f}" if self.d == 1 else f"({self.d}·({self.f}−1) + 1)"
        rounding = "ceil" if self.ceil_mode else "floor"
        text = f"{rounding}(({self.n}{padding} − {kernel}) / {self.s}) + 1"
        span = self.n + lo + hi - effective_kernel(self.f, self.d)
        if self.ceil_mode and -(-span // self.s) + 1 != self.out:
            text += " − 1 (the last window would start in the padding)"
        return f"{text} = {self.out}"
