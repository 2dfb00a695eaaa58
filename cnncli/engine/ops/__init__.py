"""Forward and backward of each layer type, on batches, calling the kernels."""
from cnncli.engine.ops.registry import make_op

__all__ = ["make_op"]
