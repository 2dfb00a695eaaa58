"""The size formulas against a brute-force count of window positions (reference: enumeration)."""
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncli.shapes import AxisArithmetic, adaptive_bins, conv_out, dropped, same_padding


def brute_positions(n: int, f: int, lo: int, hi: int, s: int, d: int) -> list[int]:
    """Start indices (in padded coordinates) of every window that fits in the padded input."""
    span = d * (f - 1) + 1
    return [start for start in range(0, n + lo + hi, s) if start + span <= n + lo + hi]


def brute_ceil_positions(n: int, f: int, lo: int, hi: int, s: int, d: int) -> list[int]:
    """PyTorch ceil_mode: a last window may overhang the padded input by less than one stride,
    and a window that would start in the right padding is ignored (PyTorch's documentation)."""
    span = d * (f - 1) + 1
    return [start for start in range(0, n + lo + hi, s)
            if start + span <= n + lo + hi + s - 1 and start < n + lo]


sizes = st.integers(1, 40)


@settings(max_examples=400, deadline=None)
@given(n=sizes, f=st.integers(1, 9), lo=st.integers(0, 4), hi=st.integers(0, 4), s=st.integers(1, 5),
       d=st.integers(1, 3))
def test_floor_formula_counts_window_positions(n, f, lo, hi, s, d):
    assert conv_out(n, f, (lo, hi), s, d) == len(brute_positions(n, f, lo, hi, s, d))


@settings(max_examples=400, deadline=None)
@given(n=sizes, f=st.integers(1, 9), p=st.integers(0, 4), s=st.integers(1, 5))
def test_ceil_mode_counts_windows_that_start_inside(n, f, p, s):
    if conv_out(n, f, (p, p), s) < 1 or 2 * p > f:  # PyTorch pooling requires padding <= kernel / 2
        return
    assert conv_out(n, f, (p, p), s, ceil_mode=True) == len(brute_ceil_positions(n, f, p, p, s, 1))


@settings(max_examples=400, deadline=None)
@given(n=sizes, f=st.integers(1, 9), lo=st.integers(0, 4), hi=st.integers(0, 4), s=st.integers(1, 5),
       d=st.integers(1, 3))
def test_dropped_rows_are_the_ones_no_window_reads(n, f, lo, hi, s, d):
    starts = brute_positions(n, f, lo, hi, s, d)
    if not starts:
        return
    last_read = max(start + (f - 1) * d - lo for start in starts)  # in input coordinates
    assert dropped(n, f, (lo, hi), s, d) == max(0, n - 1 - last_read)


@settings(max_examples=300, deadline=None)
@given(n=sizes, f=st.integers(1, 9), s=st.integers(1, 5), d=st.integers(1, 3))
def test_same_padding_gives_ceil_n_over_s(n, f, s, d):
    lo, hi = same_padding(n, f, s, d)
    assert hi - lo in (0, 1)
    assert conv_out(n, f, (lo, hi), s, d) == -(-n // s)


def test_course_examples():
    # Course notes: 6x6 with 3x3 -> 4x4; 7x7, f 3, s 2 -> 3x3; 125 + 2·2 − 5 over 2 -> 63.
    assert conv_out(6, 3) == 4
    assert conv_out(7, 3, (0, 0), 2) == 3
    assert conv_out(125, 5, (2, 2), 2) == 63
    assert AxisArithmetic(224, 7, (3, 3), 2, 1, False, 112).formula() == "floor((224 + 2·3 − 7) / 2) + 1 = 112"


def test_adaptive_bins_cover_input():
    assert adaptive_bins(10, 3) == [(0, 4), (3, 7), (6, 10)]
    assert adaptive_bins(7, 7) == [(i, i + 1) for i in range(7)]


@given(st.integers(1, 400), st.integers(1, 400))
def test_adaptive_bin_stats_equal_the_bins_counted_one_by_one(n: int, out: int) -> None:
    """Reference: the bins themselves (PyTorch's rule, adaptive_bins), measured one by one."""
    from cnncli.shapes import adaptive_bin_stats, adaptive_bins

    bins = adaptive_bins(n, out)
    stats = adaptive_bin_stats(n, out)
    assert stats.largest == max(end - start for start, end in bins)
    assert stats.total == sum(end - start for start, end in bins)
    assert stats.step == min((bins[i + 1][0] - bins[i][0] for i in range(out - 1)), default=n)
