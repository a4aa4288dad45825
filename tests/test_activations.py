"""Tests for the activations of tl.nn.functional and their nn modules (gelu ... softmin, softplus), and F.normalize:
finite differences (hypothesis, float64), PyTorch's values, gradients and Hessian-vector products on random data
and exactly at the kinks (hardtanh/relu6/hardsigmoid/hardswish ends, elu/celu/selu at 0, softplus's threshold),
float32 in -> out."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite import nn

from parity import check_float32, check_vs_torch, gradgradcheck, grid_and_random, grid_or_continuous, torch_or_skip

# name -> (our function, torch's (by name in torch.nn.functional, with kwargs), kinks, our module)
ACTS = {
    "gelu": (F.gelu, ("gelu", {}), (), nn.GELU()),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), ("gelu", {"approximate": "tanh"}), (),
                  nn.GELU(approximate="tanh")),
    "silu": (F.silu, ("silu", {}), (), nn.SiLU()),
    "elu": (F.elu, ("elu", {}), (0,), nn.ELU()),
    "elu_alpha": (lambda x: F.elu(x, 0.7), ("elu", {"alpha": 0.7}), (0,), nn.ELU(0.7)),
    "selu": (F.selu, ("selu", {}), (0,), nn.SELU()),
    "celu": (lambda x: F.celu(x, 1.5), ("celu", {"alpha": 1.5}), (0,), nn.CELU(1.5)),
    "hardtanh": (F.hardtanh, ("hardtanh", {}), (-1, 1), nn.Hardtanh()),
    "hardtanh_range": (lambda x: F.hardtanh(x, -2.5, 0.5), ("hardtanh", {"min_val": -2.5, "max_val": 0.5}),
                       (-2.5, 0.5), nn.Hardtanh(-2.5, 0.5)),
    "relu6": (F.relu6, ("relu6", {}), (0, 6), nn.ReLU6()),
    "hardsigmoid": (F.hardsigmoid, ("hardsigmoid", {}), (-3, 3), nn.Hardsigmoid()),
    "hardswish": (F.hardswish, ("hardswish", {}), (-3, 3), nn.Hardswish()),
    "mish": (F.mish, ("mish", {}), (), nn.Mish()),
    "logsigmoid": (F.logsigmoid, ("logsigmoid", {}), (), nn.LogSigmoid()),
    "softsign": (F.softsign, ("softsign", {}), (0,), nn.Softsign()),
    "softplus": (F.softplus, ("softplus", {}), (), None),
    "softplus_beta": (lambda x: F.softplus(x, beta=2.0, threshold=5.0),
                      ("softplus", {"beta": 2.0, "threshold": 5.0}), (2.5,), None),
}


def _torch_fn(name):
    torch = torch_or_skip()
    fname, kw = ACTS[name][1]
    fn = getattr(torch.nn.functional, fname)
    return lambda t: fn(t, **kw)


@pytest.mark.parametrize("name", sorted(ACTS))
@settings(max_examples=6)
@given(data=st.data())
def test_activation_gradient_matches_finite_differences(name, data):
    kinks = ACTS[name][2]
    elems = st.floats(-7, 7, allow_nan=False).filter(lambda v: all(abs(v - k) > 1e-3 for k in kinks))
    x = data.draw(hnp.arrays(np.float64, data.draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=4)),
                             elements=elems))
    assert tl.gradcheck(ACTS[name][0], tl.Tensor(x, requires_grad=True))


@pytest.mark.parametrize("name", sorted(ACTS))
def test_activation_matches_torch_at_kinks_and_random(name):
    """Values, gradients (both backward paths) and Hessian-vector products equal PyTorch's, also exactly at
    each kink: hardtanh's gradient is 0 at its ends, hardswish's 0 at -3 and 1 at 3, elu's alpha at 0 (and its
    second derivative 0 there)."""
    ours, _, kinks, module = ACTS[name]
    x = np.concatenate([grid_and_random(seed=1), np.asarray(kinks, dtype=float), [30.0, -30.0, 1e-8, -1e-8]])
    # PyTorch's hardsigmoid gradient multiplies by 1/6 rounded to float32 (1.0f / 6.0f) even in float64
    tol = dict(rtol=1e-7, atol=1e-12) if name == "hardsigmoid" else dict(rtol=1e-10, atol=1e-14)
    check_vs_torch(ours, _torch_fn(name), [x], tol=tol)
    check_float32(ours, [x])
    if module is not None:
        check_vs_torch(module, _torch_fn(name), [x.reshape(-1, 1)], tol=tol)


def test_softmin_matches_torch():
    torch = torch_or_skip()
    x = np.random.default_rng(0).standard_normal((3, 4))
    x[0, :2] = 1.0                                                   # a tie
    for dim in (0, 1, -1):
        check_vs_torch(lambda t: F.softmin(t, dim), lambda t: torch.nn.functional.softmin(t, dim), [x])
        check_vs_torch(nn.Softmin(dim), lambda t: torch.nn.functional.softmin(t, dim), [x])
    assert tl.gradcheck(lambda t: F.softmin(t, 1), tl.Tensor(x, requires_grad=True))


def test_softplus_gradient_at_zero_is_one_half():
    """The stable form relu(x) + log1p(e^-|x|) has a kink in each term at 0 whose gradients were taken as 0
    there, giving a gradient of 0 (PyTorch: sigmoid(0) = 1/2); the same for BCE-with-logits at logit 0."""
    x = tl.Tensor([0.0], requires_grad=True)
    F.softplus(x).sum().backward()
    assert x.grad.item() == 0.5


def test_activation_errors_name_the_op():
    with pytest.raises(ValueError, match="gelu"):
        F.gelu(tl.zeros(2), approximate="fast")
    with pytest.raises(ValueError, match="hardtanh"):
        F.hardtanh(tl.zeros(2), 1.0, -1.0)


def test_activation_modules_repr_and_in_sequential():
    model = nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 4), nn.Hardswish(), nn.Linear(4, 2),
                          nn.Softmin(dim=1))
    y = model(tl.randn(5, 3))
    assert y.shape == (5, 2)
    np.testing.assert_allclose(y.numpy().sum(axis=1), 1.0, rtol=1e-5)
    assert "approximate='none'" in repr(nn.GELU()) and "alpha=0.5" in repr(nn.ELU(0.5))


def test_hardsigmoid_second_derivative_is_zero():
    """PyTorch has no double backward for hardsigmoid; the function is piecewise linear, so ours is 0."""
    x = tl.Tensor(np.array([-4.0, -3.0, -1.0, 0.0, 2.0, 3.0, 5.0]), requires_grad=True)
    F.hardsigmoid(x).sum().backward(create_graph=True)
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 1 / 6, 1 / 6, 1 / 6, 0, 0])
    g = x.grad
    x.grad = None
    if g.requires_grad:
        (g * tl.Tensor(np.arange(7.0))).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), np.zeros(7))


@pytest.mark.parametrize("name", sorted(ACTS))
def test_gradgradcheck_activation(name):
    """Second derivatives by central differences, off the kinks (tl.gradgradcheck)."""
    x = np.array([[-3.7, -1.3, -0.4], [0.35, 1.6, 4.2]])
    gradgradcheck(ACTS[name][0], tl.Tensor(x, requires_grad=True))


@pytest.mark.parametrize("name", sorted(ACTS))
@settings(max_examples=5)
@given(data=st.data())
def test_activation_matches_torch_on_grid_or_continuous_draws(name, data):
    """Hypothesis draws from the kink grid (-3, -1, 0, 1, 3, 6, ...) as well as continuous values: torch's values,
    gradients and Hessian-vector products there."""
    x = data.draw(hnp.arrays(np.float64, data.draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=4)),
                             elements=grid_or_continuous()))
    # atol 1e-13, not 1e-14: on continuous draws a second derivative such as gelu_tanh's at x = 6.75 is a
    # difference of O(1) terms (1 - tanh^2) worth ~4e-12, where torch's rounding and ours differ by ~2e-14.
    # The fixed points of the kink test above keep 1e-14.
    tol = dict(rtol=1e-7, atol=1e-12) if name == "hardsigmoid" else dict(rtol=1e-10, atol=1e-13)
    check_vs_torch(ACTS[name][0], _torch_fn(name), [x], tol=tol)


@pytest.mark.parametrize("p,dim", [(2.0, 1), (2.0, 0), (1.0, 1), (3.0, -1), (2.0, (0, 1))])
def test_normalize_matches_torch_with_zero_and_tiny_rows(p, dim):
    """F.normalize: x / max(||x||_p, eps); at a zero row the norm's gradient is 0 (no nan), as in PyTorch."""
    torch = torch_or_skip()
    x = np.random.default_rng(2).standard_normal((4, 3))
    x[1] = 0.0
    x[2] = [1e-14, -2e-14, 0.0]                                       # norm below eps: clamped
    x[3, 0] = 0.0                                                     # a zero inside a row (|x|^p at 0)
    ours, theirs = (lambda t: F.normalize(t, p=p, dim=dim)), (lambda t: torch.nn.functional.normalize(t, p=p, dim=dim))
    check_vs_torch(ours, theirs, [x], hvp=False)
    # second order: torch's is nan at an all-zero row (its norm's double backward divides by 0); ours is 0 there
    check_vs_torch(ours, theirs, [x[[0, 2, 3]]])
    xo = tl.Tensor(x, requires_grad=True)
    ours(xo).sum().backward(create_graph=True)
    g = xo.grad
    xo.grad = None
    (g * tl.Tensor(x + 1)).sum().backward()
    assert np.isfinite(xo.grad.numpy()).all()
    check_float32(lambda t: F.normalize(t, p=p, dim=dim), [x])


def test_normalize_gradient_matches_finite_differences():
    x = tl.Tensor(np.random.default_rng(3).standard_normal((3, 4)), requires_grad=True)
    assert tl.gradcheck(lambda t: F.normalize(t, dim=1), x)
    assert tl.gradcheck(lambda t: F.normalize(t, p=3.0, dim=0), x)
    gradgradcheck(lambda t: F.normalize(t, dim=1), x)
    with pytest.raises(NotImplementedError, match="normalize"):
        F.normalize(x, p=float("inf"))
