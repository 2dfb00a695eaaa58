"""The analysis commands through click's CliRunner: formats, totals, zoo names, calculator."""
import csv
import io
import json

import pytest
from click.testing import CliRunner

from cnncli import __version__
from cnncli.cli.main import cli

LENET = """name: LeNet-5
input: [1, 32, 32]
layers:
  - conv2d: {filters: 6, kernel: 5}
  - tanh
  - avgpool: {kernel: 2}
  - conv2d: {filters: 16, kernel: 5}
  - tanh
  - avgpool: {kernel: 2}
  - flatten
  - dense: 120
  - tanh
  - dense: {units: 84, activation: tanh}
  - dense: 10
"""


def run(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result


@pytest.fixture
def lenet(tmp_path):
    path = tmp_path / "lenet.yaml"
    path.write_text(LENET)
    return str(path)


@pytest.mark.parametrize("command", ["shapes", "params", "flops", "summary"])
def test_json_is_one_object_of_the_same_shape_for_every_command(command, lenet):
    result = run(command, lenet, "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    # SPEC.md's example: totals 61,706 params and 416,520 MACs for LeNet-5 (DESIGN.md's table)
    assert data["totals"]["params"] == 61706 and data["totals"]["macs"] == 416520
    first = data["layers"][0]
    assert {k: first[k] for k in ("name", "type", "inputs", "output_shape", "params", "buffers", "macs",
                                  "receptive_field")} == {
        "name": "conv2d_1", "type": "conv2d", "inputs": ["input"], "output_shape": [6, 28, 28], "params": 156,
        "buffers": 0, "macs": 117600, "receptive_field": 5}
    assert sum(layer["flops"] for layer in data["layers"]) == data["totals"]["flops"]
    assert [layer["name"] for layer in data["layers"]][-2:] == ["dense_2.tanh", "dense_3"]


def test_shapes_table_shows_the_arithmetic(lenet):
    out = run("shapes", lenet).stdout
    assert "floor((32 − 5) / 1) + 1 = 28" in out
    assert "[16, 5, 5]" in out


def test_params_table_shows_shapes_and_memory(lenet):
    out = run("params", lenet).stdout
    assert "120×400 + 120" in out and "61,706" in out and "0.25 MB" in out


def test_csv_columns_sum_to_totals(lenet):
    rows = list(csv.DictReader(io.StringIO(run("flops", lenet, "--format", "csv").stdout)))
    assert sum(int(r["MACs"]) for r in rows) == 416520


def test_markdown_has_a_total_row(lenet):
    out = run("params", lenet, "--format", "markdown").stdout
    assert out.splitlines()[0].startswith("| name | type |") and "**61,706**" in out


def test_input_override_changes_shapes(lenet):
    data = json.loads(run("shapes", lenet, "--input", "1,36,36", "--format", "json").stdout)
    assert data["input"] == [1, 36, 36] and data["layers"][0]["output_shape"] == [6, 32, 32]


def test_summary_states_training_memory(lenet):
    data = json.loads(run("summary", lenet, "-b", "64", "--format", "json").stdout)
    memory = data["training_memory"]
    assert memory["batch_size"] == 64
    assert memory["weights"] == memory["gradients"] == 61706 * 4
    assert memory["optimizer_state"] == 2 * 61706 * 4  # Adam: two moments
    assert memory["total"] == sum(memory[k] for k in ("activations", "weights", "gradients", "optimizer_state",
                                                      "buffers"))


def test_zoo_names_work_from_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = json.loads(run("params", "resnet18", "--format", "json").stdout)
    assert data["totals"]["params"] == 11689512 and data["totals"]["buffers"] == 9600
    listing = run("zoo").stdout
    assert "resnet50" in listing and "25,557,032" in listing
    assert "residual" in run("zoo", "show", "resnet18").stdout


def test_validate_says_ok(lenet):
    result = run("validate", lenet)
    assert result.exit_code == 0 and "OK" in result.stdout and "61,706 params" in result.stdout


def test_calc_conv_shows_the_formula_with_numbers():
    out = run("calc", "conv", "--n", "125", "--f", "5", "--p", "2", "--s", "2").stdout
    assert "floor((125 + 2·2 − 5) / 2) + 1 = 63" in out


def test_calc_same_padding_and_parameters():
    out = run("calc", "conv", "--n", "28", "--f", "4", "--s", "2", "--same").stdout
    assert "1 before, 1 after" in out and "= 14" in out
    out = run("calc", "conv", "--n", "39", "--f", "3", "-c", "3", "-k", "10").stdout
    assert "37×37×10" in out and "= 280" in out


def test_calc_pool_ceil_mode():
    assert "ceil((112 − 3) / 2) + 1 = 56" in run("calc", "pool", "--n", "112", "--f", "3", "--s", "2",
                                                   "--ceil-mode").stdout


def test_version():
    assert run("--version").stdout.strip() == f"cnn, version {__version__}"


def help_examples(*command: str) -> list[list[str]]:
    """The `cnn ...` lines under 'Example:' in a command's --help, as argument lists."""
    import shlex
    lines = run(*command, "--help").stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("Example"))
    return [shlex.split(line.strip())[1:] for line in lines[start + 1:] if line.strip().startswith("cnn ")]


ANALYSIS = [("shapes",), ("params",), ("flops",), ("summary",), ("validate",), ("compare",), ("schema",),
            ("calc", "conv"), ("calc", "pool")]


@pytest.mark.parametrize("command", ANALYSIS, ids=" ".join)
def test_every_help_example_runs(command, tmp_path, monkeypatch):
    # reference: the help text itself; an example that fails or is missing is a broken promise
    from cnncli.zoo import zoo_dir
    monkeypatch.chdir(tmp_path)
    (tmp_path / "specs").symlink_to(zoo_dir())
    examples = help_examples(*command)
    assert examples and all(example[:len(command)] == list(command) for example in examples), examples
    for example in examples:
        result = run(*example)
        assert result.exit_code == 0, (example, result.output)
        assert result.stdout.strip() or "-o" in example, example


@pytest.mark.parametrize("command", ["train", "evaluate", "predict"])
def test_training_commands_show_examples_of_themselves(command):
    examples = help_examples(command)
    assert examples and all(example[0] == command for example in examples)


def test_analysis_does_not_import_numba(lenet):
    import subprocess
    import sys

    code = ("import sys; from cnncli.cli.main import cli\n"
            f"try:\n    cli(['params', {lenet!r}], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
            "assert 'numba' not in sys.modules, 'numba was imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
