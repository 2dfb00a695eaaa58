"""Low-level Numba compute kernels for the cnncli engine (NCHW, float32)."""
