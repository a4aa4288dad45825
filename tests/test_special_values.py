"""Special values through the elementwise ops and activations: nan, +-inf, +-0.0, +-the smallest normal and +-1 in
float32 and float64. Values (nan-ness, value, sign of zero) and gradients under an upstream gradient of ones, +-inf,
nan and 0, on both backward paths, equal PyTorch's where it is installed; where it is not, our documented values
(PyTorch's, float32) are asserted. Also relu's bit-exact forward and backward on a channels-last batch, on both of
its forward paths (NumPy's maximum where it keeps x on a tie, the exact select elsewhere)."""
import warnings

import numpy as np
import pytest

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite import ops as O

TORCH_REASON = "PyTorch is not installed: the special-value comparisons with PyTorch are skipped"
# PyTorch's CPU kernels differ between their SIMD body and their scalar tail at a few special points (at nan: the
# gradients of elu/selu/celu, hardtanh/relu6 and hardswish; gelu(inf) in float32; maximum at +-0), so its values are
# taken from the body: the specials repeated 16 times, compared in block 1.
REPEAT = 16


def _specials(dtype):
    t = np.finfo(dtype).tiny
    return np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, t, -t, 1.0, -1.0], dtype=dtype)


def _tile(x):
    return np.tile(x, REPEAT)


def _mask(n=9):
    return _tile(np.arange(n) % 2 == 0)


def _full(c, like):
    return np.full(like.shape, c, like.dtype)


