"""Property tests for every differentiable op of tinygrad_lite.

For each op hypothesis draws shapes (broadcast pairs included), values (kept
off kinks and out of invalid domains) and an upstream gradient, then checks

1. the float64 forward equals the NumPy formula;
2. the analytic gradient (``out.backward(gradient=upstream)``) equals central
   finite differences of the *NumPy reference formula* in float64, computed by
   the small independent helper ``numeric_grad`` below (so the suite does not
   rely only on the function under test);
3. ``tl.gradcheck`` accepts the op;
4. float32 in gives float32 out (forward and gradients), Python scalars on
   either side included.
"""
import operator
import re
from dataclasses import dataclass
from typing import Callable, List

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


DEFAULT_ELEMS = floats(-2, 2)
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
        return Case([a, b], op, op)

    return gen


SPECS["add"] = _binary(operator.add)
SPECS["sub"] = _binary(operator.sub)
SPECS["mul"] = _binary(operator.mul)
SPECS["div"] = _binary(operator.truediv, b_elems=away_from_zero(0.5, 2))
SPECS["pow_tensor_exponent"] = _binary(operator.pow, a_elems=floats(0.5, 2), b_elems=floats(-2, 2))


@spec("pow_scalar_exponent")
def _(data, device):
    p = data.draw(st.sampled_from([2, 3, 2.0, 1, 0, -2, 0.5, -0.5, 1.5]), label="p")
    if float(p).is_integer() and p >= 1:
        elems = DEFAULT_ELEMS
    elif float(p).is_integer():
        elems = away_from_zero(0.3, 2)
    else:
        elems = floats(0.3, 2)  # positive base for fractional exponents
    x = draw_array(data, data.draw(SHAPES), elems)
    return Case([x], lambda t: t**p, lambda a: a**p)


@spec("rpow_scalar_base")
def _(data, device):
    c = data.draw(st.sampled_from([2.0, 0.5, 3, float(np.e)]), label="c")
    x = draw_array(data, data.draw(SHAPES))
    return Case([x], lambda t: c**t, lambda a: c**a)


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
    return Case([x], lambda t: f(t, c), lambda a: f(a, c))


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
    )


@spec("neg")
def _(data, device):
    x = draw_array(data, data.draw(SHAPES))
    return Case([x], operator.neg, operator.neg)


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
    return Case([a, b], fn, np.matmul)


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


UNARY = {
    # name: (domain strategy, numpy reference)
    "exp": (floats(-2, 2), np.exp),
    "log": (floats(0.2, 3), np.log),
    "sqrt": (floats(0.2, 3), np.sqrt),
    "abs": (away_from_zero(0.1, 2), np.abs),
    "tanh": (floats(-2, 2), np.tanh),
    "sigmoid": (floats(-3, 3), _sigmoid),
    "relu": (away_from_zero(0.1, 2), lambda a: np.maximum(a, 0)),
}


def _unary(name):
    elems, ref = UNARY[name]

    def gen(data, device):
        x = draw_array(data, data.draw(SHAPES), elems)
        if data.draw(st.booleans(), label="module function"):
            fn = lambda t: getattr(tl, name)(t)  # noqa: E731
        else:
            fn = lambda t: getattr(t, name)()  # noqa: E731
        return Case([x], fn, ref)

    return gen


for _name in UNARY:
    SPECS[_name] = _unary(_name)


def _max_min(tl_f, np_f):
    def gen(data, device):
        shp = data.draw(BCAST2, label="shapes")
        # a on the grid 0.2*k, b on the grid 0.2*k + 0.1: never equal after broadcasting
        ints = st.integers(-10, 10)
        a = 0.2 * data.draw(hnp.arrays(np.int64, shp.input_shapes[0], elements=ints)).astype(np.float64)
        b = 0.2 * data.draw(hnp.arrays(np.int64, shp.input_shapes[1], elements=ints)).astype(np.float64) + 0.1
        return Case([a, b], tl_f, np_f)

    return gen


