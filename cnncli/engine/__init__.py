"""The training engine: Numba kernels, per-layer ops, the graph executor, optimizers, training.

Importing anything here loads Numba; the analysis commands never do.
"""
