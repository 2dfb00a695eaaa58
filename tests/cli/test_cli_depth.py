"""`--depth`, the input row and activations column, tables that fit, Keras's and torchinfo's totals.

References: the course's LeNet table (activation sizes 3,072 -> 6,272 -> ... -> 10, in
specs/course/lenet_dlai.yaml's header); He et al. 2015 table 1 (ResNet-50 has 3, 4, 6, 3
bottlenecks per stage); Keras's ResNet50 application summary (non-trainable params 53,120,
the batch-norm moving statistics); torchinfo 1.8 itself on an equivalent PyTorch model.
"""
import csv
import io
import json

import pytest
from click.testing import CliRunner

from cnncli.cli.common import load_analysis
from cnncli.cli.main import cli
from cnncli.report.columns import COMMAND_COLUMNS, memory_columns
from cnncli.report.render import as_table


def run_json(*args: str) -> dict:
    result = CliRunner().invoke(cli, [*args, "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_depth_groups_in_json_add_up_and_show_repeats():
    data = run_json("params", "resnet50", "--depth", "1")
    groups = data["groups"]
    assert data["depth"] == 1
    assert sum(g["params"] for g in groups) == data["totals"]["params"] == 25_557_032
    assert sum(g["macs"] for g in groups) == data["totals"]["macs"]
    blocks = [(g["type"], g["repeat"]) for g in groups if g["kind"] == "group"]
    # He et al. table 1: stages of 3, 4, 6 and 3 blocks, each led by a projection block
    assert blocks == [("bottleneck_proj", 1), ("bottleneck", 2), ("bottleneck_proj", 1), ("bottleneck", 3),
                      ("bottleneck_proj", 1), ("bottleneck", 5), ("bottleneck_proj", 1), ("bottleneck", 2)]
    assert len(data["layers"]) > 150  # the full per-layer list stays as SPEC.md defines it


def test_depth_csv_has_one_row_per_block_with_its_repeat():
    out = CliRunner().invoke(cli, ["flops", "googlenet", "-d", "1", "--format", "csv"]).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["type"] for r in rows].count("inception") == 9  # Szegedy et al.: nine inception modules
    assert sum(int(r["MACs"]) for r in rows) == 1_498_376_192
    assert {r["repeat"] for r in rows} == {"1"}


def test_input_row_and_activation_sizes_match_the_course_table():
    analysis = load_analysis("course/lenet_dlai", None)
    sizes = [(r.name, r.activation_values) for r in analysis.table_rows
             if r.type in ("input", "conv2d", "maxpool", "dense")]
    assert [s for _, s in sizes] == [3072, 6272, 1568, 1600, 400, 120, 84, 10]
    assert sizes[0][0] == "input"
    markdown = CliRunner().invoke(cli, ["shapes", "course/lenet_dlai", "--format", "markdown"]).stdout
    assert markdown.splitlines()[2].startswith("| input | input |  | [3, 32, 32] | 3,072 |")


@pytest.mark.parametrize("command", ["shapes", "params", "flops", "summary"])
@pytest.mark.parametrize("ref", ["googlenet", "resnet18"])
def test_tables_fit_100_columns_and_wide_keeps_everything(command, ref):
    analysis = load_analysis(ref, None)
    columns = COMMAND_COLUMNS[command] + (memory_columns(32, "adam") if command == "summary" else [])
    table, dropped = as_table(analysis, columns, "t", width=100)
    assert max(len(line) for line in table.splitlines()) <= 100
    kept_headers = table.splitlines()[2]
    assert all(c.header not in kept_headers for c in columns if c.header in dropped)
    assert "name" in kept_headers and "output" in kept_headers or command == "params"
    wide, none_dropped = as_table(analysis, columns, "t", width=None)
    assert none_dropped == [] and all(c.header in wide.splitlines()[2] for c in columns)


def test_depth_table_marks_repeats():
    out = CliRunner().invoke(cli, ["params", "resnet50", "--depth", "1", "--wide"]).stdout
    assert "bottleneck_6 ×5" in out and "5,585,920" in out  # 5 × 1,117,184 (torchvision's layer3[1])


def test_keras_counts_batch_norm_statistics_as_non_trainable():
    data = run_json("summary", "resnet50")
    # Keras's ResNet50 summary: "Non-trainable params: 53,120" (its moving means and variances)
    assert data["keras_totals"] == {"total": 25_557_032 + 53_120, "trainable": 25_557_032, "non_trainable": 53_120}
    out = CliRunner().invoke(cli, ["params", "resnet50"]).stdout
    assert "as Keras counts: total params 25,610,152" in out


def test_torchinfo_size_block_matches_torchinfo():
    pytest.importorskip("torch")
    torchinfo = pytest.importorskip("torchinfo")
    from torch import nn
    spec = ("name: t\ninput: [3, 32, 32]\nlayers:\n  - conv2d: {filters: 8, kernel: 3, padding: 1}\n  - batchnorm\n"
            "  - relu\n  - maxpool: 2\n  - conv2d: {filters: 16, kernel: 3}\n  - relu\n  - flatten\n  - dense: 10\n")
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 16, 3), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 14 * 14, 10))
    stats = torchinfo.summary(model, input_size=(4, 3, 32, 32), verbose=0)
    from cnncli.analysis import analyze
    from cnncli.graph import build_graph
    from cnncli.spec import load_spec_text
    sizes = analyze(build_graph(load_spec_text(spec, "t.yaml"))).torchinfo_sizes(4)
    # torchinfo's input size adds the tensor object's few bytes (sys.getsizeof); it prints MB to 2 places
    assert round(sizes["input"] / 1e6, 2) == round(stats.total_input / 1e6, 2) and sizes["input"] == 4 * 4 * 3072
    assert sizes["forward_backward"] == stats.total_output_bytes
    assert sizes["params"] == stats.total_param_bytes
