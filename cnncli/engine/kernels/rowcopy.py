"""Row-block copies as masked vector moves: short rows (4-28 values) copied a vector at a time.

    copy_block(dst, d0, ldd, dstep, src, s0, lds, sstep, rows, count):
        dst[d0 + r*ldd + i*dstep] = src[s0 + r*lds + i*sstep]   for r < rows, i < count

is canvas.copy_rows on 1-D float arrays, but each run of up to LANES values of a row moves as
one masked vector load and store (llvm.masked.load / llvm.masked.store: the lanes past the
row are neither read nor written, so no zero padding next to the row is touched and no read
leaves the arrays; with AVX2, whose masked moves AMD CPUs microcode, _store_first / _load_first
move a whole vector plainly and store a tail in plain pieces). A scalar loop spends a few cycles
per value on rows this short (LLVM's vector loop needs 4*LANES iterations before it starts);
depthwise convolutions copy every plane in and out of their canvases, rows of 4 to 28 values.
Step 2 on either side (the phase split of stride 2) loads or stores 2*LANES lanes and moves
the even ones with a shuffle; other steps fall back to a scalar loop.

The canvases of conv_flat (canvas.py) copy whole blocks of rows the same way, with one call
per block and no scalar fallback: copy_rows_vec (unit steps), split_rows (a row's even and
odd values to two places: the two column phases of stride 2, read once), merge_rows (the
reverse, for the crop), bias_rows (copy_rows_vec adding a bias, then relu if asked: the conv
epilogue) and zero_run (llvm.memset). Each is a few vector operations in a plain
loop, so the kernels that use them compile them in little time (a loop that LLVM
vectorises itself costs a second or more of compile time per kernel that inlines it); they are
inlined by Numba (inline="always"): as callees of their own, each cost a separate compile in
every compiling process (one BN layer's kernels: 0.4-0.5 s of first-run compile).
"""
from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .microkernel import _F32, LANES

_I1, _I32, _I64 = ir.IntType(1), ir.IntType(32), ir.IntType(64)


def _masked(builder: ir.IRBuilder, kind: str, vec: ir.VectorType) -> ir.Function:
    """llvm.masked.load / llvm.masked.store for vector type `vec`, declared once per module."""
    element = vec.element
    suffix = "f32" if element == ir.FloatType() else "f64" if element == ir.DoubleType() else f"i{element.width}"
    name = f"llvm.masked.{kind}.v{vec.count}{suffix}.p0"
    if name in builder.module.globals:
        return builder.module.globals[name]
    mask = ir.VectorType(_I1, vec.count)
    ptr = vec.as_pointer()
    sig = (ir.FunctionType(vec, [ptr, _I32, mask, vec]) if kind == "load"
           else ir.FunctionType(ir.VoidType(), [vec, ptr, _I32, mask]))
    return ir.Function(builder.module, sig, name)


def _store_first(builder: ir.IRBuilder, value: ir.Value, ptr: ir.Value, kept: ir.Value, align: int = 4) -> None:
    """The first `kept` lanes of vector `value` to ptr, memory after them untouched: llvm.masked.store,
    but with 8-float vectors (AVX2) plain stores: the whole vector when every lane is kept, else
    pieces (_store_pieces). AVX2's masked store (vmaskmovps) is microcoded on AMD CPUs: a Zen 4
    running the AVX2 build took 4x as long for the stem's conv epilogue with it, and the depthwise
    kernels' short rows 1.3-1.8x (AVX-512's masked stores cost what plain ones do)."""
    width = value.type.count
    align_v = ir.Constant(_I32, align)

    def masked(b: ir.IRBuilder) -> None:
        b.call(_masked(b, "store", value.type), [value, ptr, align_v, _lanes_below(b, width, kept, 1)])

    if LANES == 16:
        masked(builder)
        return
    with builder.if_else(builder.icmp_signed(">=", kept, ir.Constant(_I64, width))) as (whole, part):
        with whole:
            builder.store(value, ptr, align=align)
        with part:
            _store_pieces(builder, value, ptr, kept, align)


