"""'Did you mean ...?' for misspelt names, and for the names other frameworks use."""
from __future__ import annotations

import difflib
from collections.abc import Iterable

# Argument names of Keras (K) and PyTorch (P) -> ours, where they mean the same thing.
FOREIGN_NAMES = {
    "pool_size": ("kernel", "Keras"), "kernel_size": ("kernel", "Keras and PyTorch"),
    "strides": ("stride", "Keras"), "dilation_rate": ("dilation", "Keras"),
    "out_channels": ("filters", "PyTorch"), "num_filters": ("filters", "Caffe"),
    "out_features": ("units", "PyTorch"), "use_bias": ("bias", "Keras"), "p": ("rate", "PyTorch"),
    "output_size": ("output", "PyTorch"), "negative_slope": ("slope", "PyTorch"), "alpha": ("slope", "Keras"),
    "epsilon": ("eps", "Keras"), "ceil": ("ceil_mode", "PyTorch"),
}
NOT_NEEDED = {"in_channels", "in_features", "input_shape", "input_dim"}


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`; did you mean 'kernel'?` for the closest choice, or '' when nothing is close; a name
    from Keras or PyTorch gets ours (`pool_size` -> `kernel`)."""
    choices = list(choices)
    if word in FOREIGN_NAMES and FOREIGN_NAMES[word][0] in choices:
        ours, where = FOREIGN_NAMES[word]
        return f"; did you mean '{ours}'? ({where} calls it {word})"
    if word in NOT_NEEDED:
        return "; input sizes are not written: they are inferred from the previous layer"
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close and "_" in word:  # kernel_size -> kernel
        stem = word.split("_")[0]
        close = [c for c in choices if c == stem]
    return f"; did you mean '{close[0]}'?" if close else ""
