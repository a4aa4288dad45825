"""Property tests for every differentiable op of tinygrad_lite.

For each op hypothesis draws shapes (broadcast pairs included), every argument
combination, values from continuous ranges *and* from a small grid (so ties and exact
kinks occur: relu/abs at 0, clip at its bounds, tied maxima) and an upstream gradient,
then checks

1. the float64 forward equals the NumPy formula;
2. away from kinks: the analytic gradient (``out.backward(gradient=upstream)``)
   equals central finite differences of the *NumPy reference formula* in float64,
   computed by the small independent helper ``numeric_grad`` below (so the suite
   does not rely only on the function under test), and ``tl.gradcheck`` and
   ``tl.gradgradcheck`` accept the op;
   at a kink or tie: the gradient is PyTorch's documented convention (``conv``);
3. the gradient recorded with ``create_graph=True`` (the backward rules' Tensor-op
   path) equals the plain one (their fast array paths);
4. where PyTorch is installed: values, gradients and (away from kinks) double-backward
   Hessian-vector products equal torch's;
5. float32 in gives float32 out (forward and gradients), Python scalars on
   either side included.
"""
import itertools
import operator
import re
from dataclasses import dataclass
from typing import Callable, List, Optional

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lite as tl


# --------------------------------------------------------------------------- #
# independent finite-difference helper (float64, central differences)
# --------------------------------------------------------------------------- #
def numeric_grad(f, arrays, i, eps=1e-6):
    """d f(*arrays) / d arrays[i] by central differences; f must return a scalar."""
    xs = [np.array(a, dtype=np.float64, copy=True) for a in arrays]
    flat = xs[i].reshape(-1)  # a view: xs[i] is a fresh contiguous copy
    g = np.zeros(flat.size)
    for k in range(flat.size):
        orig = flat[k]
        flat[k] = orig + eps
        fp = float(f(*xs))
        flat[k] = orig - eps
        fm = float(f(*xs))
        flat[k] = orig
        g[k] = (fp - fm) / (2 * eps)
    return g.reshape(np.shape(arrays[i]))


def to_device_array(a, device):
    """A raw array (numpy or cupy) for constants mixed into tensor expressions."""
    if device == "gpu":
        import cupy

        return cupy.asarray(a)
    return a


# --------------------------------------------------------------------------- #
# strategies
# --------------------------------------------------------------------------- #
def floats(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def away_from_zero(lo, hi):
    """|x| in [lo, hi]: keeps values off the kink of abs/relu and away from 0."""
    return st.one_of(floats(-hi, -lo), floats(lo, hi))


GRID = st.integers(-4, 4).map(lambda k: k / 2)  # exact halves: ties and kink points (0, clip bounds) occur
DEFAULT_ELEMS = st.one_of(floats(-2, 2), GRID)
KINK_MARGIN = 1e-3  # closer than this to a kink or tie, finite differences can't judge the gradient
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
SHAPES_ND = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
BCAST2 = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4)
BCAST3 = hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3)
UPSTREAM_ELEMS = away_from_zero(0.1, 1.0)  # never zero, never all ones


def draw_array(data, shape, elements=DEFAULT_ELEMS):
    return data.draw(hnp.arrays(np.float64, shape, elements=elements))


def draw_distinct(data, shape, step=0.1):
    """Values on a grid of spacing `step`, all different (no ties for max/min)."""
    n = int(np.prod(shape, dtype=np.int64))
    perm = data.draw(st.permutations(range(n)))
    return ((np.array(perm, dtype=np.float64) - n / 2) * step).reshape(shape)


def draw_axis(data, ndim, allow_tuple=True):
    """None, an int (possibly negative) or a non-empty tuple of distinct axes."""
    if ndim == 0:
        return None
    kinds = ["none", "int", "tuple"] if allow_tuple else ["none", "int"]
    kind = data.draw(st.sampled_from(kinds))
    if kind == "none":
        return None
    if kind == "int":
        return data.draw(st.integers(-ndim, ndim - 1))
    axes = data.draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    neg = data.draw(st.lists(st.booleans(), min_size=len(axes), max_size=len(axes)))
    return tuple(a - ndim if n else a for a, n in zip(axes, neg))


def reduced_count(shape, axis):
    if axis is None:
        return int(np.prod(shape, dtype=np.int64))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


# --------------------------------------------------------------------------- #
# op specifications
# --------------------------------------------------------------------------- #
@dataclass
class Case:
    arrays: List[np.ndarray]  # float64 inputs, all differentiable
    tl_fn: Callable  # (*Tensors) -> Tensor
    np_fn: Callable  # (*ndarrays) -> ndarray  (reference formula)
    torch_fn: Optional[Callable] = None  # (*torch tensors) -> torch tensor, the same op in PyTorch
    kink: Optional[Callable] = None  # (*ndarrays) -> bool: the inputs lie on (or within KINK_MARGIN of) a kink
    conv: Optional[Callable] = None  # (upstream, *ndarrays) -> [gradients]: the documented rule there


SPECS = {}


def spec(name):
    def deco(gen):
        SPECS[name] = gen
        return gen

    return deco


def _binary(op, b_elems=DEFAULT_ELEMS, a_elems=DEFAULT_ELEMS):
    def gen(data, device):
        shp = data.draw(BCAST2, label="shapes")
        a = draw_array(data, shp.input_shapes[0], a_elems)
        b = draw_array(data, shp.input_shapes[1], b_elems)
        return Case([a, b], op, op, torch_fn=op)

    return gen


SPECS["add"] = _binary(operator.add)
SPECS["sub"] = _binary(operator.sub)
SPECS["mul"] = _binary(operator.mul)
SPECS["div"] = _binary(operator.truediv, b_elems=away_from_zero(0.5, 2))
# (an exponent of exactly 0 is left out: torch's pow backward masks it, so torch's mixed second derivative
#  d2(a**b)/da db is 0 there where the true value, ours, is a**(b-1) (1 + b log a) = 1/a)
SPECS["pow_tensor_exponent"] = _binary(operator.pow, a_elems=st.one_of(floats(0.5, 2), st.sampled_from([0.5, 1.0, 2.0])),
                                       b_elems=DEFAULT_ELEMS.filter(lambda v: v != 0))


@spec("pow_scalar_exponent")
def _(data, device):
    p = data.draw(st.sampled_from([2, 3, 2.0, 1, 0, -2, 0.5, -0.5, 1.5]), label="p")
    if float(p).is_integer() and p >= 2:   # (x**1 at 0: the second derivative 1*0*0**-1 is nan; pow at 0 is issue 10)
        elems = DEFAULT_ELEMS
    elif float(p).is_integer():
        elems = away_from_zero(0.3, 2)
    else:
        elems = floats(0.3, 2)  # positive base for fractional exponents
    x = draw_array(data, data.draw(SHAPES), elems)
    return Case([x], lambda t: t**p, lambda a: a**p, torch_fn=lambda t: t**p)


@spec("rpow_scalar_base")
def _(data, device):
    c = data.draw(st.sampled_from([2.0, 0.5, 3, float(np.e)]), label="c")
    x = draw_array(data, data.draw(SHAPES))
    return Case([x], lambda t: c**t, lambda a: c**a, torch_fn=lambda t: c**t)


SCALAR_OPS = {
    "x+c": lambda x, c: x + c,
    "c+x": lambda x, c: c + x,
    "x-c": lambda x, c: x - c,
    "c-x": lambda x, c: c - x,
    "x*c": lambda x, c: x * c,
    "c*x": lambda x, c: c * x,
    "x/c": lambda x, c: x / c,
    "c/x": lambda x, c: c / x,
}


@spec("python_scalar_either_side")
def _(data, device):
    name = data.draw(st.sampled_from(sorted(SCALAR_OPS)), label="op")
    c = data.draw(st.sampled_from([2.5, -1.5, 3, -2, 0.5]), label="c")
    f = SCALAR_OPS[name]
    elems = away_from_zero(0.5, 2) if name == "c/x" else DEFAULT_ELEMS
    x = draw_array(data, data.draw(SHAPES), elems)
    return Case([x], lambda t: f(t, c), lambda a: f(a, c), torch_fn=lambda t: f(t, c))


@spec("array_constant_either_side")
def _(data, device):
    name = data.draw(st.sampled_from(sorted(SCALAR_OPS)), label="op")
    f = SCALAR_OPS[name]
    shp = data.draw(BCAST2, label="shapes")
    x = draw_array(data, shp.input_shapes[0], away_from_zero(0.5, 2) if name == "c/x" else DEFAULT_ELEMS)
    C = draw_array(data, shp.input_shapes[1], away_from_zero(0.5, 2) if name == "x/c" else DEFAULT_ELEMS)
    # the constant takes the tensor's dtype so float32 stays float32 under NumPy promotion
    return Case(
        [x],
        lambda t: f(t, to_device_array(C.astype(t.dtype), device)),
        lambda a: f(a, C.astype(a.dtype)),
        torch_fn=lambda t: f(t, _torch().tensor(C)),
    )


@spec("neg")
def _(data, device):
    x = draw_array(data, data.draw(SHAPES))
    return Case([x], operator.neg, operator.neg, torch_fn=operator.neg)


