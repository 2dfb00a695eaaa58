"""Every kind of bad spec gets one message with file:line:column and the spec path, exit code 1,
and no traceback (SPEC.md, 'What bad input gets')."""
import pytest
from click.testing import CliRunner

from cnncli.cli.main import cli

HEAD = "input: [1, 28, 28]\nlayers:\n"

CASES = [
    # (spec text, expected location, expected message fragment)
    ("input: [1, 28, 28]\nlayers:\n  - conv2d: {filters: 6, kernel: 3\n", ":4:1:", "malformed YAML"),
    (HEAD + "  - convv2d: {filters: 6, kernel: 3}\n", ":3:5: layers[0].convv2d", "did you mean 'conv2d'?"),
    (HEAD + "  - conv2d: {filters: 6, kernel_size: 5}\n", ":3:39: layers[0].conv2d.kernel_size",
     "unknown argument 'kernel_size' for conv2d; did you mean 'kernel'?"),
    (HEAD + "  - conv2d: {filters: 6, kernel: 0}\n", ":3:34: layers[0].conv2d.kernel", "kernel must be ≥ 1"),
    (HEAD + "  - conv2d: {filters: 6, kernel: 3, stride: -2}\n", "layers[0].conv2d.stride", "got -2"),
    (HEAD + "  - conv2d: {filters: 6.5, kernel: 3}\n", "layers[0].conv2d.filters", "expects a whole number, got 6.5"),
    (HEAD + "  - conv2d: {filters: 6, kernel: 3, padding: sam}\n", "padding", "did you mean 'same'?"),
    ("input: [3, 28, 28]\nlayers:\n  - conv2d: {filters: 6, kernel: 3, groups: 2}\n", "layers[0].conv2d.groups",
     "groups 2 does not divide the 3 input channels"),
    ("input: [1, 4, 4]\nlayers:\n  - conv2d: {filters: 6, kernel: 5}\n", "layers[0].conv2d.kernel",
     "kernel 5 (along H) is larger than the padded input 4"),
    (HEAD + "  - conv2d: {filters: 6, kernel: 5}\n  - dense: 10\n", ":4:5: layers[1].dense",
     "dense expects a flat input [features], got [6, 24, 24]; add '- flatten' before it"),
    (HEAD + "  - conv2d: {filters: 6, kernel: 3, name: a}\n  - conv2d: {filters: 8, kernel: 3, name: b}\n"
            "  - add: {inputs: [a, b]}\n", "layers[2].add", "'a' is [6, 26, 26] and 'b' is [8, 24, 24]"),
    (HEAD + "  - conv2d: {filters: 6, kernel: 3, name: a}\n"
            "  - conv2d: {filters: 8, kernel: 1, name: b, inputs: input}\n"
            "  - concat: {inputs: [a, b]}\n", "layers[2].concat", "all but the channel size must agree"),
    (HEAD + "  - conv2d: {filters: 6, kernel: 3, name: a}\n  - add: {inputs: [a, later]}\n  - relu: {name: later}\n",
     "layers[1].add.inputs", "unknown input 'later'"),
    (HEAD + "  - conv2d: {filters: 6, kernel: 3, name: a}\n  - conv2d: {filters: 6, kernel: 3, name: a}\n",
     ":4:43: layers[1].conv2d.name", "duplicate name 'a' (first used at line 3)"),
    ("input: [1, 28, 28]\nblocks:\n  b:\n    params: {ch: 4}\n    layers:\n      - conv2d: {filters: $chh, kernel: 3}\n"
     "layers:\n  - b\n", ":6:27: layers[0].b → blocks.b.layers[0].conv2d.filters",
     "undefined block parameter '$chh' in block b; did you mean 'ch'?"),
    ("input: [1, 28, 28]\nblocks:\n  b:\n    params: {ch: 4}\n    layers: [conv2d: {filters: $ch, kernel: 3}]\n"
     "layers:\n  - b: {chs: 3}\n", "layers[0].b.chs", "did you mean 'ch'?"),
    (HEAD + "  - residual:\n      body:\n        - conv2d: {filters: 8, kernel: 3, stride: 2, padding: 1}\n",
     "layers[0].residual", "its shortcut must too"),
    ("input: [1, 28]\nlayers: [relu]\n", "input", "input is [C, H, W]"),
    ("inputs: [1, 28, 28]\nlayers: [relu]\n", ":1:1: inputs", "did you mean 'input'?"),
    ("input: [1, 28, 28]\nlayers: []\n", "layers", "non-empty list"),
    (HEAD + "  - {conv2d: {filters: 6}, kernel: 3}\n", "layers[0]", "one-key mapping"),
    (HEAD + "  - dropout: 1.5\n", "layers[0].dropout.rate", "must be < 1"),
    (HEAD + "  - relu: 3\n", "layers[0].relu", "relu takes no main argument"),
    (HEAD + "  - maxpool: {kernel: 2, padding: 2}\n", "layers[0].maxpool.padding", "more than half the kernel"),
    (HEAD + "  - conv2d: {filters: 6, kernel: 3, activation: relu7}\n", "activation",
     "unknown activation 'relu7'; did you mean 'relu"),
    ("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"b{i}: &b{i} [{', '.join(['*' + ('a' if i == 1 else f'b{i - 1}')] * 10)}]\n" for i in range(1, 9))
     + "input: [1, 2, 2]\nlayers: *b8\n", ":1:", "alias bomb"),
    ("a: 1\na: 2\n", ":2:1", "duplicate key 'a'"),
]


@pytest.mark.parametrize("text,where,what", CASES)
def test_bad_spec_gets_one_clear_message(tmp_path, text, where, what):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = CliRunner().invoke(cli, ["shapes", str(path)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    message = result.stderr.strip()
    assert message.startswith(f"error: {path}"), message
    assert where in message and what in message, message
    assert "\n" not in message  # one message, one line


def test_huge_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"#" * 10_500_000)
    result = CliRunner().invoke(cli, ["params", str(path)])
    assert result.exit_code == 1 and "more than 1,000,000 bytes; a spec may be at most 1,000,000 bytes" in result.stderr


def test_missing_file_and_unknown_zoo_name():
    result = CliRunner().invoke(cli, ["params", "no_such_net"])
    assert result.exit_code == 1 and "no spec file 'no_such_net' and no zoo spec" in result.stderr


def test_floor_dropping_rows_is_a_warning(tmp_path):
    path = tmp_path / "w.yaml"
    path.write_text(HEAD + "  - conv2d: {filters: 6, kernel: 3, stride: 2}\n")
    result = CliRunner().invoke(cli, ["shapes", str(path)])
    assert result.exit_code == 0
    assert "floor() drops the last 1 row and 1 column of the input" in result.stderr


def test_same_padding_says_what_it_chose(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + "  - conv2d: {filters: 6, kernel: 4, stride: 2, padding: same}\n")
    out = CliRunner().invoke(cli, ["shapes", str(path)]).stdout
    assert "padding 'same' chose top 1, bottom 1, left 1, right 1" in out


def test_bad_flag_value_is_a_usage_error(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(HEAD + "  - relu\n")
    result = CliRunner().invoke(cli, ["shapes", str(path), "--input", "1,x,3"])
    assert result.exit_code == 2 and "expected C,H,W" in result.output
