"""Low-level Numba compute kernels for the cnncli engine (NCHW, float32).

One module per family: conv, pool, norm, dense, activation, loss. Functions
return new arrays; large temporaries live in a reusable module workspace
(_common.scratch, freed by clear_workspace()). Importing this package sets
numpy's OpenBLAS to a single thread for the process (see gemm.py): all
parallelism goes through Numba's thread pool.
"""
from ._common import clear_workspace

__all__ = ["clear_workspace"]
