"""`cnn calc`: pool stride, non-square sizes, the solver and numeric mode.

References: the DeepLearning.AI course (vertical edge detector: a 6x6 image with a bright left
half -> 4x4 of 0/30/30/0; `maxpool: 2` halves 28 to 14), D2L §7.2 (cross-correlation of
[[0,1,2],[3,4,5],[6,7,8]] with [[0,1],[2,3]] = [[19,25],[37,43]]) and §7.5 (2x2 max pooling
of that input = [[4,5],[7,8]]), hand evaluation of the size formula, and torch.nn.functional.
"""
import re

import pytest
from click.testing import CliRunner

from cnncli.cli.main import cli


def run(*args: str):
    return CliRunner().invoke(cli, ["calc", *args])


def matrix(out: str) -> list[list[float]]:
    """The rows printed after the 'output'/'pooled' header line."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if re.search(r"(output|pooled) \(\d+×\d+\):", line))
    return [[float(v) for v in line.split()] for line in lines[start + 1:] if line.startswith("  ")]


def test_pool_stride_defaults_to_the_kernel():
    result = run("pool", "--n", "28", "--f", "2")
    assert result.exit_code == 0 and "floor((28 − 2) / 2) + 1 = 14" in result.stdout
    assert "floor((28 − 2) / 1) + 1 = 27" in run("pool", "--n", "28", "--f", "2", "--s", "1").stdout


def test_non_square_sizes_per_axis():
    out = run("conv", "--n", "125,49", "--f", "5,3", "--s", "2,1", "--p", "2,0").stdout
    # H: floor((125 + 4 − 5) / 2) + 1 = 63; W: floor((49 − 3) / 1) + 1 = 47
    assert "H: floor((125 + 2·2 − 5) / 2) + 1 = 63" in out and "W: floor((49 − 3) / 1) + 1 = 47" in out


def test_filters_without_channels_is_an_error_and_pool_takes_channels():
    result = run("conv", "--n", "39", "--f", "3", "-k", "10")
    assert result.exit_code == 1
    assert result.stderr.strip() == ("error: -k (filters) counts parameters together with -c (input channels): "
                                     "give -c too, e.g. -c 3 -k 10")
    out = run("pool", "--n", "28", "--f", "2", "-c", "6").stdout
    assert "output volume 14×14×6; pooling has no parameters" in out


def test_solver_lists_exactly_the_settings_that_give_the_output():
    out = run("conv", "--n", "28", "--f", "5", "--out", "14").stdout
    found = [tuple(int(v) for v in re.findall(r"\d+", line)) for line in out.splitlines() if "padding" in line]
    found = [(t + (1,))[:3] for t in found]  # (p, s, d); dilation 1 is not printed
    assert (2, 2, 1) in found
    # hand check of each against the course formula, and that none with d = 1 is missing
    assert all((28 + 2 * p - d * 4 - 1) // s + 1 == 14 for p, s, d in found)
    assert [t for t in found if t[2] == 1] == [(p, s, 1) for s in range(1, 29) for p in range(5)
                                              if (28 + 2 * p - 5) // s + 1 == 14]


def test_solver_says_when_nothing_fits():
    result = run("conv", "--n", "4", "--f", "3", "--out", "9")
    assert result.exit_code == 1 and "no padding, stride or dilation takes 4 to 9" in result.stderr


EDGE = "; ".join(["10 10 10 0 0 0"] * 6)


def test_vertical_edge_detector_of_the_course():
    out = run("conv", "--x", EDGE, "--w", "1 0 -1; 1 0 -1; 1 0 -1").stdout
    assert matrix(out) == [[0, 30, 30, 0]] * 4


def test_d2l_cross_correlation_and_max_pooling():
    X = "[[0,1,2],[3,4,5],[6,7,8]]"
    assert matrix(run("conv", "--x", X, "--w", "0 1; 2 3").stdout) == [[19, 25], [37, 43]]
    assert matrix(run("pool", "--x", X, "--f", "2", "--s", "1").stdout) == [[4, 5], [7, 8]]
    assert matrix(run("pool", "--x", X, "--f", "2").stdout) == [[4]]
    assert matrix(run("pool", "--x", X, "--f", "2", "--s", "1", "--mode", "avg").stdout) == [[2, 3], [5, 6]]


def test_numeric_conv_matches_torch_with_padding_stride_dilation():
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(0)
    x = torch.randint(-5, 6, (7, 6), generator=g).float()
    w = torch.randint(-3, 4, (3, 2), generator=g).float()
    text = lambda m: "; ".join(" ".join(str(int(v)) for v in row) for row in m.tolist())  # noqa: E731
    out = run("conv", "--x", text(x), "--w", text(w), "--p", "1,2", "--s", "2,1", "--d", "1,2").stdout
    want = torch.nn.functional.conv2d(x[None, None], w[None, None], padding=(1, 2), stride=(2, 1), dilation=(1, 2))
    assert matrix(out) == want[0, 0].tolist()


def test_bad_matrices_and_disagreeing_sizes():
    result = run("conv", "--x", "1 2; 3", "--w", "1")
    assert result.exit_code == 1 and "(rows of different lengths)" in result.stderr
    result = run("conv", "--x", "1 2; 3 4", "--w", "1 0; 0 1", "--f", "3")
    assert result.exit_code == 1 and "--f 3,3 disagrees with the 2×2 kernel given by --w" in result.stderr
    result = run("conv", "--n", "5,x", "--f", "3")
    assert result.exit_code == 2 and "expected a number or H,W" in result.stderr


def test_golden_outputs():
    # the whole text, since it is what a student compares with the lecture
    assert run("conv", "--x", EDGE, "--w", "1 0 -1; 1 0 -1; 1 0 -1").stdout == (
        "floor((6 − 3) / 1) + 1 = 4\n"
        "output (4×4):\n"
        "   0 30 30  0\n   0 30 30  0\n   0 30 30  0\n   0 30 30  0\n")
    assert run("conv", "--n", "28", "--f", "5", "--out", "14").stdout == (
        "28 → 14 with kernel 5: floor((n + 2p − d(f−1) − 1) / s) + 1\n"
        "  padding 2, stride 2\n"
        "  padding 4, stride 2, dilation 2\n"
        "  padding 6, stride 2, dilation 3\n"
        "  padding 12, stride 3, dilation 3\n")
