"""The suite runs the engine as the training commands do: `configure()` before any kernel is
compiled (cnncli/engine/setup.py), so the kernels it compiles into the shared Numba cache are
the ones `cnn train` then loads (the cache does not record the LLVM level they were built at)."""
from cnncli.engine.setup import configure

configure()
