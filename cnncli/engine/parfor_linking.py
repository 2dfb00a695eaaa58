"""Each prange loop optimised and compiled to machine code twice instead of four times.

Numba lowers a prange loop into a chain of four code libraries, each linking the one before:
    body (the loop as a gufunc) <- gufunc wrapper <- parallel launcher <- the kernel.
Finalizing a library optimises its whole module, everything it links included, and compiles
that module to machine code. The body and all it calls were therefore optimised and compiled
four times, though only the kernel's copy ever runs: parfor lowering links the two wrappers
into the kernel and never takes their address.

install() has Numba finalize those two wrappers as link-only: their IR stays as built, for the
kernel to link, and is neither optimised nor compiled on its own. The kernel's library
optimises and compiles it with everything else, as before, so the code that runs is the same.
The body keeps its own finalization, since Numba writes its environment pointer into the
body's compiled module. A ResNet BN layer's backward kernel compiles in 6.7 s instead of
8.7 s and its forward kernel in 4.1 s instead of 5.0 s (bench/PROFILE.md).

Only wrappers built with is_parfors=True change; @guvectorize's wrappers, whose address Numba
does take, are left alone. Should anything still ask a link-only library for a function
pointer, the library compiles its module first. If Numba's internals no longer have the shape
this relies on, install() changes nothing and returns False.
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


def _has_expected_shape(library_class: type, *builders: Callable[..., Any]) -> bool:
    """Whether Numba still has the library steps and builder signatures install() relies on."""
    if not all(hasattr(library_class, step) for step in _FINALIZE_STEPS):
        return False
    expected = ["py_func", "cres", "sin", "sout", "cache", "is_parfors"]
    return all(list(inspect.signature(build).parameters) == expected for build in builders)


def install() -> bool:
    """Make parfor wrappers link-only from now on (idempotent); False if Numba's shape differs."""
    from numba.core.codegen import JITCodeLibrary
    from numba.np.ufunc import parallel, ufuncbuilder

    if getattr(parallel.build_gufunc_wrapper, _MARK, False):
        return True
    if not _has_expected_shape(JITCodeLibrary, parallel.build_gufunc_wrapper, ufuncbuilder.build_gufunc_wrapper):
        return False
    parallel.build_gufunc_wrapper = _marking(parallel.build_gufunc_wrapper)  # the launcher
    ufuncbuilder.build_gufunc_wrapper = _marking(ufuncbuilder.build_gufunc_wrapper)  # the gufunc wrapper
    return True
