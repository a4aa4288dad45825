"""API fuzz: every public op with drawn shapes (0-d and empty included), dtypes (float16/32/64,
int32/64, bool) and arguments in and out of range. Each call either returns a result equal to
PyTorch's (same dtype, same values; where torch is installed) or raises a tinygrad_lite error
whose message names the op; a raw NumPy or Python internal error never surfaces, and where
PyTorch raises, tinygrad_lite raises too.

CI profile: a fixed (derandomized) draw of FUZZ_EXAMPLES (default 12) cases per op. A bigger,
random run: TINYGRAD_LITE_FUZZ=big (300 per op) or TINYGRAD_LITE_FUZZ_EXAMPLES=N."""

import math
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_lite as tl

try:
    import torch
except ImportError:
    torch = None

BIG = os.environ.get("TINYGRAD_LITE_FUZZ") == "big"
EXAMPLES = int(os.environ.get("TINYGRAD_LITE_FUZZ_EXAMPLES") or (300 if BIG else 12))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not BIG, database=None,
                suppress_health_check=list(HealthCheck))

DTYPES = ["float16", "float32", "float64", "int32", "int64", "bool"]
TOL = {"float16": (2e-2, 2e-2), "float32": (1e-4, 1e-5), "float64": (1e-9, 1e-12)}


# ---------------------------------------------------------------- drawing inputs
@st.composite
def shapes(draw, max_dims=3):
    return tuple(draw(st.lists(st.integers(0, 3), max_size=max_dims)))


@st.composite
def arrays(draw, shape=None, dtype=None, positive=False):
    shape = draw(shapes()) if shape is None else shape
    dtype = draw(st.sampled_from(DTYPES)) if dtype is None else dtype
    n = int(np.prod(shape))
    if dtype == "bool":
        vals = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    elif dtype.startswith("int"):
        vals = draw(st.lists(st.integers(0 if positive else -4, 5), min_size=n, max_size=n))
    else:
        lo = 0.25 if positive else -3.0
        vals = draw(st.lists(st.floats(lo, 3.0, width=16), min_size=n, max_size=n))
    return np.array(vals, dtype=dtype).reshape(shape)


dims = st.one_of(st.none(), st.integers(-4, 3))
scalars = st.one_of(st.integers(-3, 3), st.floats(-2.5, 2.5, width=16), st.booleans())
junk = st.sampled_from(["a", None, 2.5, (1, "x"), [1.0]])


# ---------------------------------------------------------------- running both
def _to_torch(x):
    return torch.from_numpy(np.array(x, copy=True)) if isinstance(x, np.ndarray) else x


def _ours(x):
    return tl.Tensor(x) if isinstance(x, np.ndarray) else x


def _is_our_error(e, names):
    mod = type(e).__module__.split(".")[0]
    msg = str(e).lower()
    return mod in ("builtins", "tinygrad_lite") and any(n in msg for n in names)


def _compare(ours, theirs, what):
    if isinstance(theirs, tuple):                          # max/min(dim): (values, indices)
        for a, b in zip(ours, theirs):
            _compare(a, b, what)
        return
    a = ours.numpy() if isinstance(ours, tl.Tensor) else np.asarray(ours)
    b = theirs.numpy() if hasattr(theirs, "numpy") else np.asarray(theirs)
    assert a.shape == b.shape, f"{what}: shape {a.shape}, torch {b.shape}"
    assert a.dtype == b.dtype, f"{what}: dtype {a.dtype}, torch {b.dtype}"
    if a.dtype.kind == "f":
        rtol, atol = TOL[a.dtype.name]
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(a, b, err_msg=what)