@spec("matmul")
def _(data, device):
    m, k, n = (data.draw(st.integers(1, 4), label=lbl) for lbl in "mkn")
    batch = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3))
    a_vec, b_vec = data.draw(st.booleans(), label="a is 1-D"), data.draw(st.booleans(), label="b is 1-D")
    a_shape = (k,) if a_vec else tuple(batch.input_shapes[0]) + (m, k)
    b_shape = (k,) if b_vec else tuple(batch.input_shapes[1]) + (k, n)
    a, b = draw_array(data, a_shape), draw_array(data, b_shape)
    style = data.draw(st.sampled_from(["@", "method", "function"]), label="style")
    fn = {"@": operator.matmul, "method": lambda x, y: x.matmul(y), "function": lambda x, y: tl.matmul(x, y)}[style]
    return Case([a, b], fn, np.matmul, torch_fn=operator.matmul)


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _near(a, b):
    return bool(np.any(np.abs(np.asarray(a) - np.asarray(b)) < KINK_MARGIN))


UNARY = {
    # name: (domain strategy, numpy reference, kink test, the documented gradient at a kink: dy/dx)
    "exp": (DEFAULT_ELEMS, np.exp, None, None),
    "log": (st.one_of(floats(0.2, 3), st.sampled_from([0.5, 1.0, 2.0])), np.log, None, None),
    "log1p": (st.one_of(floats(-0.5, 2), GRID.filter(lambda v: v > -0.75)), np.log1p, None, None),
    "sqrt": (st.one_of(floats(0.2, 3), st.sampled_from([0.5, 1.0, 2.0])), np.sqrt, None, None),
    # abs at 0: gradient 0 (torch.abs: grad * sgn(x)); relu at 0: gradient 0 (torch.relu: grad where out > 0)
    "abs": (DEFAULT_ELEMS, np.abs, lambda a: _near(a, 0), np.sign),
    "tanh": (DEFAULT_ELEMS, np.tanh, None, None),
    "sigmoid": (st.one_of(floats(-3, 3), GRID), _sigmoid, None, None),
    "relu": (DEFAULT_ELEMS, lambda a: np.maximum(a, 0), lambda a: _near(a, 0), lambda a: (a > 0).astype(a.dtype)),
}


def _unary(name):
    elems, ref, kink, dydx = UNARY[name]

    def gen(data, device):
        x = draw_array(data, data.draw(SHAPES), elems)
        if name != "log1p" and data.draw(st.booleans(), label="module function"):
            fn = lambda t: getattr(tl, name)(t)  # noqa: E731
        else:
            fn = lambda t: getattr(t, name)()  # noqa: E731
        conv = (lambda up, a: [up * dydx(a)]) if dydx is not None else None
        return Case([x], fn, ref, torch_fn=lambda t: getattr(_torch(), name)(t), kink=kink, conv=conv)

    return gen


for _name in UNARY:
    SPECS[_name] = _unary(_name)


def _sum_to(g, shape):
    """Sum a broadcast gradient back to `shape` (numpy, for the convention references)."""
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead))) if lead else g
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def _max_min(tl_f, np_f, torch_name, sign):
    def conv(up, a, b):
        """torch.maximum/minimum: the gradient goes to the larger (smaller) input; ties split it evenly."""
        wa = (sign * (a - b) > 0) + 0.5 * (a == b)
        return [_sum_to(up * wa, a.shape), _sum_to(up * (1 - wa), b.shape)]

    def gen(data, device):
        shp = data.draw(BCAST2, label="shapes")
        a = draw_array(data, shp.input_shapes[0])
        b = draw_array(data, shp.input_shapes[1])   # both on the grid often: ties after broadcasting
        return Case([a, b], tl_f, np_f, torch_fn=lambda x, y: getattr(_torch(), torch_name)(x, y),
                    kink=lambda x, y: _near(*np.broadcast_arrays(x, y)), conv=conv)

    return gen


SPECS["maximum"] = _max_min(lambda a, b: tl.maximum(a, b), np.maximum, "maximum", 1)
SPECS["minimum"] = _max_min(lambda a, b: tl.minimum(a, b), np.minimum, "minimum", -1)


@spec("clip")
def _(data, device):
    """Both bounds, one-sided (min only, max only), min > max, by position or keyword, clip or clamp; values on
    the grid hit the bounds exactly, where the gradient is 1 (torch.clamp: grad where min <= x <= max)."""
    lo, hi = data.draw(st.sampled_from([(-0.5, 1.0), (-0.5, None), (None, 1.0), (0.0, 0.0), (1.0, -0.5),
                                        (-1.5, 0.5)]), label="min, max")
    name = data.draw(st.sampled_from(["clip", "clamp"]), label="name")
    x = draw_array(data, data.draw(SHAPES))
    if lo is not None and hi is not None and data.draw(st.booleans(), label="positional"):
        fn = lambda t: getattr(t, name)(lo, hi)  # noqa: E731
    else:
        kw = {k: v for k, v in (("min", lo), ("max", hi)) if v is not None}
        fn = lambda t: getattr(t, name)(**kw)  # noqa: E731

    def ref(a):
        out = a if lo is None else np.maximum(a, lo)
        return out if hi is None else np.minimum(out, hi)

    def conv(up, a):
        inside = np.ones(a.shape, dtype=bool)
        if lo is not None:
            inside &= a >= lo
        if hi is not None:
            inside &= a <= hi
        return [up * inside]

    return Case([x], fn, ref, torch_fn=lambda t: _torch().clamp(t, lo, hi),
                kink=lambda a: any(_near(a, v) for v in (lo, hi) if v is not None), conv=conv)


@spec("where")
def _(data, device):
    shp = data.draw(BCAST3, label="shapes")
    cond = data.draw(hnp.arrays(np.bool_, shp.input_shapes[0]), label="cond")
    a = draw_array(data, shp.input_shapes[1])
    b = draw_array(data, shp.input_shapes[2])
    return Case(
        [a, b],
        lambda x, y: tl.where(tl.Tensor(cond, device=device), x, y),
        lambda x, y: np.where(cond, x, y),
        torch_fn=lambda x, y: _torch().where(_torch().tensor(cond), x, y),
    )


def _torch_dims(axis, ndim):
    return tuple(range(ndim)) if axis is None else axis


def _reduction(name, np_f, ties=False, var=False):
    def gen(data, device):
        shape = data.draw(SHAPES, label="shape")
        if ties and data.draw(st.booleans(), label="small integer grid"):
            x = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(-1, 1))).astype(np.float64)
        else:
            x = draw_distinct(data, shape) if ties else draw_array(data, shape)
        axis = draw_axis(data, len(shape))
        keepdims = data.draw(st.booleans(), label="keepdims")
        kwargs = {}
        if axis is not None or data.draw(st.booleans(), label="pass axis=None"):
            kwargs[data.draw(st.sampled_from(["axis", "dim"]), label="axis kw")] = axis
        if keepdims or data.draw(st.booleans(), label="pass keepdims=False"):
            kwargs["keepdims"] = keepdims
        np_kwargs = dict(axis=axis, keepdims=keepdims)
        dims = _torch_dims(axis, len(shape))
        if var:       # PyTorch's default is correction=1 (unbiased)
            ddof = data.draw(st.sampled_from([0, 1]), label="ddof") if reduced_count(shape, axis) > 1 else 0
            if ddof == 0 or data.draw(st.booleans(), label="pass correction=1"):
                kwargs[data.draw(st.sampled_from(["ddof", "correction"]), label="ddof kw")] = ddof
            np_kwargs["ddof"] = ddof
            torch_fn = lambda t: _torch().var(t, dim=dims, correction=ddof, keepdim=keepdims)  # noqa: E731
        fn = getattr(tl.Tensor, name)
        one_dim = name in ("max", "min") and isinstance(axis, int)
        if name in ("max", "min"):    # PyTorch's: one dim gives (values, indices); several are amax/amin
            if one_dim:
                fn = lambda t, **kw: getattr(t, name)(**kw).values  # noqa: E731
                torch_fn = lambda t: getattr(_torch(), name)(t, dim=axis, keepdim=keepdims).values  # noqa: E731
            else:
                if axis is not None or keepdims:
                    fn = getattr(tl.Tensor, "a" + name)
                # torch.amax/amin (and torch.max() over everything): tied maxima share the gradient evenly
                torch_fn = lambda t: getattr(_torch(), "a" + name)(t, dim=dims, keepdim=keepdims)  # noqa: E731
        elif not var:
            torch_fn = lambda t: getattr(_torch(), name)(t, dim=dims, keepdim=keepdims)  # noqa: E731
        kink = conv = None
        if ties:
            def kink(a):
                m = np_f(a, axis=axis, keepdims=True)
                return bool(np.any(np.sum(np.abs(a - m) < KINK_MARGIN, axis=axis, keepdims=True) > 1))

            def conv(up, a):
                """torch.max(dim): all to the index returned (the first maximum); amax/max(): shared evenly"""
                m = np_f(a, axis=axis, keepdims=True)
                mask = a == m
                if one_dim:
                    first = np.expand_dims((np.argmax if name == "max" else np.argmin)(a, axis=axis), axis)
                    mask = np.arange(a.shape[axis]).reshape([-1 if i == axis % a.ndim else 1
                                                             for i in range(a.ndim)]) == first
                upk = up if keepdims or not a.ndim else np.expand_dims(up, dims)
                return [upk * mask / mask.sum(axis=axis, keepdims=True)]
        return Case([x], lambda t: fn(t, **kwargs), lambda a: np_f(a, **np_kwargs),
                    torch_fn=torch_fn, kink=kink, conv=conv)

    return gen


