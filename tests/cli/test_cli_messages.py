"""Issue 12, point 7: the messages new users meet, each exact (file:line:col, path, text).

Reference: the wording each message promises (what was expected, what was received, a fix),
checked by hand against the spec text; the sizes quoted are hand evaluations of
floor((n + 2p − f) / s) + 1.
"""
import pytest
from click.testing import CliRunner

from cnncli.cli.main import cli

HEAD = "name: t\ninput: [3, 32, 32]\nlayers:\n"


def message(tmp_path, text: str, *args: str) -> str:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    result = CliRunner().invoke(cli, ["shapes", str(path), *args])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    return result.stderr.strip().replace(str(path), "m.yaml")


def test_fused_activation_with_a_value_is_a_message_not_a_crash(tmp_path):
    text = HEAD + "  - conv2d: {filters: 8, kernel: 3, activation: {relu: 1}}\n"
    assert message(tmp_path, text) == ("error: m.yaml:4:49: layers[0].conv2d.activation.relu: relu takes no main "
                                       "argument, got 1; write `activation: relu`")


def test_fused_activation_keeps_its_argument(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(HEAD + "  - conv2d: {filters: 8, kernel: 3, activation: {leaky_relu: 0.2}}\n")
    result = CliRunner().invoke(cli, ["shapes", str(path), "--format", "json"])
    import json
    layers = json.loads(result.stdout)["layers"]
    assert [layer["name"] for layer in layers] == ["conv2d_1", "conv2d_1.leaky_relu"]


def test_concat_written_as_a_list_points_to_inputs_and_branches(tmp_path):
    text = (HEAD + "  - conv2d: {filters: 8, kernel: 3, name: a}\n"
            "  - conv2d: {filters: 8, kernel: 3, inputs: input, name: b}\n  - concat: [a, b]\n")
    assert message(tmp_path, text) == (
        "error: m.yaml:6:5: layers[2].concat: concat takes the layers it joins as `inputs`: write "
        "`- concat: {inputs: [a, b]}` or `- concat: {branches: [[...], [...]]}` to run branches side by side")


def test_channels_last_input_gets_a_hint(tmp_path):
    text = "name: t\ninput: [32, 32, 3]\nlayers:\n  - conv2d: {filters: 8, kernel: 5}\n"
    assert message(tmp_path, text).endswith(
        "(node 'conv2d_1', input 'input' [32, 32, 3]); input [32, 32, 3] looks like [H, W, C] (Keras's order); "
        "cnn reads input as [C, H, W]: write input: [3, 32, 32]")
    path = tmp_path / "fits.yaml"  # it fits, but is almost surely not what was meant: a warning
    path.write_text("name: t\ninput: [224, 224, 3]\nlayers:\n  - conv2d: {filters: 8, kernel: 3}\n")
    result = CliRunner().invoke(cli, ["shapes", str(path)])
    assert result.exit_code == 0 and "write input: [3, 224, 224]" in result.stderr


@pytest.mark.parametrize("written,ours,who", [("pool_size", "kernel", "Keras"), ("strides", "stride", "Keras"),
                                              ("out_channels", "filters", "PyTorch")])
def test_foreign_argument_names_get_ours(tmp_path, written, ours, who):
    layer = (f"maxpool: {{{written}: 2}}" if written == "pool_size"
             else f"conv2d: {{filters: 8, kernel: 3, {written}: 2}}")
    text = HEAD + f"  - {layer}\n"
    assert f"unknown argument '{written}'" in message(tmp_path, text)
    assert f"; did you mean '{ours}'? ({who} calls it {written})" in message(tmp_path, text)


def test_in_channels_is_not_needed(tmp_path):
    text = HEAD + "  - conv2d: {filters: 8, kernel: 3, in_channels: 3}\n"
    assert "; input sizes are not written: they are inferred from the previous layer" in message(tmp_path, text)


def test_padding_in_capitals_is_understood(tmp_path):
    path = tmp_path / "same.yaml"
    path.write_text(HEAD + "  - conv2d: {filters: 8, kernel: 3, padding: SAME}\n")
    import json
    result = CliRunner().invoke(cli, ["shapes", str(path), "--format", "json"])
    assert json.loads(result.stdout)["layers"][0]["output_shape"] == [8, 32, 32]  # 'same' keeps 32


def test_unquoted_indexed_parameter_says_quote_it(tmp_path):
    text = ("name: t\ninput: [3, 32, 32]\nblocks:\n  b:\n    params: {c: [8, 16]}\n    layers:\n"
            "      - conv2d: {filters: $c[0], kernel: 3}\nlayers:\n  - b\n")
    assert message(tmp_path, text) == (
        "error: m.yaml:7:29: malformed YAML: did not find expected ',' or '}' while parsing a flow mapping; "
        "inside { } or [ ], YAML reads the '[' of $c[0] as a list: quote it, '$c[0]'")


def test_kernel_too_large_deep_in_the_network_suggests_a_larger_input(tmp_path):
    # 32 -> 28 -> 14 -> 10 -> 5 -> 1, then a 2x2 pool has no room; from 52: 48, 24, 20, 10, 6, 3, 1 (51 fails)
    text = HEAD + "".join(["  - conv2d: {filters: 8, kernel: 5}\n  - maxpool: 2\n"] * 3) + \
        "  - conv2d: {filters: 8, kernel: 3}\n"
    assert message(tmp_path, text).endswith(
        "; the input [3, 32, 32] is too small for this network: it fits from --input 3,52,52 "
        "(or input: [3, 52, 52] in the spec)")
    path = tmp_path / "big.yaml"
    path.write_text(text)
    assert CliRunner().invoke(cli, ["shapes", str(path), "--input", "3,52,52"]).exit_code == 0
    assert CliRunner().invoke(cli, ["shapes", str(path), "--input", "3,51,51"]).exit_code == 1


def test_inception_branch_that_does_not_fit_points_at_the_branch(tmp_path):
    text = (HEAD + "  - concat:\n      branches:\n        - [conv2d: {filters: 8, kernel: 1}]\n"
            "        - [conv2d: {filters: 8, kernel: 3}]\n")
    assert message(tmp_path, text) == (
        "error: m.yaml:7:12: layers[0].concat.branches[1][0].conv2d: this branch ends at [8, 30, 30], but "
        "'concat_1' joins it with [32, 32] (H, W) from the other inputs; give this branch padding or stride that "
        "keeps H, W (e.g. padding: same)")
