"""The training engine: Numba kernels, per-layer ops, the graph executor, optimizers, training.

Most modules here load Numba; the analysis commands never import them. Numba-free: plan.py
(the graph walk), init.py (initial values) and setup.py (`configure`, the process set-up that
the training commands call before the engine loads). docs/engine.md is the map.
"""
