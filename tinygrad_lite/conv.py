"""Convolution and pooling (NCHW): conv2d, max/avg pooling, dropout2d; forward and backward side by side.

Every op is a pair of linear maps that are each other's adjoint, so each backward is another
Function of this file and create_graph differentiates backward passes to any order:

    Conv2d          x, w, b -> y        backward: ConvInputGrad (x's), ConvWeightGrad (w's and b's)
    ConvInputGrad   g, w -> x-shaped    (the transposed convolution, col2im)
    ConvWeightGrad  x, g -> w-shaped    (or [w | b]-shaped: one GEMM for both)
    WindowSum / WindowSpread            average pooling and its adjoint
    WindowGather / WindowScatter        max pooling (at the saved argmax) and its adjoint

Convolution is one GEMM each way on im2col columns: the (padded) input copied once, tap by tap,
into a (kh*kw*C, OH*OW*N) matrix that backward reuses for the weight gradient and releases with
the graph; pooling reads the windows as a strided view (backend.windows2d, no copy). Array code goes
through the backend (windows2d, xp_of) so one definition serves NumPy and CuPy.

Memory layout: conv2d's output is stored spatial-major, (OH, OW, N, O) memory returned as the
(N, O, OH, OW) view PyTorch's API shows (the GEMM writes it that way with no copy): the batch and the
channels are the innermost axes, so every pooling tap, every im2col tap and every elementwise pass runs
over contiguous blocks of N*C numbers (NumPy's inner loops are that long, not C = 30 long as they are
channels-last). ReLU and the other elementwise ops keep that order, pooling works in its input's order
and gives its output and its gradient in it too, so the gradient that reaches the convolution is already
the (OH*OW*N, O) matrix its weight-gradient GEMM takes. An input in another order is copied into this one
once (im2col); the gradient for it is handed back in its own order. Any other layout is still right, only
slower: shapes and values are PyTorch's whatever the strides.
"""
from __future__ import annotations

import numpy as np

from .backend import cache_slices, capturing, rng, windows2d, xp_of
from .function import Function
from .ops import _select
from .tensor import Tensor, _check_same_device


# ------------------------------------------------------------------ geometry
def _pair(v, name, op):
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")
        a, b = v
    else:
        a = b = v
    if isinstance(a, bool) or isinstance(b, bool) or not all(isinstance(t, (int, np.integer)) for t in (a, b)):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")
    return int(a), int(b)


