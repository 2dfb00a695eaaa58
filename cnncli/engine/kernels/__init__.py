"""Low-level Numba compute kernels for the cnncli engine (NCHW, float32).

One module per family: conv (conv_flat with canvas, conv_plan, conv_epilogue and the
register-blocked tiles of microkernel; conv_gemm and conv_direct for grouped and dilated
convolutions), pool, norm, dense, activation, loss. Functions return new arrays; large
temporaries live in a reusable module workspace (_common.scratch, freed by
clear_workspace()). Process-wide effects of importing this package (_common, gemm.py):
numpy's OpenBLAS runs single-threaded (all parallelism goes through Numba's thread pool);
glibc's malloc keeps freed blocks for reuse instead of returning them to the kernel (tensors
are not page-faulted in again every step); and Numba compiles with LLVM -O1 unless
NUMBA_OPT is set (a first run compiles ~30% faster, training runs as fast).
"""
from ._common import clear_workspace

__all__ = ["clear_workspace"]
