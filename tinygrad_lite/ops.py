"""Every differentiable op: its forward on arrays and, right beside it, its backward.

Backward rules are written with Tensor ops, so they are differentiable themselves
(`create_graph=True`). A backward returns one gradient per input, shaped like the
op's output where the op broadcasts: the engine sums broadcast axes back, in one place.
Array code uses `xp_of(array)` from the backend, so one definition serves NumPy and CuPy.
"""
from __future__ import annotations

import math

import numpy as np

from .backend import scatter_add, xp_of
from .function import Function, _raise_modified, _stamp, is_grad_enabled


_make = None   # Tensor._make, set by tensor.py (ops.py is imported first)


def _const(array):
    """A Tensor holding a saved array; records no graph (NumPy's 0-d scalars become arrays)."""
    return _make(np.asarray(array) if isinstance(array, np.generic) else array, False, None)


def _where_const(mask, value, t):
    """t with `value` where the array `mask` holds (a constant mask: the gradient flows through t elsewhere)."""
    if not mask.any():
        return t
    xp = xp_of(t.data)
    mask = xp.broadcast_to(mask, t.shape) if mask.shape != t.shape else mask
    return Where.apply(_const(xp.full((), value, dtype=t.dtype)), t, cond=mask)


# ------------------------------------------------------------------ binary, broadcasting
class Add(Function):
    saves_inputs = False
    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g, g


class Sub(Function):
    saves_inputs = False
    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return g, -g


class Mul(Function):
    def forward(self, a, b):
        return a * b

    def backward(self, g):
        a, b = self.inputs
        return (g * b if a.requires_grad else None), (g * a if b.requires_grad else None)


class Div(Function):
    needs_output = True

    def forward(self, a, b):
        return a / b

    def backward(self, g):
        a, b = self.inputs
        ga = g / b if a.requires_grad else None
        gb = -(g * self.output) / b if b.requires_grad else None
        return ga, gb


class Pow(Function):
    needs_output = True

    def forward(self, a, b):
        return a ** b

    def backward(self, g):
        # PyTorch's conventions: no gradient to a where b == 0 (not 0 * 0**-1 = nan), and none to b
        # where a == 0 and b >= 0 (not 0 * log 0); a negative base gives b a nan gradient (log a).
        a, b = self.inputs
        ga = gb = None
        if a.requires_grad:
            with np.errstate(divide="ignore", invalid="ignore"):
                ga = g * b * a ** (b - 1)
            ga = _where_const(b.data == 0, 0, ga)
        if b.requires_grad:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = g * self.output * a.log()
            gb = _where_const((a.data == 0) & (b.data >= 0), 0, gb)
        return ga, gb


class Maximum(Function):
    saves_inputs = False
    def forward(self, a, b):
        self.mask = (a > b) + 0.5 * (a == b)   # ties split the gradient evenly
        return xp_of(a).maximum(a, b)

    def backward(self, g):
        m = _const(self.mask.astype(g.dtype, copy=False))
        return g * m, g * (1 - m)


class Minimum(Function):
    saves_inputs = False
    def forward(self, a, b):
        self.mask = (a < b) + 0.5 * (a == b)
        return xp_of(a).minimum(a, b)

    def backward(self, g):
        m = _const(self.mask.astype(g.dtype, copy=False))
        return g * m, g * (1 - m)


class Where(Function):
    saves_inputs = False
    def forward(self, a, b, cond):
        self.cond = cond
        return xp_of(a).where(cond, a, b)

    def backward(self, g):
        zero = _const(xp_of(g.data).zeros((), dtype=g.dtype))
        return Where.apply(g, zero, cond=self.cond), Where.apply(zero, g, cond=self.cond)


# ------------------------------------------------------------------ with a Python scalar
class AddScalar(Function):
    saves_inputs = False
    def forward(self, a, c):
        return a + c

    def backward(self, g):
        return g


class MulScalar(Function):
    saves_inputs = False
    def forward(self, a, c):
        self.c = c
        return a * c

    def backward(self, g):
        return g * self.c