# name -> (ours(x), PyTorch's(torch, x)): every unary elementwise op and activation we share with PyTorch
NAN = float("nan")
OPS = {
    "relu": (lambda x: x.relu(), lambda t, x: t.relu(x)),
    "F.relu": (F.relu, lambda t, x: t.nn.functional.relu(x)),
    "leaky_relu": (F.leaky_relu, lambda t, x: t.nn.functional.leaky_relu(x)),
    "leaky_relu(-0.5)": (lambda x: F.leaky_relu(x, -0.5), lambda t, x: t.nn.functional.leaky_relu(x, -0.5)),
    "relu6": (F.relu6, lambda t, x: t.nn.functional.relu6(x)),
    "hardtanh": (F.hardtanh, lambda t, x: t.nn.functional.hardtanh(x)),
    "hardtanh(0, 1)": (lambda x: F.hardtanh(x, 0.0, 1.0), lambda t, x: t.nn.functional.hardtanh(x, 0.0, 1.0)),
    "elu": (F.elu, lambda t, x: t.nn.functional.elu(x)),
    "elu(-0.5)": (lambda x: F.elu(x, -0.5), lambda t, x: t.nn.functional.elu(x, -0.5)),
    "selu": (F.selu, lambda t, x: t.nn.functional.selu(x)),
    "celu": (lambda x: F.celu(x, 1.5), lambda t, x: t.nn.functional.celu(x, 1.5)),
    "gelu": (F.gelu, lambda t, x: t.nn.functional.gelu(x)),
    "gelu(tanh)": (lambda x: F.gelu(x, approximate="tanh"), lambda t, x: t.nn.functional.gelu(x, approximate="tanh")),
    "silu": (F.silu, lambda t, x: t.nn.functional.silu(x)),
    "mish": (F.mish, lambda t, x: t.nn.functional.mish(x)),
    "softplus": (F.softplus, lambda t, x: t.nn.functional.softplus(x)),
    "softplus(2, 5)": (lambda x: F.softplus(x, 2.0, 5.0), lambda t, x: t.nn.functional.softplus(x, 2.0, 5.0)),
    "hardsigmoid": (F.hardsigmoid, lambda t, x: t.nn.functional.hardsigmoid(x)),
    "hardswish": (F.hardswish, lambda t, x: t.nn.functional.hardswish(x)),
    "logsigmoid": (F.logsigmoid, lambda t, x: t.nn.functional.logsigmoid(x)),
    "softsign": (F.softsign, lambda t, x: t.nn.functional.softsign(x)),
    "sigmoid": (lambda x: x.sigmoid(), lambda t, x: t.sigmoid(x)),
    "tanh": (lambda x: x.tanh(), lambda t, x: t.tanh(x)),
    "abs": (lambda x: x.abs(), lambda t, x: t.abs(x)),
    "neg": (lambda x: -x, lambda t, x: -x),
    "sign": (lambda x: x.sign(), lambda t, x: t.sign(x)),
    "clamp(min=0)": (lambda x: x.clamp(min=0.0), lambda t, x: x.clamp(min=0.0)),
    "clamp(min=-0)": (lambda x: x.clamp(min=-0.0), lambda t, x: x.clamp(min=-0.0)),
    "clamp(max=0)": (lambda x: x.clamp(max=0.0), lambda t, x: x.clamp(max=0.0)),
    "clamp(-1, 1)": (lambda x: x.clamp(-1.0, 1.0), lambda t, x: x.clamp(-1.0, 1.0)),
    "clamp(0, 0)": (lambda x: x.clamp(0.0, 0.0), lambda t, x: x.clamp(0.0, 0.0)),
    "clamp(min=nan)": (lambda x: x.clamp(min=NAN), lambda t, x: x.clamp(min=NAN)),
    "clip(-0.5, 0.5)": (lambda x: x.clip(-0.5, 0.5), lambda t, x: x.clip(-0.5, 0.5)),
    **{f"{fn}(x, {c!r})": (lambda x, fn=fn, c=c: getattr(tl, fn)(x, tl.tensor(_full(c, x.numpy()))),
                           lambda t, x, fn=fn, c=c: getattr(t, fn)(x, t.tensor(_full(c, x.detach().numpy()))))
       for fn in ("maximum", "minimum") for c in (0.0, -0.0, 1.0, NAN)},
    **{f"where(m, x, {c!r})": (lambda x, c=c: tl.where(tl.tensor(_mask()), x, c),
                               lambda t, x, c=c: t.where(t.tensor(_mask()), x, t.tensor(c, dtype=x.dtype)))
       for c in (0.0, NAN)},
    "sqrt": (lambda x: x.sqrt(), lambda t, x: t.sqrt(x)),
    "rsqrt": (lambda x: x.rsqrt(), lambda t, x: t.rsqrt(x)),
    "exp": (lambda x: x.exp(), lambda t, x: t.exp(x)),
    "log": (lambda x: x.log(), lambda t, x: t.log(x)),
    "log1p": (lambda x: x.log1p(), lambda t, x: t.log1p(x)),
    "expm1": (lambda x: x.expm1(), lambda t, x: t.expm1(x)),
    "exp2": (lambda x: x.exp2(), lambda t, x: t.exp2(x)),
    "log2": (lambda x: x.log2(), lambda t, x: t.log2(x)),
    "log10": (lambda x: x.log10(), lambda t, x: t.log10(x)),
    "sin": (lambda x: x.sin(), lambda t, x: t.sin(x)),
    "cos": (lambda x: x.cos(), lambda t, x: t.cos(x)),
    "tan": (lambda x: x.tan(), lambda t, x: t.tan(x)),
    "erf": (lambda x: x.erf(), lambda t, x: t.erf(x)),
    "floor": (lambda x: x.floor(), lambda t, x: t.floor(x)),
    "round": (lambda x: x.round(), lambda t, x: t.round(x)),
    **{f"x**{p!r}": (lambda x, p=p: x ** p, lambda t, x, p=p: x ** p)
       for p in (0, 1, 2, 3, -1, -2, 0.5, -0.5, 1.5, -1.5, 0.0, 2.5)},
    **{f"{c!r}**x": (lambda x, c=c: c ** x, lambda t, x, c=c: c ** x) for c in (0.0, 2.0, 0.5, -2.0)},
    **{f"x**tensor({c!r})": (lambda x, c=c: x ** tl.tensor(_full(c, x.numpy())),
                             lambda t, x, c=c: x ** t.tensor(_full(c, x.detach().numpy()))) for c in (0.0, 0.5, NAN)},
    **{f"tensor({c!r})**x": (lambda x, c=c: tl.tensor(_full(c, x.numpy())) ** x,
                             lambda t, x, c=c: t.tensor(_full(c, x.detach().numpy())) ** x) for c in (0.0, -0.0)},
    **{f"{c!r}/x": (lambda x, c=c: c / x, lambda t, x, c=c: c / x) for c in (2.0, 0.0, -0.0)},
    "x/0": (lambda x: x / 0.0, lambda t, x: x / 0.0),
    "x*inf": (lambda x: x * float("inf"), lambda t, x: x * float("inf")),
    "logaddexp(x, 0)": (lambda x: x.logaddexp(tl.tensor(_full(0.0, x.numpy()))),
                        lambda t, x: t.logaddexp(x, t.tensor(_full(0.0, x.detach().numpy())))),
    "logaddexp(x, -inf)": (lambda x: x.logaddexp(tl.tensor(_full(-np.inf, x.numpy()))),
                           lambda t, x: t.logaddexp(x, t.tensor(_full(-np.inf, x.detach().numpy())))),
}
UPSTREAM = (1.0, np.inf, -np.inf, np.nan, 0.0)


