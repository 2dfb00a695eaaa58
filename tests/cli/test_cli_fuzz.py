"""Property-based: random and mutated specs never make a traceback escape (reference: the
contract in SPEC.md — any input gets a result or one clear message, exit 0 or 1)."""
import random

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnncli.cli.main import cli
from cnncli.zoo import zoo_specs

ZOO_TEXTS = [path.read_text() for path in zoo_specs().values()]
WORDS = ["conv2d", "dense", "relu", "flatten", "maxpool", "avgpool", "batchnorm", "residual", "concat", "add",
         "branches", "body", "shortcut", "inputs", "name", "repeat", "kernel", "filters", "stride", "padding",
         "same", "valid", "groups", "dilation", "ceil_mode", "$c", "$c[3]", "input", "layers", "blocks", "params",
         "global_avgpool", "adaptive_avgpool", "softmax", "dropout", "units", "activation", "*a", "&a", "!!python/x"]
SCALARS = st.one_of(st.integers(-3, 300), st.floats(allow_nan=True), st.sampled_from(WORDS), st.none(),
                    st.booleans(), st.lists(st.integers(-2, 9), max_size=4))


def check(runner: CliRunner, path, command: str = "shapes") -> None:
    result = runner.invoke(cli, [command, str(path)])
    assert result.exit_code in (0, 1), (result.exit_code, result.output, path.read_text()[:2000])
    assert "Traceback" not in result.output
    assert "internal error" not in result.output, result.output


def mutate(text: str, rnd: random.Random, count: int) -> str:
    chars = list(text)
    for _ in range(count):
        op = rnd.randrange(5)
        i = rnd.randrange(len(chars) + 1)
        if op == 0 and chars:
            del chars[min(i, len(chars) - 1)]
        elif op == 1:
            chars.insert(i, rnd.choice("{}[]:,- \n0123456789$&*!#'\"ax"))
        elif op == 2:
            chars[i:i] = list(rnd.choice(WORDS))
        elif op == 3:  # replace a number with another
            digits = [j for j, c in enumerate(chars) if c.isdigit()]
            if digits:
                chars[rnd.choice(digits)] = rnd.choice("0123456789-")
        else:  # swap two lines
            lines = "".join(chars).split("\n")
            a, b = rnd.randrange(len(lines)), rnd.randrange(len(lines))
            lines[a], lines[b] = lines[b], lines[a]
            chars = list("\n".join(lines))
    return "".join(chars)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), which=st.integers(0, len(ZOO_TEXTS) - 1), count=st.integers(1, 6),
       command=st.sampled_from(["shapes", "params", "summary"]))
def test_mutated_zoo_specs_never_crash(tmp_path, seed, which, count, command):
    path = tmp_path / "mutant.yaml"
    path.write_text(mutate(ZOO_TEXTS[which], random.Random(seed), count))
    check(CliRunner(), path, command)


entries = st.recursive(
    SCALARS | st.sampled_from(WORDS),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(WORDS), children, max_size=3),
    max_leaves=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layers=st.lists(entries, min_size=1, max_size=6),
       shape=st.lists(st.integers(-1, 40), min_size=0, max_size=4))
def test_random_structures_never_crash(tmp_path, layers, shape):
    import json

    path = tmp_path / "random.yaml"
    path.write_text(json.dumps({"input": shape, "layers": layers}, default=str))  # JSON is YAML
    check(CliRunner(), path)
