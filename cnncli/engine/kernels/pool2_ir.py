"""2 x 2 max pooling fused into conv_flat (conv_epilogue.store_pool / load_dy_pool, k = 2) as
LLVM IR float vectors: one pooled row of up to LANES windows per call.

    pool2_store(y, yo, codes, co, yb, so, wq, n, bias)     forward, windows i < n <= LANES:
        a, b = relu(yb[so + 2i] + bias), relu(yb[so + 2i + 1] + bias)   (relu keeps NaN)
        c, d = the same on the row below (so + wq)
        y[yo + i] = the window's max, or a + b + c + d (a NaN) when one of them is NaN;
        codes[co + i] = scan index (0-3) of the first cell equal to that max, -1 unless y > 0
    unpool2_load(dyb, o, wq, dy, at, codes, n)             backward, windows i < n <= LANES:
        dyb[o + a*wq + 2i + b] = dy[at + i] if codes[at + i] == 2a + b else 0     (a, b < 2)

These are the scalar rules of conv_flat's docstring, lane by lane (the same bits). Rows are read
as 2n floats and split into even and odd columns by a shuffle; loads and stores take only the
lanes of the row's windows (rowcopy._load_first / _store_first: masked, or plain moves where
AVX2's masked ones are slow), so nothing past them is read or written. As plain loops
(5-14 windows a row) LLVM ran them scalar: its vector loop needs 4 vectors of iterations.
"""
from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .microkernel import _F32, _I64, LANES
from .rowcopy import _EVENS, _INTERLEAVE, _ODDS, _load_first, _splat, _store_first

_I8 = ir.IntType(8)
_WIDE = ir.VectorType(_F32, 2 * LANES)
_VEC = ir.VectorType(_F32, LANES)
_CODES = ir.VectorType(_I8, LANES)


def _align(vec: ir.VectorType) -> int:
    """The alignment of vec's elements in bytes."""
    return 1 if vec.element == _I8 else 4


def _data(context, builder, array_type, value) -> ir.Value:  # type: ignore[no-untyped-def]
    return context.make_array(array_type)(context, builder, value).data


def _load(builder: ir.IRBuilder, data: ir.Value, at: ir.Value, vec: ir.VectorType, kept: ir.Value,
          fill: ir.Constant) -> ir.Value:
    """vec at data[at], its first `kept` lanes read (the others hold `fill`)."""
    ptr = builder.bitcast(builder.gep(data, [at]), vec.as_pointer())
    return _load_first(builder, vec, ptr, kept, fill, _align(vec))


def _store(builder: ir.IRBuilder, value: ir.Value, data: ir.Value, at: ir.Value, kept: ir.Value) -> None:
    """value's first `kept` lanes to data[at], nothing after them written."""
    ptr = builder.bitcast(builder.gep(data, [at]), value.type.as_pointer())
    _store_first(builder, value, ptr, kept, _align(value.type))


def _codes(values: list[int]) -> ir.Constant:
    return ir.Constant(_CODES, values)


@intrinsic
def pool2_store(typingctx, y, yo, codes, co, yb, so, wq, n, bias):  # type: ignore[no-untyped-def]
    """The forward (module docstring) on 1-D float32 y, yb and int8 codes."""
    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        y_0, c_0, yb_0 = (_data(context, builder, sig.args[i], args[i]) for i in (0, 2, 4))
        yo_v, co_v, so_v, wq_v, n_v, bias_v = args[1], args[3], args[5], args[6], args[7], args[8]
        wide_zeros, zeros = ir.Constant(_WIDE, [0.0] * 2 * LANES), ir.Constant(_VEC, [0.0] * LANES)
        read = builder.mul(n_v, ir.Constant(_I64, 2))
        undef = ir.Constant(_WIDE, ir.Undefined)
        cells = []
        for at in (so_v, builder.add(so_v, wq_v)):
            row = builder.fadd(_load(builder, yb_0, at, _WIDE, read, wide_zeros), _splat(builder, bias_v, 2 * LANES))
            row = builder.select(builder.fcmp_ordered("<", row, wide_zeros), wide_zeros, row)
            cells += [builder.shuffle_vector(row, undef, _EVENS), builder.shuffle_vector(row, undef, _ODDS)]
        a, b, c, d = cells
        ab = builder.select(builder.fcmp_ordered(">=", a, b), a, b)
        cd = builder.select(builder.fcmp_ordered(">=", c, d), c, d)
        top = builder.select(builder.fcmp_ordered(">=", ab, cd), ab, cd)
        nan = builder.or_(builder.fcmp_unordered("uno", a, b), builder.fcmp_unordered("uno", c, d))
        value = builder.select(nan, builder.fadd(builder.fadd(builder.fadd(a, b), c), d), top)
        at = builder.select(builder.fcmp_ordered("==", c, top), _codes([2] * LANES), _codes([3] * LANES))
        at = builder.select(builder.fcmp_ordered("==", b, top), _codes([1] * LANES), at)
        at = builder.select(builder.fcmp_ordered("==", a, top), _codes([0] * LANES), at)
        code = builder.select(builder.fcmp_ordered(">", value, zeros), at, _codes([-1] * LANES))
        _store(builder, value, y_0, yo_v, n_v)
        _store(builder, code, c_0, co_v, n_v)
        return context.get_dummy_value()

    i64 = types.int64
    return types.void(y, i64, codes, i64, yb, i64, i64, i64, y.dtype), codegen


@intrinsic
def unpool2_load(typingctx, dyb, o, wq, dy, at, codes, n):  # type: ignore[no-untyped-def]
    """The backward (module docstring) on 1-D float32 dyb, dy and int8 codes."""
    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        dyb_0, dy_0, c_0 = (_data(context, builder, sig.args[i], args[i]) for i in (0, 3, 5))
        o_v, wq_v, at_v, n_v = args[1], args[2], args[4], args[6]
        zeros = ir.Constant(_VEC, [0.0] * LANES)
        g = _load(builder, dy_0, at_v, _VEC, n_v, zeros)
        code = _load(builder, c_0, at_v, _CODES, n_v, _codes([-1] * LANES))
        kept = builder.mul(n_v, ir.Constant(_I64, 2))
        for a, row in enumerate((o_v, builder.add(o_v, wq_v))):
            even, odd = (builder.select(builder.icmp_signed("==", code, _codes([2 * a + b] * LANES)), g, zeros)
                         for b in (0, 1))
            _store(builder, builder.shuffle_vector(even, odd, _INTERLEAVE), dyb_0, row, kept)
        return context.get_dummy_value()

    i64 = types.int64
    return types.void(dyb, i64, i64, dy, i64, codes, i64), codegen
