"""Hostile specs and training flags: every size bounded before it is used, every number finite.

References: the limits stated in cnncli (MAX_FILE_BYTES, MAX_INT_ARG, MAX_THREADS) and POSIX file
types (a character device, a FIFO); each case is refused with one line naming the limit.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cnncli.cli.main import cli
from cnncli.errors import SpecError
from cnncli.layers.args import MAX_INT_ARG
from cnncli.spec import load_spec
from cnncli.train_config import MAX_THREADS, check_threads, load_train_config, with_overrides


def cnn(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.stderr.strip()


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_is_refused_before_any_read(device: str) -> None:
    # /dev/zero reports size 0 and never ends: reading it would grow without bound.
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    code, message = cnn("shapes", device)
    assert code == 1 and "character device, not a regular file" in message


def test_a_fifo_without_writer_is_refused_without_blocking(tmp_path: Path) -> None:
    # Opening a FIFO for reading blocks until a writer appears; a child process proves we never block.
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    done = subprocess.run([sys.executable, "-m", "cnncli", "validate", str(fifo)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1 and "FIFO (named pipe), not a regular file" in done.stderr


def test_a_file_that_grows_past_the_limit_is_read_only_up_to_it(tmp_path: Path) -> None:
    # A sparse 500 MB file under a 200 MB data-segment margin: reading it whole could not fit.
    path = tmp_path / "big.yaml"
    with open(path, "wb") as handle:
        handle.truncate(500_000_000)
    code = f"""
import resource, sys
soft = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
from cnncli.spec import load_spec
from cnncli.errors import SpecError
resource.setrlimit(resource.RLIMIT_DATA, (soft + 200_000_000, resource.RLIM_INFINITY))
try:
    load_spec({str(path)!r})
except SpecError as err:
    print(err)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "more than 1,000,000 bytes; a spec may be at most 1,000,000 bytes" in done.stdout, done.stderr


def test_huge_sizes_are_refused_with_the_limit(tmp_path: Path) -> None:
    # adaptive_avgpool: 10000000 used to take 18 s and 1.4 GB; 10**200 pixels ended in an internal error.
    code, message = cnn("shapes", write(tmp_path, "input: [1, 28, 28]\nlayers:\n  - adaptive_avgpool: 10000000\n"))
    assert code == 1 and f"output must be ≤ {MAX_INT_ARG:,} for adaptive_avgpool" in message
    code, message = cnn("validate", write(tmp_path, f"input: [1, {10**200}, 28]\nlayers:\n  - flatten: {{}}\n"))
    assert code == 1 and f"each input dimension must be at most {MAX_INT_ARG:,}, got a 201-digit number" in message
    code, message = cnn("params", write(tmp_path, "input: [1, 28, 28]\nlayers:\n  - flatten: {}\n  - dense: 70000\n"))
    assert code == 1 and "units must be ≤ 65,536 for dense" in message
    code, message = cnn("shapes", write(tmp_path, "input: [1, 8, 8]\nlayers:\n  - dense: " + "9" * 5000 + "\n"))
    assert code == 1 and "has 5,000 characters" in message


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", "1e400"])
def test_non_finite_layer_arguments_are_refused(tmp_path: Path, value: str) -> None:
    # NaN passes every comparison (nan < 0 and nan > 1 are both false), so ranges alone let it through.
    path = write(tmp_path, f"input: [1, 8, 8]\nlayers:\n  - conv2d: {{filters: 2, kernel: 3}}\n"
                           f"  - batchnorm: {{momentum: {value}}}\n")
    code, message = cnn("validate", path)
    assert code == 1 and "s.yaml:4:" in message and "momentum of batchnorm expects a finite number" in message


@pytest.mark.parametrize("flag", [{"val": float("nan")}, {"warmup": float("inf")}, {"lr": float("nan")},
                                  {"lr": 0.0}, {"optimizer": "sgd", "momentum": float("nan")},
                                  {"weight_decay": float("inf")}])
