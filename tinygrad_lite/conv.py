"""Convolution and pooling (NCHW): conv2d, max/avg pooling, dropout2d; forward and backward side by side.

Every op is a pair of linear maps that are each other's adjoint, so each backward is another
Function of this file and create_graph differentiates backward passes to any order:

    Conv2d          x, w -> y           backward: ConvInputGrad (x's), ConvWeightGrad (w's)
    ConvInputGrad   g, w -> x-shaped    (the transposed convolution, col2im)
    ConvWeightGrad  x, g -> w-shaped
    WindowSum / WindowSpread            average pooling and its adjoint
    WindowGather / WindowScatter        max pooling (at the saved argmax) and its adjoint

Convolution is one GEMM each way on im2col columns: the windows are a strided view of the
(padded) input (backend.windows2d, no copy), copied once into a (N*OH*OW, C*kh*kw) matrix
that backward reuses for the weight gradient and releases with the graph. Array code goes
through the backend (pad2d, windows2d, xp_of) so one definition serves NumPy and CuPy.
"""
from __future__ import annotations

import numpy as np

from .backend import pad2d, rng, windows2d, xp_of
from .function import Function
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


def _crop(a, padding, hw):
    (ph, pw), (h, w) = padding, hw
    if ph or pw:
        a = a[..., ph:ph + h, pw:pw + w]
    return xp_of(a).ascontiguousarray(a)


def _im2col(x, kernel, stride, padding, dilation):
    """x (N, C, H, W) -> columns (N*OH*OW, C*kh*kw), one row per output position (a copy), and (OH, OW)."""
    win = windows2d(pad2d(x, *padding), kernel, stride, dilation)       # (N, C, OH, OW, kh, kw), a view
    n, c, oh, ow, kh, kw = win.shape
    cols = xp_of(x).ascontiguousarray(win.transpose(0, 2, 3, 1, 4, 5)).reshape(n * oh * ow, c * kh * kw)
    return cols, (oh, ow)


# ------------------------------------------------------------------ convolution
class Conv2d(Function):
    """y = conv(x, w) + b: x (N, C, H, W), w (O, C, kh, kw), b (O,); one GEMM on the im2col columns."""

    def forward(self, x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
        o, _, kh, kw = w.shape
        cols, (oh, ow) = _im2col(x, (kh, kw), stride, padding, dilation)
        y = cols @ w.reshape(o, -1).T                                     # (N*OH*OW, O)
        if b is not None:
            y += b
        self.cols, self.geom = cols, dict(stride=stride, padding=padding, dilation=dilation)
        return y.reshape(x.shape[0], oh, ow, o).transpose(0, 3, 1, 2)

    def backward(self, g):
        x, w = self.inputs[0], self.inputs[1]
        gx = ConvInputGrad.apply(g, w, x_shape=x.shape, **self.geom) if x.requires_grad else None
        gw = (ConvWeightGrad.apply(x, g, w_shape=w.shape, cols=self.cols, **self.geom)
              if w.requires_grad else None)
        if len(self.inputs) == 2:
            return gx, gw
        return gx, gw, (g.sum(axis=(0, 2, 3)) if self.inputs[2].requires_grad else None)


class ConvInputGrad(Function):
    """The gradient of conv2d with respect to its input (a transposed convolution): the columns
    w^T g, added back into the padded input's shape tap by tap (col2im), then cropped."""

    def forward(self, g, w, x_shape, stride, padding, dilation):
        xp = xp_of(g)
        n, o, oh, ow = g.shape
        _, c, kh, kw = w.shape
        self.x_shape, self.geom = x_shape, dict(stride=stride, padding=padding, dilation=dilation)
        gm = xp.ascontiguousarray(g.transpose(1, 0, 2, 3)).reshape(o, n * oh * ow)
        cols = (w.reshape(o, -1).T @ gm).reshape(c, kh, kw, n, oh, ow)
        (ph, pw), (h, wd) = padding, x_shape[2:]
        out = xp.zeros((c, n, h + 2 * ph, wd + 2 * pw), dtype=cols.dtype)
        for i in range(kh):
            for j in range(kw):
                out[(slice(None), slice(None)) + _slices(i, j, (oh, ow), stride, dilation)] += cols[:, i, j]
        return _crop(out.transpose(1, 0, 2, 3), padding, (h, wd))

    def backward(self, gg):
        g, w = self.inputs
        dg = Conv2d.apply(gg, w, **self.geom) if g.requires_grad else None
        dw = ConvWeightGrad.apply(gg, g, w_shape=w.shape, **self.geom) if w.requires_grad else None
        return dg, dw


class ConvWeightGrad(Function):
    """The gradient of conv2d with respect to its weight: g (as (O, N*OH*OW)) @ the im2col columns of x."""

    def forward(self, x, g, w_shape, stride, padding, dilation, cols=None):
        self.geom = dict(stride=stride, padding=padding, dilation=dilation)
        if cols is None:
            cols, _ = _im2col(x, w_shape[2:], stride, padding, dilation)
        o = w_shape[0]
        gm = xp_of(g).ascontiguousarray(g.transpose(1, 0, 2, 3)).reshape(o, -1)
        return (gm @ cols).reshape(w_shape)

    def backward(self, u):
        x, g = self.inputs
        dx = ConvInputGrad.apply(g, u, x_shape=x.shape, **self.geom) if x.requires_grad else None
        dg = Conv2d.apply(x, u, **self.geom) if g.requires_grad else None
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
def _window_sums(x, kernel, stride, padding, dilation):
    """The sum of each (zero-padded) window: kh*kw strided adds, no window copy."""
    win = windows2d(pad2d(x, *padding), kernel, stride, dilation)
    out = win[..., 0, 0].copy()
    for k in range(1, kernel[0] * kernel[1]):
        out += win[..., k // kernel[1], k % kernel[1]]
    return out


class WindowSum(Function):
    """The sum of each window times `scale` (a number, or an (OH, OW) array): average pooling."""

    def forward(self, x, kernel, stride, padding, dilation, scale):
        self.args = dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation, scale=scale)
        self.x_shape = x.shape
        out = _window_sums(x, kernel, stride, padding, dilation)
        out *= scale
        return out

    def backward(self, g):
        return WindowSpread.apply(g, x_shape=self.x_shape, **self.args)


class WindowSpread(Function):
    """WindowSum's adjoint: each output's g * scale added back to every element of its window."""

    def forward(self, g, x_shape, kernel, stride, padding, dilation, scale):
        self.args = dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation, scale=scale)
        (ph, pw), (h, w) = padding, x_shape[2:]
        out = xp_of(g).zeros(x_shape[:2] + (h + 2 * ph, w + 2 * pw), dtype=g.dtype)
        gs = g * scale
        for i in range(kernel[0]):
            for j in range(kernel[1]):
                out[(Ellipsis,) + _slices(i, j, g.shape[2:], stride, dilation)] += gs
        return _crop(out, padding, (h, w))

    def backward(self, gg):
        return WindowSum.apply(gg, **self.args)