SPECS["sum"] = _reduction("sum", np.sum)
SPECS["mean"] = _reduction("mean", np.mean)
SPECS["max"] = _reduction("max", np.max, ties=True)
SPECS["min"] = _reduction("min", np.min, ties=True)
SPECS["var"] = _reduction("var", np.var, var=True)


@spec("reshape")
def _(data, device):
    shape = data.draw(SHAPES, label="shape")
    n = int(np.prod(shape, dtype=np.int64))
    targets = [(n,), (-1,), (1, n), (n, 1), (1, -1), (-1, 1), tuple(reversed(shape)) or (1,)]
    target = data.draw(st.sampled_from(targets), label="target")
    x = draw_array(data, shape)
    if data.draw(st.booleans(), label="star args"):
        fn = lambda t: t.reshape(*target)  # noqa: E731
    else:
        fn = lambda t: t.reshape(target)  # noqa: E731
    return Case([x], fn, lambda a: a.reshape(target))


@spec("transpose")
def _(data, device):
    shape = data.draw(SHAPES, label="shape")
    x = draw_array(data, shape)
    style = data.draw(st.sampled_from(["swap", "T"]), label="style")
    if style == "T" or not shape:
        return Case([x], lambda t: t.T, lambda a: a.T)
    d0 = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim0")
    d1 = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim1")
    return Case([x], lambda t: t.transpose(d0, d1), lambda a: np.swapaxes(a, d0, d1))   # PyTorch's: swap two


@spec("permute")
def _(data, device):
    shape = data.draw(SHAPES, label="shape")
    x = draw_array(data, shape)
    # sampled from the whole list, so 3-cycles and transpositions come as often as the identity
    axes = data.draw(st.sampled_from(list(itertools.permutations(range(len(shape))))), label="axes")
    neg = tuple(a - len(shape) for a in axes)                  # the same axes counted from the end
    tfn = lambda t: t.permute(axes)  # noqa: E731
    if data.draw(st.booleans(), label="negative axes"):
        return Case([x], lambda t: t.permute(*neg), lambda a: a.transpose(axes), torch_fn=tfn)
    return Case([x], lambda t: t.permute(axes), lambda a: a.transpose(axes), torch_fn=tfn)


@spec("clone")
def _(data, device):
    x = draw_array(data, data.draw(SHAPES, label="shape"))
    return Case([x], lambda t: t.clone() * t, lambda a: a * a)    # two uses: the clone's gradient adds up


@spec("flatten")
def _(data, device):
    shape = data.draw(SHAPES_ND, label="shape")
    nd = len(shape)
    x = draw_array(data, shape)
    if data.draw(st.booleans(), label="defaults"):
        return Case([x], lambda t: t.flatten(), lambda a: a.reshape(-1))
    s = data.draw(st.integers(0, nd - 1), label="start")
    e = data.draw(st.integers(s, nd - 1), label="end")
    s_arg = s - nd if data.draw(st.booleans()) else s
    e_arg = e - nd if data.draw(st.booleans()) else e
    new = shape[:s] + (int(np.prod(shape[s : e + 1], dtype=np.int64)),) + shape[e + 1 :]
    return Case([x], lambda t: t.flatten(s_arg, e_arg), lambda a: a.reshape(new))


@spec("getitem_basic")
def _(data, device):
    shape = data.draw(SHAPES_ND, label="shape")
    idx = data.draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True).map(_positive_steps),
                    label="index")
    x = draw_array(data, shape)
    return Case([x], lambda t: t[idx], lambda a: a[idx])


def _positive_steps(idx):
    """PyTorch has no negative slice steps (getitem raises, see test_fuzz): flip them to positive."""
    def fix(i):
        return slice(i.start, i.stop, -i.step) if isinstance(i, slice) and i.step is not None and i.step < 0 else i
    return tuple(fix(i) for i in idx) if isinstance(idx, tuple) else fix(idx)


@spec("getitem_int_array")
def _(data, device):
    shape = data.draw(SHAPES_ND, label="shape")
    x = draw_array(data, shape)
    kind = data.draw(st.sampled_from(["axis0", "axis1", "full"] if len(shape) > 1 else ["axis0", "full"]))
    if kind == "full":
        idx = data.draw(hnp.integer_array_indices(shape), label="index")
    else:
        ax = 0 if kind == "axis0" else 1
        n = shape[ax]
        arr = data.draw(
            hnp.arrays(np.int64, hnp.array_shapes(min_dims=1, max_dims=2, max_side=5), elements=st.integers(-n, n - 1)),
            label="index array (repeats allowed)",
        )
        idx = arr if ax == 0 else (slice(None), arr)
    return Case([x], lambda t: t[idx], lambda a: a[idx])


@spec("getitem_bool_mask")
def _(data, device):
    shape = data.draw(SHAPES_ND, label="shape")
    x = draw_array(data, shape)
    mshape = shape if data.draw(st.booleans(), label="full mask") else shape[:1]
    mask = data.draw(hnp.arrays(np.bool_, mshape), label="mask")
    return Case([x], lambda t: t[mask], lambda a: a[mask])


@spec("cat")
def _(data, device):
    nd = data.draw(st.integers(1, 3), label="ndim")
    base = list(data.draw(hnp.array_shapes(min_dims=nd, max_dims=nd, max_side=3)))
    axis = data.draw(st.integers(-nd, nd - 1), label="axis")
    k = data.draw(st.integers(1, 3), label="n tensors")
    arrays = []
    for _ in range(k):
        s = list(base)
        s[axis] = data.draw(st.integers(1, 3))
        arrays.append(draw_array(data, tuple(s)))
    tfn = lambda *ts: _torch().cat(list(ts), dim=axis)  # noqa: E731
    if axis == 0 and data.draw(st.booleans(), label="default axis"):
        return Case(arrays, lambda *ts: tl.cat(list(ts)), lambda *a: np.concatenate(a), torch_fn=tfn)
    return Case(arrays, lambda *ts: tl.cat(list(ts), axis=axis), lambda *a: np.concatenate(a, axis=axis),
                torch_fn=tfn)


@spec("stack")
def _(data, device):
    shape = data.draw(SHAPES, label="shape")
    nd = len(shape)
    axis = data.draw(st.integers(-(nd + 1), nd), label="axis")
    k = data.draw(st.integers(1, 3), label="n tensors")
    arrays = [draw_array(data, shape) for _ in range(k)]
    tfn = lambda *ts: _torch().stack(list(ts), dim=axis)  # noqa: E731
    if axis == 0 and data.draw(st.booleans(), label="default axis"):
        return Case(arrays, lambda *ts: tl.stack(list(ts)), lambda *a: np.stack(a), torch_fn=tfn)
    return Case(arrays, lambda *ts: tl.stack(list(ts), axis=axis), lambda *a: np.stack(a, axis=axis), torch_fn=tfn)


def np_logsumexp(a, axis=None, keepdims=False):
    m = np.max(a, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis) if axis is not None else out.reshape(())


