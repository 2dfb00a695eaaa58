"""The transforms of Winograd F(2x2, 3x3) (winograd.py) as LLVM IR with explicit float vectors.

Numba does not vectorise them (16 store streams and stride-2 reads: LLVM gives up on the
alias checks), so, like the tiles of microkernel.py, they are written as intrinsics on raw
addresses (int64 byte addresses; counts in elements), LANES tiles per vector:

    wino_in_rows(src, wq, nv, th, tw, dst, xs)     tile rows ti < th, tiles j < nv*LANES of each:
        d[a, b] = src[(2ti + a)*wq + 2j + b] (a, b < 4);  dst[xi*xs + ti*tw + j] = (B^T d B)[xi]
        (xi = 4a' + b'); the stride-2 reads are two vector loads and two even / odd lane
        shuffles per row a.
    wino_out_rows(mm, xs, nv, th, tw, dst, ldr, cols, rows)     likewise:
        Y = A^T M A of M[xi] = mm[xi*xs + ti*tw + j];  dst[(2ti + i)*ldr + 2j + b] = Y[i, b]
        for 2ti + i < rows and 2j + b < cols; the other positions of dst that its vectors cover
        (up to 2*nv*LANES floats from a row's start) are read and written back unchanged, so
        dst must be the caller's own buffer, with room after the last row.
    wino_dy_rows(src, wq, nv, th, tw, dst, xs, cols)     likewise, for the weight gradient:
        D[i, k] = src[(2ti + i)*wq + 2j + k] (i, k < 2), or 0 where 2j + k >= cols;
        dst[xi*xs + ti*tw + j] = (A D A^T)[xi], A = (A^T)^T of winograd.py (4 x 2); reads as
        wino_in_rows does, rows 2ti and 2ti + 1 (the mask: a last odd column wrapping into
        the next row when wq = cols).
wino_in_rows_k, wino_out_rows_k, wino_dy_rows_k (k = 2, 4; tw = LANES / k, nv unused): the same formulas
with one vector of LANES tiles = k tile rows ti..ti + k - 1 (their slots are contiguous in dst / mm);
row ti + q past th reads row th - 1 (its lanes land in the padding after the last tile, or on slots
rewritten after), and the output stores are masked (llvm.masked.store), so nothing outside the
kept positions is written. Same arithmetic per lane: the same bits as the one-row-per-vector form,
with k times fewer vector operations when tw = LANES / k (16x16 and 8x8 planes with 16 lanes).
Lanes past a row's tw tiles compute junk that is never stored (wino_out_rows) or lands on the
next tile row's slots, rewritten right after, or in the padding after the last (wino_in_rows:
callers leave LANES floats; likewise wino_dy_rows); reads reach 2*nv*LANES + 2 floats past a row's start (callers
leave room).
"""
from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .microkernel import _F32, _I32, _I64, _VEC, LANES, _const, _loop, _ptr, _vload
from .rowcopy import _EVENS, _ODDS, _lanes_below, _splat, _store_first


def _mask(lanes: list[int]) -> ir.Constant:
    return ir.Constant(ir.VectorType(_I32, len(lanes)), lanes)


