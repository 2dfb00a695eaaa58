"""parfor_linking: a prange loop's two wrappers are finalized link-only, and everything still runs.

References: NumPy for the kernels' results; ctypes calls the compiled function directly.
(conftest.py's configure() has installed parfor_linking for the whole suite.)
"""
from __future__ import annotations

import ctypes

import numpy as np
import pytest
from llvmlite import ir
from numba import guvectorize, njit, prange
from numba.core.compiler_lock import global_compiler_lock
from numba.core.registry import cpu_target
from numba.np.ufunc import parallel, ufuncbuilder

from cnncli.engine import parfor_linking


@pytest.fixture
def link_only_libraries(monkeypatch: pytest.MonkeyPatch) -> list:
    """The libraries make_link_only is given from now on (it still does its work)."""
    made = []
    original = parfor_linking.make_link_only

    def recording(library: object) -> None:
        made.append(library)
        original(library)

    monkeypatch.setattr(parfor_linking, "make_link_only", recording)
    return made


def test_install_is_idempotent() -> None:
    assert parfor_linking.install() and parfor_linking.install()
    for build in (parallel.build_gufunc_wrapper, ufuncbuilder.build_gufunc_wrapper):
        assert getattr(build, parfor_linking._MARK)
        assert not getattr(build.__wrapped__, parfor_linking._MARK, False)  # wrapped once


def test_prange_kernel_runs_with_link_only_wrappers(link_only_libraries: list) -> None:
    @njit(parallel=True)  # defined here: compiled now, not loaded from a cache
    def row_sums_scaled(a: np.ndarray, k: float) -> np.ndarray:
        out = np.empty(a.shape[0])
        for i in prange(a.shape[0]):
            out[i] = a[i].sum() * k
        return out

    a = np.arange(60.0).reshape(12, 5)
    np.testing.assert_allclose(row_sums_scaled(a, 0.5), a.sum(axis=1) * 0.5)
    assert len(link_only_libraries) == 2  # the gufunc wrapper and the parallel launcher
    for library in link_only_libraries:
        assert library._finalized
        assert "get_pointer_to_function" in vars(library)  # never compiled on its own


def test_guvectorize_wrappers_are_left_alone(link_only_libraries: list) -> None:
    @guvectorize(["void(float64[:], float64[:])"], "(n)->()", target="parallel")
    def total(row: np.ndarray, out: np.ndarray) -> None:
        out[0] = row.sum()

    a = np.arange(24.0).reshape(4, 6)
    np.testing.assert_allclose(total(a), a.sum(axis=1))
    assert link_only_libraries == []


def test_link_only_library_compiles_when_asked_for_a_pointer() -> None:
    codegen = cpu_target.target_context.codegen()
    library = codegen.create_library("link_only_test")
    module = codegen._create_empty_module("link_only_test")
    i64 = ir.IntType(64)
    function = ir.Function(module, ir.FunctionType(i64, [i64]), name="cnncli_link_only_add_one")
    builder = ir.IRBuilder(function.append_basic_block())
    builder.ret(builder.add(function.args[0], i64(1)))
    library.add_ir_module(module)
    parfor_linking.make_link_only(library)
    with global_compiler_lock:
        library.finalize()
    pointer = library.get_pointer_to_function("cnncli_link_only_add_one")
    assert pointer
    assert ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64)(pointer)(41) == 42