def np_softmax(a, axis=-1):
    e = np.exp(a - np.max(a, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def np_log_softmax(a, axis=-1):
    return a - np_logsumexp(a, axis=axis, keepdims=True)


def _softmax_like(name, ref):
    def gen(data, device):
        shape = data.draw(SHAPES_ND, label="shape")
        x = draw_array(data, shape, floats(-5, 5))
        if data.draw(st.booleans(), label="default axis"):
            return Case([x], lambda t: getattr(t, name)(), lambda a: ref(a),
                        torch_fn=lambda t: getattr(_torch(), name)(t, dim=-1))
        axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
        return Case([x], lambda t: getattr(t, name)(axis=axis), lambda a: ref(a, axis=axis),
                    torch_fn=lambda t: getattr(_torch(), name)(t, dim=axis))

    return gen


SPECS["softmax"] = _softmax_like("softmax", np_softmax)
SPECS["log_softmax"] = _softmax_like("log_softmax", np_log_softmax)


@spec("logsumexp")
def _(data, device):
    shape = data.draw(SHAPES, label="shape")
    x = draw_array(data, shape, floats(-5, 5))
    axis = draw_axis(data, len(shape))
    keepdims = data.draw(st.booleans(), label="keepdims")
    tfn = lambda t: _torch().logsumexp(t, dim=_torch_dims(axis, len(shape)), keepdim=keepdims)  # noqa: E731
    if axis is None and not keepdims and data.draw(st.booleans(), label="defaults"):
        return Case([x], lambda t: t.logsumexp(), lambda a: np_logsumexp(a), torch_fn=tfn)
    return Case(
        [x],
        lambda t: t.logsumexp(axis=axis, keepdims=keepdims),
        lambda a: np_logsumexp(a, axis=axis, keepdims=keepdims),
        torch_fn=tfn,
    )


def np_bce(p, t, reduction):
    loss = -(t * np.log(p) + (1 - t) * np.log1p(-p))
    return {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](loss)


@spec("binary_cross_entropy")
def _(data, device):
    """Probabilities and a target that requires grad too (a soft label being learned); every reduction."""
    shape = data.draw(SHAPES_ND, label="shape")
    p = draw_array(data, shape, st.one_of(floats(0.05, 0.95), st.sampled_from([0.25, 0.5, 0.75])))
    t = draw_array(data, shape, st.one_of(floats(0, 1), st.sampled_from([0.0, 0.5, 1.0])))
    reduction = data.draw(st.sampled_from(["mean", "sum", "none"]), label="reduction")
    return Case([p, t], lambda a, b: tl.nn.functional.binary_cross_entropy(a, b, reduction=reduction),
                lambda a, b: np_bce(a, b, reduction),
                torch_fn=lambda a, b: _torch().nn.functional.binary_cross_entropy(a, b, reduction=reduction))


@spec("linear")
def _(data, device):
    """F.linear: x (..., in) @ W(out, in).T + b, one fused node with a fast path; 1-D to 3-D inputs."""
    i, o = data.draw(st.integers(1, 4), label="in"), data.draw(st.integers(1, 4), label="out")
    lead = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3), label="leading dims")
    x, w = draw_array(data, tuple(lead) + (i,)), draw_array(data, (o, i))
    if data.draw(st.booleans(), label="bias"):
        b = draw_array(data, (o,))
        return Case([x, w, b], lambda a, m, c: tl.linear(a, m, c), lambda a, m, c: a @ m.T + c,
                    torch_fn=lambda a, m, c: _torch().nn.functional.linear(a, m, c))
    return Case([x, w], lambda a, m: tl.linear(a, m), lambda a, m: a @ m.T,
                torch_fn=lambda a, m: _torch().nn.functional.linear(a, m))


def np_cross_entropy(x, t, reduction, ls):
    logp = x - np_logsumexp(x, axis=1, keepdims=True)
    c = x.shape[1]
    rows = np.eye(c)[t] if t.ndim == 1 else t
    rows = rows * (1 - ls) + ls / c
    nll = -(rows * logp).sum(axis=1)
    return {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](nll)


@spec("cross_entropy")
def _(data, device):
    """Logits against class labels or probability rows, every reduction, with and without label smoothing."""
    n, c = data.draw(st.integers(1, 4), label="N"), data.draw(st.integers(2, 4), label="C")
    x = draw_array(data, (n, c), st.one_of(floats(-3, 3), GRID))
    reduction = data.draw(st.sampled_from(["mean", "sum", "none"]), label="reduction")
    ls = data.draw(st.sampled_from([0.0, 0.0, 0.1]), label="label_smoothing")
    if data.draw(st.booleans(), label="labels"):
        t = data.draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)), label="labels")
    else:   # probability rows (rows summing to 1; rows that don't are issue 10/ops' fix)
        t = data.draw(hnp.arrays(np.float64, (n, c), elements=floats(0.05, 1)), label="probs")
        t = t / t.sum(axis=1, keepdims=True)

    def tl_fn(a):
        return tl.nn.functional.cross_entropy(a, tl.Tensor(t.astype(a.dtype) if t.dtype.kind == "f" else t,
                                                          device=device), reduction=reduction, label_smoothing=ls)

    return Case([x], tl_fn, lambda a: np_cross_entropy(a, t, reduction, ls),
                torch_fn=lambda a: _torch().nn.functional.cross_entropy(a, _torch().tensor(t), reduction=reduction,
                                                                          label_smoothing=ls))


@spec("expand")
def _(data, device):
    shp = data.draw(BCAST2, label="shapes")
    x = draw_array(data, shp.input_shapes[0])
    target = tuple(shp.result_shape)
    return Case([x], lambda t: t.expand(*target) if target else t.expand(target),
                lambda a: np.broadcast_to(a, target), torch_fn=lambda t: t.expand(target))



@spec("cumsum")
def _(data, device):
    x = draw_array(data, data.draw(SHAPES_ND))
    d = data.draw(st.integers(-x.ndim, x.ndim - 1), label="dim")
    return Case([x], lambda t: t.cumsum(d), lambda a: np.cumsum(a, axis=d), torch_fn=lambda t: t.cumsum(d))

# --------------------------------------------------------------------------- #
# the generic property test
# --------------------------------------------------------------------------- #
def _np(t):
    return np.asarray(t.numpy())


