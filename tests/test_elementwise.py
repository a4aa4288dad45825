"""Tests for tinygrad_lite/elementwise.py (sin ... erf, logsigmoid, logaddexp, lerp) and the predicates:
finite differences (hypothesis, float64, tl.gradcheck), PyTorch's values, gradients and Hessian-vector products
on random data and at exact ties, integers and rounding halves, and float32 in -> float32 out."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lite as tl
from tinygrad_lite.elementwise import _erf_numpy

from parity import (GRID, check_float32, check_vs_torch, gradgradcheck, grid_and_random, grid_or_continuous,
                    torch_or_skip)

# name -> (hypothesis domain (lo, hi), kinks/jumps to keep finite differences away from, positive-only grid)
UNARY = {
    "sin": ((-4, 4), (), False),
    "cos": ((-4, 4), (), False),
    "tan": ((-1.3, 1.3), (), False),
    "rsqrt": ((0.1, 5), (), True),
    "expm1": ((-5, 5), (), False),
    "exp2": ((-5, 5), (), False),
    "log2": ((0.1, 5), (), True),
    "log10": ((0.1, 5), (), True),
    "erf": ((-4, 4), (), False),
    "sign": ((-3, 3), (0,), False),
    "floor": ((-3, 3), (-3, -2, -1, 0, 1, 2, 3), False),
    "ceil": ((-3, 3), (-3, -2, -1, 0, 1, 2, 3), False),
    "trunc": ((-3, 3), (-3, -2, -1, 0, 1, 2, 3), False),
    "round": ((-3, 3), tuple(k + 0.5 for k in range(-4, 4)), False),
}


def _off_kinks(lo, hi, kinks, margin=1e-3):
    return st.floats(lo, hi, allow_nan=False).filter(lambda v: all(abs(v - k) > margin for k in kinks))


SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)


@pytest.mark.parametrize("name", sorted(UNARY))
@settings(max_examples=8)
@given(data=st.data())
def test_unary_gradient_matches_finite_differences(name, data):
    (lo, hi), kinks, _ = UNARY[name]
    x = data.draw(hnp.arrays(np.float64, data.draw(SHAPES), elements=_off_kinks(lo, hi, kinks)))
    assert tl.gradcheck(lambda t: getattr(t, name)(), tl.Tensor(x, requires_grad=True))


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_matches_torch_at_grid_and_random(name):
    torch = torch_or_skip()
    positive = UNARY[name][2]
    x = grid_and_random(positive=positive)
    check_vs_torch(lambda t: getattr(t, name)(), lambda t: getattr(torch, name)(t), [x])
    check_vs_torch(lambda t: getattr(tl, name)(t), lambda t: getattr(torch, name)(t), [x.reshape(4, -1)])
    check_float32(lambda t: getattr(t, name)(), [x])


def test_rounding_ops_at_halves_and_integers_match_torch():
    """torch.round rounds half to even (0.5 -> 0, 1.5 -> 2, -2.5 -> -2); floor/ceil/trunc at exact integers
    and -0.0; sign at +-0; all with a zero gradient, also at the jumps."""
    torch = torch_or_skip()
    x = np.concatenate([np.arange(-4, 4.5, 0.5), [-0.0, 1e-300, -1e-300, 2.5000000000000004, 0.49999999999999994]])
    for name in ("round", "floor", "ceil", "trunc", "sign"):
        ours = getattr(tl.Tensor(x), name)().numpy()
        theirs = getattr(torch, name)(torch.tensor(x)).numpy()
        np.testing.assert_array_equal(ours, theirs, err_msg=name)
        np.testing.assert_array_equal(np.signbit(ours), np.signbit(theirs), err_msg=f"{name}: sign of zero")
    np.testing.assert_array_equal(tl.Tensor([0.5, 1.5, 2.5, -0.5, -2.5]).round().numpy(), [0, 2, 2, -0, -2])
    special = np.array([np.nan, np.inf, -np.inf])
    for name in ("round", "floor", "ceil", "trunc", "sign"):               # torch.sign(nan) is 0
        np.testing.assert_array_equal(getattr(tl.Tensor(special), name)().numpy(),
                                      getattr(torch, name)(torch.tensor(special)).numpy(), err_msg=name)


@pytest.mark.parametrize("decimals", [-2, -1, 1, 2, 3])
def test_round_decimals_matches_torch(decimals):
    torch = torch_or_skip()
    x = np.random.default_rng(decimals + 5).standard_normal(50) * 300
    x[:4] = [0.125, 0.375, 1250.0, -350.0]
    for dt in (np.float64, np.float32):
        ours = tl.Tensor(x.astype(dt)).round(decimals=decimals).numpy()
        theirs = torch.round(torch.tensor(x.astype(dt)), decimals=decimals).numpy()
        np.testing.assert_array_equal(ours, theirs)


def test_rounding_ops_keep_integer_dtypes_and_float_ops_promote_them():
    """PyTorch: floor/round/sign of an int64 tensor stay int64; sin of one is float32."""
    x = tl.Tensor(np.array([-2, 0, 3]))
    for name in ("floor", "ceil", "trunc", "round", "sign"):
        y = getattr(x, name)()
        assert y.dtype == np.int64, name
    np.testing.assert_array_equal(x.sign().numpy(), [-1, 0, 1])
    for name in ("sin", "cos", "exp2", "erf", "expm1"):
        assert getattr(x, name)().dtype == np.float32, name


def test_rounding_ops_give_a_zero_gradient_like_torch():
    x = tl.Tensor([0.5, 1.0, -2.5], requires_grad=True)
    (x.floor() + x.round() + x.sign() + x.ceil() + x.trunc()).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])


def test_erf_accuracy_against_math_erf():
    """NumPy has no erf: ours is piecewise polynomials (64 Chebyshev interpolants) and a Taylor series at 0;
    within 1e-14 relative of math.erf everywhere (and exactly +-1 far out, nan at nan, odd)."""
    x = np.concatenate([np.linspace(-8, 8, 20001), np.geomspace(1e-300, 1, 200), -np.geomspace(1e-300, 1, 200),
                        [0.0, -0.0, np.inf, -np.inf, 1.0, 3.0, 6.0, -6.0]])
    ref = np.array([math.erf(v) for v in x])
    ours = _erf_numpy(x)
    np.testing.assert_allclose(ours, ref, rtol=1e-14, atol=0)
    assert np.isnan(_erf_numpy(np.array([np.nan])))[0]
    np.testing.assert_array_equal(np.signbit(_erf_numpy(np.array([-0.0]))), [True])
    assert _erf_numpy(x.astype(np.float32)).dtype == np.float32


def test_erf_float32_matches_torch():
    torch = torch_or_skip()
    x = np.linspace(-6, 6, 2001).astype(np.float32)
    np.testing.assert_allclose(tl.Tensor(x).erf().numpy(), torch.erf(torch.tensor(x)).numpy(), rtol=2e-7, atol=1e-38)


def test_rsqrt_log_at_zero_and_negative_like_torch():
    torch = torch_or_skip()
    x = np.array([0.0, -1.0, 4.0])
    for name in ("rsqrt", "log2", "log10"):
        with np.errstate(all="ignore"):
            check_vs_torch(lambda t: getattr(t, name)(), lambda t: getattr(torch, name)(t), [x], hvp=False)


# ------------------------------------------------------------------ logsigmoid, logaddexp, lerp
@settings(max_examples=10)
@given(data=st.data())
def test_logaddexp_gradient_matches_finite_differences(data):
    sa, sb = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3)).input_shapes
    a = data.draw(hnp.arrays(np.float64, sa, elements=st.floats(-5, 5)))
    b = data.draw(hnp.arrays(np.float64, sb, elements=st.floats(-5, 5)))
    assert tl.gradcheck(tl.logaddexp, tl.Tensor(a, requires_grad=True), tl.Tensor(b, requires_grad=True))


def test_logaddexp_matches_torch_at_ties_and_extremes():
    torch = torch_or_skip()
    a = np.array([0.0, 1.0, -3.0, 800.0, -800.0, 2.0, 5.0, -1.5])
    b = np.array([0.0, 1.0, 3.0, 800.0, -800.0, -700.0, 5.0, 2.5])
    check_vs_torch(tl.logaddexp, torch.logaddexp, [a, b], hvp=False)
    # second order: torch's double backward overflows to nan at |a - b| ~ 700+ (e^(b - a) is inf there); ours
    # stays finite (sigmoid(a - b) is differentiated, never e^(b - a)); compared where torch's is finite
    check_vs_torch(tl.logaddexp, torch.logaddexp, [a[[0, 1, 2, 5, 6, 7]], b[[0, 1, 2, 5, 6, 7]]])
    check_vs_torch(lambda x, y: x.logaddexp(y), torch.logaddexp, [a[[0, 1, 2, 5, 6, 7]].reshape(6, 1), b[:3]])
    x = tl.Tensor(a, requires_grad=True)
    x.logaddexp(tl.Tensor(b)).sum().backward(create_graph=True)
    (h,) = [x.grad.sum()]
    x.grad = None
    h.backward()
    assert np.isfinite(x.grad.numpy()).all()
    check_vs_torch(lambda x: x.logaddexp(0.5), lambda x: torch.logaddexp(x, torch.tensor(0.5, dtype=x.dtype)),
                   [a[[0, 1, 2, 5, 6, 7]]])
    check_float32(tl.logaddexp, [a, b])
    y = tl.logaddexp(tl.Tensor([-np.inf]), tl.Tensor([-np.inf]))
    assert y.item() == -np.inf


def test_logsigmoid_is_stable_and_matches_torch():
    torch = torch_or_skip()
    import tinygrad_lite.nn.functional as F
    x = np.concatenate([GRID, [-800.0, -120.0, 120.0, 800.0]])
    check_vs_torch(F.logsigmoid, torch.nn.functional.logsigmoid, [x])
    big = np.array([20.0, 30.0, 40.0, 100.0, 700.0])                # relative accuracy where the value is tiny
    np.testing.assert_allclose(F.logsigmoid(tl.Tensor(big)).numpy(),
                               torch.nn.functional.logsigmoid(torch.tensor(big)).numpy(), rtol=1e-12, atol=0)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = F.logsigmoid(tl.Tensor(np.array([-200.0, 200.0], np.float32)))
    np.testing.assert_allclose(y.numpy(), [-200.0, 0.0])


@pytest.mark.parametrize("weight_kind", ["scalar", "tensor"])
def test_lerp_matches_torch(weight_kind):
    torch = torch_or_skip()
    rng = np.random.default_rng(3)
    a, b, w = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal((3, 1))
    if weight_kind == "scalar":
        check_vs_torch(lambda x, y: tl.lerp(x, y, 0.3), lambda x, y: torch.lerp(x, y.expand(3, 4), 0.3), [a, b])
    else:
        check_vs_torch(lambda x, y, z: x.lerp(y, z), lambda x, y, z: torch.lerp(x, y.expand(3, 4), z), [a, b, w])
    assert tl.gradcheck(lambda x, y, z: x.lerp(y, z), *(tl.Tensor(v, requires_grad=True) for v in (a, b, w)))


# ------------------------------------------------------------------ predicates
def test_predicates_match_torch_and_are_bool():
    torch = torch_or_skip()
    x = np.array([0.0, -1.5, np.nan, np.inf, -np.inf, 2.0])
    for name in ("isnan", "isinf", "isfinite", "logical_not"):
        ours = getattr(tl, name)(tl.Tensor(x))
        assert ours.dtype == np.bool_ and not ours.requires_grad
        np.testing.assert_array_equal(ours.numpy(), getattr(torch, name)(torch.tensor(x)).numpy(), err_msg=name)
    y = np.array([0.0, -1.5 + 1e-7, np.nan, np.inf, np.inf, 2.0 + 1e-9])
    for kw in ({}, {"equal_nan": True}, {"rtol": 1e-3, "atol": 0.0}):
        ours = tl.isclose(tl.Tensor(x), tl.Tensor(y), **kw)
        np.testing.assert_array_equal(ours.numpy(), torch.isclose(torch.tensor(x), torch.tensor(y), **kw).numpy())
        assert tl.allclose(tl.Tensor(x), tl.Tensor(y), **kw) is torch.allclose(torch.tensor(x), torch.tensor(y), **kw)
    a, b = tl.Tensor([True, False, True]), tl.Tensor([True, True, False])
    np.testing.assert_array_equal(a.logical_and(b).numpy(), [True, False, False])
    np.testing.assert_array_equal(a.logical_or(b).numpy(), [True, True, True])
    np.testing.assert_array_equal(a.logical_xor(b).numpy(), [False, True, True])
    np.testing.assert_array_equal(tl.Tensor([0.0, 2.0]).logical_not().numpy(), [True, False])


@pytest.mark.parametrize("name", ["sin", "cos", "tan", "rsqrt", "expm1", "exp2", "log2", "log10", "erf", "round"])
def test_gradgradcheck_unary(name):
    x = np.random.default_rng(0).uniform(0.3, 1.2, (2, 3))
    gradgradcheck(lambda t: getattr(t, name)(), tl.Tensor(x, requires_grad=True))


def test_gradgradcheck_logaddexp_lerp():
    rng = np.random.default_rng(1)
    a, b, w = (tl.Tensor(rng.standard_normal(s), requires_grad=True) for s in ((2, 3), (3,), (2, 1)))
    gradgradcheck(tl.logaddexp, a, b)
    gradgradcheck(lambda x, y, z: x.lerp(y, z) ** 2, a, b, w)


def test_inplace_after_the_new_ops_raises_where_backward_reads_the_changed_values():
    """As PyTorch: sin reads its input, tan its output (changing them raises at backward); flip reads neither."""
    a = tl.Tensor([0.1, 0.2], requires_grad=True)
    b = a * 1.0
    z = b.sin()
    with tl.no_grad():
        b += 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()
    b = a * 1.0
    z = b.tan()
    with tl.no_grad():
        z += 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()
    b = a * 1.0
    y = b.flip(0).floor()
    with tl.no_grad():
        b += 1
    (y.sum() + b.sum()).backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 1.0])


@pytest.mark.parametrize("name", sorted(UNARY))
@settings(max_examples=5)
@given(data=st.data())
def test_unary_matches_torch_on_grid_or_continuous_draws(name, data):
    """Hypothesis draws from the kink/integer/half grid as well as continuous values: torch's values, gradients
    and Hessian-vector products there."""
    torch = torch_or_skip()
    lo, hi = (0.0, 7.0) if UNARY[name][2] else (-7.0, 7.0)
    if name == "tan":
        lo, hi = -1.5, 1.5
    x = data.draw(hnp.arrays(np.float64, data.draw(SHAPES), elements=grid_or_continuous(lo, hi)))
    with np.errstate(all="ignore"):
        check_vs_torch(lambda t: getattr(t, name)(), lambda t: getattr(torch, name)(t), [x])