def _out_size(size, k, s, p, d):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _geometry(op, x, kernel, stride, padding, dilation):
    """Checked (kernel, stride, padding, dilation) pairs for x (N, C, H, W); the output's (OH, OW)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if x.ndim != 4:
        hint = " (a single image: x.unsqueeze(0))" if x.ndim == 3 else ""
        raise ValueError(f"{op}: expected a 4-D input (N, C, H, W), got shape {x.shape}{hint}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating point, got dtype {x.dtype}")
    kernel, stride = _pair(kernel, "kernel_size", op), _pair(stride, "stride", op)
    padding, dilation = _pair(padding, "padding", op), _pair(dilation, "dilation", op)
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ValueError(f"{op}: kernel_size, stride and dilation must be >= 1 and padding >= 0, got kernel_size "
                         f"{kernel}, stride {stride}, padding {padding}, dilation {dilation}")
    hp, wp = x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1]
    eff = (dilation[0] * (kernel[0] - 1) + 1, dilation[1] * (kernel[1] - 1) + 1)
    if eff[0] > hp or eff[1] > wp:
        dil = f" (dilated to {eff[0]}x{eff[1]})" if dilation != (1, 1) else ""
        raise ValueError(f"{op}: kernel {kernel[0]}x{kernel[1]}{dil} is larger than the padded input {hp}x{wp} "
                         f"(input shape {x.shape}, padding {padding})")
    out = tuple(_out_size(n, k, s, p, d) for n, k, s, p, d in zip(x.shape[2:], kernel, stride, padding, dilation))
    return kernel, stride, padding, dilation, out


def _slices(i, j, out_hw, stride, dilation):
    """The (rows, columns) of the padded input that kernel tap (i, j) touches, one per output position."""
    (oh, ow), (sh, sw), (dh, dw) = out_hw, stride, dilation
    return (slice(i * dh, i * dh + sh * (oh - 1) + 1, sh), slice(j * dw, j * dw + sw * (ow - 1) + 1, sw))


SPATIAL = (2, 3, 0, 1)           # the memory order of conv2d's outputs: (H, W, N, C) (see the module docstring)
CHANNELS_LAST = (0, 2, 3, 1)
_LAYOUTS = ((0, 1, 2, 3), CHANNELS_LAST, (1, 0, 2, 3), SPATIAL)     # C-order, channels-last, channel-major, spatial


def _stored(a, order):
    """Whether the (N, C, H, W) array a is stored contiguously in memory order `order` (see _order)."""
    return a.transpose(order).flags.c_contiguous


def _order(a):
    """The axes of the (N, C, H, W) array a from the outermost in memory to the innermost (NumPy's order
    'K'): (0, 1, 2, 3) C-contiguous, (0, 2, 3, 1) channels-last, (1, 0, 2, 3) channel-major, (2, 3, 0, 1)
    spatial-major (conv2d's outputs); the first of these that a is contiguous in (the strides of length-1 axes
    don't count, so a single image stored channels-last is channels-last too), else the axes sorted by stride
    (length-1 axes innermost)."""
    for order in _LAYOUTS:
        if _stored(a, order):
            return order
    return tuple(sorted(range(4), key=lambda i: (-abs(a.strides[i]) if a.shape[i] > 1 else 1, i)))


def _new(xp, shape, dtype, order, fill=None):
    """A new (N, C, H, W) array stored in memory order `order` (see _order; a transposed view unless
    C-contiguous), uninitialised or filled with `fill`."""
    mem = tuple(shape[i] for i in order)
    a = xp.empty(mem, dtype=dtype) if fill is None else xp.full(mem, fill, dtype=dtype)
    return a if order == (0, 1, 2, 3) else a.transpose(tuple(order.index(i) for i in range(4)))


def _reorder(a, order):
    """a copied into a new array stored in memory order `order`."""
    out = _new(xp_of(a), a.shape, a.dtype, order)
    out[...] = a
    return out


def _pad(x, padding, value=0):
    """x (N, C, H, W) with `value` rows and columns around it, in x's memory order (x itself if none)."""
    (ph, pw), (n, c, h, w) = padding, x.shape
    if not ph and not pw:
        return x
    out = _new(xp_of(x), (n, c, h + 2 * ph, w + 2 * pw), x.dtype, _order(x), fill=value)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


def _crop(a, padding, hw):
    """The (H, W) middle of a padded (N, C, H + 2 ph, W + 2 pw) array, as a new array in its memory order."""
    (ph, pw), (h, w) = padding, hw
    if not ph and not pw:
        return a
    out = _new(xp_of(a), a.shape[:2] + (h, w), a.dtype, _order(a))
    out[...] = a[..., ph:ph + h, pw:pw + w]
    return out


def _matrix(g):
    """g (N, O, OH, OW) as the (OH*OW*N, O) matrix the convolution's GEMMs take (rows in the im2col columns'
    (OH, OW, N) order): a view when g is stored spatial-major (conv2d's outputs and the gradients pooling and
    ReLU give back), a copy otherwise."""
    t = g.transpose(2, 3, 0, 1)
    if not t.flags.c_contiguous:
        t = xp_of(g).ascontiguousarray(t)
    return t.reshape(-1, g.shape[1])


def _im2col(x, kernel, stride, padding, dilation, ones=False):
    """x (N, C, H, W) -> the columns (K, OH*OW*N) and (OH, OW). Column m is output position (oh, ow, n) (in
    that order: the GEMM then writes conv2d's output spatial-major) and row k what kernel tap (i, j) of channel
    c sees there, the K = kh*kw*C rows in (kh, kw, C) order (_weight_matrix's). x is read spatial-major
    (copied into that order first if it is stored otherwise), so each tap is one strided copy with the batch
    and channels innermost: for C > 1 into the (OH*OW*N, K) matrix, whose transposed view the columns are;
    for one channel straight into the columns. ones=True adds a last row of ones (the bias's row: conv2d adds
    its bias inside the GEMM)."""
    xp = xp_of(x)
    n, c = x.shape[:2]
    if not _stored(x, SPATIAL):
        x = _reorder(x, SPATIAL)
    win = windows2d(_pad(x, padding), kernel, stride, dilation)         # (N, C, OH, OW, kh, kw), a view
    oh, ow = win.shape[2:4]
    k = c * kernel[0] * kernel[1]
    if c > 1:
        rows = xp.empty((oh * ow * n, k + bool(ones)), dtype=x.dtype)
        rows[:, :k].reshape(oh, ow, n, *kernel, c)[...] = win.transpose(2, 3, 0, 4, 5, 1)
        if ones:
            rows[:, k] = 1
        return rows.T, (oh, ow)
    cols = xp.empty((k + bool(ones), oh * ow * n), dtype=x.dtype)
    cols[:k].reshape(*kernel, oh, ow, n)[...] = win[:, 0].transpose(3, 4, 1, 2, 0)
    if ones:
        cols[-1] = 1
    return cols, (oh, ow)


def _weight_matrix(w):
    """w (O, C, kh, kw) as the (O, kh*kw*C) matrix whose columns run in the im2col rows' order."""
    return w.transpose(0, 2, 3, 1).reshape(w.shape[0], -1)


# ------------------------------------------------------------------ convolution
class Conv2d(Function):
    """y = conv(x, w) + b: x (N, C, H, W), w (O, C, kh, kw), b (O,); one GEMM on the im2col columns (the
    bias too: a last column of the weight matrix against the columns' row of ones, which gives the bias's
    gradient from the weight-gradient GEMM as well). y is stored spatial-major: (OH, OW, N, O) memory seen
    as (N, O, OH, OW)."""

    def forward(self, x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
        n, o = x.shape[0], w.shape[0]
        cols, (oh, ow) = _im2col(x, w.shape[2:], stride, padding, dilation, ones=b is not None)
        wm = _weight_matrix(w)
        if b is not None:
            wm = xp_of(w).concatenate((wm, b[:, None]), axis=1)       # (O, K + 1): [w | b]
        y = cols.T @ wm.T                                                 # (OH*OW*N, O): the one GEMM
        self.cols, self.geom = cols, dict(stride=stride, padding=padding, dilation=dilation)
        return y.reshape(oh, ow, n, o).transpose(2, 3, 0, 1)             # (N, O, OH, OW), a view

    def backward(self, g):
        x, w = self.inputs[0], self.inputs[1]
        b = self.inputs[2] if len(self.inputs) == 3 else None
        gx = (ConvInputGrad.apply(g, w, x_shape=x.shape, order=_order(x.data), **self.geom)
              if x.requires_grad else None)
        cols = self.cols
        if b is None:
            gw = ConvWeightGrad.apply(x, g, w_shape=w.shape, cols=cols, **self.geom) if w.requires_grad else None
            return gx, gw
        if not (w.requires_grad or b.requires_grad):
            return gx, None, None
        gwb = ConvWeightGrad.apply(x, g, w_shape=w.shape, bias=True, cols=cols, **self.geom)    # [gw | gb]
        return (gx, gwb[:, :-1].reshape(w.shape) if w.requires_grad else None,
                gwb[:, -1] if b.requires_grad else None)


class ConvInputGrad(Function):
    """The gradient of conv2d with respect to its input (a transposed convolution): one GEMM per kernel tap,
    each (OH*OW*N, C) product added into the padded input's shape where that tap read (col2im), then
    cropped. Computed spatial-major (every add over contiguous runs of N*C) and handed back in memory order
    `order` (the input's, as PyTorch gives a gradient in its input's memory format)."""

    def forward(self, g, w, x_shape, stride, padding, dilation, order=SPATIAL):
        xp = xp_of(g)
        n, o, oh, ow = g.shape
        _, c, kh, kw = w.shape
        self.x_shape = x_shape
        self.geom = dict(stride=stride, padding=padding, dilation=dilation)
        (ph, pw), (h, wd) = padding, x_shape[2:]
        gm, wt = _matrix(g), xp.ascontiguousarray(w.transpose(2, 3, 0, 1))    # wt[i, j]: tap (i, j)'s (O, C)
        out = _new(xp, (n, c, h + 2 * ph, wd + 2 * pw), g.dtype, SPATIAL, fill=0)
        for i in range(kh):
            for j in range(kw):
                out[(Ellipsis,) + _slices(i, j, (oh, ow), stride, dilation)] += (gm @ wt[i, j]).reshape(
                    oh, ow, n, c).transpose(2, 3, 0, 1)
        out = _crop(out, padding, (h, wd))
        return out if _stored(out, order) else _reorder(out, order)

    def backward(self, gg):
        g, w = self.inputs
        dg = Conv2d.apply(gg, w, **self.geom) if g.requires_grad else None
        dw = ConvWeightGrad.apply(gg, g, w_shape=w.shape, **self.geom) if w.requires_grad else None
        return dg, dw


class ConvWeightGrad(Function):
    """The gradient of conv2d with respect to its weight: (the im2col columns of x @ g as (OH*OW*N, O))^T,
    w-shaped. With bias=True the columns carry conv2d's row of ones and the result is the matrix
    (O, C*kh*kw + 1) = [weight gradient | bias gradient]: the bias's gradient from the same GEMM.
    `cols`: conv2d's columns of x, reused."""

    def forward(self, x, g, w_shape, stride, padding, dilation, bias=False, cols=None):
        self.geom, self.w_shape, self.bias = dict(stride=stride, padding=padding, dilation=dilation), w_shape, bias
        if cols is None:
            cols, _ = _im2col(x, w_shape[2:], stride, padding, dilation, ones=bias)
        m = (cols @ _matrix(g)).T                              # (O, K [+ 1]), K in (kh, kw, C) order
        o, c, kh, kw = w_shape
        k = c * kh * kw
        gw = xp_of(g).empty((o, k + bool(bias)), dtype=m.dtype)
        gw[:, :k].reshape(w_shape)[...] = m[:, :k].reshape(o, kh, kw, c).transpose(0, 3, 1, 2)
        if bias:
            gw[:, k] = m[:, k]
            return gw
        return gw.reshape(w_shape)

    def backward(self, u):
        x, g = self.inputs
        b = ()
        if self.bias:                                   # u = [weight's part | bias's part]
            u, b = u[:, :-1].reshape(self.w_shape), (u[:, -1],)
        dx = (ConvInputGrad.apply(g, u, x_shape=x.shape, order=_order(x.data), **self.geom)
              if x.requires_grad else None)
        dg = Conv2d.apply(x, u, *b, **self.geom) if g.requires_grad else None
        return dx, dg


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as PyTorch), NCHW: input (N, C, H, W), weight (O, C, kh, kw),
    bias (O,) -> (N, O, OH, OW) with OH = (H + 2 padding - dilation (kh - 1) - 1) // stride + 1.

    `padding` is an int, a pair, "valid" (0) or "same" (stride 1; odd effective kernels). Only groups=1
    is implemented (a NotImplementedError otherwise).

        >>> import tinygrad_lite as tl, tinygrad_lite.nn.functional as F
        >>> F.conv2d(tl.ones(1, 1, 4, 4), tl.ones(2, 1, 3, 3), padding=1).shape
        (1, 2, 4, 4)
    """
    op = "conv2d"
    if groups != 1:
        raise NotImplementedError(f"{op}: groups={groups} is not implemented (only groups=1)")
    if not isinstance(weight, Tensor) or weight.ndim != 4:
        raise ValueError(f"{op}: weight must be a 4-D Tensor (out_channels, in_channels, kh, kw), got "
                         f"{getattr(weight, 'shape', type(weight).__name__)}")
    kernel = weight.shape[2:]
    if isinstance(padding, str):
        if padding == "valid":
            padding = 0
        elif padding == "same":
            s, d = _pair(stride, "stride", op), _pair(dilation, "dilation", op)
            if s != (1, 1):
                raise ValueError(f"{op}: padding='same' needs stride 1, got stride {stride}")
            total = [dd * (k - 1) for dd, k in zip(d, kernel)]
            if any(t % 2 for t in total):
                raise NotImplementedError(f"{op}: padding='same' with an even effective kernel "
                                          f"{tuple(t + 1 for t in total)} (asymmetric padding) is not implemented")
            padding = (total[0] // 2, total[1] // 2)
        else:
            raise ValueError(f"{op}: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    _, stride, padding, dilation, _ = _geometry(op, input, kernel, stride, padding, dilation)
    if input.shape[1] != weight.shape[1]:
        raise ValueError(f"{op}: the input has {input.shape[1]} channels (shape {input.shape}) but the weight "
                         f"{weight.shape} expects {weight.shape[1]}")
    tensors = [input, weight] + ([bias] if bias is not None else [])
    _check_same_device(op, *tensors)
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"{op}: bias must have shape ({weight.shape[0]},) for weight {weight.shape}, got {bias.shape}")
    for t, name in zip(tensors[1:], ("weight", "bias")):
        if t.dtype != input.dtype:
            raise TypeError(f"{op}: input dtype {input.dtype} and {name} dtype {t.dtype} differ; cast one of them")
    return Conv2d.apply(*tensors, stride=stride, padding=padding, dilation=dilation)


# ------------------------------------------------------------------ pooling: window sums (average)
# Pooling works in its input's memory order (see the module docstring): its outputs, its saved argmax and
# its gradients are stored in the input's memory order (_order, _new, _pad, _crop).
def _window_sums(x, kernel, stride, padding, dilation):
    """The sum of each (zero-padded) window, in x's memory order: kh*kw strided adds, no window copy."""
    win = windows2d(_pad(x, padding), kernel, stride, dilation)
    out = _new(xp_of(x), win.shape[:4], x.dtype, _order(x))
    out[...] = win[..., 0, 0]
    for k in range(1, kernel[0] * kernel[1]):
        out += win[..., k // kernel[1], k % kernel[1]]
    return out


class WindowSum(Function):
    """The sum of each window times `scale` (a number, or an (OH, OW) array): average pooling."""

    def forward(self, x, kernel, stride, padding, dilation, scale):
        self.args = dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation, scale=scale)
        self.x_shape, self.order = x.shape, _order(x)
        out = _window_sums(x, kernel, stride, padding, dilation)
        out *= scale
        return out

    def backward(self, g):
        return WindowSpread.apply(g, x_shape=self.x_shape, order=self.order, **self.args)


class WindowSpread(Function):
    """WindowSum's adjoint: each output's g * scale added back to every element of its window (the result
    stored in memory order `order`: the order WindowSum's input had)."""

    def forward(self, g, x_shape, kernel, stride, padding, dilation, scale, order=(0, 1, 2, 3)):
        self.args = dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation, scale=scale)
        xp = xp_of(g)
        (ph, pw), (h, w) = padding, x_shape[2:]
        out = _new(xp, x_shape[:2] + (h + 2 * ph, w + 2 * pw), g.dtype, order, fill=0)
        gs = _new(xp, g.shape, g.dtype, order)
        xp.multiply(g, scale, out=gs)                          # (in out's memory order: same-order adds)
        for i in range(kernel[0]):
            for j in range(kernel[1]):
                out[(Ellipsis,) + _slices(i, j, g.shape[2:], stride, dilation)] += gs
        return _crop(out, padding, (h, w))

    def backward(self, gg):
        return WindowSum.apply(gg, **self.args)


