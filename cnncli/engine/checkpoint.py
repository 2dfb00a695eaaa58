"""Checkpoints: one .npz (no pickle) with weights, buffers, optimizer state and a JSON header.

Arrays: `net:<node>/<tensor>` (parameters and buffers), `opt:<slot>` (optimizer state),
`meta` (UTF-8 JSON: epoch, batch, step, RNG states, the spec text and hash, the training
settings, normalisation and history). Files are written to a temporary name and renamed, so
a crash or Ctrl-C never leaves a half-written checkpoint in place of a good one.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from cnncli.atomic import atomic_writer
from cnncli.data.limits import MAX_DATA_BYTES
from cnncli.data.npzfile import read_npz_arrays
from cnncli.data.preprocessing import Preprocessing
from cnncli.errors import UsageError

FORMAT = "cnncli-checkpoint"
VERSION = 1


def save_checkpoint(path: Path, network_state: dict[str, np.ndarray], optimizer_state: dict[str, np.ndarray],
                    meta: dict[str, Any]) -> None:
    """Write atomically (cnncli.atomic): a crash leaves the previous checkpoint in place."""
    arrays = {f"net:{k}": v for k, v in network_state.items()}
    arrays.update({f"opt:{k}": v for k, v in optimizer_state.items()})
    header = {"format": FORMAT, "version": VERSION, **meta}
    arrays["meta"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(path) as handle:
        np.savez(handle, **arrays)


def load_checkpoint(path: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, Any]]:
    """(network arrays, optimizer arrays, meta); a file that is not our checkpoint is refused."""
    try:
        arrays = read_npz_arrays(path, lambda name: name == "meta" or name.startswith(("net:", "opt:")),
                                 MAX_DATA_BYTES, "cnncli checkpoint",
                                 "; expected an .npz written by `cnn train` (e.g. runs/<name>/last.npz)")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such checkpoint file") from None
    try:
        meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
    except (KeyError, ValueError):
        meta = {}
    if meta.get("format") != FORMAT:
        raise UsageError(f"{path}: not a cnncli checkpoint (no '{FORMAT}' header); expected a file written "
                         f"by `cnn train` (e.g. runs/<name>/last.npz)")
    if meta.get("version", 0) > VERSION:
        raise UsageError(f"{path}: written by a newer cnncli (checkpoint version {meta['version']}); upgrade cnncli")
    _validate_header(path, meta)
    network = {k[4:]: v for k, v in arrays.items() if k.startswith("net:")}
    optimizer = {k[4:]: v for k, v in arrays.items() if k.startswith("opt:")}
    return network, optimizer, meta


# Header fields every checkpoint has, with their JSON types (bool is not an int here).
_HEADER: dict[str, type | tuple[type, ...]] = {
    "epoch": int, "batch": int, "step": int, "partial": dict, "history": list, "config": dict, "architecture": list,
}


def _validate_header(path: Path, meta: dict[str, Any]) -> None:
    """Refuse a header with missing or mistyped fields (a crafted or damaged file) before anything uses it."""
    for key, kind in _HEADER.items():
        value = meta.get(key)
        if value is None or isinstance(value, bool) or not isinstance(value, kind):
            raise UsageError(f"{path}: damaged checkpoint header: field '{key}' should be "
                             f"{getattr(kind, '__name__', kind)}, got {type(value).__name__}; "
                             f"use a checkpoint written by `cnn train`")
        if kind is int and value < 0:
            raise UsageError(f"{path}: damaged checkpoint header: field '{key}' is negative ({value})")


def validate_inference_header(path: Path, meta: dict[str, Any]) -> None:
    """What evaluate, predict and the exports read: class names and the input normalisation."""
    norm = meta.get("normalization")
    if not isinstance(norm, dict):
        raise UsageError(f"{path}: damaged checkpoint header: no input normalization; use a checkpoint written by "
                         f"`cnn train`")
    mean, std = norm.get("mean"), norm.get("std")
    if not (isinstance(mean, list) and isinstance(std, list) and len(mean) == len(std) and
            all(isinstance(v, (int, float)) and math.isfinite(v) for v in mean + std) and all(v > 0 for v in std)):
        raise UsageError(f"{path}: damaged checkpoint header: normalization needs finite 'mean' and positive "
                         f"'std' lists of one value per channel, got {norm!r:.200}")
    classes = meta.get("classes")
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        raise UsageError(f"{path}: damaged checkpoint header: 'classes' should be a list of class names")


def run_preprocessing(path: Path, meta: dict[str, Any]) -> Preprocessing:
    """How the run turned stored data into network input (validated): train, evaluate, predict and the
    exports all use it. Checkpoints written before it was recorded trained on 8-bit pixels."""
    validate_inference_header(path, meta)
    if "preprocessing" in meta:
        return Preprocessing.from_json(meta["preprocessing"], str(path))
    norm, shape = meta["normalization"], meta.get("input_shape")
    if not (isinstance(shape, list) and len(shape) == 3 and all(isinstance(v, int) for v in shape)):
        raise UsageError(f"{path}: damaged checkpoint header: 'input_shape' should be [C, H, W], got {shape!r:.80}")
    fit = {"error": "none"}.get(meta.get("fit", "error"), meta.get("fit"))
    try:
        return Preprocessing(1 / 255, False, *shape, fit, tuple(norm["mean"]), tuple(norm["std"]))
    except ValueError as err:
        raise UsageError(f"{path}: damaged checkpoint header: {err}") from None


def validate_resume(path: Path, meta: dict[str, Any], saved: dict[str, np.ndarray], expected: dict[str, np.ndarray],
                    signature: list[str], world: int) -> None:
    """A run continues only with its own spec, and mid-epoch only with the same number of processes
    (the batches of the rest of the epoch depend on it)."""
    check_compatible(path, meta, saved, expected, signature)
    saved_world = int(meta.get("world_size", 1))
    if meta["batch"] and saved_world != world:
        raise UsageError(f"{path} was saved in the middle of epoch {meta['epoch'] + 1} by {saved_world} "
                         f"process{'es' if saved_world > 1 else ''}; resume it with the same number "
                         f"(--nproc-per-node x --nnodes = {saved_world}), or from an epoch's end")


def check_compatible(path: Path, meta: dict[str, Any], saved: dict[str, np.ndarray],
                     expected: dict[str, np.ndarray], signature: list[str]) -> None:
    """Refuse a checkpoint of another architecture or with other tensors, saying what differs."""
    saved_spec = f"'{meta.get('spec_name', '?')}' from {meta.get('spec_file', '?')}"
    theirs = meta.get("architecture", [])
    if theirs != signature:
        first = next((i for i, (a, b) in enumerate(zip(theirs, signature)) if a != b), min(len(theirs), len(signature)))
        was = theirs[first] if first < len(theirs) else "(nothing: the checkpoint's network ends earlier)"
        now = signature[first] if first < len(signature) else "(nothing: this spec ends earlier)"
        raise UsageError(f"{path} was trained with a different spec ({saved_spec}): node {first + 1} differs; "
                         f"checkpoint: {was}; this spec: {now}. Use the spec it was trained with "
                         f"(its text is stored in the checkpoint).")
    missing = [k for k in expected if k not in saved]
    extra = [k for k in saved if k not in expected]
    reshaped = [f"{k} is {list(saved[k].shape)} in the checkpoint but {list(v.shape)} here"
                for k, v in expected.items() if k in saved and saved[k].shape != v.shape]
    if not (missing or extra or reshaped):
        return
    problems = []
    if reshaped:
        problems.append("; ".join(reshaped[:3]) + (f" (and {len(reshaped) - 3} more)" if len(reshaped) > 3 else ""))
    if missing:
        problems.append(f"this spec has tensors the checkpoint lacks: {', '.join(missing[:4])}"
                        + (" …" if len(missing) > 4 else ""))
    if extra:
        problems.append(f"the checkpoint has tensors this spec lacks: {', '.join(extra[:4])}"
                        + (" …" if len(extra) > 4 else ""))
    raise UsageError(f"{path} was trained with a different spec ({saved_spec}): " + "; ".join(problems)
                     + ". Use the spec it was trained with (its text is stored in the checkpoint).")
