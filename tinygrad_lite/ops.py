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
from .function import Function, is_grad_enabled


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


_INT_OF = {2: np.int16, 4: np.int32, 8: np.int64}   # a float's bits as an integer of its size


def _select(g, keep, out=None):
    """The array g where the bool array keep holds, else exactly +0: PyTorch's masked backward (threshold_backward,
    where, masked_fill), which gives 0 also where g is inf or nan (g * keep gives nan there). Done as g's bits times
    keep (an integer product: x * 1 = x, x * 0 = 0 = +0.0's bits): one pass as fast as g * keep, where np.where with a
    random mask is ~10x slower on the CPU. Written into `out` (any strides, g's shape and dtype) when given, else
    into new memory in g's layout."""
    xp = xp_of(g)
    it = _INT_OF.get(g.dtype.itemsize) if g.dtype.kind == "f" else None
    if it is None or g.shape != keep.shape:
        r = xp.where(keep, g, xp.zeros((), dtype=g.dtype))
        if out is None:
            return r
        xp.copyto(out, r)
        return out
    if out is None:
        out = xp.empty_like(g)
    xp.multiply(g.view(it), keep, out=out.view(it))
    return out


def _masked(g, keep):
    """The gradient Tensor g where the bool array keep holds, else exactly 0 (see _select); differentiable (Select)."""
    if is_grad_enabled():
        return Select.apply(g, keep=keep)
    return _const(_select(g.data, keep))


_TIES_KEEP_X = {}   # dtype -> whether NumPy's maximum(c, x) and minimum(c, x) return x itself when x == c


def _ties_keep_x(dtype):
    """Whether np.maximum(c, x) / np.minimum(c, x) give x (not c) where x == c, e.g. -0.0 for maximum(0.0, -0.0): on
    x86, NumPy's SIMD max/min return their second operand on a tie, in the vector body and the scalar tail alike, but
    IEEE leaves it open (ARM's fmax orders -0 below +0). Probed once per dtype, on lengths that reach both paths,
    contiguous and strided."""
    ok = _TIES_KEEP_X.get(dtype)
    if ok is None:
        ok = True
        for n in (1, 3, 17, 67, 1000):
            for x in (np.full(n, -0.0, dtype), np.full(2 * n, -0.0, dtype)[::2]):
                for z in (dtype.type(0), np.zeros(n, dtype)):      # a scalar bound, and _clamp_chunks' array
                    ok = ok and bool(np.signbit(np.maximum(z, x)).all()) and bool(np.signbit(np.minimum(z, x)).all())
                    ok = ok and not np.signbit(np.maximum(-z, -x)).any() and not np.signbit(np.minimum(-z, -x)).any()
        _TIES_KEEP_X[dtype] = ok
    return ok


_CHUNK = 1 << 16       # elements per pass of _clamp_chunks: a chunk of each array stays in the L2 cache
_BOUNDS = {}           # (dtype, the bound's bytes) -> an array of _CHUNK copies of the bound


def _bound_array(dtype, value):
    key = (dtype, value.tobytes())          # by its bits: -0.0 == 0.0 as a number, and nan != nan
    b = _BOUNDS.get(key)
    if b is None:
        if len(_BOUNDS) > 8:
            _BOUNDS.clear()
        b = _BOUNDS[key] = np.full(_CHUNK, value, dtype)
    return b


def _chunked(a):
    """Whether _clamp_chunks serves a: a big NumPy array whose maximum/minimum keep x on a tie (see _ties_keep_x)."""
    return isinstance(a, np.ndarray) and a.size >= _CHUNK and (a.dtype.kind != "f" or _ties_keep_x(a.dtype))


def _clamp_chunks(a, lo, hi, out=None, mask=False):
    """_clamp of a big NumPy array against arrays of the bounds, _CHUNK elements at a time in memory order:
    NumPy's max/min loops are vectorized for two arrays but run element by element (2-3x slower here) with a
    scalar operand. Returns (out, keep): keep, with mask=True, ReLU's backward mask, not (out <= 0), made in the
    same pass in a's layout (else None). None where a (or out) isn't one dense block of memory: the caller takes
    the plain path."""
    if out is None:
        out = np.empty_like(a)
    if out.strides != a.strides:
        return None
    fa, fo = a.ravel(order="K"), out.ravel(order="K")
    if not (np.may_share_memory(fa, a) and np.may_share_memory(fo, out)):
        return None                                     # (ravel copied: not a dense block)
    keep = np.empty_like(a, dtype=bool) if mask else None          # (a is dense: keep is too, in a's order)
    fk = keep.ravel(order="K") if mask else None
    blo = None if lo is None else _bound_array(a.dtype, a.dtype.type(lo))
    bhi = None if hi is None else _bound_array(a.dtype, a.dtype.type(hi))
    for i in range(0, fa.size, _CHUNK):
        j = min(i + _CHUNK, fa.size)
        o = fo[i:j]
        r = fa[i:j]
        if blo is not None:
            r = np.maximum(blo[:j - i], r, out=o)
        if bhi is not None:
            np.minimum(bhi[:j - i], r, out=o)
        if fk is not None:
            k = np.less_equal(o, 0, out=fk[i:j])
            np.logical_not(k, out=k)
    return out, keep


