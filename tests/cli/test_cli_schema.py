"""`cnn schema`: the JSON Schema of the spec language.

References: jsonschema's Draft 7 meta-schema (the schema is valid JSON Schema), every zoo spec
(each must pass), specs that `cnn validate` rejects for their form (each must fail), and the
shipped copy (specs/spec.schema.json must equal what the registry generates).
"""
import json

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from cnncli.cli.main import cli
from cnncli.spec.schema import SCHEMA_FILE, spec_schema
from cnncli.zoo import zoo_dir, zoo_specs


@pytest.fixture(scope="module")
def validator():
    schema = spec_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_shipped_schema_is_the_generated_one():
    shipped = json.loads((zoo_dir() / SCHEMA_FILE).read_text(encoding="utf-8"))
    assert shipped == spec_schema(), "regenerate with: cnn schema -o specs/spec.schema.json"
    assert json.loads(CliRunner().invoke(cli, ["schema"]).stdout) == shipped


@pytest.mark.parametrize("name", sorted(zoo_specs()))
def test_every_zoo_spec_passes_and_points_at_the_schema(validator, name):
    text = zoo_specs()[name].read_text(encoding="utf-8")
    assert list(validator.iter_errors(yaml.safe_load(text))) == []
    first = text.splitlines()[0]
    assert first == "# yaml-language-server: $schema=" + ("../" if name.startswith("course/") else "") + SCHEMA_FILE


HEAD = "input: [1, 28, 28]\nlayers:\n"
MALFORMED = [
    HEAD + "  - conv2d: {filters: 6, kernel_size: 5}\n",  # unknown argument
    HEAD + "  - conv2d: {kernel: 5}\n",  # filters missing
    HEAD + "  - conv2d: {filters: 6.5, kernel: 3}\n",  # not a whole number
    HEAD + "  - conv2d: {filters: 6, kernel: 0}\n",  # below the minimum
    HEAD + "  - conv2d: {filters: 6, kernel: 3, padding: full}\n",  # not a padding
    HEAD + "  - dropout: 1.5\n",  # rate < 1
    HEAD + "  - conv2d\n",  # needs arguments
    HEAD + "  - dense: {units: 10, activation: relu7}\n",  # unknown activation
    HEAD + "  - residual: {shortcut: [relu]}\n",  # no body
    "inputs: [1, 28, 28]\nlayers: [relu]\n",  # misspelt top-level key
    "input: [1, 28, 28]\nlayers: []\n",  # empty layers
    "input: [0, 28, 28]\nlayers: [relu]\n",  # non-positive size
    "layers: [relu]\n",  # no input
]


@pytest.mark.parametrize("text", MALFORMED)
def test_malformed_specs_are_rejected(validator, text, tmp_path):
    assert list(validator.iter_errors(yaml.safe_load(text))), text
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = CliRunner().invoke(cli, ["validate", str(path)])  # and cnn agrees it is wrong
    assert result.exit_code == 1 and result.stderr.startswith(f"error: {path}")


def test_block_parameters_and_branches_are_accepted(validator):
    text = ("input: [3, 32, 32]\nblocks:\n  b:\n    params: {c: 8}\n    layers: [conv2d: {filters: $c, kernel: 3}]\n"
            "layers:\n  - b: {c: 16, repeat: 2}\n  - concat: {branches: [[conv2d: {filters: 4, kernel: 1}], []]}\n"
            "  - maxpool: {kernel: 2, padding: SAME}\n")
    assert list(validator.iter_errors(yaml.safe_load(text))) == []


def test_zoo_show_points_at_the_installed_schema():
    out = CliRunner().invoke(cli, ["zoo", "show", "resnet18"]).stdout
    assert out.splitlines()[0] == f"# yaml-language-server: $schema={zoo_dir() / SCHEMA_FILE}"
    assert out.splitlines()[1].startswith("# ResNet-18")