SPECS["maximum"] = _max_min(lambda a, b: tl.maximum(a, b), np.maximum)
SPECS["minimum"] = _max_min(lambda a, b: tl.minimum(a, b), np.minimum)


@spec("clip")
def _(data, device):
    lo, hi = -0.5, 0.7
    elems = st.one_of(floats(-2, -0.55), floats(-0.45, 0.65), floats(0.75, 2))  # off the bounds
    x = draw_array(data, data.draw(SHAPES), elems)
    return Case([x], lambda t: t.clip(lo, hi), lambda a: np.clip(a, lo, hi))


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
    )


def _reduction(name, np_f, distinct=False, var=False):
    def gen(data, device):
        shape = data.draw(SHAPES, label="shape")
        x = draw_distinct(data, shape) if distinct else draw_array(data, shape)
        axis = draw_axis(data, len(shape))
        keepdims = data.draw(st.booleans(), label="keepdims")
        kwargs = {}
        if axis is not None or data.draw(st.booleans(), label="pass axis=None"):
            kwargs[data.draw(st.sampled_from(["axis", "dim"]), label="axis kw")] = axis
        if keepdims or data.draw(st.booleans(), label="pass keepdims=False"):
            kwargs["keepdims"] = keepdims
        np_kwargs = dict(axis=axis, keepdims=keepdims)
        if var:       # PyTorch's default is correction=1 (unbiased)
            ddof = data.draw(st.sampled_from([0, 1]), label="ddof") if reduced_count(shape, axis) > 1 else 0
            if ddof == 0 or data.draw(st.booleans(), label="pass correction=1"):
                kwargs[data.draw(st.sampled_from(["ddof", "correction"]), label="ddof kw")] = ddof
            np_kwargs["ddof"] = ddof
        fn = getattr(tl.Tensor, name)
        if name in ("max", "min"):    # PyTorch's: one dim gives (values, indices); several are amax/amin
            if isinstance(axis, int):
                fn = lambda t, **kw: getattr(t, name)(**kw).values  # noqa: E731
            elif axis is not None or keepdims:
                fn = getattr(tl.Tensor, "a" + name)
        return Case([x], lambda t: fn(t, **kwargs), lambda a: np_f(a, **np_kwargs))

    return gen


SPECS["sum"] = _reduction("sum", np.sum)
SPECS["mean"] = _reduction("mean", np.mean)
SPECS["max"] = _reduction("max", np.max, distinct=True)
SPECS["min"] = _reduction("min", np.min, distinct=True)
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
    axes = tuple(data.draw(st.permutations(range(len(shape))), label="axes"))
    neg = tuple(a - len(shape) for a in axes)                  # the same axes counted from the end
    if data.draw(st.booleans(), label="negative axes"):
        return Case([x], lambda t: t.permute(*neg), lambda a: a.transpose(axes))
    return Case([x], lambda t: t.permute(axes), lambda a: a.transpose(axes))


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
    idx = data.draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True), label="index")
    x = draw_array(data, shape)
    return Case([x], lambda t: t[idx], lambda a: a[idx])


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
    if axis == 0 and data.draw(st.booleans(), label="default axis"):
        return Case(arrays, lambda *ts: tl.cat(list(ts)), lambda *a: np.concatenate(a))
    return Case(arrays, lambda *ts: tl.cat(list(ts), axis=axis), lambda *a: np.concatenate(a, axis=axis))


@spec("stack")
def _(data, device):
    shape = data.draw(SHAPES, label="shape")
    nd = len(shape)
    axis = data.draw(st.integers(-(nd + 1), nd), label="axis")
    k = data.draw(st.integers(1, 3), label="n tensors")
    arrays = [draw_array(data, shape) for _ in range(k)]
    if axis == 0 and data.draw(st.booleans(), label="default axis"):
        return Case(arrays, lambda *ts: tl.stack(list(ts)), lambda *a: np.stack(a))
    return Case(arrays, lambda *ts: tl.stack(list(ts), axis=axis), lambda *a: np.stack(a, axis=axis))


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
            return Case([x], lambda t: getattr(t, name)(), lambda a: ref(a))
        axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
        return Case([x], lambda t: getattr(t, name)(axis=axis), lambda a: ref(a, axis=axis))

    return gen


SPECS["softmax"] = _softmax_like("softmax", np_softmax)
SPECS["log_softmax"] = _softmax_like("log_softmax", np_log_softmax)


@spec("logsumexp")
def _(data, device):
    shape = data.draw(SHAPES, label="shape")
    x = draw_array(data, shape, floats(-5, 5))
    axis = draw_axis(data, len(shape))
    keepdims = data.draw(st.booleans(), label="keepdims")
    if axis is None and not keepdims and data.draw(st.booleans(), label="defaults"):
        return Case([x], lambda t: t.logsumexp(), lambda a: np_logsumexp(a))
    return Case(
        [x],
        lambda t: t.logsumexp(axis=axis, keepdims=keepdims),
        lambda a: np_logsumexp(a, axis=axis, keepdims=keepdims),
    )


# --------------------------------------------------------------------------- #
# the generic property test
# --------------------------------------------------------------------------- #
def _np(t):
    return np.asarray(t.numpy())


@pytest.mark.parametrize("op", sorted(SPECS))
@given(data=st.data())
def test_op_forward_gradient_and_dtype(op, device, data):
    case = SPECS[op](data, device)
    ref = np.asarray(case.np_fn(*case.arrays), dtype=np.float64)

    # ---- float64 forward vs the NumPy formula
    xs = [tl.Tensor(a, requires_grad=True, device=device) for a in case.arrays]
    out = case.tl_fn(*xs)
    assert isinstance(out, tl.Tensor), f"{op} returned {type(out).__name__}, not a Tensor"
    assert out.device == device
    assert tuple(out.shape) == ref.shape, f"{op}: shape {out.shape} != numpy {ref.shape}"
    assert out.dtype == np.float64
    assert out.requires_grad
    np.testing.assert_allclose(_np(out), ref, rtol=1e-10, atol=1e-12, err_msg=f"{op} forward")

    # ---- analytic gradient under a random upstream vs independent central differences
    up = data.draw(hnp.arrays(np.float64, ref.shape, elements=UPSTREAM_ELEMS), label="upstream")
    out.backward(gradient=tl.Tensor(up, device=device))
    grads64 = []
    for i, (x, a) in enumerate(zip(xs, case.arrays)):
        num = numeric_grad(lambda *arrs: np.sum(np.asarray(case.np_fn(*arrs)) * up), case.arrays, i)
        assert x.grad is not None, f"{op}: input {i} got no gradient"
        assert isinstance(x.grad, tl.Tensor)
        g = _np(x.grad)
        assert g.shape == a.shape, f"{op}: grad shape {g.shape} != input shape {a.shape} (broadcast not undone?)"
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-6, err_msg=f"{op}: gradient of input {i}")
        grads64.append(g)

    # ---- tl.gradcheck agrees
    xs_gc = [tl.Tensor(a, requires_grad=True, device=device) for a in case.arrays]
    assert tl.gradcheck(case.tl_fn, *xs_gc) is True

    # ---- float32 in -> float32 out (forward and gradients)
    xs32 = [tl.Tensor(a.astype(np.float32), requires_grad=True, device=device) for a in case.arrays]
    out32 = case.tl_fn(*xs32)
    assert out32.dtype == np.float32, f"{op}: float32 inputs gave {out32.dtype}"
    np.testing.assert_allclose(_np(out32), ref, rtol=2e-4, atol=2e-5, err_msg=f"{op} float32 forward")
    out32.backward(gradient=tl.Tensor(up.astype(np.float32), device=device))
    for i, (x, g64) in enumerate(zip(xs32, grads64)):
        assert x.grad is not None
        assert x.grad.dtype == np.float32, f"{op}: float32 input {i} got a {x.grad.dtype} gradient"
        scale = max(1.0, float(np.max(np.abs(g64), initial=0.0)))
        np.testing.assert_allclose(_np(x.grad), g64, rtol=2e-3, atol=2e-4 * scale)


# --------------------------------------------------------------------------- #
# deterministic spot checks
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