def check(names, ours, theirs, what):
    """Run our call and torch's; the outcomes must agree (see the module docstring)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            got, err = ours(), None
        except Exception as e:  # noqa: BLE001 - judged below
            got, err = None, e
        if err is not None:
            assert _is_our_error(err, names), (
                f"{what}: raised {type(err).__module__}.{type(err).__name__}: {err} (expected a tinygrad_lite "
                f"error naming {names[0]})")
        if torch is None or theirs is None:
            return
        try:
            ref, terr = theirs(), None
        except Exception as e:  # noqa: BLE001
            ref, terr = None, e
    if terr is not None and err is None:
        pytest.fail(f"{what}: torch raises {type(terr).__name__}: {str(terr)[:200]}, tinygrad_lite returned {got!r}")
    if err is not None and terr is None and isinstance(err, tl.backend.DtypeError) and \
            getattr(ref, "numel", lambda: 1)() == 0:
        return  # e.g. softmax of an empty int tensor: torch skips its dtype check for no elements; we don't
    if err is not None and terr is None:
        pytest.fail(f"{what}: tinygrad_lite raises {type(err).__name__}: {err}; torch returns {ref!r}")
    if err is None:
        _compare(got, ref, what)


# ---------------------------------------------------------------- the ops
UNARY = {"exp": "exp", "log": "log", "sqrt": "sqrt", "abs": "abs", "tanh": "tanh", "sigmoid": "sigmoid",
         "relu": "relu", "neg": "__neg__"}


@pytest.mark.parametrize("op", sorted(UNARY))
@FUZZ
@given(data=st.data())
def test_unary(op, data):
    x = data.draw(arrays())
    m = UNARY[op]
    check([op, "neg", "negat"], lambda: getattr(_ours(x), m)(), lambda: getattr(_to_torch(x), m)(),
          f"{op}({x.dtype} {x.shape})")


REDUCE = ["sum", "mean", "var", "std", "amax", "amin", "argmax", "logsumexp", "softmax", "log_softmax",
          "max", "min"]


@pytest.mark.parametrize("op", REDUCE)
@FUZZ
@given(data=st.data())
def test_reductions(op, data):
    x = data.draw(arrays())
    dim, keepdim = data.draw(dims), data.draw(st.booleans())
    kw = {} if dim is None else ({"dim": dim} if op in ("softmax", "log_softmax") else {"dim": dim, "keepdim": keepdim})
    if op in ("logsumexp", "softmax", "log_softmax") and dim is None:
        kw = {"dim": -1}
    check([op, "reduc", "dim", "axis"], lambda: getattr(_ours(x), op)(**kw),
          lambda: getattr(_to_torch(x), op)(**kw), f"{op}({x.dtype} {x.shape}, {kw})")


BINARY = {"add": "__add__", "sub": "__sub__", "mul": "__mul__", "div": "__truediv__", "pow": "__pow__",
          "maximum": "maximum", "minimum": "minimum"}


@pytest.mark.parametrize("op", sorted(BINARY))
@FUZZ
@given(data=st.data())
def test_binary(op, data):
    x = data.draw(arrays(positive=op == "pow"))
    other = data.draw(st.one_of(arrays(positive=op == "pow"), scalars, junk) if op not in ("maximum", "minimum")
                      else arrays())
    m = BINARY[op]
    names = [op, "div" if op == "div" else op, "subtract", "broadcast", "operand", "shapes"]

    def theirs():
        if isinstance(other, (str, tuple, list)) or other is None:
            raise TypeError("unsupported operand")
        return getattr(_to_torch(x), m)(_to_torch(other))
    if op == "pow" and x.dtype.kind in "iub" and not isinstance(other, np.ndarray) and isinstance(other, int) \
            and not isinstance(other, bool) and other < 0:
        theirs = None                                      # torch: "Integers to negative integer powers"
    check(names, lambda: getattr(_ours(x), m)(_ours(other)), theirs,
          f"{op}({x.dtype} {x.shape}, {other!r:.60})")


@FUZZ
@given(data=st.data())
def test_clip(data):
    x = data.draw(arrays())
    lo = data.draw(st.one_of(st.none(), st.integers(-3, 3), st.floats(-2, 2, width=16), junk))
    hi = data.draw(st.one_of(st.none(), st.integers(-3, 3), st.floats(-2, 2, width=16)))
    check(["clip", "clamp"], lambda: _ours(x).clip(lo, hi), lambda: _to_torch(x).clamp(lo, hi),
          f"clip({x.dtype} {x.shape}, {lo!r}, {hi!r})")


SHAPE_OPS = ["reshape", "flatten", "squeeze", "unsqueeze", "transpose", "permute"]


@pytest.mark.parametrize("op", SHAPE_OPS)
@FUZZ
@given(data=st.data())
def test_shape_ops(op, data):
    x = data.draw(arrays())
    if op == "reshape":
        args = (data.draw(st.one_of(st.lists(st.integers(-1, 4), max_size=3).map(tuple), junk)),)
    elif op == "flatten":
        args = ()
    elif op in ("squeeze", "unsqueeze"):
        args = (data.draw(st.integers(-4, 4)),)
    elif op == "transpose":
        args = (data.draw(st.integers(-3, 3)), data.draw(st.integers(-3, 3)))
    else:
        args = (data.draw(st.permutations(range(x.ndim)) | st.lists(st.integers(-3, 3), max_size=3)),)
        args = (tuple(args[0]),)
    check([op, "shape", "axis", "dim"], lambda: getattr(_ours(x), op)(*args),
          lambda: getattr(_to_torch(x), op)(*args), f"{op}({x.dtype} {x.shape}, {args})")


@pytest.mark.parametrize("op", ["cat", "stack"])
@FUZZ
@given(data=st.data())
def test_cat_stack(op, data):
    dtype = data.draw(st.sampled_from(["float32", "float64", "int64"]))
    first = data.draw(arrays(dtype=dtype))
    same = data.draw(st.booleans())
    xs = [first] + [data.draw(arrays(shape=first.shape if same else None, dtype=dtype))
                    for _ in range(data.draw(st.integers(0, 2)))]
    dim = data.draw(st.integers(-3, 3))
    check([op, "dim", "axis"], lambda: getattr(tl, op)([_ours(a) for a in xs], dim=dim),
          lambda: getattr(torch, op)([_to_torch(a) for a in xs], dim=dim),
          f"{op}({[a.shape for a in xs]}, dim={dim})")


sizes = st.one_of(st.integers(-2, 4), st.floats(-1, 3, width=16), junk)


@pytest.mark.parametrize("op", ["zeros", "ones", "full", "arange", "eye", "rand", "randn"])
@FUZZ
@given(data=st.data())
def test_factories(op, data):
    a = data.draw(sizes)
    if op == "full":
        v = data.draw(st.one_of(scalars, junk))
        ours, theirs = (lambda: tl.full((a,), v)), (lambda: torch.full((a,), v))
    else:
        ours, theirs = (lambda: getattr(tl, op)(a)), (lambda: getattr(torch, op)(a))
    if op in ("rand", "randn"):                            # random values: compare shapes and dtypes only
        def ours_shape():
            return tl.zeros(tuple(getattr(tl, op)(a).shape))

        def theirs_shape():
            return torch.zeros(tuple(getattr(torch, op)(a).shape))
        ours, theirs = ours_shape, theirs_shape
    check([op, "size", "argument", "dimension"], ours, theirs, f"{op}({a!r})")


@FUZZ
@given(data=st.data())
def test_matmul(data):
    dtype = data.draw(st.sampled_from(["float32", "float64", "int64", "float16"]))
    a = data.draw(arrays(shape=data.draw(shapes(max_dims=3)), dtype=dtype))
    b = data.draw(st.one_of(arrays(dtype=dtype), arrays(shape=a.shape[-1:] + data.draw(shapes(max_dims=1)),
                                                          dtype=dtype)))
    check(["matmul", "shapes", "dimension"], lambda: _ours(a) @ _ours(b), lambda: _to_torch(a) @ _to_torch(b),
          f"matmul({a.dtype} {a.shape}, {b.shape})")


@FUZZ
@given(data=st.data())
def test_where(data):
    c = data.draw(arrays(dtype="bool"))
    a = data.draw(st.one_of(arrays(dtype="float32"), st.floats(-2, 2, width=16), st.integers(-2, 2)))
    b = data.draw(st.one_of(arrays(dtype="float32"), arrays(dtype="int64"), st.floats(-2, 2, width=16)))
    check(["where", "broadcast", "shapes"], lambda: tl.where(_ours(c), _ours(a), _ours(b)),
          lambda: torch.where(_to_torch(c), _to_torch(a), _to_torch(b)),
          f"where({c.shape}, {a!r:.40}, {b!r:.40})")


@FUZZ
@given(data=st.data())
def test_getitem(data):
    x = data.draw(arrays(dtype="float32"))
    idx = data.draw(st.one_of(st.integers(-4, 4), st.slices(4), st.tuples(st.integers(-3, 3), st.integers(-3, 3)),
                              st.just(None), st.just(Ellipsis), st.sampled_from(["a", 2.5, (1, "x")])))
    # (torch also takes a list of floats such as [1.0] as an index; tinygrad_lite refuses it, naming getitem)
    check(["getitem", "index"], lambda: _ours(x)[idx], lambda: _to_torch(x)[idx], f"getitem({x.shape}, {idx!r})")


@pytest.mark.parametrize("op", ["eq", "lt", "gt", "ge", "le", "ne"])
@FUZZ
@given(data=st.data())
def test_comparisons(op, data):
    x = data.draw(arrays())
    other = data.draw(st.one_of(arrays(), scalars))
    m = f"__{op}__"
    check([op, "compar", "broadcast", "shapes"], lambda: getattr(_ours(x), m)(_ours(other)),
          lambda: getattr(_to_torch(x), m)(_to_torch(other)), f"{op}({x.dtype} {x.shape}, {other!r:.40})")


@pytest.mark.parametrize("op", ["cross_entropy", "mse_loss", "l1_loss", "nll_loss"])
@FUZZ
@given(data=st.data())
def test_losses(op, data):
    n, c = data.draw(st.integers(0, 3)), data.draw(st.integers(1, 4))
    # (unbatched (C,) inputs and C = 0 are not supported: they raise naming the op, checked without torch)
    shape = data.draw(st.sampled_from([(n, c)] if op in ("cross_entropy", "nll_loss") else [(n, c), (n,), ()]))
    x = data.draw(arrays(shape=shape, dtype=data.draw(st.sampled_from(["float32", "float64", "int64"]))))
    if op in ("cross_entropy", "nll_loss"):
        t = data.draw(st.one_of(arrays(shape=(n,), dtype="int64"), arrays(shape=(n, c), dtype="float32")))
    else:
        t = data.draw(arrays(shape=x.shape, dtype=data.draw(st.sampled_from(["float32", "float64"]))))
    F = tl.nn.functional
    theirs = None if x.size == 0 and x.dtype.kind != "f" else (     # torch skips its dtype check when empty
        lambda: getattr(torch.nn.functional, op)(_to_torch(x), _to_torch(t)))
    check([op, "target", "input", "shape", "label"], lambda: getattr(F, op)(_ours(x), _ours(t)), theirs,
          f"{op}({x.dtype} {x.shape}, {t.dtype} {t.shape})")


def test_negative_slice_step_raises_as_torch():
    x = tl.arange(4)
    with pytest.raises(ValueError, match="getitem: slice step must be greater than zero"):
        x[::-1]
    with pytest.raises(ValueError, match="getitem"):
        x[::0]
    if torch is not None:
        with pytest.raises(ValueError, match="step must be greater than zero"):
            torch.arange(4)[::-1]
