"""The analysis commands and the PyTorch code export stay light: none of them imports Numba, PyTorch,
onnx or matplotlib (each command runs in a fresh interpreter; reference: sys.modules afterwards)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("numba", "torch", "onnx", "onnxruntime", "matplotlib")


@pytest.mark.parametrize("args", [["shapes", "resnet18"], ["params", "resnet50"], ["flops", "googlenet"],
                                  ["summary", "lenet5_relu"], ["export", "resnet18", "--to", "pytorch", "-o", "{out}"]],
                         ids=["shapes", "params", "flops", "summary", "export-pytorch-code"])
def test_command_imports_nothing_heavy(args: list[str], tmp_path: Path) -> None:
    argv = [a.replace("{out}", str(tmp_path / "net.py")) for a in args]
    code = ("import sys\nfrom cnncli.cli.main import cli\n"
            f"try:\n    cli({argv!r}, standalone_mode=False)\nexcept SystemExit as exit:\n    assert not exit.code\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