class DivScalar(Function):           # a / c
    saves_inputs = False
    def forward(self, a, c):
        self.c = c
        return a / c

    def backward(self, g):
        return g / self.c


class RSubScalar(Function):          # c - a
    saves_inputs = False
    def forward(self, a, c):
        return c - a

    def backward(self, g):
        return -g


class RDivScalar(Function):          # c / a
    needs_output = True

    def forward(self, a, c):
        return c / a

    def backward(self, g):
        return -(g * self.output) / self.inputs[0]


class PowScalar(Function):           # a ** c
    def forward(self, a, c):
        self.c = c
        return a ** c

    def backward(self, g):
        c, a = self.c, self.inputs[0]
        if c == 2:
            return g * a * 2
        if c == 0:                    # PyTorch: a zero gradient (not 0 * 0**-1 = nan at a == 0)
            return g * 0
        return g * c * a ** (c - 1)


class RPowScalar(Function):          # c ** a
    saves_inputs = False
    needs_output = True

    def forward(self, a, c):
        self.c = c
        return c ** a

    def backward(self, g):
        c = self.c
        if c == 0:                    # PyTorch: d(0**a)/da is 0 where a >= 0
            return _where_const(self.inputs[0].data >= 0, 0, g * self.output * float("-inf"))
        return g * self.output * (math.log(c) if c > 0 else float("nan"))   # a negative base: nan, as PyTorch


# ------------------------------------------------------------------ unary
class Neg(Function):
    saves_inputs = False
    def forward(self, a):
        return -a

    def backward(self, g):
        return -g


class Exp(Function):
    saves_inputs = False
    needs_output = True

    def forward(self, a):
        return xp_of(a).exp(a)

    def backward(self, g):
        return g * self.output


class Log(Function):
    def forward(self, a):
        return xp_of(a).log(a)

    def backward(self, g):
        return g / self.inputs[0]


class Sqrt(Function):
    saves_inputs = False
    needs_output = True

    def forward(self, a):
        return xp_of(a).sqrt(a)

    def backward(self, g):
        return (g * 0.5) / self.output


class Abs(Function):
    saves_inputs = False
    def forward(self, a):
        self.sign = xp_of(a).sign(a)
        return abs(a)

    def backward(self, g):
        return g * _const(self.sign)


class Tanh(Function):
    saves_inputs = False
    needs_output = True

    def forward(self, a):
        return xp_of(a).tanh(a)

    def backward(self, g):
        y = self.output
        return g * (1 - y * y)


class Sigmoid(Function):
    """1 / (1 + e^-x); e^-x may overflow to inf for x < -88 (float32), giving 0: no warning, no NaN."""
    saves_inputs = False
    needs_output = True

    def forward(self, a):
        xp = xp_of(a)
        y = xp.empty_like(a)
        with np.errstate(over="ignore"):
            xp.negative(a, out=y)
            xp.exp(y, out=y)
        y += 1
        xp.reciprocal(y, out=y)
        return y

    def backward(self, g):
        y = self.output
        if is_grad_enabled():   # create_graph: keep it differentiable
            return g * y * (1 - y)
        yd = y.data
        d = xp_of(yd).asarray(1 - yd)             # y (1 - y) g, in one buffer (an array also when 0-d)
        d *= yd
        d *= g.data
        return _const(d)


class Log1p(Function):
    def forward(self, a):
        return xp_of(a).log1p(a)

    def backward(self, g):
        return g / (self.inputs[0] + 1)


class BinaryCrossEntropy(Function):
    """-(t log p + (1-t) log(1-p)) with the logs clamped at -100, as PyTorch; finite gradient at p in {0, 1}."""

    def forward(self, p, t):
        xp = xp_of(p)
        with np.errstate(divide="ignore"):
            lp = xp.maximum(xp.log(p), -100)
            l1p = xp.maximum(xp.log1p(-p), -100)
        return -(t * lp + (1 - t) * l1p)

    def backward(self, g):
        p, t = self.inputs
        d = (p * (1 - p)).clip(min=1e-12)
        gp = g * (p - t) / d if p.requires_grad else None
        # torch's target gradient is -logit(p), not clamped (it is +-inf at p in {0, 1})
        gt = g * ((1 - p).log() - p.log()) if t.requires_grad else None
        return gp, gt


class ReLU(Function):
    saves_inputs = False
    saves_output = True    # self.out is the output array
    def forward(self, a):
        self.out = out = xp_of(a).maximum(a, 0)
        return out

    def backward(self, g):
        mask = self.out > 0
        if is_grad_enabled():
            return g * _const(mask)
        return _const(g.data * mask)


class Clip(Function):
    saves_inputs = False
    def forward(self, a, lo, hi):
        xp = xp_of(a)
        mask = xp.ones(a.shape, dtype=bool)
        if lo is not None:
            mask &= a >= lo
        if hi is not None:
            mask &= a <= hi
        self.mask = mask
        out = a if lo is None else xp.maximum(a, a.dtype.type(lo))
        return out if hi is None else xp.minimum(out, a.dtype.type(hi))

    def backward(self, g):
        return g * _const(self.mask)


class Cast(Function):
    saves_inputs = False
    def forward(self, a, dtype):
        self.dtype = a.dtype
        return a.astype(dtype)

    def backward(self, g):
        return g.astype(self.dtype)


class Clone(Function):
    """A copy in its own memory; the gradient passes through unchanged."""
    saves_inputs = False

    def forward(self, a):
        return a.copy()

    def backward(self, g):
        return g


class ToDevice(Function):
    saves_inputs = False
    def forward(self, a, device):
        from .backend import device_of, to_device
        self.device = device_of(a)
        return to_device(a, device)

    def backward(self, g):
        return g.to(self.device)


# ------------------------------------------------------------------ matmul and the fused linear layer
class MatMul(Function):
    """a @ b for a.ndim, b.ndim >= 2 (Tensor.matmul lifts 1-D operands); batch dims broadcast."""

    def forward(self, a, b):
        return a @ b

    def backward(self, g):
        a, b = self.inputs
        ga = g @ b.swapaxes(-1, -2) if a.requires_grad else None
        gb = a.swapaxes(-1, -2) @ g if b.requires_grad else None
        return ga, gb


class Linear(Function):
    """x @ W.T + b with W of shape (out, in), as PyTorch's nn.Linear; one node, one matmul each way."""

    def forward(self, x, w, b=None):
        y = x @ w.T
        if b is not None:
            y += b
        return y

    def backward(self, g):
        x, w = self.inputs[0], self.inputs[1]
        if not is_grad_enabled():                 # the same rule on arrays: no graph to record
            gd, xd = g.data, x.data
            gx = _const(gd @ w.data) if x.requires_grad else None
            if gd.ndim != 2:
                gd, xd = gd.reshape(-1, gd.shape[-1]), xd.reshape(-1, xd.shape[-1])
            gw = _const((xd.T @ gd).T) if w.requires_grad else None   # (out, in), column-major like W
            if len(self.inputs) == 2:
                return gx, gw
            return gx, gw, (_const(gd.sum(axis=0)) if self.inputs[2].requires_grad else None)
        gx = g @ w if x.requires_grad else None
        if g.ndim == 2:
            g2, x2 = g, x
        else:
            g2, x2 = g.reshape(-1, g.shape[-1]), x.reshape(-1, x.shape[-1])
        gw = g2.T @ x2 if w.requires_grad else None
        if len(self.inputs) == 2:
            return gx, gw
        gb = g2.sum(axis=0) if self.inputs[2].requires_grad else None
        return gx, gw, gb


# ------------------------------------------------------------------ reductions
def axis_index(axis, ndim, op, new=0):
    """`axis` as an index in [0, ndim + new) (`new` axes being inserted, as by unsqueeze); out of range
    is an error, never wrapped around, as in PyTorch."""
    n = ndim + new
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: axis must be an int, got {type(axis).__name__} {axis!r}")
    if not -n <= axis < n:
        raise IndexError(f"{op}: axis {axis} is out of range for a tensor with {ndim} dimension"
                         f"{'' if ndim == 1 else 's'} (expected {-n} to {n - 1})")
    return axis % n


