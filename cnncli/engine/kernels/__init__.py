"""Low-level Numba compute kernels for the cnncli engine (NCHW, float32); docs/engine.md draws them.

Modules: conv (entry points) -> conv_flat (canvas.py, conv_plan.py, conv_epilogue.py with pool2_ir.py, and the
LLVM tiles of microkernel.py; winograd.py and winograd_ir.py for stride-1 3x3 layers of 32+
channels) for undilated convolutions (grouped ones: one call per group), conv_gemm (im2col.py +
gemm.py, BLAS bound by blas.py) for dilated or float64 ones, conv_direct (rowcopy.py) for depthwise
ones; pool, norm, dense, activation, loss. Functions return new arrays; large temporaries live in
the reusable workspace of _common.scratch. Importing a kernel changes nothing in the process:
cnncli.engine.setup.configure() does that, explicitly.

A constant passed from one kernel to another types as a literal (Literal[int](1), not int64)
and compiles a specialisation of the callee of its own: a second compile of fill_canvas or
input_transform on a first run. Kernels pass np.int64(1), not 1, where the callee also takes
variables there.

Glossary: one meaning per name, in every kernel.
  x [N, C, H, W]      input; w [F, C/groups, KH, KW] weights; b [F] bias; y [N, F, OH, OW] output
  n, c, f             sample, input channel, filter (output channel): indices
  n_, c_, h_, w_, ... sizes inside kernels (a trailing underscore: a count, not an index);
                      in Python wrappers, where w is the weight array, the input width is `width`
  kh, kw              kernel rows, columns (index; kh_, kw_ the sizes); ih, iw input pixel;
                      oh, ow output pixel (OH, OW the output size, cnncli.shapes.conv_out)
  s                   the stride of conv_flat (equal along H and W); sh, sw strides elsewhere
  pt, pb, pl, pr      padding top, bottom, left, right (pads = (pt, pb, pl, pr))
  dil_h, dil_w        dilation
  p, p_               a position in a flattened H*W plane, and their count
  dx, dw, db, dy      gradients of the loss (d = "gradient of"): dw is always the weight gradient
  dwp, dbp            per-thread partial gradients, summed by the caller
  weight_decay        the optimizers' L2 / decoupled decay (optim.py)
  t                   the Numba thread id (get_thread_id), THREADS the pool size (_common)
  spc                 samples (conv_flat's backward: canvases) per task (prange chunk)
  side, slot          samples side by side in a conv_flat canvas, and the columns of each: canvas.py
  canvas terms        wq (canvas row length), plane (canvas plane stride), npad (wide output
                      columns), margin (zeros before dY'), offs (tap offsets): canvas.py
  tile terms          ROWS x COLS outputs, TAPS weight gradients, LANES floats per vector;
                      f_rows, c_rows: filters / channels padded to a multiple of ROWS;
                      FLOAT_BYTES: the tiles take byte addresses (microkernel.py)
  geometry            FlatGeometry (canvas.py) for conv_flat, ConvGeometry (_common.py) for
                      conv_gemm / conv_direct / im2col: named integers, not positional ones
  winograd terms      xi (a point of the 4x4 transform), vxi / mxi / ldv (transform-domain
                      strides): winograd.py
  modes               conv_flat's epilogues BIAS, RELU, POOL, BN, BN_RELU (conv_epilogue.py),
                      activation's RELU ... TANH and NO_ACTIVATION: named constants, compared
                      by equality
"""