# ------------------------------------------------------------------ pooling: the max of each window
def _batch_slices(a):
    """backend.cache_slices of a's batch axis where it is the outermost in memory; else one slice, the whole
    array (spatial-major, the batch is inside every run: slicing it would only shorten the runs)."""
    return cache_slices(a) if _order(a)[0] == 0 else [slice(None)]


class WindowGather(Function):
    """Each window's element at the saved tap index `idx` (N, C, OH, OW): max pooling at its argmax."""

    def forward(self, x, idx, kernel, stride, padding, dilation):
        self.args = dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation)
        self.x_shape, self.idx = x.shape, idx
        xp = xp_of(x)
        win = windows2d(_pad(x, padding), kernel, stride, dilation)
        out = _new(xp, win.shape[:4], x.dtype, _order(idx), fill=0)
        for k in range(kernel[0] * kernel[1]):
            xp.copyto(out, win[..., k // kernel[1], k % kernel[1]], where=idx == k)
        return out

    def backward(self, g):
        return WindowScatter.apply(g, idx=self.idx, x_shape=self.x_shape, **self.args)


def _max_first(taps, best, idx, miss):
    """best = the max of the taps (NaN propagates), idx = the first tap holding it: with m_k = (tap k != max),
    idx = m_0 (1 + m_1 (1 + m_2 (1 + ...))), evaluated from the last tap back (Horner's rule): one
    comparison and two in-place int8 passes per tap. (idx is left as it is for a single tap.)"""
    xp = xp_of(best)
    if len(taps) == 1:
        best[...] = taps[0]
        return
    xp.maximum(taps[0], taps[1], out=best)
    for v in taps[2:]:
        xp.maximum(best, v, out=best)
    xp.not_equal(taps[-2], best, out=idx)
    one = idx.dtype.type(1)
    for v in taps[-3::-1]:
        idx += one
        idx *= xp.not_equal(v, best, out=miss)


class MaxPool2d(WindowGather):
    """max over each window (NaN wins, as in PyTorch; the first of tied maxima takes the gradient)."""

    def forward(self, x, kernel, stride, padding, dilation):
        self.args = dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation)
        xp, order = xp_of(x), _order(x)
        win = windows2d(_pad(x, padding, -np.inf), kernel, stride, dilation)
        taps = [win[..., k // kernel[1], k % kernel[1]] for k in range(kernel[0] * kernel[1])]
        best = _new(xp, win.shape[:4], x.dtype, order)
        itype = np.int8 if len(taps) < 128 else np.int32
        idx = _new(xp, best.shape, itype, order, fill=0 if len(taps) == 1 else None)
        miss = _new(xp, best.shape, bool, order)
        for s in _batch_slices(x):          # a few images at a time: the passes reuse them from the cache
            _max_first([v[s] for v in taps], best[s], idx[s], miss[s])
        if len(taps) > 1 and (capturing() or xp.isnan(best).any()):   # PyTorch's kernel: a window's last NaN wins
            for k, v in enumerate(taps):
                nan = v != v
                idx -= (idx - itype(k)) * nan
        self.x_shape, self.idx = x.shape, idx
        return best


class WindowScatter(Function):
    """WindowGather's adjoint: g added at each window's saved tap (argmax scatter), stored in the memory
    order of idx (that is, of the pooled input)."""

    def forward(self, g, idx, x_shape, kernel, stride, padding, dilation):
        self.args = dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation)
        self.idx = idx
        xp, order = xp_of(g), _order(idx)
        (ph, pw), (h, w) = padding, x_shape[2:]
        hp, wp = h + 2 * ph, w + 2 * pw
        disjoint = all(s >= d * (k - 1) + 1 for s, k, d in zip(stride, kernel, dilation))
        tiled = (dilation == (1, 1) and stride == kernel   # the windows cover the padded input exactly once
                 and g.shape[2] * kernel[0] == hp and g.shape[3] * kernel[1] == wp)
        if _order(g) != order:            # g in idx's memory order first: a small copy that makes the
            g = _reorder(g, order)         # kh*kw strided writes below several times faster
        out = _new(xp, x_shape[:2] + (hp, wp), g.dtype, order, fill=None if tiled else 0)
        hit = _new(xp, idx.shape, bool, order)
        for s in _batch_slices(out):      # a few images at a time: their idx, g and out stay in the cache
            g_s, idx_s, hit_s = g[s], idx[s], hit[s]
            for k in range(kernel[0] * kernel[1]):
                at = out[(s,) + (slice(None),) + _slices(k // kernel[1], k % kernel[1], g.shape[2:], stride, dilation)]
                xp.equal(idx_s, k, out=hit_s)
                if disjoint:                              # windows don't overlap: each element written once,
                    _select(g_s, hit_s, out=at)           # exactly 0 off the argmax, also where g is inf or nan
                else:                                     # (as PyTorch; see _select)
                    at += _select(g_s, hit_s)
        return _crop(out, padding, (h, w))

    def backward(self, gg):
        return WindowGather.apply(gg, idx=self.idx, **self.args)


def _pool_geometry(op, x, kernel_size, stride, padding, dilation, ceil_mode):
    if ceil_mode:
        raise NotImplementedError(f"{op}: ceil_mode=True is not implemented")
    kernel, stride, padding, dilation, _ = _geometry(op, x, kernel_size, kernel_size if stride is None else stride,
                                                     padding, dilation)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{op}: padding {padding} must be at most half the kernel size {kernel}")
    return kernel, stride, padding, dilation


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """The max of each kh x kw window of input (N, C, H, W); stride defaults to kernel_size, padding
    is -inf (at most half the kernel). The gradient goes to each window's argmax (the first of ties).

        >>> import tinygrad_lite as tl, tinygrad_lite.nn.functional as F
        >>> F.max_pool2d(tl.arange(16.0).reshape(1, 1, 4, 4), 2)
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
    """
    if return_indices:
        raise NotImplementedError("max_pool2d: return_indices=True is not implemented")
    kernel, stride, padding, dilation = _pool_geometry("max_pool2d", input, kernel_size, stride, padding, dilation,
                                                       ceil_mode)
    return MaxPool2d.apply(input, kernel=kernel, stride=stride, padding=padding, dilation=dilation)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """The mean of each window of input (N, C, H, W), as PyTorch: zero padding counted in the mean
    unless count_include_pad=False; divisor_override replaces the window size as the divisor."""
    op = "avg_pool2d"
    kernel, stride, padding, dilation = _pool_geometry(op, input, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None:
        if not divisor_override:
            raise ValueError(f"{op}: divisor_override must be non-zero, got {divisor_override}")
        scale = 1.0 / divisor_override
    elif count_include_pad or padding == (0, 0):
        scale = 1.0 / (kernel[0] * kernel[1])
    else:                            # the number of real (not padded) elements in each window
        xp = xp_of(input.data)
        h, w = input.shape[2:]
        ones = xp.ones((1, 1, h, w), dtype=input.dtype)
        count = _window_sums(ones, kernel, stride, padding, dilation)[0, 0]
        scale = (1 / count).astype(input.dtype)
    if isinstance(scale, float):
        scale = input.dtype.type(scale)
    return WindowSum.apply(input, kernel=kernel, stride=stride, padding=padding, dilation=dilation, scale=scale)


def adaptive_avg_pool2d(input, output_size):
    """Average-pool input (N, C, H, W) to output_size (oh, ow) (an int: square; None keeps that axis).
    Implemented where H and W are multiples of the output size (any size to 1x1, 28x28 to 7x7, ...)."""
    op = "adaptive_avg_pool2d"
    _geometry(op, input, 1, 1, 0, 1)
    if isinstance(output_size, (tuple, list)):
        oh, ow = output_size
    else:
        oh = ow = output_size
    h, w = input.shape[2:]
    oh, ow = h if oh is None else int(oh), w if ow is None else int(ow)
    if oh < 1 or ow < 1:
        raise ValueError(f"{op}: output_size must be positive, got {output_size!r}")
    if (oh, ow) == (1, 1):
        return input.mean(axis=(2, 3), keepdims=True)
    if h % oh or w % ow:
        raise NotImplementedError(f"{op}: output size {(oh, ow)} does not divide the input's {h}x{w} (input shape "
                                  f"{input.shape}); only evenly dividing sizes are implemented")
    return avg_pool2d(input, (h // oh, w // ow))


def dropout2d(input, p=0.5, training=True):
    """Zero whole channels of input (N, C, H, W) with probability p, scaling the rest by 1/(1-p)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout2d: p must be in [0, 1], got {p}")
    if not isinstance(input, Tensor) or input.ndim != 4:
        raise ValueError(f"dropout2d: expected a 4-D input (N, C, H, W), got shape {getattr(input, 'shape', None)}")
    if not training or p == 0:
        return input
    if p == 1:
        return input * 0.0
    n, c = input.shape[:2]
    keep = rng(input.device).random((n, c, 1, 1), dtype=np.float32) >= p
    return input * Tensor._make((keep * (1.0 / (1.0 - p))).astype(input.dtype), False, None)
