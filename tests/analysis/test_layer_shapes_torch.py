"""Output shapes and parameter counts of each layer type over a grid of arguments, against
PyTorch (reference: torch.nn modules run on a zero tensor; skipped when torch is absent)."""
import itertools

import pytest

from cnncli.analysis import analyze
from cnncli.graph import build_graph
from cnncli.spec import load_spec_text

torch = pytest.importorskip("torch")
F = torch.nn.functional


def one_layer(entry: str, input_shape=(4, 13, 11)):
    spec = load_spec_text(f"input: {list(input_shape)}\nlayers:\n  - {entry}\n", "grid.yaml")
    return analyze(build_graph(spec)).rows[-1]


CONV_GRID = list(itertools.product([1, 3, 4], [1, 2, 3], [0, 1, 2], [1, 2], [1, 2], [True, False]))


@pytest.mark.parametrize("kernel,stride,padding,dilation,groups,bias", CONV_GRID)
def test_conv2d_matches_torch(kernel, stride, padding, dilation, groups, bias):
    c, h, w = 4, 13, 11
    if dilation * (kernel - 1) + 1 > min(h, w) + 2 * padding:
        return
    row = one_layer(f"conv2d: {{filters: 6, kernel: {kernel}, stride: {stride}, padding: {padding}, "
                    f"dilation: {dilation}, groups: {groups}, bias: {str(bias).lower()}}}")
    module = torch.nn.Conv2d(c, 6, kernel, stride, padding, dilation, groups, bias)
    y = module(torch.zeros(1, c, h, w))
    assert row.output_shape == tuple(y.shape[1:])
    assert row.params == sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("kernel,stride,size", list(itertools.product([1, 2, 3, 4, 5], [1, 2, 3], [7, 8, 13])))
def test_same_padding_matches_tensorflow_rule(kernel, stride, size):
    """'same' = output ceil(n / s), padding split with the extra at the bottom/right (TensorFlow's
    documented rule); we run torch on the explicitly padded input to check the arithmetic."""
    row = one_layer(f"conv2d: {{filters: 2, kernel: {kernel}, stride: {stride}, padding: same}}", (1, size, size))
    assert row.output_shape[1:] == (-(-size // stride),) * 2
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    padded = F.pad(torch.zeros(1, 1, size, size), (total // 2, total - total // 2) * 2)
    assert tuple(F.conv2d(padded, torch.zeros(2, 1, kernel, kernel), stride=stride).shape[2:]) == \
        row.output_shape[1:]


def test_explicit_asymmetric_padding_matches_torch_pad():
    row = one_layer("conv2d: {filters: 3, kernel: [3, 2], stride: [2, 1], padding: [[0, 2], [1, 0]]}")
    x = F.pad(torch.zeros(1, 4, 13, 11), (1, 0, 0, 2))
    assert row.output_shape == tuple(F.conv2d(x, torch.zeros(3, 4, 3, 2), stride=(2, 1)).shape[1:])


POOL_GRID = [(k, s, p, ceil) for k, s, p, ceil in itertools.product([1, 2, 3, 4], [1, 2, 3], [0, 1, 2], [False, True])
             if 2 * p <= k]


@pytest.mark.parametrize("kernel,stride,padding,ceil_mode", POOL_GRID)
@pytest.mark.parametrize("kind", ["maxpool", "avgpool"])
def test_pooling_matches_torch(kind, kernel, stride, padding, ceil_mode):
    row = one_layer(f"{kind}: {{kernel: {kernel}, stride: {stride}, padding: {padding}, "
                    f"ceil_mode: {str(ceil_mode).lower()}}}")
    fn = F.max_pool2d if kind == "maxpool" else F.avg_pool2d
    y = fn(torch.zeros(1, 4, 13, 11), kernel, stride, padding, ceil_mode=ceil_mode)
    assert row.output_shape == tuple(y.shape[1:])


@pytest.mark.parametrize("output", [1, 2, 3, 5, [2, 4], [7, 3]])
def test_adaptive_pool_matches_torch(output):
    row = one_layer(f"adaptive_avgpool: {output}")
    y = F.adaptive_avg_pool2d(torch.zeros(1, 4, 13, 11), output)
    assert row.output_shape == tuple(y.shape[1:])


def test_batchnorm_dense_flatten_global_match_torch():
    spec = load_spec_text("input: [5, 9, 9]\nlayers: [batchnorm, global_avgpool, flatten, {dense: 7}, "
                          "{batchnorm: {eps: 0.001}}]\n", "x.yaml")
    rows = analyze(build_graph(spec)).rows
    bn2d, dense, bn1d = torch.nn.BatchNorm2d(5), torch.nn.Linear(5, 7), torch.nn.BatchNorm1d(7)
    assert [r.params for r in rows] == [sum(p.numel() for p in m.parameters()) if m else 0
                                        for m in (bn2d, None, None, dense, bn1d)]
    # buffers: running mean and variance only (num_batches_tracked is a counter, not state we keep)
    assert rows[0].buffers == bn2d.running_mean.numel() + bn2d.running_var.numel()
    assert [r.output_shape for r in rows] == [(5, 9, 9), (5, 1, 1), (5,), (7,), (7,)]