def _norm_axis(axis, ndim, op="reduce"):
    """A reduction's axis as a sorted tuple of indices (None: all); 0-d arrays are left to NumPy."""
    if axis is None:
        return None
    axes = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {type(a).__name__} {a!r}")
    if not ndim:                                  # a 0-d tensor takes dim 0 or -1 (its one element), as PyTorch
        for a in axes:
            if a not in (0, -1):
                raise IndexError(f"{op}: axis {a} is out of range for a 0-d tensor (expected -1 or 0)")
        return None
    out = tuple(sorted(axis_index(a, ndim, op) for a in axes))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: axis {axis} names an axis twice")
    return out


def _drop_kept(array, axis):
    """A keepdims=True reduction result without its reduced axes (an array, also when 0-d)."""
    shape = tuple(s for i, s in enumerate(array.shape) if axis is not None and i not in axis)
    return xp_of(array).asarray(array.reshape(shape))


def _kept_shape(shape, axis):
    """The shape of a reduction's result with keepdims=True."""
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else s for i, s in enumerate(shape))


def _outer_first(a, axis):
    """a summed over its outermost axis in memory first, when that axis is one of several summed over and a
    is not C-contiguous (else a): then the other axes are summed over an array that axis's length times
    smaller. NumPy's one pass over a channels-last batch summed per channel (conv2d's outputs into
    batch_norm, or its gradient) runs a short inner loop per pixel and is ~6x slower than the two passes."""
    if isinstance(axis, tuple) and len(axis) > 1 and a.ndim > 2 and a.size and not a.flags.c_contiguous:
        outer = max(range(a.ndim), key=lambda i: abs(a.strides[i]) if a.shape[i] > 1 else -1)
        if outer in axis and a.shape[outer] > 1:
            return a.sum(axis=outer, keepdims=True)
    return a


class Sum(Function):
    saves_inputs = False
    def forward(self, a, axis=None, keepdims=False):
        self.shape, self.axis, self.keepdims = a.shape, axis, keepdims
        if a.dtype.kind == "f" and a.itemsize < 4:    # float16: accumulate in float32, as PyTorch
            return xp_of(a).asarray(a.sum(axis=axis, keepdims=keepdims, dtype="float32").astype(a.dtype))
        return xp_of(a).asarray(_outer_first(a, axis).sum(axis=axis, keepdims=keepdims))

    def backward(self, g):
        if not self.keepdims:
            g = g.reshape(_kept_shape(self.shape, self.axis))
        return g.expand(self.shape)


class Max(Function):
    """max (or min, with sign=-1) over axes, with PyTorch's two rules for tied maxima:

    * first=False (torch.max() / torch.amax / torch.amin, any axes): tied maxima share the gradient evenly;
    * first=True (torch.max(dim) / torch.min(dim), one int axis): the whole gradient goes to the index
      returned, the first of the tied maxima (kept in self.indices, with the reduced axis kept).
    """
    saves_inputs = False

    def forward(self, a, axis=None, keepdims=False, sign=1, first=False):
        m = a.max(axis=axis, keepdims=True) if sign > 0 else a.min(axis=axis, keepdims=True)
        if first and a.ndim:                       # (a 0-d tensor: its one element gets it all)
            xp, ax = xp_of(a), axis[0]
            idx = xp.expand_dims(a.argmax(axis=ax) if sign > 0 else a.argmin(axis=ax), ax)
            self.indices = idx
            pos = xp.arange(a.shape[ax]).reshape(tuple(-1 if i == ax else 1 for i in range(a.ndim)))
            self.weights = pos == idx
        else:
            mask = (a == m)
            self.weights = mask / mask.sum(axis=axis, keepdims=True)
        self.shape, self.axis, self.keepdims = a.shape, axis, keepdims
        return m if keepdims else _drop_kept(m, axis)

    def backward(self, g):
        if not self.keepdims:
            g = g.reshape(_kept_shape(self.shape, self.axis))
        return g * _const(self.weights.astype(g.dtype, copy=False))


class Expand(Function):
    """Broadcast to a larger shape; backward sums over the broadcast axes."""
    saves_inputs = False

    def forward(self, a, shape):
        self.shape = a.shape
        return xp_of(a).broadcast_to(a, shape)

    def backward(self, g):
        return sum_to_shape(g, self.shape)


def sum_to_shape(g, shape):
    """Sum a gradient over the axes broadcasting added, back to `shape` (the engine's one place)."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape) if s == 1 and g.shape[i + lead] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape) if g.shape != shape else g


# ------------------------------------------------------------------ softmax family (stable)
def _max_kept(a, axis):
    """a.max(axis, keepdims=True), -inf where the reduced axis is empty (NumPy raises there)."""
    if a.size:
        return a.max(axis=axis, keepdims=True)
    xp = xp_of(a)
    shape = tuple(1 if axis is None or i in ((axis,) if isinstance(axis, int) else axis) else n
                  for i, n in enumerate(a.shape))
    return xp.full(shape, -xp.inf, dtype=a.dtype)


class Softmax(Function):
    saves_inputs = False
    needs_output = True

    def forward(self, a, axis):
        xp = xp_of(a)
        self.axis = axis
        e = a - _max_kept(a, axis)
        xp.exp(e, out=e)
        e /= e.sum(axis=axis, keepdims=True)
        return e

    def backward(self, g):
        s = self.output
        return s * (g - (g * s).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    saves_inputs = False
    needs_output = True

    def forward(self, a, axis):
        xp = xp_of(a)
        self.axis = axis
        z = a - _max_kept(a, axis)
        with np.errstate(divide="ignore"):        # an empty axis: log(0) = -inf over no elements, silently
            z -= xp.log(xp.exp(z).sum(axis=axis, keepdims=True))
        return z

    def backward(self, g):
        return g - self.output.exp() * g.sum(axis=self.axis, keepdims=True)


class LogSumExp(Function):
    needs_output = True    # (self.lse is the output array too)

    def forward(self, a, axis=None, keepdims=False):
        xp = xp_of(a)
        self.axis, self.keepdims, self.shape = axis, keepdims, a.shape
        m = _max_kept(a, axis)
        m = xp.where(xp.isfinite(m), m, 0)        # an all -inf (or +inf) row: -inf (+inf) as PyTorch, not nan
        with np.errstate(divide="ignore"):        # log(0) = -inf is the right value there
            out = xp.log(xp.exp(a - m).sum(axis=axis, keepdims=True)) + m
        self.lse = out
        return out if keepdims else _drop_kept(out, axis)

    def backward(self, g):
        # the output stays in the graph under create_graph: d lse/dx = softmax depends on lse too
        lse = self.output if is_grad_enabled() else _const(self.lse)
        if not self.keepdims:
            kept = _kept_shape(self.shape, self.axis)
            g, lse = g.reshape(kept), lse.reshape(kept)
        return g * (self.inputs[0] - lse).exp()


class CrossEntropy(Function):
    """Softmax cross-entropy of logits x (M, C) against a target (M, C) of class probabilities or (M,) of class
    labels, with PyTorch's class `weight` (C,), ignored labels (`ignore`: a bool mask (M,), those labels set to
    0) and label smoothing; F.cross_entropy brings (N, C, d1, ...) inputs to (M, C). One node.

    Every case is loss_i = sum_c T_ic (lse_i - x_ic) for an effective target T: the one-hot labels or the
    probabilities, smoothed (T (1 - s) + s / C), weighted by class, zero in ignored rows. So the gradients are
    d/dx = softmax(x) * sum_c T_ic - T_i (rows of probabilities need not sum to 1) and, for probabilities,
    d/dtarget = -(1 - s) weight log_softmax(x). 'mean' divides by the summed weights of the labels counted
    (labels; ignored ones count 0) or by M (probabilities): PyTorch's rule.
    """

    def forward(self, x, target=None, reduction="mean", label_smoothing=0.0, weight=None, ignore=None):
        xp = xp_of(x)
        n, c = x.shape
        z = x - x.max(axis=1, keepdims=True)
        e = xp.exp(z)
        s = e.sum(axis=1, keepdims=True)
        lse = xp.log(s).reshape(n)                # logsumexp(z) per row; log p = z - lse
        ls = label_smoothing
        self.weight, self.ignore, self.ls, self.reduction = weight, ignore, ls, reduction
        self.rows = None                          # per-row weights of the labels (None: all 1)
        if target.ndim == 1:                      # class labels: nll = lse - z[label]
            self.labels = (xp.arange(n), target)
            nll = lse - z[self.labels]
            if weight is not None or ignore is not None:
                r = weight[target] if weight is not None else xp.ones(n, dtype=x.dtype)
                self.rows = r = r * ~ignore if ignore is not None else r
                if ignore is not None:            # an ignored row counts 0, even where its logit is -inf
                    nll[ignore] = 0               # (inf * 0 would be nan); PyTorch skips those rows
                nll *= r
            if ls:                                # mixes in the uniform target: sum_k w_k (lse - z_k) / C
                nll *= 1.0 - ls
                smooth = lse * c - z.sum(axis=1) if weight is None else lse * weight.sum() - z @ weight
                if ignore is not None:
                    smooth[ignore] = 0
                nll += (ls / c) * smooth
            denom = n if self.rows is None else self.rows.sum(dtype=x.dtype)
        else:                                     # class probabilities (any non-negative rows)
            self.labels = None
            t = target * (1.0 - ls) + ls / c if ls else target
            if weight is not None:
                t = t * weight
            self.t = t
            nll = lse * t.sum(axis=1) - (t * z).sum(axis=1)
            denom = n
        e /= s                                    # softmax(x), kept for backward
        self.probs, self.denom = e, denom
        if reduction == "mean":
            if isinstance(denom, int):
                return xp.asarray(nll.sum(dtype=x.dtype) / x.dtype.type(denom) if n else x.dtype.type(np.nan))
            with np.errstate(invalid="ignore", divide="ignore"):   # all labels ignored: nan, as PyTorch
                return xp.asarray(nll.sum(dtype=x.dtype) / denom)
        if reduction == "sum":
            return xp.asarray(nll.sum(dtype=x.dtype))
        return nll

    def _effective_target(self, dtype):
        """(T, rowsum(T)) as arrays: the dense effective target and its row sums (M, 1)."""
        if self.labels is None:
            t = self.t.astype(dtype, copy=False)
            return t, t.sum(axis=1, keepdims=True)
        xp = xp_of(self.probs)
        n, c = self.probs.shape
        t = xp.zeros((n, c), dtype=dtype)
        t[self.labels] = (1.0 - self.ls) * (1 if self.rows is None else self.rows)
        if self.ls:
            u = xp.full(c, self.ls / c, dtype=dtype) if self.weight is None else (self.ls / c) * self.weight
            t += u if self.ignore is None else u * ~self.ignore[:, None]
        return t, t.sum(axis=1, keepdims=True)

    def _scale(self, g, n):
        """The upstream gradient per row: divided by the mean's denominator, or (M, 1) for 'none'."""
        if self.reduction == "mean":
            return g / self.denom if isinstance(self.denom, int) else g * _const(1 / self.denom)
        if self.reduction == "none":
            return g.reshape(n, 1)
        return g

    def backward(self, g):
        if self.weight is not None:               # the class weight (the caller's memory) changed in place since
            e = _stamp(self.weight)               # forward: PyTorch's error, not a gradient for other weights
            if e is not None and e[0] > self._epoch:
                _raise_modified(self, "weight", self.weight, e)
        x = self.inputs[0]                        # (the target is an input only when it requires grad)
        target = self.inputs[1] if len(self.inputs) > 1 else None
        n, c = x.shape
        if is_grad_enabled():                     # create_graph: softmax as a Tensor op
            gs = self._scale(g, n)
            if target is not None:                # the target stays in the graph: it requires grad
                t = target * (1.0 - self.ls) + self.ls / c if self.ls else target
                t = t * _const(self.weight) if self.weight is not None else t
                rowsum = t.sum(axis=1, keepdims=True)
            else:
                ta, rs = self._effective_target(x.dtype)
                t, rowsum = _const(ta), _const(rs)
            gx = (x.softmax(axis=1) * rowsum - t) * gs if x.requires_grad else None
            gt = None
            if target is None:
                return gx
            w = -(x.log_softmax(axis=1) * (1.0 - self.ls))
            return gx, (w * _const(self.weight) if self.weight is not None else w) * gs
        gd = g.data
        if self.reduction == "mean":
            gd = gd / (x.dtype.type(self.denom) if isinstance(self.denom, int) else self.denom)
        elif self.reduction == "none":
            gd = gd.reshape(n, 1)
        gx = gt = None
        if x.requires_grad:
            if self.labels is not None and self.rows is None and not self.ls:
                p = self.probs * gd               # (probs kept intact for a retain_graph second backward)
                p[self.labels] -= gd if gd.ndim == 0 else gd[self.labels[0], 0]
            else:
                t, rowsum = self._effective_target(self.probs.dtype)
                p = self.probs * rowsum
                p -= t
                p *= gd
            gx = _const(p)
        if target is None:
            return gx
        if target.requires_grad:                  # -(1 - s) w log_softmax(x) upstream
            xd = x.data
            z = xd - xd.max(axis=1, keepdims=True)
            z -= xp_of(xd).log(xp_of(xd).exp(z).sum(axis=1, keepdims=True))
            z *= -(1.0 - self.ls) * gd
            gt = _const(z * self.weight if self.weight is not None else z)
        return gx, gt


