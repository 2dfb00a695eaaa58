"""Text that looks like rich markup is printed as it is; a closed stdout is not an error.

Reference: the literal input strings (what the user wrote must come back unchanged), and the
POSIX convention that a program whose stdout is closed still exits 0 with nothing on stderr.
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from rich.console import Console

from cnncli.cli.main import cli
from cnncli.cli.train_view import confusion_matrix
from cnncli.report import console

SPEC = 'name: "[/]odd [bold]A"\ninput: [1, 8, 8]\nlayers:\n  - flatten: {}\n  - dense: 2\n'


def test_names_that_look_like_markup_are_printed_verbatim(tmp_path: Path) -> None:
    folder = tmp_path / "[bold]runs"
    folder.mkdir()
    path = folder / "[red]net.yaml"
    path.write_text(SPEC)
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert f"OK {path}: [/]odd [bold]A, 2 nodes" in result.stdout


def test_errors_keep_markup_characters() -> None:
    buffer = io.StringIO()
    saved = console.err
    console.err = Console(file=buffer, markup=False, width=200)
    try:
        console.error("class '[/]' and '[bold]A'")
        console.info("[green]x")
    finally:
        console.err = saved
    assert buffer.getvalue() == "error: class '[/]' and '[bold]A'\n[green]x\n"


def test_confusion_matrix_with_markup_class_names() -> None:
    # Two images of class "[/]" predicted right, one of "[b]A" predicted as "[/]".
    table = confusion_matrix(np.array([0, 0, 1]), np.array([0, 0, 0]), ["[/]", "[b]A"])
    buffer = io.StringIO()
    Console(file=buffer, markup=False, width=120).print(table)
    text = buffer.getvalue()
    assert "[/]" in text and "[b]A" in text and "100.0%" in text and "0.0%" in text


def test_closed_stdout_is_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "net.yaml"
    path.write_text(SPEC)
    done = subprocess.run([sys.executable, "-m", "cnncli", "shapes", str(path)], capture_output=False,
                          stderr=subprocess.PIPE, text=True, timeout=60, preexec_fn=lambda: os.close(1))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
