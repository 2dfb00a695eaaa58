"""The PyTorch engine: a spec's graph as a torch.nn.Module, trained with the same settings, data and
checkpoints as the Numba engine, on a CPU, a GPU or many (DistributedDataParallel under torchrun).

Only `ops` and this module are importable without PyTorch (the exporters use ops to write code; the
Numba engine's command asks `launched_by_torchrun` to refuse a torchrun it cannot serve).
"""
from __future__ import annotations

import os


def launched_by_torchrun() -> bool:
    """torchrun (and torch.distributed.run) set RANK and WORLD_SIZE for every process it starts."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ

