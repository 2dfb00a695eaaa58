"""Each prange loop's code optimised twice and compiled to machine code once, in its kernel.

Numba lowers a prange loop into a chain of four code libraries, each linking the one before:
    body (the loop as a gufunc) <- gufunc wrapper <- parallel launcher <- the kernel.
Finalizing a library optimises its whole module, everything it links included, and compiles
that module to machine code. The body and all it calls were therefore optimised and compiled
four times, though the kernel needs only its own copy: parfor lowering links the body and the
two wrappers into the kernel and never calls them through their own libraries.

install() has Numba finalize
* the two wrappers link-only: their IR stays as built, for the kernel to link, neither
  optimised nor compiled on its own;
* the body without machine code: it is optimised as before (the kernel links the optimised IR,
  so the kernel's code is what it was), but the JIT engine gets a stub module in its place,
  holding only what Numba looks up in the body's own library: its environment global (Numba
  writes the body's environment pointer there, and the kernel's code reads it through the same
  symbol) and its Python wrapper (which nothing calls; the stub returns NULL).
The kernel optimises and compiles everything once more, as before. Its code is the same as
before, bit for bit, and the same as a later run loads from Numba's cache. (A fresh process
used to run the body's own copy instead, optimised once: the same arithmetic up to rounding.
Skipping the body's optimisation as well saved another second on ResNet-20 but made its
training up to 8% slower: bench/PROFILE.md.)

Only libraries of parfor loops change: wrappers built with is_parfors=True and libraries named
as parfor lowering names a loop body (BODY_PREFIX). @guvectorize's wrappers, whose address
Numba does take, are left alone. Should anything ask a link-only or stubbed library for a
function pointer it lacks, the library compiles its module first. If Numba's internals no
longer have the shape this relies on, install() changes nothing and returns False; if parfor
lowering names its bodies otherwise, bodies are simply compiled as Numba does by default.
"""
from __future__ import annotations

import functools
import inspect
import types
import weakref
from collections.abc import Callable
from typing import Any

_FINALIZE_STEPS = ("_optimize_final_module", "_finalize_final_module", "_finalize_dynamic_globals",
                   "_verify_declare_only_symbols", "_finalize_specific", "get_pointer_to_function")
_MARK = "_cnncli_link_only"
BODY_PREFIX = "__numba_parfor_gufunc_"  # parfor_lowering._create_gufunc_for_parfor_body's name for a loop body
_ENV_PREFIX = "_ZN08NumbaEnv"  # Numba's mangled names: a function's environment global,
_PYTHON_WRAPPER_PREFIX = "_ZN7cpython"  # and its Python (CPython API) wrapper


def _skip_optimisation() -> None:
    """The kernel linking this library optimises its IR."""


def _finalize_without_code(library: Any) -> None:
    """CPUCodeLibrary._finalize_final_module without adding the module to the JIT engine."""
    library._finalize_dynamic_globals()
    library._verify_declare_only_symbols()
    library._finalized = True


def _compile_then_get_pointer(library: Any, name: str) -> int:
    """The deferred engine steps, then the class's own get_pointer_to_function."""
    cleanup = library._codegen._add_module(library._final_module)
    if cleanup:
        weakref.finalize(library, cleanup)
    library._finalize_specific()
    del library.get_pointer_to_function  # back to the class's method
    return library.get_pointer_to_function(name)


def make_link_only(library: Any) -> None:
    """Have `library` (not finalized yet) finalize without optimisation or machine code."""
    library._optimize_final_module = _skip_optimisation
    library._finalize_final_module = types.MethodType(_finalize_without_code, library)
    library.get_pointer_to_function = types.MethodType(_compile_then_get_pointer, library)


def _stub_module(library: Any) -> Any:
    """An LLVM module defining `library`'s environment globals (null) and its Python wrappers
    (returning NULL), the names Numba resolves in the body's own library (get_executable, set_env)."""
    from llvmlite import binding, ir

    final = library._final_module
    module = ir.Module(name=f"stub.{library.name}")
    module.triple, module.data_layout = final.triple, final.data_layout
    pointer = ir.IntType(8).as_pointer()
    for variable in final.global_variables:
        if variable.name.startswith(_ENV_PREFIX) and not variable.is_declaration:
            env = ir.GlobalVariable(module, pointer, variable.name)
            env.linkage, env.initializer = "common", ir.Constant(pointer, None)
    for function in final.functions:
        if function.name.startswith(_PYTHON_WRAPPER_PREFIX) and not function.is_declaration:
            stub = ir.Function(module, ir.FunctionType(pointer, [pointer] * 3), function.name)
            ir.IRBuilder(stub.append_basic_block()).ret(ir.Constant(pointer, None))
    return binding.parse_assembly(str(module))


def _finalize_with_stub(library: Any) -> None:
    """CPUCodeLibrary._finalize_final_module with the stub module in the JIT engine instead."""
    library._finalize_dynamic_globals()
    library._verify_declare_only_symbols()
    cleanup = library._codegen._add_module(_stub_module(library))
    if cleanup:
        weakref.finalize(library, cleanup)
    library._codegen._engine.finalize_object()
    library._finalized = True


def _pointer_or_full_compile(library: Any, name: str) -> int:
    """The stub's address for `name`, else (a name the stub lacks) the library's own module
    compiled first, as Numba would have done."""
    library._ensure_finalized()
    engine = library._codegen._engine
    if engine.is_symbol_defined(name):
        return engine.get_function_address(name)
    return _compile_then_get_pointer(library, name)


def compile_as_stub(library: Any) -> None:
    """Have a loop body's `library` (not finalized yet) finalize with a stub in the engine instead
    of its machine code."""
    library._finalize_final_module = types.MethodType(_finalize_with_stub, library)
    library.get_pointer_to_function = types.MethodType(_pointer_or_full_compile, library)


def _stubbing_bodies(create: Callable[..., Any]) -> Callable[..., Any]:
    """`create` (a codegen's create_library) whose parfor loop bodies' libraries compile as stubs
    (compile_as_stub)."""

    @functools.wraps(create)
    def create_library(codegen: Any, name: str, **kwargs: Any) -> Any:
        library = create(codegen, name, **kwargs)
        if str(name).startswith(BODY_PREFIX):
            compile_as_stub(library)
        return library

    setattr(create_library, _MARK, True)
    return create_library


def _marking(build: Callable[..., Any]) -> Callable[..., Any]:
    """`build` (a build_gufunc_wrapper) whose parfor wrapper libraries come back link-only."""

    @functools.wraps(build)
    def build_link_only(py_func: Any, cres: Any, sin: Any, sout: Any, cache: bool, is_parfors: bool) -> Any:
        info = build(py_func, cres, sin, sout, cache, is_parfors)
        if is_parfors and not info.library._finalized:
            make_link_only(info.library)
        return info

    setattr(build_link_only, _MARK, True)
    return build_link_only


def _has_expected_shape(library_class: type, codegen_class: type, *builders: Callable[..., Any]) -> bool:
    """Whether Numba still has the library steps and builder signatures install() relies on."""
    if not all(hasattr(library_class, step) for step in _FINALIZE_STEPS):
        return False
    if not all(hasattr(codegen_class, step) for step in ("create_library", "_add_module")):
        return False
    expected = ["py_func", "cres", "sin", "sout", "cache", "is_parfors"]
    return all(list(inspect.signature(build).parameters) == expected for build in builders)


def install() -> bool:
    """Make parfor wrappers link-only and loop bodies compiled as stubs from now on (idempotent); False if
    Numba's shape differs."""
    from numba.core.codegen import JITCodeLibrary, JITCPUCodegen
    from numba.np.ufunc import parallel, ufuncbuilder

    if getattr(parallel.build_gufunc_wrapper, _MARK, False):
        return True
    builders = (parallel.build_gufunc_wrapper, ufuncbuilder.build_gufunc_wrapper)
    if not _has_expected_shape(JITCodeLibrary, JITCPUCodegen, *builders):
        return False
    JITCPUCodegen.create_library = _stubbing_bodies(JITCPUCodegen.create_library)  # loop bodies
    parallel.build_gufunc_wrapper = _marking(parallel.build_gufunc_wrapper)  # the launcher
    ufuncbuilder.build_gufunc_wrapper = _marking(ufuncbuilder.build_gufunc_wrapper)  # the gufunc wrapper
    return True
