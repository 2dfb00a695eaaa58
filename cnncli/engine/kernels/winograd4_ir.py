"""The transforms of Winograd F(4x4, 3x3) (winograd.py) as LLVM IR with explicit float vectors.

The same scheme as winograd_ir.py's F(2x2, 3x3), with 6 x 6 input tiles at a stride of 4 and
4 x 4 output blocks (Lavin & Gray 2016, interpolation points 0, 1, -1, 2, -2 and infinity):
    B^T = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
           [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]
    A^T = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]
(G, 6 x 3, is applied to the weights by winograd.transform_weights.)

    wino4_in_rows(src, wq, nv, th, tw, dst, xs)     tile rows ti < th, tiles j < nv*LANES of each:
        d[a, b] = src[(4ti + a)*wq + 4j + b] (a, b < 6);  dst[xi*xs + ti*tw + j] = (B^T d B)[xi]
        (xi = 6a' + b'); a row's stride-4 reads are one 4*LANES-float load deinterleaved by lane
        shuffles (columns 4j .. 4j + 3), and a second one 4 floats further (4j + 4, 4j + 5).
    wino4_out_rows(mm, xs, nv, th, tw, dst, ldr, cols, rows)     likewise:
        Y = A^T M A of M[xi] = mm[xi*xs + ti*tw + j];  dst[(4ti + i)*ldr + 4j + b] = Y[i, b]
        for 4ti + i < rows and 4j + b < cols (masked stores: nothing else is written).
    wino4_dy_rows(src, wq, nv, th, tw, dst, xs)     likewise, for the weight gradient:
        D[i, k] = src[(4ti + i)*wq + 4j + k] (i, k < 4);  dst[xi*xs + ti*tw + j] = (A D A^T)[xi],
        A = (A^T)^T (6 x 4). No column mask: F(4x4, 3x3) runs only where the tiles cover the
        outputs exactly (conv_plan.winograd4_fits), so a kept tile never reads past `cols`.
wino4_in_rows_k, wino4_out_rows_k, wino4_dy_rows_k (k = 2, 4; tw = LANES / k, nv unused): one vector of LANES tiles
= k tile rows ti .. ti + k - 1, as winograd_ir's _k forms (a row ti + q past th reads row th - 1;
its lanes land in the padding after the last tile). Lanes past a row's tw tiles compute junk that is
never stored (out) or lands on the next tile row's slots, rewritten right after, or in the padding
after the last (in: callers leave LANES floats). Reads reach 4*nv*LANES + 4 floats past a row's
start and 5 rows past 4ti (callers leave room). Junk lanes never mix with kept ones: every lane
is one tile.
"""
from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .microkernel import _F32, _VEC, LANES, _const, _loop, _ptr, _vload
from .rowcopy import _store_first
from .winograd_ir import _EVENS, _HIGH, _LOW, _ODDS, _groups, _last, _store

XI4 = 36  # points of the 6 x 6 transform domain