# ------------------------------------------------------------------ pooling: the max of each window
class WindowGather(Function):
    """Each window's element at the saved tap index `idx` (N, C, OH, OW): max pooling at its argmax."""

    def forward(self, x, idx, kernel, stride, padding, dilation):
        self.args = dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation)
        self.x_shape, self.idx = x.shape, idx
        win = windows2d(pad2d(x, *padding), kernel, stride, dilation)
        out = xp_of(x).zeros(win.shape[:4], dtype=x.dtype)
        for k in range(kernel[0] * kernel[1]):
            xp_of(x).copyto(out, win[..., k // kernel[1], k % kernel[1]], where=idx == k)
        return out

    def backward(self, g):
        return WindowScatter.apply(g, idx=self.idx, x_shape=self.x_shape, **self.args)


class MaxPool2d(WindowGather):
    """max over each window (NaN wins, as in PyTorch; the first of tied maxima takes the gradient)."""

    def forward(self, x, kernel, stride, padding, dilation):
        self.args = dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation)
        xp = xp_of(x)
        win = windows2d(pad2d(x, *padding, value=-np.inf), kernel, stride, dilation)
        best = win[..., 0, 0].copy()
        idx = xp.zeros(best.shape, dtype=np.int8 if kernel[0] * kernel[1] < 128 else np.int32)
        for k in range(1, kernel[0] * kernel[1]):
            v = win[..., k // kernel[1], k % kernel[1]]
            better = (v > best) | (v != v)
            xp.copyto(best, v, where=better)
            idx[better] = k
        self.x_shape, self.idx = x.shape, idx
        return best


class WindowScatter(Function):
    """WindowGather's adjoint: g added at each window's saved tap (argmax scatter)."""

    def forward(self, g, idx, x_shape, kernel, stride, padding, dilation):
        self.args = dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation)
        self.idx = idx
        xp = xp_of(g)
        (ph, pw), (h, w) = padding, x_shape[2:]
        out = xp.zeros(x_shape[:2] + (h + 2 * ph, w + 2 * pw), dtype=g.dtype)
        zero = g.dtype.type(0)
        for k in range(kernel[0] * kernel[1]):
            out[(Ellipsis,) + _slices(k // kernel[1], k % kernel[1], g.shape[2:], stride, dilation)] += \
                xp.where(idx == k, g, zero)
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