def _store_pieces(builder: ir.IRBuilder, value: ir.Value, ptr: ir.Value, kept: ir.Value, align: int) -> None:
    """The first `kept` < width lanes of `value` to ptr (none if kept < 0) as plain stores of width/2,
    width/4, .. 1 lanes, one per bit of kept (the vector shifted down after each)."""
    width = value.type.count
    zero = ir.Constant(_I64, 0)
    kept = builder.select(builder.icmp_signed("<", kept, zero), zero, kept)
    element = value.type.element
    undef = ir.Constant(value.type, ir.Undefined)
    at = builder.bitcast(ptr, element.as_pointer())
    piece = width // 2
    while piece >= 1:
        bit = builder.icmp_signed("!=", builder.and_(kept, ir.Constant(_I64, piece)), zero)
        with builder.if_then(bit):
            if piece == 1:
                builder.store(builder.extract_element(value, ir.Constant(_I32, 0)), at, align=align)
            else:
                low = builder.shuffle_vector(value, undef, ir.Constant(ir.VectorType(_I32, piece), list(range(piece))))
                builder.store(low, builder.bitcast(at, low.type.as_pointer()), align=align)
        down = ir.Constant(ir.VectorType(_I32, width), [min(i + piece, 2 * width - 1) for i in range(width)])
        shifted = builder.shuffle_vector(value, undef, down)
        value = builder.select(bit, shifted, value)
        at = builder.select(bit, builder.gep(at, [ir.Constant(_I64, piece)]), at)
        piece //= 2


def _load_first(builder: ir.IRBuilder, vec: ir.VectorType, ptr: ir.Value, kept: ir.Value, fill: ir.Value,
                align: int = 4) -> ir.Value:
    """A vector whose first `kept` lanes come from ptr (memory after them not read) and the rest from
    `fill`: llvm.masked.load, but with 8-float vectors (AVX2) a plain load when every lane is read
    (as _store_first)."""
    width = vec.count
    align_v = ir.Constant(_I32, align)
    if LANES == 16:
        return builder.call(_masked(builder, "load", vec), [ptr, align_v, _lanes_below(builder, width, kept, 1), fill])
    with builder.if_else(builder.icmp_signed(">=", kept, ir.Constant(_I64, width))) as (whole, part):
        with whole:
            plain, plain_block = builder.load(ptr, align=align), builder.block
        with part:
            masked = builder.call(_masked(builder, "load", vec), [ptr, align_v, _lanes_below(builder, width, kept, 1),
                                                                  fill])
            masked_block = builder.block
    value = builder.phi(vec)
    value.add_incoming(plain, plain_block)
    value.add_incoming(masked, masked_block)
    return value


def _splat(builder: ir.IRBuilder, value: ir.Value, width: int) -> ir.Value:
    """<width x T> with every lane = value (of type T)."""
    undef = ir.Constant(ir.VectorType(value.type, width), ir.Undefined)
    return builder.shuffle_vector(builder.insert_element(undef, value, ir.Constant(_I32, 0)), undef,
                                  ir.Constant(ir.VectorType(_I32, width), [0] * width))


def _lanes_below(builder: ir.IRBuilder, width: int, limit: ir.Value, step: int) -> ir.Value:
    """The mask lane < limit (and lane % step == 0), <width x i1>."""
    lanes = ir.Constant(ir.VectorType(_I64, width), list(range(width)))
    mask = builder.icmp_signed("<", lanes, _splat(builder, limit, width))
    if step == 1:
        return mask
    even = ir.Constant(ir.VectorType(_I1, width), [lane % step == 0 for lane in range(width)])
    return builder.and_(mask, even)