def test_non_finite_or_zero_flags_are_refused_like_the_spec(flag: dict) -> None:
    config = load_train_config({}, "s.yaml", {})
    with pytest.raises(SpecError) as caught:
        with_overrides(config, **flag)
    name = next(key for key in flag if key != "optimizer")
    assert caught.value.path == f"--{name.replace('_', '-')}"
    assert "finite number" in caught.value.message or "must be > 0" in caught.value.message


def test_the_spec_refuses_what_the_flags_refuse(tmp_path: Path) -> None:
    # ... and refuses it when the spec is read, so `cnn validate` says so too.
    text = "input: [1, 8, 8]\nlayers:\n  - flatten: {}\n  - dense: 2\ntrain:\n  optimizer: {sgd: {lr: 0}}\n"
    code, message = cnn("validate", write(tmp_path, text))
    assert code == 1 and "s.yaml:6:" in message and "lr must be > 0 for sgd, got 0" in message
    with pytest.raises(SpecError, match="warm-up of 5 epochs is longer than the 3 epochs"):
        load_train_config({"epochs": 3, "warmup": 5}, "s.yaml", {})


def test_thread_count_is_bounded() -> None:
    assert check_threads(None) is None and check_threads(2) == 2
    with pytest.raises(SpecError, match=f"between 1 and {MAX_THREADS}, got 99,999,999,999"):
        check_threads(99_999_999_999)



def test_exponent_floats_are_numbers_with_libyaml_too(tmp_path: Path) -> None:
    # YAML 1.1 reads `1e-3` as text; the spec contract reads it as 0.001 (libyaml marks plain style as "").
    text = "input: [1, 8, 8]\nlayers:\n  - flatten: {}\n  - dense: 2\ntrain:\n  optimizer: {adam: {lr: 1e-3}}\n"
    spec = load_spec(write(tmp_path, text))
    assert load_train_config(spec.train, spec.file, spec.train_positions).lr == 0.001


@pytest.mark.parametrize("text", ["layers: " + "[" * 5000 + "]" * 5000,
                                  "layers:\n  - " + "{a: " * 3000 + "1" + "}" * 3000], ids=["lists", "mappings"])
def test_deep_nesting_is_refused_not_a_recursion_error(tmp_path: Path, text: str) -> None:
    # Each nesting level used to take two Python frames: 330 levels ended in RecursionError (exit 3).
    code, message = cnn("shapes", write(tmp_path, "input: [1, 8, 8]\n" + text + "\n"))
    assert code == 1 and "nests more than 1,000 levels deep" in message


def test_spec_names_are_one_printable_line(tmp_path: Path) -> None:
    # An escape sequence in a name would reach the terminal verbatim.
    code, message = cnn("validate", write(tmp_path, 'name: "a\\x1b[31mred"\ninput: [1, 8, 8]\nlayers:\n  - relu\n'))
    assert code == 1 and "no control characters" in message and "\x1b" not in message and "'a\\x1b[31mred'" in message


def test_specs_that_expand_too_far_are_refused_before_analysis(tmp_path: Path) -> None:
    # 40,000 relus (360 KB) took 6.5 s to analyse; 140,000 list items (1 MB) 1.8 s just to parse.
    code, message = cnn("shapes", write(tmp_path, "input: [1, 8, 8]\nlayers:\n" + "  - relu\n" * 6000))
    assert code == 1 and "the spec expands to 6,000 layers; a spec may have at most 5,000" in message
    code, message = cnn("shapes", write(tmp_path, "input: [1, 8, 8]\nlayers:\n" + "- relu\n" * 60000))
    assert code == 1 and "the text has 60,005 of '-', ':', ',', '[' and '{', room for more than 50,000" in message


def test_the_input_override_has_the_same_bound(tmp_path: Path) -> None:
    code, message = cnn("shapes", write(tmp_path, "input: [1, 8, 8]\nlayers:\n  - relu\n"), "--input", f"1,{10**29},8")
    assert code == 1 and message.startswith("error: --input: each input dimension must be at most 65,536")