def _ours(fn, x, up, create_graph):
    """(value, gradient) of fn at x under the upstream gradient `up` (None: the value only)."""
    xt = tl.Tensor(x.copy(), requires_grad=up is not None)
    y = fn(xt)
    if up is None:
        return y.numpy(), None
    y.backward(tl.Tensor(_full(up, x)), create_graph=create_graph)
    return y.detach().numpy(), (np.zeros_like(x) if xt.grad is None else xt.grad.numpy())


def _same(ours, theirs, what, x, zero_sign=True):
    """Equal nan-ness and values (to rounding); the sign of each zero too where zero_sign."""
    o, t = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    nan = np.isnan(o) | np.isnan(t)
    ok = np.where(nan, np.isnan(o) & np.isnan(t), np.isclose(o, t, rtol=1e-5, atol=0) | (o == t))
    if zero_sign:
        ok &= ~((o == 0) & (t == 0)) | (np.signbit(o) == np.signbit(t))
    assert ok.all(), f"{what}: at x = {x[~ok]}: ours {ours[~ok]}, PyTorch's {theirs[~ok]}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(OPS))
def test_special_values_match_pytorch(name, dtype):
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    torch.set_num_threads(1)
    ours, theirs = OPS[name]
    x = _tile(_specials(dtype))
    block = slice(9, 18)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        xt = torch.tensor(x, requires_grad=True)
        yt = theirs(torch, xt)
        want = yt.detach().numpy()
        got, _ = _ours(ours, x, None, False)
        if name == "gelu" and dtype == np.float32:   # left alone: PyTorch's float32 SIMD erf gives gelu(inf) = nan
            assert got[1] == np.inf                 # (its float64 and scalar paths give inf, as we do)
            want = want.copy()
            want[1::9] = np.inf
        # (maximum/minimum of +0.0 and -0.0: either, in IEEE 754 and in PyTorch's own kernels)
        _same(got[block], want[block], f"{name} value", x[block], zero_sign=not name.startswith(("max", "min")))
        if not yt.requires_grad:
            return
        for up in UPSTREAM:
            (gt,) = torch.autograd.grad(theirs(torch, xt), xt, torch.tensor(_full(up, x)))
            for create_graph in (False, True):
                _, g = _ours(ours, x, up, create_graph)
                # (the sign of a zero gradient is left alone: leaky_relu with a negative slope gives -0 * slope there)
                _same(g[block], gt.numpy()[block], f"{name} gradient under {up} (create_graph={create_graph})",
                      x[block], zero_sign=False)


