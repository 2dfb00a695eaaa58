"""parfor_linking: a prange loop's two wrappers are finalized link-only, its body as a stub in the
JIT engine, and everything still runs.

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


def _given_libraries(monkeypatch: pytest.MonkeyPatch, step: str) -> list:
    """The libraries parfor_linking.<step> is given from now on (it still does its work)."""
    made = []
    original = getattr(parfor_linking, step)

    def recording(library: object) -> None:
        made.append(library)
        original(library)

    monkeypatch.setattr(parfor_linking, step, recording)
    return made


@pytest.fixture
def link_only_libraries(monkeypatch: pytest.MonkeyPatch) -> list:
    return _given_libraries(monkeypatch, "make_link_only")


@pytest.fixture
def stubbed_libraries(monkeypatch: pytest.MonkeyPatch) -> list:
    return _given_libraries(monkeypatch, "compile_as_stub")


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


def test_prange_body_compiles_as_a_stub(stubbed_libraries: list, monkeypatch: pytest.MonkeyPatch) -> None:
    stubs = []
    make_stub = parfor_linking._stub_module
    monkeypatch.setattr(parfor_linking, "_stub_module", lambda library: stubs.append(make_stub(library)) or stubs[-1])

    @njit(parallel=True)  # defined here: compiled now, not loaded from a cache
    def clipped_squares(a: np.ndarray) -> np.ndarray:
        out = np.empty_like(a)
        for i in prange(a.shape[0]):
            out[i] = min(a[i] * a[i], 50.0)
        return out

    a = np.arange(-8.0, 9.0)
    np.testing.assert_array_equal(clipped_squares(a), np.minimum(a * a, 50.0))
    assert len(stubbed_libraries) == 1 and str(stubbed_libraries[0].name).startswith(parfor_linking.BODY_PREFIX)
    body, (stub,) = stubbed_libraries[0], stubs
    assert body._finalized
    python_wrappers = {f.name for f in body._final_module.functions
                       if f.name.startswith(parfor_linking._PYTHON_WRAPPER_PREFIX) and not f.is_declaration}
    assert python_wrappers and {f.name for f in stub.functions} == python_wrappers  # no loop code in the engine
    environments = {g.name for g in stub.global_variables}
    assert environments and all(name.startswith(parfor_linking._ENV_PREFIX) for name in environments)
    assert all(body._codegen._engine.is_symbol_defined(name) for name in python_wrappers | environments)


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


def test_stubbed_library_compiles_when_asked_for_a_function_it_lacks() -> None:
    codegen = cpu_target.target_context.codegen()
    library = codegen.create_library("stub_test")
    module = codegen._create_empty_module("stub_test")
    i64, pointer = ir.IntType(64), ir.IntType(8).as_pointer()
    add_one = ir.Function(module, ir.FunctionType(i64, [i64]), name="cnncli_stub_test_add_one")
    builder = ir.IRBuilder(add_one.append_basic_block())
    builder.ret(builder.add(add_one.args[0], i64(1)))
    wrapper = ir.Function(module, ir.FunctionType(pointer, [pointer] * 3),
                          name=parfor_linking._PYTHON_WRAPPER_PREFIX + "cnncli_stub_test")
    ir.IRBuilder(wrapper.append_basic_block()).ret(wrapper.args[0])  # the real one returns its first argument
    library.add_ir_module(module)
    parfor_linking.compile_as_stub(library)
    with global_compiler_lock:
        library.finalize()
    python_wrapper = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)(
        library.get_pointer_to_function(wrapper.name))
    assert python_wrapper(1234, None, None) is None  # the stub's: NULL
    pointer_to_add_one = library.get_pointer_to_function("cnncli_stub_test_add_one")  # not in the stub
    assert pointer_to_add_one
    assert ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64)(pointer_to_add_one)(41) == 42