def _clamp(a, lo=None, hi=None, out=None):
    """PyTorch's clamp on an array: lo where a < lo, hi where a > hi, else a itself (so clamp(-0.0, min=0.0) is -0.0);
    nan stays nan, and a nan bound gives nan. out: the array to write into (a itself for clamp_)."""
    xp = xp_of(a)
    if xp is np and (a.dtype.kind != "f" or _ties_keep_x(a.dtype)):
        if _chunked(a) and (lo is not None or hi is not None) and np.ndim(lo) == np.ndim(hi) == 0:
            r = _clamp_chunks(a, lo, hi, out)
            if r is not None:
                return r[0]
        if lo is not None:
            a = np.maximum(a.dtype.type(lo), a, out=out)
        return a if hi is None else np.minimum(a.dtype.type(hi), a, out=out)
    r = a
    if lo is not None:
        lo = xp.asarray(lo, dtype=a.dtype)
        r = xp.where((r < lo) | xp.isnan(lo), lo, r)
    if hi is not None:
        hi = xp.asarray(hi, dtype=a.dtype)
        r = xp.where((r > hi) | xp.isnan(hi), hi, r)
    if out is None:
        return r
    xp.copyto(out, r)
    return out


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
        # PyTorch's formulas: g / b and -g ((a / b) / b) (so nan, not 0, where g is 0 and (a / b) / b overflows)
        a, b = self.inputs
        ga = g / b if a.requires_grad else None
        gb = -(g * (self.output / b)) if b.requires_grad else None
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
            with np.errstate(divide="ignore", invalid="ignore"):   # PyTorch: g times (0 where a == 0 <= b), so
                d = _where_const((a.data == 0) & (b.data >= 0), 0, self.output * a.log())   # nan where g is inf
            gb = g * d
        return ga, gb


class Maximum(Function):
    """PyTorch's rule: ties split the gradient evenly, the smaller operand gets exactly 0 (also under an inf or nan
    upstream gradient), and where either is nan (so is the output) both get the whole gradient. Backward reads both
    inputs (PyTorch's formula does too: changing either in place before backward is its error), so forward makes
    no masks, with no graph or without."""
    sign = 1

    def forward(self, a, b):
        return xp_of(a).maximum(a, b) if self.sign > 0 else xp_of(a).minimum(a, b)

    def backward(self, g):
        a, b = self.inputs[0]._data, self.inputs[1]._data
        lt, gt = a < b, a > b
        lose_a, lose_b = (lt, gt) if self.sign > 0 else (gt, lt)
        g = g * _const((1 - 0.5 * (a == b)).astype(g.dtype, copy=False))   # g / 2 at the ties (inf, nan kept)
        return _masked(g, ~lose_a), _masked(g, ~lose_b)


class Minimum(Maximum):
    """Elementwise minimum: Maximum's rule with the order reversed."""
    sign = -1


class Select(Function):
    """a where the constant bool array keep holds, else exactly 0 (_select: as fast as a * keep, unlike np.where); its
    gradient is the same select of the upstream gradient. The masked backward passes use it under create_graph."""
    saves_inputs = False

    def forward(self, a, keep):
        self.keep = keep
        return _select(a, keep)

    def backward(self, g):
        return _masked(g, self.keep)


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
    """c / a; the gradient as PyTorch's (c / x is x.reciprocal() * c there): -(g c) r^2 with r = 1 / a, so where g c
    is 0 and r^2 overflows (|a| < ~1e-19 in float32) it is nan there and here, not 0."""

    def forward(self, a, c):
        self.c = c
        return c / a

    def backward(self, g):
        with np.errstate(over="ignore", invalid="ignore"):
            r = 1 / self.inputs[0]
            return -(g * self.c) * (r * r)


class PowScalar(Function):           # a ** c
    def forward(self, a, c):
        self.c = c
        if c == -0.5 and a.dtype.kind == "f":     # PyTorch computes it as rsqrt: (-0.0) ** -0.5 is -inf, (-inf) ** -0.5 nan
            xp = xp_of(a)
            with np.errstate(divide="ignore", invalid="ignore"):
                return xp.reciprocal(xp.sqrt(a))
        return a ** c

    def backward(self, g):
        c, a = self.c, self.inputs[0]
        if c == 2:
            return g * a * 2
        if c == 0:                    # PyTorch: exactly 0 (not 0 * 0**-1 = nan at a == 0, nor inf * 0)
            return _const(xp_of(g.data).zeros(g.shape, dtype=g.dtype))
        return g * c * a ** (c - 1)


class RPowScalar(Function):          # c ** a
    saves_inputs = False
    needs_output = True

    def forward(self, a, c):
        self.c = c
        return c ** a

    def backward(self, g):
        c = self.c
        if c == 0:                    # PyTorch: d(0**a)/da is 0 where a >= 0 (times g: nan where g is inf or nan)
            d = _where_const(self.inputs[0].data >= 0, 0, self.output * float("-inf"))
            return g * d
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
        xp = xp_of(a)
        sign = xp.sign(a, out=xp.empty_like(a))  # (out=: an array also when 0-d)
        if a.dtype.kind == "f":                   # torch.sgn: 0 at nan, so abs's gradient at a nan input is 0
            xp.nan_to_num(sign, copy=False)
        self.sign = sign
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


