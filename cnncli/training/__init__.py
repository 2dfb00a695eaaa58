"""The training loop both engines share: batches, schedule, metrics, checkpoints, exact resume, Ctrl-C.

An engine plugs in as a `Backend` (cnncli.engine.trainer for Numba, cnncli.torch_engine.trainer for
PyTorch); nothing here imports either.
"""