def _torch():
    """PyTorch, or None where it isn't installed (then only the documented conventions are checked)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def test_pytorch_is_installed_for_the_comparisons():
    if _torch() is None:
        pytest.skip("PyTorch is not installed: the property tests check gradients at ties and kinks against the "
                    "documented conventions only, and compare nothing with torch")


def _grads_and_hvp(fn, arrays, up, us, device, create_graph):
    """Our gradients of <up, fn> (plain or create_graph backward) and, with create_graph, the Hessian-vector
    products d<us, grads>/dx (double backward)."""
    xs = [tl.Tensor(a, requires_grad=True, device=device) for a in arrays]
    fn(*xs).backward(gradient=tl.Tensor(up, device=device), create_graph=create_graph)
    gs = [x.grad for x in xs]
    if not create_graph:
        return [_np(g) for g in gs], None
    for x in xs:
        x.grad = None
    inner = [(g * tl.Tensor(u, device=device)).sum() for g, u in zip(gs, us) if g.requires_grad]
    if inner:
        sum(inner[1:], inner[0]).backward()
    hv = [_np(x.grad) if x.grad is not None else np.zeros(x.shape) for x in xs]
    return [_np(g) for g in gs], hv


def _torch_grads_and_hvp(torch_fn, arrays, up, us, hvp):
    torch = _torch()
    xs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = torch_fn(*xs)
    gs = torch.autograd.grad(out, xs, grad_outputs=torch.tensor(up), create_graph=hvp, allow_unused=True)
    gs = [g if g is not None else torch.zeros_like(x) for g, x in zip(gs, xs)]
    hv = None
    if hvp:
        inner = [(g * torch.tensor(u)).sum() for g, u in zip(gs, us) if g.requires_grad]
        hv = [np.zeros(a.shape) for a in arrays]
        if inner:
            got = torch.autograd.grad(sum(inner), xs, allow_unused=True)
            hv = [h.numpy(force=True) if h is not None else z for h, z in zip(got, hv)]
    return out.detach().numpy(), [g.detach().numpy() for g in gs], hv


@pytest.mark.parametrize("op", sorted(SPECS))
@given(data=st.data())
def test_op_forward_gradient_and_dtype(op, device, data):
    case = SPECS[op](data, device)
    ref = np.asarray(case.np_fn(*case.arrays), dtype=np.float64)
    at_kink = case.kink is not None and case.kink(*case.arrays)

    # ---- float64 forward vs the NumPy formula
    xs = [tl.Tensor(a, requires_grad=True, device=device) for a in case.arrays]
    out = case.tl_fn(*xs)
    assert isinstance(out, tl.Tensor), f"{op} returned {type(out).__name__}, not a Tensor"
    assert out.device == device
    assert tuple(out.shape) == ref.shape, f"{op}: shape {out.shape} != numpy {ref.shape}"
    assert out.dtype == np.float64
    assert out.requires_grad
    np.testing.assert_allclose(_np(out), ref, rtol=1e-10, atol=1e-12, err_msg=f"{op} forward")

    # ---- analytic gradient under a random upstream vs independent central differences (off kinks), or the
    #      documented convention (at a kink or tie, where no finite difference can judge it)
    up = data.draw(hnp.arrays(np.float64, ref.shape, elements=UPSTREAM_ELEMS), label="upstream")
    out.backward(gradient=tl.Tensor(up, device=device))
    grads64 = []
    expected = case.conv(up, *case.arrays) if at_kink else None
    for i, (x, a) in enumerate(zip(xs, case.arrays)):
        assert x.grad is not None, f"{op}: input {i} got no gradient"
        assert isinstance(x.grad, tl.Tensor)
        g = _np(x.grad)
        assert g.shape == a.shape, f"{op}: grad shape {g.shape} != input shape {a.shape} (broadcast not undone?)"
        if at_kink:
            np.testing.assert_allclose(g, expected[i], rtol=1e-12, atol=1e-12,
                                       err_msg=f"{op}: gradient of input {i} at a kink/tie (documented convention)")
        else:
            num = numeric_grad(lambda *arrs: np.sum(np.asarray(case.np_fn(*arrs)) * up), case.arrays, i)
            np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-6, err_msg=f"{op}: gradient of input {i}")
        grads64.append(g)

    # ---- the create_graph path (backward in Tensor ops) gives the same gradient as the fast array path;
    #      its double backward is right (tl.gradgradcheck) and, with torch installed, equals torch's
    us = [data.draw(hnp.arrays(np.float64, a.shape, elements=UPSTREAM_ELEMS), label=f"hvp direction {i}")
          for i, a in enumerate(case.arrays)]
    torch_here = _torch() is not None and case.torch_fn is not None
    graph_grads, hv = _grads_and_hvp(case.tl_fn, case.arrays, up, us, device, create_graph=True)
    for i, (g, gg) in enumerate(zip(grads64, graph_grads)):
        np.testing.assert_allclose(gg, g, rtol=1e-12, atol=1e-14,
                                   err_msg=f"{op}: input {i}: create_graph gradient != plain gradient")
    if not at_kink:
        xs_gc = [tl.Tensor(a, requires_grad=True, device=device) for a in case.arrays]
        assert tl.gradcheck(case.tl_fn, *xs_gc) is True
        assert tl.gradgradcheck(case.tl_fn, *xs_gc, max_elements=12, n_directions=2) is True
    if torch_here:
        t_out, t_grads, t_hv = _torch_grads_and_hvp(case.torch_fn, case.arrays, up, us, hvp=not at_kink)
        np.testing.assert_allclose(_np(out), t_out, rtol=1e-10, atol=1e-12, err_msg=f"{op}: forward vs torch")
        for i, (g, tg) in enumerate(zip(grads64, t_grads)):
            np.testing.assert_allclose(g, tg, rtol=1e-9, atol=1e-12, err_msg=f"{op}: gradient {i} vs torch")
        if t_hv is not None:
            for i, (h, th) in enumerate(zip(hv, t_hv)):
                # atol 1e-9: torch's BCE double backward gave -1.7e-10 where ours is exactly 0 (p = t = 0.125)
                np.testing.assert_allclose(h, th, rtol=1e-8, atol=1e-9,
                                           err_msg=f"{op}: Hessian-vector product {i} vs torch's double backward")

    # ---- float32 in -> float32 out (forward and gradients)
    xs32 = [tl.Tensor(a.astype(np.float32), requires_grad=True, device=device) for a in case.arrays]
    # the op's inputs are intermediates that retain their gradient: the engine casts a leaf's gradient to the
    # leaf's dtype, so only here would a float64 gradient leaking out of a float32 backward show
    mids = [(x * 1.0).retain_grad() for x in xs32]
    out32 = case.tl_fn(*mids)
    assert out32.dtype == np.float32, f"{op}: float32 inputs gave {out32.dtype}"
    np.testing.assert_allclose(_np(out32), ref, rtol=2e-4, atol=2e-5, err_msg=f"{op} float32 forward")
    if at_kink and not np.allclose(case.np_fn(*[a.astype(np.float32).astype(np.float64) for a in case.arrays]),
                                   ref, rtol=0, atol=0):
        return                      # rounding to float32 moved an input across the kink: nothing to compare
    out32.backward(gradient=tl.Tensor(up.astype(np.float32), device=device))
    for i, m in enumerate(mids):
        assert m.grad is not None and m.grad.dtype == np.float32, f"{op}: float32 input {i}: a {m.grad.dtype} gradient"
    for i, (x, g64) in enumerate(zip(xs32, grads64)):
        assert x.grad is not None
        assert x.grad.dtype == np.float32, f"{op}: float32 input {i} got a {x.grad.dtype} gradient"
        scale = max(1.0, float(np.max(np.abs(g64), initial=0.0)))
        if at_kink:                 # the same rule must pick the same side in float32 (grid values are exact)
            expected32 = case.conv(up, *[a.astype(np.float32).astype(np.float64) for a in case.arrays])[i]
            np.testing.assert_allclose(_np(x.grad), expected32, rtol=2e-3, atol=2e-4 * scale)
        else:
            np.testing.assert_allclose(_np(x.grad), g64, rtol=2e-3, atol=2e-4 * scale)


# --------------------------------------------------------------------------- #
# deterministic spot checks
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", sorted(SCALAR_OPS))
@pytest.mark.parametrize("c", [2.5, -3])
def test_every_python_scalar_op_value_and_gradient(device, name, c):
    """Each scalar op on each side, whatever a derandomized draw of the property test happens to pick."""
    f = SCALAR_OPS[name]
    a = np.array([[0.75, -1.5, 2.0], [1.25, -0.5, 3.0]])
    x = tl.Tensor(a, requires_grad=True, device=device)
    y = f(x, c)
    np.testing.assert_allclose(_np(y), f(a, c), rtol=1e-12)
    up = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    y.backward(tl.Tensor(up, device=device))
    np.testing.assert_allclose(_np(x.grad), numeric_grad(lambda v: np.sum(f(v, c) * up), [a], 0), rtol=1e-6)
    assert tl.gradgradcheck(lambda t: f(t, c), tl.Tensor(a, requires_grad=True, device=device)) is True


# --------------------------------------------------------------------------- #
# --------------------------------------------------------------------------- #
def test_float32_stays_float32_with_python_scalars(device):
    x = tl.Tensor(np.array([0.5, 1.5, 2.0], dtype=np.float32), device=device, requires_grad=True)
    exprs = {
        "x*2.0": x * 2.0,
        "2.0*x": 2.0 * x,
        "x+1": x + 1,
        "1.5-x": 1.5 - x,
        "x/3.0": x / 3.0,
        "3.0/x": 3.0 / x,
        "x**2.0": x**2.0,
        "x**2": x**2,
        "2.0**x": 2.0**x,
        "-x": -x,
        "x.mean()": x.mean(),
        "x.var()": x.var(),
        "x.softmax()": x.softmax(),
        "x.logsumexp()": x.logsumexp(),
        "x.sigmoid()": x.sigmoid(),
        "x.clip(0.6, 1.7)": x.clip(0.6, 1.7),
    }
    for name, y in exprs.items():
        assert y.dtype == np.float32, f"{name} gave {y.dtype}"
    total = exprs["x*2.0"].sum() + exprs["2.0**x"].sum() + exprs["x.var()"] + exprs["3.0/x"].sum()
    assert total.dtype == np.float32
    total.backward()
    assert x.grad.dtype == np.float32


def test_repeated_integer_indices_accumulate(device):
    x = tl.Tensor(np.arange(4.0), requires_grad=True, device=device)
    y = x[np.array([0, 0, 2, 0])]
    y.backward(gradient=tl.Tensor(np.array([1.0, 2.0, 3.0, 4.0]), device=device))
    np.testing.assert_array_equal(_np(x.grad), [7.0, 0.0, 3.0, 0.0])

    w = tl.Tensor(np.ones((3, 2)), requires_grad=True, device=device)
    w[np.array([1, 1, 1])].sum().backward()
    np.testing.assert_array_equal(_np(w.grad), [[0, 0], [3, 3], [0, 0]])


def test_matmul_shapes(device):
    r = np.random.default_rng(0)
    cases = [((3,), (3,), ()), ((2, 3), (3,), (2,)), ((3,), (3, 4), (4,)), ((5, 2, 3), (3, 4), (5, 2, 4)),
             ((2, 1, 2, 3), (4, 3, 2), (2, 4, 2, 2)), ((3,), (2, 3, 4), (2, 4))]
    for sa, sb, so in cases:
        a, b = r.normal(size=sa), r.normal(size=sb)
        out = tl.Tensor(a, device=device) @ tl.Tensor(b, device=device)
        assert tuple(out.shape) == so
        np.testing.assert_allclose(_np(out), np.matmul(a, b), rtol=1e-12)


def test_module_functions_match_methods(device):
    x = tl.Tensor(np.array([0.3, 1.2, 2.5]), device=device)
    for name in ["exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu"]:
        np.testing.assert_allclose(_np(getattr(tl, name)(x)), _np(getattr(x, name)()), err_msg=name)


# --------------------------------------------------------------------------- #
# ops without gradients: comparisons, argmax / argmin
# --------------------------------------------------------------------------- #
CMP = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne}


@pytest.mark.parametrize("name", sorted(CMP))
@given(data=st.data())
def test_comparisons_have_no_gradient(name, device, data):
    op = CMP[name]
    shp = data.draw(BCAST2)
    grid = hnp.arrays(np.int64, shp.input_shapes[0], elements=st.integers(-2, 2))
    a = 0.5 * data.draw(grid).astype(np.float64)  # a coarse grid, so ties (== / <=) happen
    b = 0.5 * data.draw(hnp.arrays(np.int64, shp.input_shapes[1], elements=st.integers(-2, 2))).astype(np.float64)
    ta = tl.Tensor(a, requires_grad=True, device=device)
    tb = tl.Tensor(b, requires_grad=True, device=device)
    for got, want in [(op(ta, tb), op(a, b)), (op(ta, 0.5), op(a, 0.5)), (op(0.5, ta), op(0.5, a))]:
        assert isinstance(got, tl.Tensor)
        assert got.requires_grad is False
        np.testing.assert_array_equal(_np(got).astype(bool), np.asarray(want))


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@given(data=st.data())
def test_argmax_argmin(name, device, data):
    shape = data.draw(SHAPES_ND)
    a = draw_distinct(data, shape)
    axis = draw_axis(data, len(shape), allow_tuple=False)
    t = tl.Tensor(a, requires_grad=True, device=device)
    got = getattr(t, name)() if axis is None else getattr(t, name)(axis=axis)
    assert isinstance(got, tl.Tensor)
    assert got.requires_grad is False
    np.testing.assert_array_equal(_np(got), getattr(np, name)(a, axis=axis))


# --------------------------------------------------------------------------- #
# errors
# --------------------------------------------------------------------------- #
def _mentions_shape(msg, shape):
    import re

    pat = r"\s*[,x×]\s*".join(str(s) for s in shape)
    return re.search(r"(?<!\d)" + pat + r"(?!\d)", msg) is not None


def test_matmul_shape_mismatch_message(device):
    a = tl.Tensor(np.ones((2, 3)), device=device)
    b = tl.Tensor(np.ones((4, 5)), device=device)
    for call in (lambda: a @ b, lambda: a.matmul(b), lambda: tl.matmul(a, b)):
        with pytest.raises(ValueError) as ei:
            call()
        msg = str(ei.value)
        assert "matmul" in msg.lower(), msg
        assert _mentions_shape(msg, (2, 3)) and _mentions_shape(msg, (4, 5)), msg


@pytest.mark.parametrize("opname,op", [("add", operator.add), ("sub", operator.sub), ("mul", operator.mul), ("div", operator.truediv)])
def test_broadcast_mismatch_message(device, opname, op):
    symbol = {"add": "+", "sub": "-", "mul": "*", "div": "/"}[opname]
    a = tl.Tensor(np.ones((2, 3)), device=device, requires_grad=True)
    b = tl.Tensor(np.ones((4, 5)), device=device)
    with pytest.raises(ValueError) as ei:
        op(a, b)
    msg = str(ei.value)
    low = msg.lower()
    names = {"add": ("add",), "sub": ("sub",), "mul": ("mul",), "div": ("div",)}[opname]
    assert any(n in low for n in names) or symbol in msg, f"op not named in: {msg}"
    assert _mentions_shape(msg, (2, 3)) and _mentions_shape(msg, (4, 5)), msg


def test_float_array_index_raises_index_error(device):
    x = tl.Tensor(np.arange(4.0), device=device, requires_grad=True)
    with pytest.raises(IndexError):
        x[np.array([0.0, 1.0])]
    with pytest.raises(IndexError):
        x[np.array([0.5])]


def test_numpy_scalars_are_weak_like_python_scalars(device):
    """float32 op np.float64 scalar stays float32 on either side (PyTorch's rule), and differentiates."""
    x = tl.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True, device=device)
    c = np.float64(2.0)
    outs = [x * c, c * x, x - c, c - x, c / x, x / c, x ** c, c ** x, x + np.int64(3)]
    assert all(o.dtype == np.float32 for o in outs), [o.dtype for o in outs]
    sum(o.sum() for o in outs).backward()
    assert x.grad.dtype == np.float32 and np.all(np.isfinite(x.grad.numpy()))


# --------------------------------------------------------------------------- axes out of range
# NumPy-style modulo would silently reduce or insert along the wrong axis: an out-of-range axis is an
# error naming the op and the valid range, as in PyTorch.
@pytest.mark.parametrize("call, op, expected", [
    (lambda t: t.sum(axis=2), "sum", "-2 to 1"),
    (lambda t: t.sum(axis=-3), "sum", "-2 to 1"),
    (lambda t: t.mean(dim=2), "mean", "-2 to 1"),
    (lambda t: t.max(axis=5), "max", "-2 to 1"),
    (lambda t: t.min(axis=2), "min", "-2 to 1"),
    (lambda t: t.var(axis=2), "var", "-2 to 1"),
    (lambda t: t.logsumexp(axis=2), "logsumexp", "-2 to 1"),
    (lambda t: t.unsqueeze(3), "unsqueeze", "-3 to 2"),
    (lambda t: t.squeeze(2), "squeeze", "-2 to 1"),
    (lambda t: t.swapaxes(0, 2), "swapaxes", "-2 to 1"),
    (lambda t: t.flatten(0, 2), "flatten", "-2 to 1"),
    (lambda t: tl.stack([t, t], axis=3), "stack", "-3 to 2"),
])
def test_axis_out_of_range_raises(device, call, op, expected):
    t = tl.Tensor(np.ones((3, 4), dtype=np.float32), device=device)
    with pytest.raises(IndexError, match=rf"^{op}: axis -?\d+ is out of range for a tensor with 2 dimensions "
                                         rf"\(expected {expected}\)"):
        call(t)


def test_axis_named_twice_and_inverted_flatten_raise(device):
    t = tl.Tensor(np.ones((3, 4), dtype=np.float32), device=device)
    with pytest.raises(ValueError, match=r"sum: axis \(0, -2\) names an axis twice"):
        t.sum(axis=(0, -2))
    with pytest.raises(ValueError, match="flatten: start_dim 1 comes after end_dim 0"):
        t.flatten(1, 0)


def test_axes_in_range_still_work_from_both_ends(device):
    t = tl.Tensor(np.arange(12, dtype=np.float32).reshape(3, 4), device=device)
    assert t.sum(axis=-2).shape == (4,) and t.sum(axis=1).shape == (3,)
    assert t.unsqueeze(-3).shape == (1, 3, 4) and t.unsqueeze(2).shape == (3, 4, 1)
    assert tl.stack([t, t], axis=-1).shape == (3, 4, 2)
    assert tl.Tensor(2.0, device=device).squeeze(0).shape == ()


def test_getitem_out_of_bounds_names_the_op_and_shape(device):
    t = tl.Tensor(np.ones((3, 4), dtype=np.float32), device=device)
    with pytest.raises(IndexError, match=r"^getitem: .*7.*\(tensor of shape \(3, 4\)\)$"):
        t[0, 7]


def test_clone_owns_its_memory_and_in_place_fill_follows_pytorchs_rule(device):
    x = tl.Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True, device=device)
    c = x.clone()
    assert c.requires_grad and c.data is not x.data
    with pytest.raises(RuntimeError, match=r"fill_: a leaf Variable that requires grad is being used in an in-place "
                                           r"operation \(shape \(2, 3\)\).*no_grad"):
        x.fill_(1.0)
    with tl.no_grad():
        c.detach().zero_()                                      # c's own memory: x is untouched
        x.fill_(2.0)
    np.testing.assert_array_equal(np.asarray(x.numpy()), np.full((2, 3), 2.0, dtype=np.float32))
    assert float(c.sum().item()) == 0.0


def test_small_tensor_methods(device):
    t = tl.Tensor(np.array([[1.0, -2.0, 3.0], [0.0, 5.0, -6.0]], dtype=np.float32), device=device)
    assert t.numel() == 6 and t.dim() == 2 and t.contiguous() is t
    np.testing.assert_array_equal(np.asarray((t.gt(0)).numpy()), np.asarray(t.numpy()) > 0)
    assert t.eq(t).all().item() and not t.ne(t).any().item()
    np.testing.assert_array_equal(np.asarray(t.gt(0).all(axis=1).numpy()), [False, False])
    np.testing.assert_array_equal(np.asarray(t.pow(2).numpy()), np.asarray(t.numpy()) ** 2)
    np.testing.assert_array_equal(np.asarray(t.maximum(0).numpy()), np.maximum(np.asarray(t.numpy()), 0))
    np.testing.assert_array_equal(np.asarray(t.minimum(t * 0).numpy()), np.minimum(np.asarray(t.numpy()), 0))
    with pytest.raises(ValueError, match=r"permute: axes \(0, 0\) are not a permutation of the 2 axes of shape"):
        t.permute(0, 0)
    with pytest.raises(ValueError, match=r"permute: axes \(0,\) are not a permutation"):
        t.permute(0)
    with pytest.raises(ValueError, match=r"permute: axes \(0, 2\) are not a permutation"):
        t.permute(0, 2)


@pytest.mark.parametrize("index", [
    (np.array([0, 2]),), (np.array([3]),), (np.array([-3]),), (np.array([-4]),),
    (slice(None), np.array([3, -4])), (slice(None), np.array([4])),
    (Ellipsis, np.array([4])), (Ellipsis, np.array([5])), (Ellipsis, np.array([-6])),
    (None, np.array([2]), Ellipsis), (None, np.array([-4])),
    (np.ones((3, 4), dtype=bool), np.array([4])), (np.ones((3, 4), dtype=bool), np.array([5])),
    (1, Ellipsis, np.array([-5])), (1, Ellipsis, np.array([-6])), (0, np.array([1]), np.array([4, 5])),
])
def test_gpu_index_bounds_check_agrees_with_numpy(index):
    """CuPy wraps out-of-range integer-array indices around; tl checks them on the GPU as NumPy does.
    The check itself runs here on NumPy arrays against NumPy's own verdict."""
    from tinygrad_lite.tensor import _check_array_bounds
    a = np.zeros((3, 4, 5))
    try:
        a[index]
        numpy_raises = False
    except IndexError:
        numpy_raises = True
    try:
        _check_array_bounds(index, a.shape)
        ours_raises = False
    except IndexError as e:
        ours_raises = True
        assert re.match(r"getitem: index -?\d+ is out of bounds for axis \d with size \d \(tensor of shape", str(e))
    assert ours_raises == numpy_raises


# --------------------------------------------------------------------------- #
# ties and kinks: PyTorch's conventions at exactly those points (docs/testing.md lists them)
# --------------------------------------------------------------------------- #
def _grad_of(fn, *arrays, up=None, device="cpu", create_graph=False):
    xs = [tl.Tensor(np.asarray(a, dtype=np.float64), requires_grad=True, device=device) for a in arrays]
    out = fn(*xs)
    u = np.ones(out.shape) if up is None else np.asarray(up, dtype=np.float64)
    out.backward(tl.Tensor(u, device=device), create_graph=create_graph)
    return [_np(x.grad) for x in xs]


CONVENTIONS = {
    # name: (our fn, the torch op it corresponds to, inputs, the gradient PyTorch gives)
    "maximum tie splits evenly": (lambda a, b: tl.maximum(a, b), lambda a, b: __import__("torch").maximum(a, b),
                                  ([1.0, 2.0, 3.0], [1.0, 1.0, 3.0]), [[0.5, 1.0, 0.5], [0.5, 0.0, 0.5]]),
    "minimum tie splits evenly": (lambda a, b: tl.minimum(a, b), lambda a, b: __import__("torch").minimum(a, b),
                                  ([1.0, 2.0, 3.0], [1.0, 1.0, 3.0]), [[0.5, 0.0, 0.5], [0.5, 1.0, 0.5]]),
    "max() over all: even split (torch.max())": (lambda a: a.max(), lambda a: a.max(), ([1.0, 3.0, 3.0, 3.0],),
                                                 [[0.0, 1 / 3, 1 / 3, 1 / 3]]),
    "min() over all: even split (torch.min())": (lambda a: a.min(), lambda a: a.min(), ([1.0, 1.0, 3.0],),
                                                 [[0.5, 0.5, 0.0]]),
    "amax(dim): even split (torch.amax)": (lambda a: a.amax(dim=1), lambda a: a.amax(dim=1),
                                           ([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]],), [[[0, 0.5, 0.5], [1 / 3] * 3]]),
    "amin(dim=(0, 1)): even split (torch.amin)": (lambda a: a.amin(dim=(0, 1)), lambda a: a.amin(dim=(0, 1)),
                                                  ([[1.0, 3.0], [1.0, 2.0]],), [[[0.5, 0], [0.5, 0]]]),
    "max(dim).values: to the index returned (torch.max(dim))": (
        lambda a: a.max(dim=1).values, lambda a: a.max(dim=1).values, ([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]],),
        [[[0, 1, 0], [1, 0, 0]]]),
    "min(dim=-2, keepdim).values: to the index returned (torch.min(dim))": (
        lambda a: a.min(dim=-2, keepdim=True).values, lambda a: a.min(dim=-2, keepdim=True).values,
        ([[1.0, 3.0], [1.0, 2.0]],), [[[1, 0], [0, 1]]]),
    "max(dim) of a 0-d tensor": (lambda a: a.max(dim=0).values, lambda a: a.max(dim=0).values, (2.0,), [1.0]),
    "abs at 0: 0": (lambda a: a.abs(), lambda a: a.abs(), ([0.0, -0.0, 2.0, -2.0],), [[0, 0, 1, -1]]),
    "relu at 0: 0": (lambda a: a.relu(), lambda a: a.relu(), ([0.0, -0.0, 2.0, -2.0],), [[0, 0, 1, 0]]),
    "clip at both bounds: 1": (lambda a: a.clip(-1.0, 1.0), lambda a: a.clamp(-1.0, 1.0),
                               ([-1.0, 1.0, 0.0, 2.0, -2.0],), [[1, 1, 1, 0, 0]]),
    "clip(min=) at the bound: 1": (lambda a: a.clip(min=-1.0), lambda a: a.clamp(min=-1.0),
                                   ([-1.0, 1.0, -2.0],), [[1, 1, 0]]),
    "clip(max=) at the bound: 1": (lambda a: a.clip(max=1.0), lambda a: a.clamp(max=1.0),
                                   ([-1.0, 1.0, 2.0],), [[1, 1, 0]]),
    "clip with min > max: max, gradient 0": (lambda a: a.clip(1.0, -1.0), lambda a: a.clamp(1.0, -1.0),
                                             ([-1.0, 1.0, 0.0, 2.0],), [[0, 0, 0, 0]]),
    "logsumexp of a partly -inf row: 0 there": (lambda a: a.logsumexp(axis=0), lambda a: a.logsumexp(dim=0),
                                                ([-np.inf, 0.0, 0.0],), [[0.0, 0.5, 0.5]]),
}


@pytest.mark.parametrize("create_graph", [False, True], ids=["plain", "create_graph"])
@pytest.mark.parametrize("name", sorted(CONVENTIONS))
def test_gradient_convention_at_ties_and_kinks(device, name, create_graph):
    fn, _, arrays, want = CONVENTIONS[name]
    got = _grad_of(fn, *arrays, device=device, create_graph=create_graph)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, np.asarray(w, dtype=np.float64), rtol=1e-12, atol=1e-15, err_msg=name)


