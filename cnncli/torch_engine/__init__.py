"""The PyTorch engine: a spec's graph as a torch.nn.Module, trained with the same settings, data and
checkpoints as the Numba engine, on a CPU, a GPU or many (DistributedDataParallel under torchrun).

Only `ops` is importable without PyTorch (the exporters use it to write code).
"""