def _quads(b: ir.IRBuilder, rows: list, at: ir.Value) -> list:  # type: ignore[type-arg]
    """Four LANES vectors: rows[0][at:at + w] ++ rows[1][at:at + w] ++ ..., w = 4*LANES / len(rows)
    (a whole number of vectors: len(rows) <= 4), as plain vector loads."""
    per = 4 // len(rows)  # vectors of one row
    return [_vload(b, rows[q // per], b.add(at, _const((q % per) * LANES))) for q in range(4)]


def _phases(b: ir.IRBuilder, q: list) -> list:  # type: ignore[type-arg]
    """(p0, p1, p2, p3): p[r] lane l = the float 4l + r of q[0] ++ q[1] ++ q[2] ++ q[3]."""
    e01, o01 = b.shuffle_vector(q[0], q[1], _EVENS), b.shuffle_vector(q[0], q[1], _ODDS)
    e23, o23 = b.shuffle_vector(q[2], q[3], _EVENS), b.shuffle_vector(q[2], q[3], _ODDS)
    return [b.shuffle_vector(e01, e23, _EVENS), b.shuffle_vector(o01, o23, _EVENS),
            b.shuffle_vector(e01, e23, _ODDS), b.shuffle_vector(o01, o23, _ODDS)]


def _scaled(b: ir.IRBuilder, v: ir.Value, s: float) -> ir.Value:
    return b.fmul(v, ir.Constant(_VEC, [s] * LANES))


def _bt(b: ir.IRBuilder, d: list) -> list:  # type: ignore[type-arg]
    """B^T d for d = (d0 .. d5), vectors."""
    d0, d1, d2, d3, d4, d5 = d
    s12, s34, m12, m34 = b.fadd(d1, d2), b.fadd(d3, d4), b.fsub(d1, d2), b.fsub(d4, d3)
    m42, m31 = b.fsub(d4, d2), b.fsub(d3, d1)
    return [b.fadd(b.fsub(_scaled(b, d0, 4.0), _scaled(b, d2, 5.0)), d4),
            b.fsub(s34, _scaled(b, s12, 4.0)),
            b.fadd(m34, _scaled(b, m12, 4.0)),
            b.fadd(m42, _scaled(b, m31, 2.0)),
            b.fsub(m42, _scaled(b, m31, 2.0)),
            b.fadd(b.fsub(_scaled(b, d1, 4.0), _scaled(b, d3, 5.0)), d5)]


def _at(b: ir.IRBuilder, m: list) -> list:  # type: ignore[type-arg]
    """A^T m for m = (m0 .. m5), vectors."""
    m0, m1, m2, m3, m4, m5 = m
    p12, d12, p34, d34 = b.fadd(m1, m2), b.fsub(m1, m2), b.fadd(m3, m4), b.fsub(m3, m4)
    return [b.fadd(b.fadd(m0, p12), p34),
            b.fadd(d12, _scaled(b, d34, 2.0)),
            b.fadd(p12, _scaled(b, p34, 4.0)),
            b.fadd(b.fadd(d12, _scaled(b, d34, 8.0)), m5)]


def _to_domain(k: int, taps: int, read_row, transform):  # type: ignore[no-untyped-def]
    """An intrinsic (src, wq, nv, th, tw, dst, xs) writing dst[xi*xs + ti*tw + j] = the 6 x 6 transform of
    the taps x taps cells src[(4ti + a)*wq + 4j + b] of each tile (module docstring; k tile rows per
    vector): read_row(builder, row pointers, first float) gives a tile row's taps vectors,
    transform(builder, vectors) applies the 6 x taps matrix, along the rows and then down the columns."""
    @intrinsic
    def to_domain(typingctx, src, wq, nv, th, tw, dst, xs):  # type: ignore[no-untyped-def]
        def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
            src_a, wq_v, nv_v, th_v, tw_v, dst_a, xs_v = args
            src_0, dst_0 = _ptr(builder, src_a, _F32), _ptr(builder, dst_a, _F32)

            def tile_row(b0: ir.IRBuilder, g: ir.Value, accs: list) -> list:  # type: ignore[type-arg]
                ti = b0.mul(g, _const(k))
                dst_p = b0.gep(dst_0, [b0.mul(ti, tw_v)])
                subs = [b0.gep(src_0, [b0.mul(b0.mul(_last(b0, ti, q, th_v), _const(4)), wq_v)]) for q in range(k)]
                rows = [[b0.gep(sub, [b0.mul(_const(a), wq_v)]) for sub in subs] for a in range(taps)]
                outs = [b0.gep(dst_p, [b0.mul(_const(xi), xs_v)]) for xi in range(XI4)]
                _loop(b0, nv_v if k == 1 else _const(1), [], lambda b, i, accs: body(b, i, rows, outs))
                return []

            def body(b: ir.IRBuilder, i: ir.Value, rows: list, outs: list) -> list:  # type: ignore[type-arg]
                j = b.mul(i, _const(LANES))
                r = [transform(b, read_row(b, row, b.mul(j, _const(4)))) for row in rows]
                for col in range(6):
                    v = transform(b, [r[a][col] for a in range(taps)])
                    for a in range(6):
                        _store(b, outs[6 * a + col], j, v[a])
                return []

            _loop(builder, _groups(builder, th_v, k), [], tile_row)
            return context.get_dummy_value()

        return types.void(*[types.int64] * 7), codegen

    return to_domain


def _six(b: ir.IRBuilder, row: list, at: ir.Value) -> list:  # type: ignore[type-arg]
    """d0..d5 of LANES tiles: columns 4j .. 4j + 3, then 4j + 4 and 4j + 5 from four floats further."""
    return _phases(b, _quads(b, row, at)) + _phases(b, _quads(b, row, b.add(at, _const(4))))[:2]


def _four(b: ir.IRBuilder, row: list, at: ir.Value) -> list:  # type: ignore[type-arg]
    """D0..D3 of LANES tiles: columns 4j .. 4j + 3."""
    return _phases(b, _quads(b, row, at))


wino4_in_rows, wino4_in_rows_2, wino4_in_rows_4 = (_to_domain(k, 6, _six, _bt) for k in (1, 2, 4))


def _interleave4(b: ir.IRBuilder, y: list) -> list:  # type: ignore[type-arg]
    """Four LANES vectors holding y[0][0], y[1][0], y[2][0], y[3][0], y[0][1], ... (4 lanes per tile)."""
    a_lo, a_hi = b.shuffle_vector(y[0], y[2], _LOW), b.shuffle_vector(y[0], y[2], _HIGH)
    b_lo, b_hi = b.shuffle_vector(y[1], y[3], _LOW), b.shuffle_vector(y[1], y[3], _HIGH)
    return [b.shuffle_vector(a_lo, b_lo, _LOW), b.shuffle_vector(a_lo, b_lo, _HIGH),
            b.shuffle_vector(a_hi, b_hi, _LOW), b.shuffle_vector(a_hi, b_hi, _HIGH)]


def _out_rows(k: int):  # type: ignore[no-untyped-def]
    """wino4_out_rows (k = 1) or wino4_out_rows_k (module docstring)."""
    @intrinsic
    def out_rows(typingctx, mm, xs, nv, th, tw, dst, ldr, cols, rows):  # type: ignore[no-untyped-def]
        def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
            mm_a, xs_v, nv_v, th_v, tw_v, dst_a, ldr_v, cols_v, rows_v = args
            mm_0, dst_0 = _ptr(builder, mm_a, _F32), _ptr(builder, dst_a, _F32)
            per_row = 4 // k  # vectors of one output sub-row

            def tile_row(b0: ir.IRBuilder, g: ir.Value, accs: list) -> list:  # type: ignore[type-arg]
                ti = b0.mul(g, _const(k))
                mm_p = b0.gep(mm_0, [b0.mul(ti, tw_v)])
                ins = [b0.gep(mm_p, [b0.mul(_const(xi), xs_v)]) for xi in range(XI4)]
                _loop(b0, nv_v if k == 1 else _const(1), [], lambda b, i, accs: body(b, i, ins, ti))
                return []

            def put(b: ir.IRBuilder, out_row: ir.Value, col: ir.Value, value: ir.Value) -> None:
                """dst[out_row*ldr + col + l] = value[l] where col + l < cols and out_row < rows."""
                limit = b.select(b.icmp_signed("<", out_row, rows_v), b.sub(cols_v, col), _const(0))
                ptr = b.bitcast(b.gep(dst_0, [b.add(b.mul(out_row, ldr_v), col)]), _VEC.as_pointer())
                _store_first(b, value, ptr, limit)

            def body(b: ir.IRBuilder, i: ir.Value, ins: list, ti: ir.Value) -> list:  # type: ignore[type-arg]
                j = b.mul(i, _const(LANES))
                m = [_vload(b, p, j) for p in ins]
                s = [_at(b, m[6 * a:6 * a + 6]) for a in range(6)]  # A^T along b, per row a
                y = [_at(b, [s[a][col] for a in range(6)]) for col in range(4)]  # then along a: Y[i, col]
                for i_ in range(4):
                    vecs = _interleave4(b, [y[col][i_] for col in range(4)])
                    for q in range(k):  # sub-row q: output row 4(ti + q) + i_
                        out_row = b.add(b.mul(b.add(ti, _const(q)), _const(4)), _const(i_))
                        for h in range(per_row):
                            col = b.add(b.mul(j, _const(4)), _const(h * LANES)) if k == 1 else _const(h * LANES)
                            put(b, out_row, col, vecs[q * per_row + h])
                return []

            _loop(builder, _groups(builder, th_v, k), [], tile_row)
            return context.get_dummy_value()

        return types.void(*[types.int64] * 9), codegen

    return out_rows


wino4_out_rows, wino4_out_rows_2, wino4_out_rows_4 = _out_rows(1), _out_rows(2), _out_rows(4)


def _a_col(b: ir.IRBuilder, d: list) -> list:  # type: ignore[type-arg]
    """A d for d = (d0 .. d3), vectors (A = (A^T)^T, 6 x 4)."""
    d0, d1, d2, d3 = d
    p02, p13 = b.fadd(d0, d2), b.fadd(d1, d3)
    q02, q13 = b.fadd(d0, _scaled(b, d2, 4.0)), b.fadd(_scaled(b, d1, 2.0), _scaled(b, d3, 8.0))
    return [d0, b.fadd(p02, p13), b.fsub(p02, p13), b.fadd(q02, q13), b.fsub(q02, q13), d3]


wino4_dy_rows, wino4_dy_rows_2, wino4_dy_rows_4 = (_to_domain(k, 4, _four, _a_col) for k in (1, 2, 4))