# ------------------------------------------------------------------ shape ops
class Reshape(Function):
    saves_inputs = False
    def forward(self, a, shape):
        self.shape = a.shape
        return a.reshape(shape)

    def backward(self, g):
        return g.reshape(self.shape)


class Transpose(Function):
    saves_inputs = False
    def forward(self, a, axes):
        self.axes = axes
        return a.transpose(axes)

    def backward(self, g):
        return g.permute(tuple(int(i) for i in np.argsort(self.axes)))


class GetItem(Function):
    saves_inputs = False
    def forward(self, a, index):
        self.index, self.shape = index, a.shape
        return xp_of(a).asarray(a[index])

    def backward(self, g):
        return IndexAdd.apply(g, index=self.index, shape=self.shape)


class SetItem(Function):
    """a with v written at `index` (a copy): x[index] = v recorded in the graph."""
    saves_inputs = False

    def forward(self, a, v, index):
        self.index = index
        out = a.copy()
        out[index] = v
        return out

    def backward(self, g):
        a, v = self.inputs
        ga = SetItem.apply(g, _const(xp_of(g.data).zeros((), dtype=g.dtype)), index=self.index) if a.requires_grad else None
        gv = g[self.index] if v.requires_grad else None
        return ga, gv


class IndexAdd(Function):
    """zeros(shape) with g added at `index` (repeated indices accumulate); GetItem's backward."""
    saves_inputs = False

    def forward(self, g, index, shape):
        self.index = index
        out = xp_of(g).zeros(shape, dtype=g.dtype)
        return scatter_add(out, index, g)

    def backward(self, gg):
        return gg[self.index]


class Cat(Function):
    saves_inputs = False
    def forward(self, *arrays, axis=0):
        self.axis = axis
        self.sizes = [a.shape[axis] for a in arrays]
        return xp_of(arrays[0]).concatenate(arrays, axis=axis)

    def backward(self, g):
        out, start = [], 0
        lead = (slice(None),) * (self.axis % g.ndim)
        for t, n in zip(self.inputs, self.sizes):
            out.append(g[lead + (slice(start, start + n),)] if t.requires_grad else None)
            start += n
        return tuple(out)
