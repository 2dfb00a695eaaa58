"""Between a spec and the trainer: data shaped to the spec's input, split, normalised; label checks."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnncli.data import Dataset, fit_to_input, load_data, normalize, split_validation
from cnncli.data.fit import FitMode
from cnncli.data.preprocessing import Preprocessing, match_classes
from cnncli.data.progress import Progress
from cnncli.errors import UsageError
from cnncli.graph import Graph


@dataclass
class PreparedData:
    """Normalised splits and what is needed to treat new images the same way."""

    train: Dataset
    val: Dataset | None
    test: Dataset | None
    mean: np.ndarray
    std: np.ndarray
    classes: list[str]
    source: str


def check_output_fits_labels(graph: Graph, classes: list[str]) -> None:
    """The network must end in one score per class."""
    shape = graph.output.layer.out_shape
    if len(shape) != 1:
        raise UsageError(f"the spec's last layer outputs {list(shape)}, but training needs one score per class: "
                         f"end the spec with flatten and dense: {len(classes)}")
    if shape[0] != len(classes):
        raise UsageError(f"the spec's last layer outputs {shape[0]} scores but the data has {len(classes)} classes "
                         f"({', '.join(classes[:12])}{' …' if len(classes) > 12 else ''}); "
                         f"make the last layer dense: {len(classes)}")


def _input_chw(graph: Graph) -> tuple[int, int, int]:
    shape = graph.input_shape
    if len(shape) != 3:
        raise UsageError(f"training needs an image input [C, H, W]; this spec's input is {list(shape)}")
    return shape[0], shape[1], shape[2]


def prepare_training_data(graph: Graph, data: str, val: float, seed: int, fit: FitMode,
                          progress: Progress | None = None) -> PreparedData:
    """Load, fit to the input shape, hold out `val` for validation, normalise with train statistics."""
    chw = _input_chw(graph)
    train, test = load_data(data, progress, channels=chw[0])
    check_output_fits_labels(graph, train.classes)
    train = fit_to_input(train, chw, fit)
    test = fit_to_input(test, chw, fit) if test is not None else None
    validation = None
    if val > 0:
        train, validation = split_validation(train, val, seed)
    (train, validation, test), mean, std = normalize(train, validation, test)
    assert train is not None
    return PreparedData(train, validation, test, mean, std, train.classes, train.source)


def prepare_eval_data(graph: Graph, data: str, preprocessing: Preprocessing, classes: list[str],
                      fit: FitMode | None = None, progress: Progress | None = None) -> Dataset:
    """The test split (or the whole set when there is none) as the run's network input: read by its own
    dtype and bit depth, fitted and standardised as in training (`fit` overrides the run's fit), its
    labels matched to the training classes by name (a subset is fine; other names are refused)."""
    chw = _input_chw(graph)
    train, test = load_data(data, progress, channels=chw[0])
    return preprocessing.apply(match_classes(test if test is not None else train, classes), fit)