# Our documented values, float32 (PyTorch's, from its SIMD kernels): (value, gradient under ones, under inf) at
# x = nan inf -inf 0 -0 tiny -tiny 1 -1. "t" is the smallest normal float32, "*" is not checked.
DOCUMENTED = {
    "relu": ("nan inf 0 0 -0 t 0 1 0",
             "1 1 0 0 0 1 0 1 0",
             "inf inf 0 0 0 inf 0 inf 0"),
    "leaky_relu": ("nan inf -inf 0 -0 t * 1 -0.01",
                   "0.01 1 0.01 0.01 0.01 1 0.01 1 0.01",
                   "inf inf inf inf inf inf inf inf inf"),
    "hardtanh": ("nan 1 -1 0 -0 t -t 1 -1",
                 "0 0 0 1 1 1 1 0 0",
                 "0 0 0 inf inf inf inf 0 0"),
    "relu6": ("nan 6 0 0 -0 t 0 1 0",
              "0 0 0 0 0 1 0 1 0",
              "0 0 0 0 0 inf 0 inf 0"),
    "hardsigmoid": ("nan 1 0 0.5 0.5 0.5 0.5 0.666667 0.333333",
                    "0 0 0 0.166667 0.166667 0.166667 0.166667 0.166667 0.166667",
                    "0 0 0 inf inf inf inf inf inf"),
    "hardswish": ("nan inf nan 0 -0 * * 0.666667 -0.333333",
                  "nan 1 0 0.5 0.5 0.5 0.5 0.833333 0.166667",
                  "nan inf 0 inf inf inf inf inf inf"),
    "elu": ("nan inf -1 0 -0 t -t 1 -0.632121",
            "nan 1 0 1 1 1 1 1 0.367879",
            "nan inf nan inf inf inf inf inf inf"),
    "gelu": ("nan inf nan 0 -0 * * 0.841345 -0.158655",
             "nan nan nan 0.5 0.5 0.5 0.5 1.083315 -0.083315",
             "nan nan nan inf inf inf inf inf -inf"),
    "silu": ("nan inf nan 0 -0 * * 0.731059 -0.268941",
             "nan nan nan 0.5 0.5 0.5 0.5 0.927671 0.072329",
             "nan nan nan inf inf inf inf inf inf"),
    "mish": ("nan inf nan 0 -0 * * 0.865098 -0.303401",
             "nan nan nan 0.6 0.6 0.6 0.6 1.049036 0.059217",
             "nan nan nan inf inf inf inf inf inf"),
    "abs": ("nan inf inf 0 0 t t 1 1",
            "0 1 -1 0 0 1 -1 1 -1",
            "nan inf -inf nan nan inf -inf inf -inf"),
    "clamp(min=0)": ("nan inf 0 0 -0 t 0 1 0",
                     "0 1 0 1 1 1 0 1 0",
                     "0 inf 0 inf inf inf 0 inf 0"),
    "clamp(-1, 1)": ("nan 1 -1 0 -0 t -t 1 -1",
                     "0 0 0 1 1 1 1 1 1",
                     "0 0 0 inf inf inf inf inf inf"),
    "maximum(x, 0.0)": ("nan inf 0 0 * t 0 1 0",
                        "1 1 0 0.5 0.5 1 0 1 0",
                        "inf inf 0 inf inf inf 0 inf 0"),
    "minimum(x, 0.0)": ("nan 0 -inf 0 * 0 -t 0 -1",
                        "1 0 1 0.5 0.5 0 1 0 1",
                        "inf 0 inf inf inf 0 inf 0 inf"),
    "maximum(x, nan)": ("nan nan nan nan nan nan nan nan nan",
                        "1 1 1 1 1 1 1 1 1",
                        "inf inf inf inf inf inf inf inf inf"),
    "x**0": ("1 1 1 1 1 1 1 1 1",
             "0 0 0 0 0 0 0 0 0",
             "0 0 0 0 0 0 0 0 0"),
    "x**-0.5": ("nan 0 nan inf -inf * nan 1 nan",
                "nan -0 -0 -inf -inf -inf nan -0.5 nan",
                "nan nan nan -inf -inf -inf nan -inf nan"),
    "0.0**x": ("nan 0 inf 1 1 0 inf 0 inf",
               "nan 0 -inf 0 0 0 -inf 0 -inf",
               "nan nan -inf nan nan nan -inf nan -inf"),
    "2.0/x": ("nan 0 -0 inf -inf * * 2 -2",
              "nan -0 -0 -inf -inf -inf -inf -2 -2",
              "nan nan nan -inf -inf -inf -inf -inf -inf"),
}