_LOW = _mask([k // 2 + (LANES if k % 2 else 0) for k in range(LANES)])  # interleave a, b: first half
_HIGH = _mask([LANES // 2 + k // 2 + (LANES if k % 2 else 0) for k in range(LANES)])


def _pieces(b: ir.IRBuilder, rows: list, at: int, width: int) -> tuple[ir.Value, ir.Value]:  # type: ignore[type-arg]
    """(lo, hi): the LANES + LANES floats rows[0][at:at + width] ++ rows[1][at:at + width] ++ ...,
    width = 2 * LANES / len(rows)."""
    kind = ir.VectorType(_F32, width)
    parts = [b.load(b.bitcast(b.gep(row, [_const(at)]), kind.as_pointer()), align=4) for row in rows]
    while len(parts) > 2:  # concatenate neighbours
        n = parts[0].type.count
        parts = [b.shuffle_vector(parts[i], parts[i + 1], _mask(list(range(2 * n)))) for i in range(0, len(parts), 2)]
    return parts[0], parts[1]


def _store(builder: ir.IRBuilder, base: ir.Value, index: ir.Value, value: ir.Value) -> None:
    builder.store(value, builder.bitcast(builder.gep(base, [index]), _VEC.as_pointer()), align=4)


def _in_rows(k: int):  # type: ignore[no-untyped-def]
    """wino_in_rows (k = 1) or wino_in_rows_k (module docstring)."""
    @intrinsic
    def in_rows(typingctx, src, wq, nv, th, tw, dst, xs):  # type: ignore[no-untyped-def]
        def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
            src_a, wq_v, nv_v, th_v, tw_v, dst_a, xs_v = args
            src_0, dst_0 = _ptr(builder, src_a, _F32), _ptr(builder, dst_a, _F32)

            def tile_row(b0: ir.IRBuilder, g: ir.Value, accs: list) -> list:  # type: ignore[type-arg]
                ti = b0.mul(g, _const(k))
                dst_p = b0.gep(dst_0, [b0.mul(ti, tw_v)])
                subs = [b0.gep(src_0, [b0.mul(b0.mul(_last(b0, ti, q, th_v), _const(2)), wq_v)]) for q in range(k)]
                rows = [[b0.gep(sub, [b0.mul(_const(a), wq_v)]) for sub in subs] for a in range(4)]
                outs = [b0.gep(dst_p, [b0.mul(_const(xi), xs_v)]) for xi in range(16)]
                _loop(b0, nv_v if k == 1 else _const(1), [], lambda b, i, accs: body(b, i, rows, outs))
                return []

            def body(b: ir.IRBuilder, i: ir.Value, rows: list, outs: list) -> list:  # type: ignore[type-arg]
                j = b.mul(i, _const(LANES))
                e = b.mul(j, _const(2))
                r = []
                for row in rows:  # d0..d3 of LANES tiles, then (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
                    if k == 1:
                        lo, hi = _vload(b, row[0], e), _vload(b, row[0], b.add(e, _const(LANES)))
                        lo2 = _vload(b, row[0], b.add(e, _const(2)))
                        hi2 = _vload(b, row[0], b.add(e, _const(LANES + 2)))
                    else:
                        (lo, hi), (lo2, hi2) = _pieces(b, row, 0, 2 * LANES // k), _pieces(b, row, 2, 2 * LANES // k)
                    d0, d1 = b.shuffle_vector(lo, hi, _EVENS), b.shuffle_vector(lo, hi, _ODDS)
                    d2, d3 = b.shuffle_vector(lo2, hi2, _EVENS), b.shuffle_vector(lo2, hi2, _ODDS)
                    r.append([b.fsub(d0, d2), b.fadd(d1, d2), b.fsub(d2, d1), b.fsub(d1, d3)])
                for col in range(4):  # the same down the columns
                    v = [b.fsub(r[0][col], r[2][col]), b.fadd(r[1][col], r[2][col]), b.fsub(r[2][col], r[1][col]),
                         b.fsub(r[1][col], r[3][col])]
                    for a in range(4):
                        _store(b, outs[4 * a + col], j, v[a])
                return []

            _loop(builder, _groups(builder, th_v, k), [], tile_row)
            return context.get_dummy_value()

        return types.void(*[types.int64] * 7), codegen

    return in_rows


def _last(b: ir.IRBuilder, ti: ir.Value, q: int, th: ir.Value) -> ir.Value:
    """min(ti + q, th - 1): the tile row that sub-row q of a vector reads."""
    row = b.add(ti, _const(q))
    last = b.sub(th, _const(1))
    return b.select(b.icmp_signed("<", row, last), row, last)


def _groups(b: ir.IRBuilder, th: ir.Value, k: int) -> ir.Value:
    """ceil(th / k)."""
    return b.sdiv(b.add(th, _const(k - 1)), _const(k))


wino_in_rows, wino_in_rows_2, wino_in_rows_4 = _in_rows(1), _in_rows(2), _in_rows(4)


def _out_rows(k: int):  # type: ignore[no-untyped-def]
    """wino_out_rows (k = 1) or wino_out_rows_k (module docstring)."""
    @intrinsic
    def out_rows(typingctx, mm, xs, nv, th, tw, dst, ldr, cols, rows):  # type: ignore[no-untyped-def]
        def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
            mm_a, xs_v, nv_v, th_v, tw_v, dst_a, ldr_v, cols_v, rows_v = args
            mm_0, dst_0 = _ptr(builder, mm_a, _F32), _ptr(builder, dst_a, _F32)
            width = 2 * LANES // k  # output floats of one sub-row (k > 1)
            piece = ir.VectorType(_F32, width)

            def tile_row(b0: ir.IRBuilder, g: ir.Value, accs: list) -> list:  # type: ignore[type-arg]
                ti = b0.mul(g, _const(k))
                mm_p = b0.gep(mm_0, [b0.mul(ti, tw_v)])
                dst_p = b0.gep(dst_0, [b0.mul(b0.mul(ti, _const(2)), ldr_v)])
                ins = [b0.gep(mm_p, [b0.mul(_const(xi), xs_v)]) for xi in range(16)]
                second = b0.icmp_signed(">", rows_v, b0.add(b0.mul(ti, _const(2)), _const(1)))
                _loop(b0, nv_v if k == 1 else _const(1), [], lambda b, i, accs: body(b, i, ins, dst_p, ti, second))
                return []

            def put(b: ir.IRBuilder, row: ir.Value, at: ir.Value, value: ir.Value) -> None:
                """row[at + k] = value[k] where at + k < cols (a select of the old contents elsewhere)."""
                keep = _lanes_below(b, LANES, b.sub(cols_v, at), 1)
                _store(b, row, at, b.select(keep, value, _vload(b, row, at)))

            def put_rows(b: ir.IRBuilder, ti: ir.Value, i: int, ys: list) -> None:  # type: ignore[type-arg]
                """Output row 2(ti + q) + i of sub-row q < k: its width floats of ys (lo ++ hi), masked
                to the columns < cols, nothing where the row is >= rows."""
                for q in range(k):
                    half, at = divmod(q * width, LANES)
                    value = ys[half] if width == LANES else b.shuffle_vector(
                        ys[half], ys[half], _mask(list(range(at, at + width))))
                    out = b.add(b.mul(b.add(ti, _const(q)), _const(2)), _const(i))
                    limit = b.select(b.icmp_signed("<", out, rows_v), cols_v, _const(0))
                    ptr = b.bitcast(b.gep(dst_0, [b.mul(out, ldr_v)]), piece.as_pointer())
                    _store_first(b, value, ptr, limit)

            def body(b: ir.IRBuilder, i: ir.Value, ins: list, dst_p: ir.Value, ti: ir.Value,  # type: ignore[type-arg]
                     second: ir.Value) -> list:  # type: ignore[type-arg]
                j = b.mul(i, _const(LANES))
                m = [_vload(b, p, j) for p in ins]
                s0 = [b.fadd(b.fadd(m[4 * a], m[4 * a + 1]), m[4 * a + 2]) for a in range(4)]
                s1 = [b.fsub(b.fsub(m[4 * a + 1], m[4 * a + 2]), m[4 * a + 3]) for a in range(4)]
                y00, y01 = b.fadd(b.fadd(s0[0], s0[1]), s0[2]), b.fadd(b.fadd(s1[0], s1[1]), s1[2])
                y10, y11 = b.fsub(b.fsub(s0[1], s0[2]), s0[3]), b.fsub(b.fsub(s1[1], s1[2]), s1[3])
                if k > 1:
                    for i_, (ya, yb) in enumerate(((y00, y01), (y10, y11))):
                        put_rows(b, ti, i_, [b.shuffle_vector(ya, yb, _LOW), b.shuffle_vector(ya, yb, _HIGH)])
                    return []
                e = b.mul(j, _const(2))
                for row, (ya, yb) in ((dst_p, (y00, y01)), (None, (y10, y11))):
                    def write(b2: ir.IRBuilder, ya: ir.Value = ya, yb: ir.Value = yb, row: ir.Value = row) -> None:
                        base = row if row is not None else b2.gep(dst_p, [ldr_v])
                        put(b2, base, e, b2.shuffle_vector(ya, yb, _LOW))
                        put(b2, base, b2.add(e, _const(LANES)), b2.shuffle_vector(ya, yb, _HIGH))
                    if row is not None:
                        write(b)
                    else:
                        then = b.append_basic_block("wino_second")
                        after = b.append_basic_block("wino_after")
                        b.cbranch(second, then, after)
                        b.position_at_end(then)
                        write(b)
                        b.branch(after)
                        b.position_at_end(after)
                return []

            _loop(builder, _groups(builder, th_v, k), [], tile_row)
            return context.get_dummy_value()

        return types.void(*[types.int64] * 9), codegen

    return out_rows


wino_out_rows, wino_out_rows_2, wino_out_rows_4 = _out_rows(1), _out_rows(2), _out_rows(4)


def _dy_rows(k: int):  # type: ignore[no-untyped-def]
    """wino_dy_rows (k = 1) or wino_dy_rows_k (module docstring)."""
    @intrinsic
    def dy_rows(typingctx, src, wq, nv, th, tw, dst, xs, cols):  # type: ignore[no-untyped-def]
        def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
            src_a, wq_v, nv_v, th_v, tw_v, dst_a, xs_v, cols_v = args
            src_0, dst_0 = _ptr(builder, src_a, _F32), _ptr(builder, dst_a, _F32)
            per = LANES // k  # tiles of one sub-row
            odd = ir.Constant(ir.VectorType(_I64, LANES), [2 * (lane % per) + 1 for lane in range(LANES)])
            zeros = ir.Constant(_VEC, [0.0] * LANES)

            def tile_row(b0: ir.IRBuilder, g: ir.Value, accs: list) -> list:  # type: ignore[type-arg]
                ti = b0.mul(g, _const(k))
                dst_p = b0.gep(dst_0, [b0.mul(ti, tw_v)])
                subs = [b0.gep(src_0, [b0.mul(b0.mul(_last(b0, ti, q, th_v), _const(2)), wq_v)]) for q in range(k)]
                rows = [subs, [b0.gep(sub, [wq_v]) for sub in subs]]
                outs = [b0.gep(dst_p, [b0.mul(_const(xi), xs_v)]) for xi in range(16)]
                _loop(b0, nv_v if k == 1 else _const(1), [], lambda b, i, accs: body(b, i, rows, outs))
                return []

            def body(b: ir.IRBuilder, i: ir.Value, rows: list, outs: list) -> list:  # type: ignore[type-arg]
                j = b.mul(i, _const(LANES))
                e = b.mul(j, _const(2))
                room = b.sub(cols_v, e)  # D[., 1] of lane l is kept where 2(l % per) + 1 < cols - 2j
                keep = b.icmp_signed("<", odd, _splat(b, room, LANES))
                r = []
                for row in rows:  # D[i, 0], D[i, 1] of LANES tiles, then (D0, D0 + D1, D0 - D1, -D1)
                    if k == 1:
                        lo, hi = _vload(b, row[0], e), _vload(b, row[0], b.add(e, _const(LANES)))
                    else:
                        lo, hi = _pieces(b, row, 0, 2 * per)
                    d0 = b.shuffle_vector(lo, hi, _EVENS)
                    d1 = b.select(keep, b.shuffle_vector(lo, hi, _ODDS), zeros)
                    r.append([d0, b.fadd(d0, d1), b.fsub(d0, d1), b.fneg(d1)])
                for col in range(4):  # the same down the columns
                    v = [r[0][col], b.fadd(r[0][col], r[1][col]), b.fsub(r[0][col], r[1][col]), b.fneg(r[1][col])]
                    for a in range(4):
                        _store(b, outs[4 * a + col], j, v[a])
                return []

            _loop(builder, _groups(builder, th_v, k), [], tile_row)
            return context.get_dummy_value()

        return types.void(*[types.int64] * 8), codegen

    return dy_rows


wino_dy_rows, wino_dy_rows_2, wino_dy_rows_4 = _dy_rows(1), _dy_rows(2), _dy_rows(4)