class ReLU(Function):
    """PyTorch's relu, to the bit: 0 where x < 0, else x itself (relu(-0.0) is -0.0, nan stays nan). Backward is its
    threshold_backward: 0 where the output is <= 0, else the upstream gradient, so a nan input passes the gradient
    and an inf or nan upstream gradient at an inactive unit gives 0 (not nan, as g * mask would).
    Both run on every CNN step, so each is one pass like max(x, 0) and g * (out > 0) (see _clamp and _select)."""
    saves_inputs = False
    saves_output = True    # backward reads the output (its mask, made from it), so changing it in place is an error
    keep = None

    def forward(self, a):
        if a.dtype.kind == "f" and is_grad_enabled() and _chunked(a):   # the output and backward's mask in one
            r = _clamp_chunks(a, 0, None, mask=True)                    # pass, chunk by chunk
            if r is not None:
                out, self.keep = r
                return out
        self.out = out = _clamp(a, lo=0)
        return out

    def backward(self, g):
        keep = self.keep
        if keep is None:
            keep = self.out <= 0
            keep = xp_of(self.out).logical_not(keep, out=keep if keep.ndim else None)   # out > 0, or nan
        return _masked(g, keep)


class Clip(Function):
    """PyTorch's clamp: a itself between the bounds (ties included: clamp(-0.0, min=0.0) is -0.0), nan stays nan;
    the gradient passes where lo <= a <= hi and is exactly 0 elsewhere (also under an inf or nan upstream gradient)."""
    saves_inputs = False
    def forward(self, a, lo, hi):
        xp = xp_of(a)
        mask = xp.ones(a.shape, dtype=bool)
        if lo is not None:
            mask &= a >= lo
        if hi is not None:
            mask &= a <= hi
        self.mask = mask
        return _clamp(a, lo, hi)

    def backward(self, g):
        return _masked(g, self.mask)


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
    smaller. NumPy's one pass over a channels-last or spatial-major batch summed per channel (conv2d's outputs into
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
        if a.dtype.kind in "bu" and a.itemsize == 1:  # bool and uint8 sum into int64, as PyTorch (NumPy: uint64)
            return xp_of(a).asarray(a.sum(axis=axis, keepdims=keepdims, dtype="int64"))
        return xp_of(a).asarray(_outer_first(a, axis).sum(axis=axis, keepdims=keepdims))

    def backward(self, g):
        if not self.keepdims:
            g = g.reshape(_kept_shape(self.shape, self.axis))
        return g.expand(self.shape)


class Max(Function):
    """max (or min, with sign=-1) over axes, with PyTorch's rules for tied maxima and nans:

    * first=False (torch.amax / torch.amin, any axes): tied maxima share the gradient, (g / count) * mask, so a nan
      in a reduced slice gives that slice nan gradients (no element equals the nan result), as there;
    * nan_aware=True (torch.max() / torch.min() of all elements: evenly_distribute_backward): the same, except that
      where the result is nan the nans share the gradient, and every other element gets exactly 0;
    * first=True (torch.max(dim) / torch.min(dim), one int axis): the whole gradient goes to the index returned, the
      first of the tied maxima (or the first nan; kept in self.indices, with the reduced axis kept), and every other
      element gets exactly 0 (also under an inf or nan upstream gradient).
    """
    saves_inputs = False

    def forward(self, a, axis=None, keepdims=False, sign=1, first=False, nan_aware=False):
        xp = xp_of(a)
        m = a.max(axis=axis, keepdims=True) if sign > 0 else a.min(axis=axis, keepdims=True)
        self.count = None
        if first and a.ndim:                       # (a 0-d tensor: its one element gets it all)
            ax = axis[0]
            idx = xp.expand_dims(a.argmax(axis=ax) if sign > 0 else a.argmin(axis=ax), ax)
            self.indices = idx
            pos = xp.arange(a.shape[ax]).reshape(tuple(-1 if i == ax else 1 for i in range(a.ndim)))
            self.mask = pos == idx
        else:
            mask = a == m
            if (nan_aware or first) and a.dtype.kind in "fc":
                mask |= xp.isnan(a) & xp.isnan(m)
            self.mask, self.count = mask, mask.sum(axis=axis, keepdims=True)
        self.exact = first or nan_aware
        self.shape, self.axis, self.keepdims = a.shape, axis, keepdims
        return m if keepdims else _drop_kept(m, axis)

    def backward(self, g):
        if not self.keepdims:
            g = g.reshape(_kept_shape(self.shape, self.axis))
        if self.count is not None:
            g = g / _const(self.count.astype(g.dtype))
        if self.exact:
            return _masked(g.expand(self.shape), self.mask)
        return g * _const(self.mask.astype(g.dtype, copy=False))


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