def _parse(row, tiny):
    toks = row.split()
    want = np.array([np.nan if t == "*" else (tiny if t == "t" else -tiny if t == "-t" else float(t)) for t in toks])
    return want, np.array([t != "*" for t in toks])


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_documented_special_values(name):
    """Runs with or without PyTorch: relu keeps -0.0 and passes the gradient at nan, a masked gradient is exactly 0
    under an inf upstream gradient, hardswish(-inf) is nan, elu's gradient at nan is nan, ..."""
    x = _specials(np.float32)
    ours = OPS[name][0]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        rows = DOCUMENTED[name]
        got = [_ours(ours, x, None, False)[0]] + [_ours(ours, x, up, cg)[1] for up in (1.0, np.inf)
                                                   for cg in (False, True)]
    for i, (what, g) in enumerate(zip(["value", "gradient (ones)", "gradient (ones, create_graph)",
                                       "gradient (inf)", "gradient (inf, create_graph)"], got)):
        want, checked = _parse(rows[(i + 1) // 2], x[5])
        _same(g[checked], want[checked], f"{name} {what}", x[checked], zero_sign=(i == 0))


def _stored_as(shape, dtype, layout):
    """An uninitialised (N, C, H, W) array stored as `layout` says: "nhwc" channels-last, "hwnc" spatial-major
    (conv2d's outputs), "nchw" C-order, "strided" every other column of a bigger array (not one dense block)."""
    n, c, h, w = shape
    if layout == "nhwc":
        return np.empty((n, h, w, c), dtype).transpose(0, 3, 1, 2)
    if layout == "hwnc":
        return np.empty((h, w, n, c), dtype).transpose(2, 3, 0, 1)
    if layout == "strided":
        return np.empty((n, c, h, 2 * w), dtype)[..., ::2]
    return np.empty(shape, dtype)


# (3, 5, 6, 7): small, NumPy's maximum with a scalar 0; (5, 7, 60, 67): 140,700 elements, more than two of
# _clamp_chunks' chunks and a remainder: the maximum against an array of zeros, chunk by chunk, with the mask
@pytest.mark.parametrize("shape,layout", [((3, 5, 6, 7), "nhwc"), ((5, 7, 60, 67), "nhwc"), ((5, 7, 60, 67), "hwnc"),
                                          ((5, 7, 60, 67), "nchw"), ((5, 7, 60, 67), "strided")])
@pytest.mark.parametrize("exact_path", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_is_bit_exact_on_a_batch_in_every_layout(dtype, exact_path, shape, layout, monkeypatch):
    """torch.relu's rule to the bit (0 where x < 0, else x: -0.0 and nan kept) and threshold_backward's (g where
    out > 0 or nan, else +0.0 even where g is inf or nan), on a conv2d-like output in each memory layout, small and
    big (the chunked path), through NumPy's maximum (where it keeps x on a tie: x86) and through the exact select
    used elsewhere (forced here)."""
    if not exact_path:
        monkeypatch.setitem(O._TIES_KEEP_X, np.dtype(dtype), False)
    rng = np.random.default_rng(0)
    x = _stored_as(shape, dtype, layout)
    x[...] = rng.standard_normal(x.shape)
    g = rng.standard_normal(x.shape).astype(dtype)
    pick = rng.random(x.shape)
    x[pick < 0.3] = rng.choice(_specials(dtype), size=int((pick < 0.3).sum()))
    g[rng.random(x.shape) < 0.2] = rng.choice(np.array([np.inf, -np.inf, np.nan], dtype), size=1)
    xt = tl.Tensor(x, requires_grad=True)
    y = xt.relu()
    y.backward(tl.Tensor(g))
    want = np.where(x < 0, dtype(0), x)
    want_g = np.where(~(want <= 0), g, dtype(0))
    bits = np.dtype(f"i{np.dtype(dtype).itemsize}")
    nan = np.isnan(want)
    assert np.array_equal(y.numpy()[~nan].view(bits), want[~nan].view(bits))
    assert np.isnan(y.numpy()[nan]).all()
    gnan = np.isnan(want_g)
    assert np.array_equal(xt.grad.numpy()[~gnan].view(bits), want_g[~gnan].view(bits))
    assert np.isnan(xt.grad.numpy()[gnan]).all()
    with tl.no_grad():                            # (no mask to make: the plain chunked maximum)
        y0 = xt.relu().numpy()
    assert np.array_equal(y0[~nan].view(bits), want[~nan].view(bits)) and np.isnan(y0[nan]).all()
    assert y.data.strides == x.strides or layout == "strided"      # the output in the input's layout
    assert (O._clamp_chunks(x, 0, None) is None) == (layout == "strided")     # chunks need one dense block


@pytest.mark.parametrize("layout", ["hwnc", "nchw", "strided"])
@pytest.mark.parametrize("bounds", [(0.0, None), (-0.0, 0.0), (None, 0.0), (-1.0, 1.0), (NAN, None), (None, NAN)])
def test_clamp_of_a_big_array_is_bit_exact(bounds, layout, monkeypatch):
    """clamp and clamp_ (in place) on more than two chunks of a big array give, to the bit, what the plain path
    gives on the same values (PyTorch's, checked above on the specials), and torch.clamp's where it is installed:
    -0.0 kept at a 0 bound, nan stays nan, a nan bound gives nan."""
    rng = np.random.default_rng(1)
    x = _stored_as((5, 7, 60, 67), np.float32, layout)
    x[...] = rng.standard_normal(x.shape)
    x[rng.random(x.shape) < 0.3] = rng.choice(_specials(np.float32), size=1)
    x[0, 0, 0, :9] = _specials(np.float32)
    got = tl.tensor(x).clamp(*bounds).numpy()
    a = tl.tensor(x.copy())
    a.clamp_(*bounds)
    with monkeypatch.context() as m:
        m.setattr(O, "_CHUNK", 1 << 60)           # the plain path: NumPy's maximum/minimum against a scalar
        want = tl.tensor(x).clamp(*bounds).numpy()
    wants = [want]
    try:
        import torch
        wants.append(torch.clamp(torch.from_numpy(np.ascontiguousarray(x)), *bounds).numpy())
    except ImportError:
        pass
    for w in wants:
        for arr in (got, a.numpy()):
            nan = np.isnan(w)
            assert np.array_equal(np.isnan(arr), nan)
            assert np.array_equal(arr[~nan].view(np.int32), w[~nan].view(np.int32))


REDUCE_X = [np.array([[1.0, 3.0, 2.0], [np.nan, 1.0, 0.0]]), np.array([[1.0, 3.0, 3.0], [2.0, 1.0, np.nan]]),
            np.array([[1.0, 3.0, 3.0], [2.0, 1.0, 3.0]])]
REDUCE = {
    "max()": lambda x: x.max(), "min()": lambda x: x.min(), "amax()": lambda x: x.amax(), "amax(1)": lambda x: x.amax(1),
    "max(1)": lambda x: x.max(1)[0], "min(0)": lambda x: x.min(0)[0],
}


@pytest.mark.parametrize("name", sorted(REDUCE))
def test_max_min_gradients_at_nan_and_under_inf_match_pytorch(name):
    """max()/min() of all elements give a nan result's gradient to the nans (exact 0 elsewhere); max(dim)/min(dim)
    give exact 0 off the index under an inf upstream gradient; amax shares ties and is nan where a slice has a nan."""
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    fn = REDUCE[name]
    for x in REDUCE_X:
        for up in (1.0, np.inf):
            xt = torch.tensor(x, requires_grad=True)
            yt = fn(xt)
            (gt,) = torch.autograd.grad(yt, xt, torch.full(yt.shape, up, dtype=torch.float64))
            for create_graph in (False, True):
                xo = tl.Tensor(x.copy(), requires_grad=True)
                yo = fn(xo)
                with np.errstate(all="ignore"):
                    yo.backward(tl.Tensor(np.full(yo.shape, up)), create_graph=create_graph)
                np.testing.assert_array_equal(yo.detach().numpy(), yt.detach().numpy())
                np.testing.assert_array_equal(xo.grad.numpy(), gt.numpy(), err_msg=f"{name} at {x} under {up}")


def test_max_gradients_documented():
    """(Without PyTorch too.) max() with a nan: the nan gets the gradient; max(dim) under inf: exact 0 elsewhere."""
    x = tl.Tensor(REDUCE_X[0].copy(), requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0, 0], [1, 0, 0]])
    x = tl.Tensor(REDUCE_X[0].copy(), requires_grad=True)
    x.max(1)[0].backward(tl.Tensor(np.full(2, np.inf)))
    np.testing.assert_array_equal(x.grad.numpy(), [[0, np.inf, 0], [np.inf, 0, 0]])


BINARY = {
    "add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y, "div": lambda x, y: x / y,
    "pow": lambda x, y: x ** y, "maximum": lambda x, y: x.maximum(y), "minimum": lambda x, y: x.minimum(y),
    "logaddexp": lambda x, y: x.logaddexp(y), "lerp(0.3)": lambda x, y: x.lerp(y, 0.3),
    "lerp(0.7)": lambda x, y: x.lerp(y, 0.7), "lerp(x, y, y)": lambda x, y: x.lerp(y, y),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_special_values_match_pytorch(name, dtype):
    """Every pair of specials (and 0.5, 2): values and both gradients under upstream 1, inf and 0, as PyTorch's (its
    div gradient -g (a / b) / b is nan where g is 0 and that overflows; lerp's are g (1 - w) and g w, not g - g w)."""
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    s = np.concatenate([_specials(dtype), np.array([0.5, 2.0], dtype)])
    a0, b0 = np.repeat(s, s.size), np.tile(s, s.size)
    a, b = _tile(a0), _tile(b0)
    block = slice(a0.size, 2 * a0.size)
    fn = BINARY[name]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for up in (1.0, np.inf, 0.0):
            xt, yt = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
            zt = fn(xt, yt)
            gts = torch.autograd.grad(zt, (xt, yt), torch.tensor(_full(up, a)))
            xo, yo = tl.Tensor(a.copy(), requires_grad=True), tl.Tensor(b.copy(), requires_grad=True)
            zo = fn(xo, yo)
            zo.backward(tl.Tensor(_full(up, a)))
            pair = np.array([f"({u}, {v})" for u, v in zip(a0, b0)])
            if up == 1.0:
                _same(zo.detach().numpy()[block], zt.detach().numpy()[block], f"{name} value", pair,
                      zero_sign=not name.startswith(("max", "min")))
            for what, go, gt in (("a", xo.grad, gts[0]), ("b", yo.grad, gts[1])):
                _same(go.numpy()[block], gt.numpy()[block], f"{name} gradient of {what} under {up}", pair,
                      zero_sign=False)


def test_normalize_with_a_nan_gives_nans_as_pytorch():
    """A nan in a vector makes its norm nan, so the whole normalized vector is nan (it was x / eps: 0, +-1e12, inf)."""
    x = np.array([[np.nan, 1.0, 0.0], [np.inf, 1.0, 0.0], [0.0, 0.0, 0.0], [3.0, -4.0, 0.0]])
    xt = tl.Tensor(x.copy(), requires_grad=True)
    with np.errstate(invalid="ignore"):                   # (inf / inf in the second row: nan, as in PyTorch)
        y = F.normalize(xt, dim=1)
        y.backward(tl.Tensor(np.ones_like(x)))
    assert np.isnan(y.numpy()[0]).all() and np.isnan(xt.grad.numpy()[0]).all()
    np.testing.assert_array_equal(y.numpy()[2:], [[0, 0, 0], [0.6, -0.8, 0]])
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.normalize(tx, dim=1)
    (g,) = torch.autograd.grad(ty, tx, torch.ones_like(tx))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(xt.grad.numpy(), g.numpy(), rtol=1e-12, atol=1e-15, equal_nan=True)


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("kw", [dict(), dict(dim=1), dict(dim=0, keepdim=True), dict(dim=1, correction=0),
                                dict(dim=(0, 1), correction=0)])
def test_var_std_at_infinite_and_nan_inputs_match_pytorch(name, kw):
    """var's gradient is PyTorch's var_backward, 2 g (x - mean) / (n - correction): an infinite input gives +-inf
    gradients to the finite ones of its slice (and nan to itself), not nan to every element as the chain rule
    through the mean did; std's goes through it. Values and gradients, float32 and float64."""
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    rows = [[1.0, np.inf, 2.0, 3.0], [1.0, -np.inf, 2.0, 0.5], [np.inf, np.inf, 1.0, 2.0], [1.0, np.nan, 2.0, 2.0],
            [1.0, 2.0, 4.0, 8.0], [-np.inf, np.inf, 0.0, 1.0]]
    for dtype in (np.float32, np.float64):
        x = np.array(rows, dtype)
        tkw = dict(kw)
        t = torch.tensor(x, requires_grad=True)
        yt = getattr(torch, name)(t, **tkw)
        yt.backward(torch.ones_like(yt))
        a = tl.Tensor(x, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)      # (NumPy's inf - inf)
            y = getattr(a, name)(**kw)
            y.backward(tl.ones(*y.shape) if y.shape else None)
        ref_y, ref_g = yt.detach().numpy(), t.grad.numpy()
        np.testing.assert_allclose(y.numpy(), ref_y, rtol=1e-5, err_msg=f"{name}{kw} {dtype.__name__} values")
        assert np.array_equal(np.isnan(a.grad.numpy()), np.isnan(ref_g)), (name, kw, a.grad.numpy(), ref_g)
        np.testing.assert_allclose(a.grad.numpy(), ref_g, rtol=1e-5, atol=1e-6,
                                   err_msg=f"{name}{kw} {dtype.__name__} gradients")


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("pos_weight", [None, [2.0, 0.0, 0.5]])
@pytest.mark.parametrize("weight", [None, [1.0, 3.0, 0.0]])
def test_bce_with_logits_at_special_values_matches_pytorch(pos_weight, weight, reduction):
    """binary_cross_entropy_with_logits at infinite, nan, zero and tiny logits, soft and hard targets, under upstream
    gradients of 1, +-inf, nan and 0: the loss and the gradients of the logits, the target and pos_weight equal
    PyTorch's (its backward forms each factor before multiplying by the upstream gradient). (PyTorch refuses a
    pos_weight that requires grad; ours has a gradient, checked by gradcheck below.)"""
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    specials = _specials(np.float64)
    x = np.repeat(specials, 3)[:, None].repeat(3, 1)            # every special with every target, three classes
    tg = np.tile(np.array([0.0, 0.5, 1.0]), (x.shape[0], 1))
    for up in (1.0, np.inf, -np.inf, np.nan, 0.0):
        kw_t = {} if pos_weight is None else {"pos_weight": torch.tensor(pos_weight)}
        kw_o = {} if pos_weight is None else {"pos_weight": tl.tensor(pos_weight)}
        if weight is not None:
            kw_t["weight"], kw_o["weight"] = torch.tensor(weight), tl.tensor(weight)
        xt, tt = torch.tensor(x, requires_grad=True), torch.tensor(tg, requires_grad=True)
        lt = torch.nn.functional.binary_cross_entropy_with_logits(xt, tt, reduction=reduction, **kw_t)
        lt.backward(torch.full_like(lt, up))
        xo, to = tl.tensor(x, requires_grad=True), tl.tensor(tg, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lo = F.binary_cross_entropy_with_logits(xo, to, reduction=reduction, **kw_o)
            lo.backward(tl.full(lo.shape, up, dtype=tl.float64))
        pairs = [("loss", lo.numpy(), lt.detach().numpy()), ("d/dx", xo.grad.numpy(), xt.grad.numpy()),
                 ("d/dt", to.grad.numpy(), tt.grad.numpy())]
        for what, ours, theirs in pairs:
            assert np.array_equal(np.isnan(ours), np.isnan(theirs)), (what, up, ours, theirs)
            np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-300, err_msg=f"{what} under {up}")


def test_bce_with_logits_gradients_pass_gradcheck_including_pos_weight():
    """The fused loss's three gradients (logits, target, pos_weight) against finite differences, to second order."""
    rng = np.random.default_rng(3)
    x = tl.tensor(rng.standard_normal((4, 3)) * 3, requires_grad=True)
    t = tl.tensor(rng.random((4, 3)), requires_grad=True)
    pw = tl.tensor(rng.random(3) + 0.5, requires_grad=True)
    w = tl.tensor(rng.random(3))
    f = lambda x, t, pw: F.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw, reduction="sum")
    assert tl.gradcheck(f, (x, t, pw))
    assert tl.gradgradcheck(f, (x, t, pw))
    assert tl.gradcheck(lambda x, t: F.binary_cross_entropy_with_logits(x, t), (x, t))
