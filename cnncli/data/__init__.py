"""The data layer: built-in datasets (cached, verified), .npz files and image folders, as `Dataset`s.

`cnncli.data.fetch.fetch(name, progress)` only fills the cache (e.g. for a download command).
"""
from cnncli.data.cache import cache_root
from cnncli.data.dataset import (
    Dataset,
    apply_normalization,
    channel_stats,
    iterate_batches,
    load_data,
    normalize,
    split_validation,
)
from cnncli.data.fit import FitMode, fit_mode, fit_to_input
from cnncli.data.idx import read_idx, write_idx
from cnncli.data.npzfile import read_npz_arrays
from cnncli.data.preprocessing import Preprocessing, match_classes
from cnncli.data.progress import Progress

__all__ = [
    "Dataset",
    "FitMode",
    "Preprocessing",
    "Progress",
    "apply_normalization",
    "cache_root",
    "channel_stats",
    "fit_mode",
    "fit_to_input",
    "iterate_batches",
    "load_data",
    "match_classes",
    "normalize",
    "read_idx",
    "read_npz_arrays",
    "split_validation",
    "write_idx",
]