def _move(sstep: int, dstep: int):  # type: ignore[no-untyped-def]
    """An intrinsic move(dst, d0, src, s0, n): dst[d0 + i*dstep] = src[s0 + i*sstep], i < n <= LANES."""
    @intrinsic
    def move(typingctx, dst, d0, src, s0, n):  # type: ignore[no-untyped-def]
        def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
            dst_data = context.make_array(sig.args[0])(context, builder, args[0]).data
            src_data = context.make_array(sig.args[2])(context, builder, args[2]).data
            element = context.get_value_type(sig.args[0].dtype)
            src_vec, dst_vec = ir.VectorType(element, LANES * sstep), ir.VectorType(element, LANES * dstep)
            align = ir.Constant(_I32, sig.args[0].dtype.bitwidth // 8)
            count = args[4]
            src_ptr = builder.bitcast(builder.gep(src_data, [args[3]]), src_vec.as_pointer())
            dst_ptr = builder.bitcast(builder.gep(dst_data, [args[1]]), dst_vec.as_pointer())
            if sstep == 1:
                values = _load_first(builder, src_vec, src_ptr, count, ir.Constant(src_vec, ir.Undefined),
                                     sig.args[0].dtype.bitwidth // 8)
            else:  # the even lanes only
                src_mask = _lanes_below(builder, LANES * sstep, builder.mul(count, ir.Constant(_I64, sstep)), sstep)
                values = builder.call(_masked(builder, "load", src_vec),
                                      [src_ptr, align, src_mask, ir.Constant(src_vec, ir.Undefined)])
            if sstep != dstep:  # gather the even lanes, or spread the values to the even lanes
                lanes = ([sstep * i for i in range(LANES)] if sstep > 1
                         else [i // dstep for i in range(LANES * dstep)])
                values = builder.shuffle_vector(values, ir.Constant(src_vec, ir.Undefined),
                                                ir.Constant(ir.VectorType(_I32, len(lanes)), lanes))
            if dstep == 1:
                _store_first(builder, values, dst_ptr, count, sig.args[0].dtype.bitwidth // 8)
            else:  # the even lanes only
                dst_mask = _lanes_below(builder, LANES * dstep, builder.mul(count, ir.Constant(_I64, dstep)), dstep)
                builder.call(_masked(builder, "store", dst_vec), [values, dst_ptr, align, dst_mask])
            return context.get_dummy_value()

        return types.void(dst, types.int64, src, types.int64, types.int64), codegen

    return move


_move11, _move21, _move12 = _move(1, 1), _move(2, 1), _move(1, 2)


@njit(cache=True, inline="always")
def copy_block(dst, d0: int, ldd: int, dstep: int, src, s0: int, lds: int, sstep: int,  # type: ignore[no-untyped-def]
               rows: int, count: int) -> None:
    """dst[d0 + r*ldd + i*dstep] = src[s0 + r*lds + i*sstep] for r < rows, i < count (1-D arrays
    of one float dtype): masked vector moves when the steps are (1, 1), (1, 2) or (2, 1)."""
    if dstep * sstep > 2 or count <= 0:  # (not a call to canvas.copy_rows: the call alone costs 15 ns)
        for r in range(rows):
            for i in range(count):
                dst[d0 + r * ldd + i * dstep] = src[s0 + r * lds + i * sstep]
    elif count <= LANES:  # one vector per row
        for r in range(rows):
            if sstep == 2:
                _move21(dst, d0 + r * ldd, src, s0 + r * lds, count)
            elif dstep == 2:
                _move12(dst, d0 + r * ldd, src, s0 + r * lds, count)
            else:
                _move11(dst, d0 + r * ldd, src, s0 + r * lds, count)
    else:
        for r in range(rows):
            for i in range(0, count, LANES):
                n = min(LANES, count - i)
                if sstep == 2:
                    _move21(dst, d0 + r * ldd + i, src, s0 + r * lds + 2 * i, n)
                elif dstep == 2:
                    _move12(dst, d0 + r * ldd + 2 * i, src, s0 + r * lds + i, n)
                else:
                    _move11(dst, d0 + r * ldd + i, src, s0 + r * lds + i, n)


@intrinsic
def zero_run(typingctx, dst, d0, count):  # type: ignore[no-untyped-def]
    """dst[d0:d0 + count] = 0 (llvm.memset: a libc call or a few vector stores)."""
    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        size = builder.mul(args[2], ir.Constant(_I64, sig.args[0].dtype.bitwidth // 8))
        cgutils.memset(builder, builder.gep(data, [args[1]]), size, 0)
        return context.get_dummy_value()

    return types.void(dst, types.int64, types.int64), codegen


@njit(cache=True, inline="always")
def copy_rows_vec(dst, d0: int, ldd: int, src, s0: int, lds: int,  # type: ignore[no-untyped-def]
                  rows: int, count: int) -> None:
    """dst[d0 + r*ldd + i] = src[s0 + r*lds + i] for r < rows, i < count: LANES values per move."""
    for r in range(rows):
        for i in range(0, count, LANES):
            _move11(dst, d0 + r * ldd + i, src, s0 + r * lds + i, min(LANES, count - i))


_EVENS = ir.Constant(ir.VectorType(_I32, LANES), list(range(0, 2 * LANES, 2)))
_ODDS = ir.Constant(ir.VectorType(_I32, LANES), list(range(1, 2 * LANES, 2)))
_INTERLEAVE = ir.Constant(ir.VectorType(_I32, 2 * LANES), [i // 2 + (LANES if i % 2 else 0) for i in range(2 * LANES)])


def _half_counts(builder: ir.IRBuilder, count: ir.Value) -> tuple[ir.Value, ir.Value]:
    """(values at even positions, at odd positions) of a run of `count`: (count + 1) // 2, count // 2."""
    one = ir.Constant(_I64, 1)
    return builder.ashr(builder.add(count, one), one), builder.ashr(count, one)


@intrinsic
def _split(typingctx, dst, d_even, d_odd, src, s0, count):  # type: ignore[no-untyped-def]
    """dst[d_even + i] = src[s0 + 2i], dst[d_odd + i] = src[s0 + 2i + 1] for the values of the run
    src[s0:s0 + count], count <= 2*LANES: one load, two shuffles, two stores (_load_first, _store_first)."""
    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        dst_data = context.make_array(sig.args[0])(context, builder, args[0]).data
        src_data = context.make_array(sig.args[3])(context, builder, args[3]).data
        wide, vec = ir.VectorType(_F32, 2 * LANES), ir.VectorType(_F32, LANES)
        src_ptr = builder.bitcast(builder.gep(src_data, [args[4]]), wide.as_pointer())
        values = _load_first(builder, wide, src_ptr, args[5], ir.Constant(wide, ir.Undefined))
        for at, lanes, kept in zip((args[1], args[2]), (_EVENS, _ODDS), _half_counts(builder, args[5])):
            part = builder.shuffle_vector(values, ir.Constant(wide, ir.Undefined), lanes)
            ptr = builder.bitcast(builder.gep(dst_data, [at]), vec.as_pointer())
            _store_first(builder, part, ptr, kept)
        return context.get_dummy_value()

    i64 = types.int64
    return types.void(dst, i64, i64, src, i64, i64), codegen


@intrinsic
def _merge(typingctx, dst, d0, src, s_even, s_odd, count):  # type: ignore[no-untyped-def]
    """dst[d0 + 2i] = src[s_even + i], dst[d0 + 2i + 1] = src[s_odd + i] for a run of `count` <= 2*LANES
    values of dst (_split read backwards): two loads, one interleaving shuffle, one store."""
    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        dst_data = context.make_array(sig.args[0])(context, builder, args[0]).data
        src_data = context.make_array(sig.args[2])(context, builder, args[2]).data
        wide, vec = ir.VectorType(_F32, 2 * LANES), ir.VectorType(_F32, LANES)
        parts = []
        for at, kept in zip((args[3], args[4]), _half_counts(builder, args[5])):
            ptr = builder.bitcast(builder.gep(src_data, [at]), vec.as_pointer())
            parts.append(_load_first(builder, vec, ptr, kept, ir.Constant(vec, ir.Undefined)))
        dst_ptr = builder.bitcast(builder.gep(dst_data, [args[1]]), wide.as_pointer())
        _store_first(builder, builder.shuffle_vector(parts[0], parts[1], _INTERLEAVE), dst_ptr, args[5])
        return context.get_dummy_value()

    i64 = types.int64
    return types.void(dst, i64, src, i64, i64, i64), codegen


@njit(cache=True, inline="always")
def split_rows(dst, d_even: int, d_odd: int, ldd: int, src, s0: int, lds: int,  # type: ignore[no-untyped-def]
               rows: int, count: int) -> None:
    """dst[d_even + r*ldd + i] = src[s0 + r*lds + 2i] (2i < count) and
    dst[d_odd + r*ldd + i] = src[s0 + r*lds + 2i + 1] (2i + 1 < count), r < rows."""
    for r in range(rows):
        for i in range(0, count, 2 * LANES):
            _split(dst, d_even + r * ldd + i // 2, d_odd + r * ldd + i // 2, src, s0 + r * lds + i,
                   min(2 * LANES, count - i))


@njit(cache=True, inline="always")
def merge_rows(dst, d0: int, ldd: int, src, s_even: int, s_odd: int, lds: int,  # type: ignore[no-untyped-def]
               rows: int, count: int) -> None:
    """dst[d0 + r*ldd + 2i] = src[s_even + r*lds + i] (2i < count) and
    dst[d0 + r*ldd + 2i + 1] = src[s_odd + r*lds + i] (2i + 1 < count), r < rows: split_rows read backwards."""
    for r in range(rows):
        for i in range(0, count, 2 * LANES):
            _merge(dst, d0 + r * ldd + i, src, s_even + r * lds + i // 2, s_odd + r * lds + i // 2,
                   min(2 * LANES, count - i))


@intrinsic
def _move_bias(typingctx, dst, d0, src, s0, n, bias, relu):  # type: ignore[no-untyped-def]
    """dst[d0 + i] = v = src[s0 + i] + bias, or 0 where relu and v < 0 (NaN kept), i < n <= LANES."""
    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        dst_data = context.make_array(sig.args[0])(context, builder, args[0]).data
        src_data = context.make_array(sig.args[2])(context, builder, args[2]).data
        element = context.get_value_type(sig.args[0].dtype)
        vec = ir.VectorType(element, LANES)
        src_ptr = builder.bitcast(builder.gep(src_data, [args[3]]), vec.as_pointer())
        values = _load_first(builder, vec, src_ptr, args[4], ir.Constant(vec, ir.Undefined),
                             sig.args[0].dtype.bitwidth // 8)
        values = builder.fadd(values, _splat(builder, args[5], LANES))
        zeros = ir.Constant(vec, [0.0] * LANES)
        clipped = builder.select(builder.fcmp_ordered("<", values, zeros), zeros, values)
        values = builder.select(args[6], clipped, values)
        dst_ptr = builder.bitcast(builder.gep(dst_data, [args[1]]), vec.as_pointer())
        _store_first(builder, values, dst_ptr, args[4], sig.args[0].dtype.bitwidth // 8)
        return context.get_dummy_value()

    return types.void(dst, types.int64, src, types.int64, types.int64, dst.dtype, types.boolean), codegen


@njit(cache=True, inline="always")
def bias_rows(dst, d0: int, ldd: int, src, s0: int, lds: int, rows: int, count: int,  # type: ignore[no-untyped-def]
              bias: float, relu: bool) -> None:
    """dst[d0 + r*ldd + i] = v = src[s0 + r*lds + i] + bias, or 0 where relu and v < 0 (NaN kept),
    for r < rows, i < count: LANES values per vector."""
    for r in range(rows):
        for i in range(0, count, LANES):
            _move_bias(dst, d0 + r * ldd + i, src, s0 + r * lds + i, min(LANES, count - i), bias, relu)
