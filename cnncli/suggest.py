"""'Did you mean ...?' for misspelt names."""
from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`; did you mean 'kernel'?` for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not close and "_" in word:  # kernel_size -> kernel
        stem = word.split("_")[0]
        close = [c for c in choices if c == stem]
    return f"; did you mean '{close[0]}'?" if close else ""
