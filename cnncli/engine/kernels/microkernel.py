"""Register-blocked convolution tiles, emitted as LLVM IR with explicit float vectors.

Numba cannot keep a block of accumulators in vector registers by itself, so these four
tiles are written as intrinsics (LLVM IR via llvmlite): a loop whose body is straight-line
vector FMAs of L = LANES floats (llvm.fma.v16f32 where the CPU has AVX-512F: zmm registers;
else llvm.fma.v8f32: AVX2 + FMA on x86-64, plain vector code elsewhere). Arguments
are raw addresses (int64, from `array.ctypes.data` + byte offsets) and element counts; the
caller guarantees every address read or written is inside its buffers.

    conv_tile(src, offs, K, w, ldw, dst, ldo)         4 rows x COLS = 3L columns, overwritten:
        dst[f*ldo + j] = sum_{k<K} w[k*ldw + f] * src[offs[k] + j]     f < 4, j < 3L
    scatter_tile(src, lds, K, w, ldw, dst, douts)     the same sums over rows k*lds of src,
        added at 4 offsets:  dst[douts[t] + j] += sum_{k<K} w[k*ldw + t] * src[k*lds + j]
        (the input gradient as the forward's adjoint, conv_flat: k = filter, t = tap)
    grad_tile(dy, ldy, src, offs, V, dw, ldw, M, dys, srcs)      4 x TAPS sums, accumulated:
        dw[f*ldw + t] += sum_{j < M} sum_{p < L*V} dy[j*dys + f*ldy + p] * src[j*srcs + offs[t] + p]
        for f < 4, t < TAPS (3, or 5 with AVX-512): over M samples at strides dys and srcs.
    grad_block(dy, ldy, src, lds, V, dw)                 4 x 4 sums, accumulated:
        dw[4f + c] += sum_{p < L*V} dy[f*ldy + p] * src[c*lds + p]       f, c < 4
        (Winograd's weight gradient, winograd.dw_task: a short reduction, so the 16 lane sums
        are one butterfly, 2(L - 1) two-vector shuffles and L - 1 adds for 16/L vectors of sums
        instead of L - 1 shuffle-and-add steps per sum.)

conv_tile and scatter_tile hold 12 accumulators (enough independent FMA chains to cover the FMA latency) and
loads, per k, 3 vectors and 4 broadcast weights, two k per loop iteration. grad_tile loads
4 + TAPS vectors per 4·TAPS FMAs and sums each accumulator's L lanes at the end as a tree
(halves added). Summation order is fixed (k, or j, p by lanes), so results are
deterministic. Why these shapes (the measurements): bench/PROFILE.md, "The tiles' shapes".
The *_reference functions at the end are the same formulas in NumPy.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core.registry import cpu_target
from numba.extending import intrinsic


def _target_lanes() -> int:
    """Floats per vector register of the CPU Numba compiles for: 16 with AVX-512F, else 8.

    Read from Numba's codegen target (host CPU, or NUMBA_CPU_NAME / NUMBA_CPU_FEATURES when
    set), which is also part of Numba's cache key: a cached kernel always has the width that
    the Python side (COLS, TAPS) assumes."""
    features = cpu_target.target_context.codegen().magic_tuple()[2]
    return 16 if "+avx512f" in features.split(",") else 8


LANES = _target_lanes()
# conv_tile: ROWS x COLS outputs; grad_tile: ROWS x TAPS sums
ROWS, COLS, TAPS = 4, 3 * LANES, (5 if LANES == 16 else 3)

_F32 = ir.FloatType()
_VEC = ir.VectorType(_F32, LANES)
_I64 = ir.IntType(64)
_I32 = ir.IntType(32)


def _fma(builder: ir.IRBuilder) -> ir.Function:
    """llvm.fma.v{LANES}f32, declared once per module."""
    name = f"llvm.fma.v{LANES}f32"
    if name in builder.module.globals:
        return builder.module.globals[name]
    return ir.Function(builder.module, ir.FunctionType(_VEC, [_VEC, _VEC, _VEC]), name)


def _ptr(builder: ir.IRBuilder, address: ir.Value, kind: ir.Type) -> ir.Value:
    return builder.inttoptr(address, kind.as_pointer())


def _vload(builder: ir.IRBuilder, base: ir.Value, index: ir.Value) -> ir.Value:
    return builder.load(builder.bitcast(builder.gep(base, [index]), _VEC.as_pointer()), align=4)


def _const(value: int) -> ir.Constant:
    return ir.Constant(_I64, value)


def _zeros(n: int) -> list:  # type: ignore[type-arg]
    return [ir.Constant(_VEC, [0.0] * LANES)] * n


def _loop(builder: ir.IRBuilder, count: ir.Value, init: list, body):  # type: ignore[no-untyped-def, type-arg]
    """for i in range(count): accs = body(i, accs), accs starting at `init`; returns the final accs.

    Builds the blocks and phi nodes; `body(builder, i, accs)` returns the updated accumulators
    (and may itself contain loops)."""
    before = builder.block
    loop = builder.append_basic_block("tile_loop")
    done = builder.append_basic_block("tile_done")
    builder.cbranch(builder.icmp_signed(">", count, _const(0)), loop, done)
    builder.position_at_end(loop)
    i = builder.phi(_I64)
    accs = [builder.phi(_VEC) for _ in init]
    i.add_incoming(_const(0), before)
    for acc, start in zip(accs, init):
        acc.add_incoming(start, before)
    new = body(builder, i, accs)
    i_next = builder.add(i, _const(1))
    end = builder.block
    i.add_incoming(i_next, end)
    for acc, value in zip(accs, new):
        acc.add_incoming(value, end)
    builder.cbranch(builder.icmp_signed("<", i_next, count), loop, done)
    builder.position_at_end(done)
    return _merge(builder, init, before, new, end)


def _maybe(builder: ir.IRBuilder, cond: ir.Value, accs: list, body):  # type: ignore[no-untyped-def, type-arg]
    """accs = body(accs) if cond else accs (a conditional block with phi nodes)."""
    before = builder.block
    then = builder.append_basic_block("tile_then")
    after = builder.append_basic_block("tile_after")
    builder.cbranch(cond, then, after)
    builder.position_at_end(then)
    new = body(builder, accs)
    end = builder.block
    builder.branch(after)
    builder.position_at_end(after)
    return _merge(builder, accs, before, new, end)


def _merge(builder: ir.IRBuilder, old: list, old_block: ir.Block, new: list, new_block: ir.Block) -> list:  # type: ignore[type-arg]
    """One phi node per accumulator at a join: its `old` value from `old_block`, `new` from `new_block`."""
    out = []
    for a, b in zip(old, new):
        phi = builder.phi(_VEC)
        phi.add_incoming(a, old_block)
        phi.add_incoming(b, new_block)
        out.append(phi)
    return out


def _lane_sum(builder: ir.IRBuilder, vector: ir.Value) -> ir.Value:
    """Sum of a vector's lanes as a tree: halves added until one lane is left (log2(L) vector
    adds instead of L - 1 scalar ones; a fixed order, so still deterministic)."""
    width = LANES
    while width > 1:
        half = width // 2
        undef = ir.Constant(ir.VectorType(_F32, width), ir.Undefined)
        low = builder.shuffle_vector(vector, undef, ir.Constant(ir.VectorType(_I32, half), list(range(half))))
        high = builder.shuffle_vector(vector, undef, ir.Constant(ir.VectorType(_I32, half), list(range(half, width))))
        vector, width = builder.fadd(low, high), half
    return builder.extract_element(vector, ir.Constant(_I32, 0))


def _butterfly(builder: ir.IRBuilder, vectors: list) -> ir.Value:  # type: ignore[type-arg]
    """One vector whose lane k is the lane sum of vectors[k] (LANES of them): per level, pairs of
    vectors holding blocks of partial sums become one with twice the blocks, each half as long
    (low halves + high halves); a last shuffle puts the sums in order."""
    items = [(v, [k]) for k, v in enumerate(vectors)]  # (vector, the sum held by each of its blocks)
    while len(items) > 1:
        size = LANES // len(items[0][1])
        half = size // 2
        nxt = []
        for (x, xl), (y, yl) in zip(items[::2], items[1::2]):
            lo, hi = [], []
            for i in range(len(xl)):
                lo += list(range(i * size, i * size + half)) + list(range(LANES + i * size, LANES + i * size + half))
                hi += list(range(i * size + half, (i + 1) * size)) + list(range(LANES + i * size + half,
                                                                                 LANES + (i + 1) * size))
            mix = builder.fadd(builder.shuffle_vector(x, y, ir.Constant(ir.VectorType(_I32, LANES), lo)),
                               builder.shuffle_vector(x, y, ir.Constant(ir.VectorType(_I32, LANES), hi)))
            nxt.append((mix, [k for pair in zip(xl, yl) for k in pair]))
        items = nxt
    vector, order = items[0]
    undef = ir.Constant(_VEC, ir.Undefined)
    return builder.shuffle_vector(vector, undef, ir.Constant(ir.VectorType(_I32, LANES),
                                                             [order.index(k) for k in range(LANES)]))


_SIG6 = types.void(*[types.int64] * 6)
_SIG7 = types.void(*[types.int64] * 7)
_SIG10 = types.void(*[types.int64] * 10)


def _row_sums(builder: ir.IRBuilder, row_at, kk: ir.Value, w_a: ir.Value, ldw: ir.Value) -> list:  # type: ignore[no-untyped-def, type-arg]
    """The ROWS x COLS sums acc[f*n_vec + j] = sum_{k<kk} w[k*ldw + f] * row_k[LANES*j ...] of
    conv_tile and scatter_tile, row_k = row_at(builder, k) (a float pointer); two k per iteration."""
    w_p = _ptr(builder, w_a, _F32)
    fma = _fma(builder)
    undef = ir.Constant(_VEC, ir.Undefined)
    splat = ir.Constant(ir.VectorType(_I32, LANES), [0] * LANES)
    n_vec = COLS // LANES

    def body(b: ir.IRBuilder, k: ir.Value, accs: list) -> list:  # type: ignore[type-arg]
        base = row_at(b, k)
        vecs = [_vload(b, base, _const(LANES * j)) for j in range(n_vec)]
        wrow = b.gep(w_p, [b.mul(k, ldw)])
        new = []
        for f in range(ROWS):
            wf = b.load(b.gep(wrow, [_const(f)]))
            wv = b.shuffle_vector(b.insert_element(undef, wf, ir.Constant(_I32, 0)), undef, splat)
            new += [b.call(fma, [wv, vecs[j], accs[f * n_vec + j]]) for j in range(n_vec)]
        return new

    def pair(b: ir.IRBuilder, i: ir.Value, accs: list) -> list:  # type: ignore[type-arg]
        k = b.mul(i, _const(2))  # two steps per iteration: less loop overhead per FMA
        return body(b, b.add(k, _const(1)), body(b, k, accs))

    result = _loop(builder, builder.ashr(kk, _const(1)), _zeros(ROWS * n_vec), pair)
    odd = builder.icmp_signed("!=", builder.and_(kk, _const(1)), _const(0))
    return _maybe(builder, odd, result, lambda b, accs: body(b, b.sub(kk, _const(1)), accs))


@intrinsic
def conv_tile(typingctx, src, offs, kk, w, ldw, dst, ldo):  # type: ignore[no-untyped-def]
    """See the module docstring (all arguments int64)."""
    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        src_a, offs_a, kk_v, w_a, ldw_v, dst_a, ldo_v = args
        src_p, offs_p, dst_p = _ptr(builder, src_a, _F32), _ptr(builder, offs_a, _I64), _ptr(builder, dst_a, _F32)
        result = _row_sums(builder, lambda b, k: b.gep(src_p, [b.load(b.gep(offs_p, [k]))]), kk_v, w_a, ldw_v)
        n_vec = COLS // LANES
        for f in range(ROWS):
            row = builder.gep(dst_p, [builder.mul(_const(f), ldo_v)])
            for j in range(n_vec):
                ptr = builder.bitcast(builder.gep(row, [_const(LANES * j)]), _VEC.as_pointer())
                builder.store(result[f * n_vec + j], ptr, align=4)
        return context.get_dummy_value()

    return _SIG7, codegen


@intrinsic
def scatter_tile(typingctx, src, lds, kk, w, ldw, dst, douts):  # type: ignore[no-untyped-def]
    """See the module docstring (all arguments int64)."""
    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        src_a, lds_v, kk_v, w_a, ldw_v, dst_a, douts_a = args
        src_p, dst_p, douts_p = _ptr(builder, src_a, _F32), _ptr(builder, dst_a, _F32), _ptr(builder, douts_a, _I64)
        result = _row_sums(builder, lambda b, k: b.gep(src_p, [b.mul(k, lds_v)]), kk_v, w_a, ldw_v)
        n_vec = COLS // LANES
        for t in range(ROWS):
            row = builder.gep(dst_p, [builder.load(builder.gep(douts_p, [_const(t)]))])
            for j in range(n_vec):
                ptr = builder.bitcast(builder.gep(row, [_const(LANES * j)]), _VEC.as_pointer())
                builder.store(builder.fadd(builder.load(ptr, align=4), result[t * n_vec + j]), ptr, align=4)
        return context.get_dummy_value()

    return _SIG7, codegen


@intrinsic
def grad_tile(typingctx, dy, ldy, src, offs, nv, dw, ldw, m, dys, srcs):  # type: ignore[no-untyped-def]
    """See the module docstring (all arguments int64)."""
    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        dy_a, ldy_v, src_a, offs_a, nv_v, dw_a, ldw_v, m_v, dys_v, srcs_v = args
        dy_p, src_p = _ptr(builder, dy_a, _F32), _ptr(builder, src_a, _F32)
        offs_p, dw_p = _ptr(builder, offs_a, _I64), _ptr(builder, dw_a, _F32)
        fma = _fma(builder)
        shifts = [builder.load(builder.gep(offs_p, [_const(t)])) for t in range(TAPS)]

        def sample(b: ir.IRBuilder, j: ir.Value, accs: list) -> list:  # type: ignore[type-arg]
            base_dy = b.gep(dy_p, [b.mul(j, dys_v)])
            base_src = b.gep(src_p, [b.mul(j, srcs_v)])
            rows = [b.gep(base_dy, [b.mul(_const(f), ldy_v)]) for f in range(ROWS)]
            taps = [b.gep(base_src, [shift]) for shift in shifts]

            def step(b2: ir.IRBuilder, i: ir.Value, inner: list) -> list:  # type: ignore[type-arg]
                p = b2.mul(i, _const(LANES))
                d = [_vload(b2, row, p) for row in rows]
                s = [_vload(b2, tap, p) for tap in taps]
                return [b2.call(fma, [d[f], s[t], inner[f * TAPS + t]]) for f in range(ROWS) for t in range(TAPS)]

            return _loop(b, nv_v, accs, step)

        result = _loop(builder, m_v, _zeros(ROWS * TAPS), sample)
        for f in range(ROWS):
            for t in range(TAPS):
                total = _lane_sum(builder, result[f * TAPS + t])
                ptr = builder.gep(dw_p, [builder.add(builder.mul(_const(f), ldw_v), _const(t))])
                builder.store(builder.fadd(builder.load(ptr), total), ptr)
        return context.get_dummy_value()

    return _SIG10, codegen


@intrinsic
def grad_block(typingctx, dy, ldy, src, lds, nv, dw):  # type: ignore[no-untyped-def]
    """See the module docstring (all arguments int64)."""
    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        dy_a, ldy_v, src_a, lds_v, nv_v, dw_a = args
        dy_p, src_p, dw_p = _ptr(builder, dy_a, _F32), _ptr(builder, src_a, _F32), _ptr(builder, dw_a, _F32)
        fma = _fma(builder)
        rows = [builder.gep(dy_p, [builder.mul(_const(f), ldy_v)]) for f in range(ROWS)]
        srcs = [builder.gep(src_p, [builder.mul(_const(c), lds_v)]) for c in range(ROWS)]

        def step(b: ir.IRBuilder, i: ir.Value, accs: list) -> list:  # type: ignore[type-arg]
            p = b.mul(i, _const(LANES))
            d = [_vload(b, row, p) for row in rows]
            s_ = [_vload(b, row, p) for row in srcs]
            return [b.call(fma, [d[f], s_[c], accs[f * ROWS + c]]) for f in range(ROWS) for c in range(ROWS)]

        result = _loop(builder, nv_v, _zeros(ROWS * ROWS), step)
        for g in range(0, ROWS * ROWS, LANES):
            ptr = builder.bitcast(builder.gep(dw_p, [_const(g)]), _VEC.as_pointer())
            builder.store(builder.fadd(builder.load(ptr, align=4), _butterfly(builder, result[g:g + LANES])), ptr,
                          align=4)
        return context.get_dummy_value()

    return _SIG6, codegen


FLOAT_BYTES = 4  # the tiles take byte addresses


@njit(cache=True)
def tiles(src: np.ndarray, s0: int, offs: np.ndarray, wt: np.ndarray, dst: np.ndarray, d0: int, ldo: int,
          q0: int, q1: int) -> None:
    """dst[d0 + r*ldo + q] = sum_k wt[k, r] * src[s0 + offs[k] + q] for q in [q0, q1), all rows r
    of wt (a multiple of ROWS); q1 - q0 a multiple of COLS: conv_tile over a block of outputs."""
    kk, rows = wt.shape
    for q in range(q0, q1, COLS):
        for r in range(0, rows, ROWS):
            conv_tile(src.ctypes.data + (s0 + q) * FLOAT_BYTES, offs.ctypes.data, kk,
                      wt.ctypes.data + r * FLOAT_BYTES, rows, dst.ctypes.data + (d0 + r * ldo + q) * FLOAT_BYTES, ldo)


@njit(cache=True)
def scatter_tiles(src: np.ndarray, s0: int, lds: int, kk: int, wt: np.ndarray, dst: np.ndarray, douts: np.ndarray,
                  q1: int) -> None:
    """dst[douts[t] + q] += sum_{k<kk} wt[k, t] * src[s0 + k*lds + q] for q < q1 (a multiple of COLS),
    every column t of wt (a multiple of ROWS, douts as long): scatter_tile over a block of outputs."""
    taps = wt.shape[1]
    for q in range(0, q1, COLS):
        for t in range(0, taps, ROWS):
            scatter_tile(src.ctypes.data + (s0 + q) * FLOAT_BYTES, lds, kk, wt.ctypes.data + t * FLOAT_BYTES, taps,
                         dst.ctypes.data + q * FLOAT_BYTES, douts.ctypes.data + t * 8)


# -- plain NumPy references: each tile's formula on arrays (float64), for the tests ----------
def conv_tile_reference(src: np.ndarray, offs: np.ndarray, w: np.ndarray) -> np.ndarray:
    """What conv_tile writes, [ROWS, COLS]: dst[f, j] = sum_k w[k, f] * src[offs[k] + j] (w [K, >= ROWS])."""
    taps = src.astype(np.float64)[offs[:, None] + np.arange(COLS)]  # [K, COLS]
    return w[:, :ROWS].T.astype(np.float64) @ taps


def grad_tile_reference(dy: np.ndarray, ldy: int, src: np.ndarray, offs: np.ndarray, nv: int, m: int, dys: int,
                        srcs: int) -> np.ndarray:
    """What grad_tile adds, [ROWS, TAPS]: sum over samples j < m and p < LANES*nv of
    dy[j*dys + f*ldy + p] * src[j*srcs + offs[t] + p] (dy, src flat)."""
    span = np.arange(LANES * nv)
    out = np.zeros((ROWS, TAPS))
    for j in range(m):
        rows = dy.astype(np.float64)[j * dys + np.arange(ROWS)[:, None] * ldy + span]  # [ROWS, L*nv]
        taps = src.astype(np.float64)[j * srcs + offs[:TAPS, None] + span]  # [TAPS, L*nv]
        out += rows @ taps.T
    return out


def grad_block_reference(dy: np.ndarray, ldy: int, src: np.ndarray, lds: int, nv: int) -> np.ndarray:
    """What grad_block adds, [ROWS * ROWS]: dw[4f + c] = sum_{p < LANES*nv} dy[f*ldy + p] * src[c*lds + p]."""
    span = np.arange(LANES * nv)
    rows = dy.astype(np.float64)[np.arange(ROWS)[:, None] * ldy + span]
    cols = src.astype(np.float64)[np.arange(ROWS)[:, None] * lds + span]
    return (rows @ cols.T).ravel()


def scatter_tile_reference(dst: np.ndarray, src: np.ndarray, lds: int, kk: int, w: np.ndarray, douts: np.ndarray
                           ) -> np.ndarray:
    """dst (flat, float64) after scatter_tile: dst[douts[t] + j] += sum_{k<kk} w[k, t] * src[k*lds + j],
    t < ROWS, j < COLS, the taps one after the other (w [kk, >= ROWS])."""
    out = dst.astype(np.float64)
    rows = src.astype(np.float64)[np.arange(kk)[:, None] * lds + np.arange(COLS)]  # [kk, COLS]
    sums = w[:kk, :ROWS].T.astype(np.float64) @ rows
    for t in range(ROWS):
        out[douts[t] + np.arange(COLS)] += sums[t]
    return out
