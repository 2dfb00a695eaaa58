"""Optional extras: a command that needs one says in one line what to install."""
from __future__ import annotations

import importlib.util

from cnncli.errors import UsageError

EXTRAS = {"torch": ("torch", "PyTorch"), "onnx": ("onnx", "onnx")}


def require(extra: str, needed_for: str) -> None:
    """Raise UsageError if the module behind `extra` ('torch', 'onnx') is not installed."""
    module, label = EXTRAS[extra]
    if importlib.util.find_spec(module) is None:
        raise UsageError(f"{needed_for} needs {label}, which is not installed: pip install 'cnncli[{extra}]'")