@pytest.mark.parametrize("name", sorted(CONVENTIONS))
def test_gradient_convention_is_pytorchs(name):
    torch = _torch()
    if torch is None:
        pytest.skip("PyTorch is not installed: the conventions are checked against the values written above only")
    _, tfn, arrays, want = CONVENTIONS[name]
    xs = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out = tfn(*xs)
    out.backward(torch.ones_like(out))
    for x, w in zip(xs, want):
        np.testing.assert_allclose(x.grad.numpy(), np.asarray(w, dtype=np.float64), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dims", [3, 4])
def test_every_permutation_class_routes_the_gradient_back(device, dims):
    """Every permutation (identity, transpositions, 3-cycles, 4-cycles...), not only the ones a draw reaches:
    the gradient of permute is the inverse permutation (argsort), which a wrong inverse only breaks for cycles."""
    shape = (2, 3, 4, 5)[:dims]
    r = np.random.default_rng(dims)
    a = r.normal(size=shape)
    for perm in itertools.permutations(range(dims)):
        up = r.normal(size=tuple(shape[p] for p in perm))
        (g,) = _grad_of(lambda t: t.permute(perm), a, up=up, device=device)
        np.testing.assert_array_equal(g, up.transpose(np.argsort(perm)), err_msg=str(perm))


@pytest.mark.parametrize("axis", [-1, -2, 1, 0])
def test_cat_negative_axis_splits_the_gradient_where_the_pieces_were(device, axis):
    r = np.random.default_rng(3)
    shapes = [(2, 3), (2, 1), (2, 2)] if axis in (-1, 1) else [(3, 2), (1, 2), (2, 2)]
    arrays = [r.normal(size=s) for s in shapes]
    up = r.normal(size=np.concatenate(arrays, axis=axis).shape)
    got = _grad_of(lambda *ts: tl.cat(list(ts), axis=axis), *arrays, up=up, device=device)
    want = np.split(up, np.cumsum([s[axis] for s in shapes])[:-1], axis=axis)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


# --------------------------------------------------------------------------- #
# fast no-graph backward == Tensor-op (create_graph) backward, op by op
# --------------------------------------------------------------------------- #
def _ce(reduction, ls=0.0, probs=False):
    def fn(x):
        if probs:
            t = np.abs(np.random.default_rng(5).normal(size=x.shape))
            t = tl.Tensor(t / t.sum(axis=1, keepdims=True), device=x.device)
        else:
            t = tl.Tensor(np.array([0, 2, 1, 2][: x.shape[0]]), device=x.device)
        return tl.nn.functional.cross_entropy(x, t, reduction=reduction, label_smoothing=ls)
    return fn


FAST_PATHS = {
    # ops whose backward has an array fast path beside the Tensor-op one (is_grad_enabled() branches)
    "sigmoid": (lambda x: x.sigmoid(), [(3, 4)]),
    "relu (0s included)": (lambda x: (x * 2.0).relu(), [(3, 4)]),
    "logsumexp axis=1": (lambda x: x.logsumexp(axis=1), [(3, 4)]),
    "logsumexp all keepdims": (lambda x: x.logsumexp(keepdims=True), [(3, 4)]),
    "linear 2-D with bias": (lambda x, w, b: tl.linear(x, w, b), [(5, 3), (3, 3), (3,)]),
    "linear 3-D no bias": (lambda x, w: tl.linear(x, w), [(2, 5, 3), (4, 3)]),
    "cross_entropy mean": (_ce("mean"), [(4, 3)]),
    "cross_entropy sum": (_ce("sum"), [(4, 3)]),
    "cross_entropy none": (_ce("none"), [(4, 3)]),
    "cross_entropy label smoothing": (_ce("mean", ls=0.2), [(4, 3)]),
    "cross_entropy probabilities": (_ce("none", probs=True), [(4, 3)]),
}


@pytest.mark.parametrize("name", sorted(FAST_PATHS))
def test_fast_path_and_graph_path_give_the_same_gradient(device, name):
    fn, shapes = FAST_PATHS[name]
    r = np.random.default_rng(11)
    arrays = [np.round(r.normal(size=s), 1) for s in shapes]       # rounded: relu meets exact 0s
    if name.startswith("relu"):
        arrays[0].flat[::3] = 0.0
    out_shape = fn(*[tl.Tensor(a) for a in arrays]).shape
    up = r.normal(size=out_shape)
    plain = _grad_of(fn, *arrays, up=up, device=device)
    graph = _grad_of(fn, *arrays, up=up, device=device, create_graph=True)
    for p, g in zip(plain, graph):
        np.testing.assert_allclose(g, p, rtol=1e-12, atol=1e-15)


def test_binary_cross_entropy_at_and_near_the_clamps_matches_pytorch():
    """The logs are clamped at -100 in the loss and in p's gradient denominator (1e-12), as torch's; the
    target's gradient is torch's -logit(p), unclamped (115.13 at p = 1e-50, inf at p = 0)."""
    torch = _torch()
    if torch is None:
        pytest.skip("PyTorch is not installed: no comparison of binary_cross_entropy at its clamps")
    p = np.array([0.0, 1.0, 1e-50, 1 - 1e-12, 1e-8, 0.3])
    t = np.array([1.0, 0.0, 0.25, 0.5, 1.0, 0.7])
    up = np.array([0.5, -1.0, 2.0, 1.5, -0.25, 1.0])
    xp, xt = tl.Tensor(p, requires_grad=True), tl.Tensor(t, requires_grad=True)
    loss = tl.nn.functional.binary_cross_entropy(xp, xt, reduction="none")
    with np.errstate(divide="ignore"):
        loss.backward(tl.Tensor(up))
    tp, tt = torch.tensor(p, requires_grad=True), torch.tensor(t, requires_grad=True)
    tloss = torch.nn.functional.binary_cross_entropy(tp, tt, reduction="none")
    tloss.backward(torch.tensor(up))
    np.testing.assert_allclose(_np(loss), tloss.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(_np(xp.grad), tp.grad.numpy(), rtol=1e-7)   # (1 - p rounds near 1)
    np.testing.assert_allclose(_np(xt.grad), tt.grad.numpy(), rtol=1e-9)
    assert _np(loss)[0] == 100.0 and np.isinf(_np(xt.grad)[0])


# --------------------------------------------------------------------------- #
# ops the property specs don't draw: pow at 0 (PyTorch's rules), setitem in the graph, astype
# --------------------------------------------------------------------------- #
POW_AT_ZERO = {
    "x**0": (lambda t: t ** 0, [-1.0, 0.0, 2.0]),
    "x**1": (lambda t: t ** 1, [-1.0, 0.0, 2.0]),
    "x**2": (lambda t: t ** 2, [-1.0, 0.0, 2.0]),
    "0**x": (lambda t: 0.0 ** t, [-1.0, 0.0, 2.0]),
    "2**x": (lambda t: 2.0 ** t, [-1.0, 0.0, 2.0]),
}


@pytest.mark.parametrize("name", sorted(POW_AT_ZERO))
def test_pow_at_zero_matches_pytorch_to_second_order(device, name):
    torch = _torch()
    if torch is None:
        pytest.skip("PyTorch is not installed: pow at 0 is compared with torch only")
    fn, a = POW_AT_ZERO[name]
    up, u = np.array([0.5, -1.5, 2.0]), np.array([1.0, 0.25, -0.5])
    grads, hv = _grads_and_hvp(fn, [np.array(a)], up, [u], device, create_graph=True)
    plain, _ = _grads_and_hvp(fn, [np.array(a)], up, [u], device, create_graph=False)
    t_out, t_grads, t_hv = _torch_grads_and_hvp(fn, [np.array(a)], up, [u], hvp=True)
    x = tl.Tensor(np.array(a), device=device)
    np.testing.assert_array_equal(_np(fn(x)), t_out)
    np.testing.assert_array_equal(plain[0], t_grads[0])
    np.testing.assert_array_equal(grads[0], t_grads[0])
    # (0**x: torch's double backward is nan where its gradient is the constant 0 (x >= 0), ours too: the gradient
    # is g times a masked derivative, as torch computes it)
    np.testing.assert_array_equal(hv[0], t_hv[0])


def test_setitem_in_the_graph_routes_gradients_as_pytorch(device):
    torch = _torch()
    r = np.random.default_rng(4)
    a, v = r.normal(size=(4, 3)), r.normal(size=(3,))
    up = r.normal(size=(4, 3))

    def ours(create_graph):
        x = tl.Tensor(a, requires_grad=True, device=device)
        w = tl.Tensor(v, requires_grad=True, device=device)
        y = x * 1.0
        y[1:3] = w * 2.0                                   # broadcast over two rows
        (y * y).backward(tl.Tensor(up, device=device), create_graph=create_graph)
        return _np(x.grad), _np(w.grad)

    gx, gw = ours(False)
    want_x = 2 * a * up
    want_x[1:3] = 0
    np.testing.assert_allclose(gx, want_x, rtol=1e-12)
    np.testing.assert_allclose(gw, (2 * (2 * v) * up[1:3] * 2).sum(axis=0), rtol=1e-12)
    for g, h in zip((gx, gw), ours(True)):
        np.testing.assert_allclose(h, g, rtol=1e-12)
    if torch is not None:
        tx, tw = torch.tensor(a, requires_grad=True), torch.tensor(v, requires_grad=True)
        ty = tx * 1.0
        ty[1:3] = tw * 2.0
        (ty * ty).backward(torch.tensor(up))
        np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-12)
        np.testing.assert_allclose(gw, tw.grad.numpy(), rtol=1e-12)

    def f(x, w):
        y = x * 1.0
        y[0] = w
        return y * y * x
    assert tl.gradgradcheck(f, tl.Tensor(a, requires_grad=True, device=device),
                            tl.Tensor(v, requires_grad=True, device=device)) is True


def test_astype_gradient_comes_back_in_the_inputs_dtype(device):
    x = tl.Tensor(np.array([1.5, -2.0], dtype=np.float32), requires_grad=True, device=device)
    h = (x * 1.0).retain_grad()
    y = h.astype(np.float64) * tl.Tensor(np.array([2.0, 3.0]), device=device)
    assert y.dtype == np.float64
    y.sum().backward()
    assert h.grad.dtype == np.float32 and x.grad.dtype == np.float32
    np.testing.assert_array_equal(_np(x.grad), [2.0, 3.0])


def test_pow_with_tensor_exponent_at_zero_matches_pytorch(device):
    """a ** b with zeros in the base and the exponent: both gradients are torch's (its masks at a == 0, b == 0)."""
    torch = _torch()
    if torch is None:
        pytest.skip("PyTorch is not installed: pow at 0 is compared with torch only")
    a = np.array([0.0, 0.0, 0.0, 0.0, 2.0, -1.5, 0.5, 1.0])
    b = np.array([0.0, 1.0, 2.0, 0.5, 0.0, 0.0, -1.0, 3.0])
    up = np.array([0.5, -1.5, 2.0, 1.0, -0.25, 0.75, 1.25, -2.0])
    for create_graph in (False, True):
        xa, xb = tl.Tensor(a, requires_grad=True, device=device), tl.Tensor(b, requires_grad=True, device=device)
        with np.errstate(divide="ignore", invalid="ignore"):
            (xa ** xb).backward(tl.Tensor(up, device=device), create_graph=create_graph)
        ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        (ta ** tb).backward(torch.tensor(up))
        np.testing.assert_array_equal(_np(xa.grad), ta.grad.numpy())
        np.testing.assert_array_equal(_np(xb.grad), tb.grad.numpy())


# --------------------------------------------------------------------------- sums of non-contiguous arrays
def _stored_4d(a, layout):
    """The (N, C, H, W) array a with the same values stored channels-last, channel-major or strided."""
    if layout == "nhwc":
        return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    if layout == "cnhw":
        return np.ascontiguousarray(a.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    big = np.zeros((a.shape[0] * 2,) + a.shape[1:], a.dtype)
    big[::2] = a
    return big[::2]


@pytest.mark.parametrize("layout", ["nhwc", "cnhw", "strided"])
@pytest.mark.parametrize("axis", [(0, 2, 3), (0, 1), (1, 2, 3), (2, 3), (0, 1, 2, 3), None, 0])
@pytest.mark.parametrize("keepdims", [False, True])
def test_sum_over_axes_of_a_non_contiguous_array_matches_numpy(layout, axis, keepdims):
    """Sum reduces the outermost axis in memory first when it is one of several (conv2d's channels-last
    outputs summed per channel by batch_norm): the same values and gradients, float32 kept."""
    r = np.random.default_rng(3)
    a = r.standard_normal((5, 4, 6, 3))
    t = tl.Tensor(_stored_4d(a, layout), requires_grad=True)
    s = t.sum(axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(s.numpy(), a.sum(axis=axis, keepdims=keepdims), rtol=1e-12, atol=1e-12)
    up = r.standard_normal(s.shape)
    s.backward(tl.Tensor(up))
    kept = a.sum(axis=axis, keepdims=True).shape
    np.testing.assert_array_equal(t.grad.numpy(), np.broadcast_to(up.reshape(kept), a.shape))
    t32 = tl.Tensor(_stored_4d(a.astype(np.float32), layout))
    s32 = t32.sum(axis=axis, keepdims=keepdims)
    assert s32.dtype == np.float32
    np.testing.assert_allclose(s32.numpy(), a.sum(axis=axis, keepdims=keepdims), rtol=1e-5, atol=1e-5)
