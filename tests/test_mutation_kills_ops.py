"""Tests that kill mutants which survived the rest of the suite (issue 17), for the gradient rules:
ops.py, elementwise.py, movement.py, reductions.py and the engine in tensor.py.

Each test asserts what a PyTorch user relies on: values and gradients (both backward paths, and the
double-backward Hessian-vector product) equal PyTorch's, at exactly the ties, kinks and zeros where a rule
has a convention; engine behaviour (who gets a .grad, retain_grad, failed backward); error types and
messages naming the op. Comparisons with PyTorch skip cleanly where it is not installed (tests/parity.py).
"""
import re
import warnings

import numpy as np
import pytest

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from parity import GRID, check_vs_torch, torch_or_skip

POS = np.abs(GRID[GRID != 0]) + 0.25           # positive values incl. 1.0-ish and large ones
ZERO_ROW = np.array([[0.0, 2.0, -1.5], [3.0, 0.0, 0.0], [1.0, 2.0, 0.5]])


# ------------------------------------------------------------------ unary ops at the grid (kinks, zeros, ties)
def _unary_cases():
    t = {}
    t["exp"] = (lambda x: x.exp(), lambda x: x.exp(), GRID)
    t["log"] = (lambda x: x.log(), lambda x: x.log(), POS)
    t["sqrt"] = (lambda x: x.sqrt(), lambda x: x.sqrt(), POS)
    t["abs"] = (lambda x: x.abs(), lambda x: x.abs(), GRID)
    t["tanh"] = (lambda x: x.tanh(), lambda x: x.tanh(), GRID)
    t["sigmoid"] = (lambda x: x.sigmoid(), lambda x: x.sigmoid(), GRID)
    t["relu"] = (lambda x: x.relu(), lambda x: x.relu(), GRID)
    t["log1p"] = (lambda x: x.log1p(), lambda x: x.log1p(), POS - 0.9)
    t["neg"] = (lambda x: -x, lambda x: -x, GRID)
    t["sin"] = (lambda x: x.sin(), lambda x: x.sin(), GRID)
    t["cos"] = (lambda x: x.cos(), lambda x: x.cos(), GRID)
    t["tan"] = (lambda x: x.tan(), lambda x: x.tan(), GRID / 7.5)
    t["rsqrt"] = (lambda x: x.rsqrt(), lambda x: x.rsqrt(), POS)
    t["expm1"] = (lambda x: x.expm1(), lambda x: x.expm1(), GRID)
    t["exp2"] = (lambda x: x.exp2(), lambda x: x.exp2(), GRID)
    t["log2"] = (lambda x: x.log2(), lambda x: x.log2(), POS)
    t["log10"] = (lambda x: x.log10(), lambda x: x.log10(), POS)
    t["erf"] = (lambda x: x.erf(), lambda x: x.erf(), np.concatenate([GRID / 3, np.linspace(-6.5, 6.5, 131)]))
    t["sign"] = (lambda x: x.sign(), lambda x: x.sign(), GRID)
    t["floor"] = (lambda x: x.floor(), lambda x: x.floor(), GRID)
    t["ceil"] = (lambda x: x.ceil(), lambda x: x.ceil(), GRID)
    t["trunc"] = (lambda x: x.trunc(), lambda x: x.trunc(), GRID)
    t["round"] = (lambda x: x.round(), lambda x: x.round(), GRID)
    t["round_dec1"] = (lambda x: x.round(decimals=1), lambda x: x.round(decimals=1), GRID * 0.37)
    t["round_dec-1"] = (lambda x: x.round(decimals=-1), lambda x: x.round(decimals=-1), GRID * 7.3)
    t["logsigmoid"] = (F.logsigmoid, lambda x: x.sigmoid().log() if False else
                       __import__("torch").nn.functional.logsigmoid(x), GRID)
    t["pow2"] = (lambda x: x ** 2, lambda x: x ** 2, GRID)
    t["pow3"] = (lambda x: x ** 3, lambda x: x ** 3, GRID)
    t["pow0"] = (lambda x: x ** 0, lambda x: x ** 0, GRID)
    t["pow_half"] = (lambda x: x ** 0.5, lambda x: x ** 0.5, POS)
    t["rpow2"] = (lambda x: 2.0 ** x, lambda x: 2.0 ** x, GRID)
    t["rpow0"] = (lambda x: 0.0 ** x, lambda x: 0.0 ** x, GRID)
    t["rpow_half"] = (lambda x: 0.5 ** x, lambda x: 0.5 ** x, GRID)
    t["rpow_neg"] = (lambda x: (-2.0) ** x, lambda x: (-2.0) ** x, np.array([1.0, 2.0, 3.0, -1.0]))
    t["rsub"] = (lambda x: 3.0 - x, lambda x: 3.0 - x, GRID)
    t["rdiv"] = (lambda x: 3.0 / x, lambda x: 3.0 / x, POS)
    t["div_scalar"] = (lambda x: x / 4.0, lambda x: x / 4.0, GRID)
    t["mul_scalar"] = (lambda x: x * 3.0, lambda x: x * 3.0, GRID)
    t["add_scalar"] = (lambda x: x + 3.0, lambda x: x + 3.0, GRID)
    t["clip_both"] = (lambda x: x.clip(-2.0, 3.0), lambda x: x.clamp(-2.0, 3.0), GRID)
    t["clip_min"] = (lambda x: x.clip(min=-1.0), lambda x: x.clamp(min=-1.0), GRID)
    t["clip_max"] = (lambda x: x.clip(max=2.0), lambda x: x.clamp(max=2.0), GRID)
    return t


UNARY = _unary_cases()


def _nz(y, a):
    """y + 0 a^2: the same values and gradients, but torch's Hessian is then never a ZeroTensor (no .numpy())."""
    return y + a * a * 0.0


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_vs_torch_at_grid(name):
    tl_fn, torch_fn, x = UNARY[name]
    torch_or_skip()
    check_vs_torch(lambda a: _nz(tl_fn(a), a), lambda a: _nz(torch_fn(a), a), [np.asarray(x, dtype=np.float64)],
                   tol=dict(rtol=1e-12, atol=1e-13), hvp=name != "rpow0")   # (torch: nan second derivative of 0**x)


@pytest.mark.parametrize("kind", ["elu", "celu2", "selu", "softplus", "softplus_b2t4"])
def test_elu_softplus_at_kinks_vs_torch(kind):
    torch = torch_or_skip()
    TF = torch.nn.functional
    x = np.concatenate([GRID, [-0.0, 0.0, 2.0, 10.0, 20.0, 19.5, 20.5]])
    fns = {"elu": (lambda a: F.elu(a, 1.5), lambda a: TF.elu(a, 1.5)),
           "celu2": (lambda a: F.celu(a, 2.0), lambda a: TF.celu(a, 2.0)),
           "selu": (F.selu, TF.selu),
           "softplus": (F.softplus, TF.softplus),
           "softplus_b2t4": (lambda a: F.softplus(a, 2.0, 4.0), lambda a: TF.softplus(a, 2.0, 4.0))}
    check_vs_torch(*fns[kind], [x], tol=dict(rtol=1e-12, atol=1e-13))


# ------------------------------------------------------------------ binary ops: ties, zeros, broadcasting
TIE_A = np.array([[1.0, 2.0, -0.0, 3.0], [0.0, -1.0, 2.5, 2.0], [4.0, 4.0, -3.0, 0.5]])
TIE_B = np.array([[1.0, 3.0, 0.0, 2.0], [0.0, -1.0, 1.0, 2.5], [4.0, -4.0, -3.0, 0.5]])


def _binary_cases():
    import torch
    return {
        "add_bcast": (lambda a, b: a + b, lambda a, b: a + b, [TIE_A, TIE_B[:1]]),
        "sub_bcast": (lambda a, b: a - b, lambda a, b: a - b, [TIE_A[:, :1], TIE_B]),
        "mul_bcast": (lambda a, b: a * b, lambda a, b: a * b, [TIE_A, TIE_B[:, 1:2]]),
        "div": (lambda a, b: a / b, lambda a, b: a / b, [TIE_A, TIE_B + 5.5]),
        "pow": (lambda a, b: a ** b, lambda a, b: a ** b,
                [np.array([0.0, 0.0, 0.0, 2.0, 3.0, -2.0, 0.5, 1.5]), np.array([0.0, 2.0, 3.0, 0.0, 1.5, 2.0, -1.0, 2.5])]),
        "pow_nonzero_base": (lambda a, b: a ** b, lambda a, b: a ** b,
                             [np.array([2.0, 3.0, 0.5, 1.5, 1.0, 4.0]), np.array([0.0, 1.5, -1.0, 2.5, 3.0, 2.0])]),
        "maximum": (tl.maximum, torch.maximum, [TIE_A, TIE_B]),
        "minimum": (tl.minimum, torch.minimum, [TIE_A, TIE_B]),
        "maximum_bcast": (tl.maximum, torch.maximum, [TIE_A, TIE_B[1:2]]),
        "minimum_bcast": (tl.minimum, torch.minimum, [TIE_A[:, 2:3], TIE_B]),
        "where": (lambda a, b: tl.where(tl.Tensor(TIE_A > TIE_B), a, b),
                  lambda a, b: torch.where(torch.tensor(TIE_A > TIE_B), a, b), [TIE_A, TIE_B]),
        "logaddexp": (lambda a, b: a.logaddexp(b), torch.logaddexp, [TIE_A, TIE_B]),
        "matmul_rect": (lambda a, b: a @ b, lambda a, b: a @ b, [TIE_A, TIE_B.T[:, :2]]),
        "matmul_batch": (lambda a, b: a @ b, lambda a, b: a @ b,
                         [np.arange(24.0).reshape(2, 3, 4) / 7, np.arange(8.0).reshape(4, 2) - 3]),
    }


@pytest.mark.parametrize("name", ["add_bcast", "sub_bcast", "mul_bcast", "div", "pow", "pow_nonzero_base", "maximum", "minimum",
                                  "maximum_bcast", "minimum_bcast", "where", "logaddexp", "matmul_rect",
                                  "matmul_batch"])
@pytest.mark.parametrize("which", ["both", "first", "second"])
def test_binary_vs_torch_at_ties(name, which):
    torch_or_skip()
    tl_fn, torch_fn, arrays = _binary_cases()[name]
    grad_of = {"both": [0, 1], "first": [0], "second": [1]}[which]
    check_vs_torch(lambda a, b: _nz(tl_fn(a, b), a.sum()) + (b * b * 0.0).sum(),
                   lambda a, b: _nz(torch_fn(a, b), a.sum()) + (b * b * 0.0).sum(), arrays, grad_of=grad_of,
                   tol=dict(rtol=1e-12, atol=1e-13), hvp=name != "pow")   # (torch: nan d2/db2 of 0**b)


# ------------------------------------------------------------------ reductions: ties, zeros, axes
RED = np.array([[[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [-1.0, 5.0, 0.0, 5.0]],
                [[0.0, 0.0, 1.0, -2.0], [4.0, 1.0, 4.0, 4.0], [7.0, -7.0, 0.5, 7.0]]])


def _reduction_cases():
    import torch
    return {
        "sum_all": (lambda x: x.sum(), lambda x: x.sum()),
        "sum_neg_keep": (lambda x: x.sum(-1, keepdim=True), lambda x: x.sum(-1, keepdim=True)),
        "sum_tuple": (lambda x: x.sum((0, 2)), lambda x: x.sum((0, 2))),
        "sum_tuple_keep": (lambda x: x.sum((2, -3), keepdim=True), lambda x: x.sum((2, -3), keepdim=True)),
        "mean_1": (lambda x: x.mean(1), lambda x: x.mean(1)),
        "max_all": (lambda x: x.max(), lambda x: x.max()),
        "min_all": (lambda x: x.min(), lambda x: x.min()),
        "max_dim": (lambda x: x.max(-1).values, lambda x: x.max(-1).values),
        "max_dim_keep": (lambda x: x.max(1, keepdim=True).values, lambda x: x.max(1, keepdim=True).values),
        "min_dim": (lambda x: x.min(2).values, lambda x: x.min(2).values),
        "min_dim0": (lambda x: x.min(0).values, lambda x: x.min(0).values),
        "amax": (lambda x: x.amax(-1), lambda x: x.amax(-1)),
        "amax_tuple_keep": (lambda x: x.amax((0, 2), keepdim=True), lambda x: x.amax((0, 2), keepdim=True)),
        "amin": (lambda x: x.amin(1), lambda x: x.amin(1)),
        "logsumexp": (lambda x: x.logsumexp(-1), lambda x: x.logsumexp(-1)),
        "logsumexp_keep": (lambda x: x.logsumexp((0, 1), keepdim=True), lambda x: x.logsumexp((0, 1), keepdim=True)),
        "logsumexp_all": (lambda x: x.logsumexp(), lambda x: x.logsumexp(tuple(range(x.ndim)))),
        "softmax0": (lambda x: x.softmax(0), lambda x: x.softmax(0)),
        "softmax": (lambda x: x.softmax(-1), lambda x: x.softmax(-1)),
        "log_softmax1": (lambda x: x.log_softmax(1), lambda x: x.log_softmax(1)),
        "log_softmax": (lambda x: x.log_softmax(-1), lambda x: x.log_softmax(-1)),
        "prod_all": (lambda x: (x + 0.5).prod(), lambda x: (x + 0.5).prod()),
        "prod_last": (lambda x: x.prod(-1), lambda x: x.prod(-1)),
        "prod_dim0_keep": (lambda x: x.prod(0, keepdim=True), lambda x: x.prod(0, keepdim=True)),
        "prod_dim1": (lambda x: x.prod(1), lambda x: x.prod(1)),
        "prod_nozero": (lambda x: (x * x + 1).prod(1), lambda x: (x * x + 1).prod(1)),
        "prod_all_keep": (lambda x: tl.prod(x + 0.5, keepdim=True), lambda x: torch.prod(x + 0.5).reshape(1, 1, 1)),
        "var": (lambda x: x.var(1), lambda x: x.var(1)),
        "std": (lambda x: x.std(-1), lambda x: x.std(-1)),
        "var_mean": (lambda x: sum(tl.var_mean(x, 1)), lambda x: sum(torch.var_mean(x, 1))),
        "var_mean_c0_keep": (lambda x: sum(tl.var_mean(x, 2, keepdim=True, correction=0)),
                             lambda x: sum(torch.var_mean(x, 2, keepdim=True, correction=0))),
        "var_mean_unb_false": (lambda x: sum(tl.var_mean(x, 0, unbiased=False)),
                               lambda x: sum(torch.var_mean(x, 0, unbiased=False))),
        "var_mean_all": (lambda x: sum(tl.var_mean(x)), lambda x: sum(torch.var_mean(x))),
        "std_mean": (lambda x: sum(tl.std_mean(x, 1)), lambda x: sum(torch.std_mean(x, 1))),
        "std_mean_c2_keep": (lambda x: sum(tl.std_mean(x, -1, keepdim=True, correction=2)),
                             lambda x: sum(torch.std_mean(x, -1, keepdim=True, correction=2))),
        "std_mean_unb_false": (lambda x: sum(tl.std_mean(x, (0, 2), unbiased=False)),
                               lambda x: sum(torch.std_mean(x, (0, 2), unbiased=False))),
        "std_mean_all": (lambda x: sum(tl.std_mean(x)), lambda x: sum(torch.std_mean(x))),
    }


@pytest.mark.parametrize("name", sorted(["sum_all", "sum_neg_keep", "sum_tuple", "sum_tuple_keep", "mean_1",
                                         "max_all", "min_all", "max_dim", "max_dim_keep", "min_dim", "min_dim0",
                                         "amax", "amax_tuple_keep", "amin", "logsumexp", "logsumexp_keep",
                                         "logsumexp_all", "softmax0", "softmax", "log_softmax1", "log_softmax",
                                         "prod_all", "prod_last", "prod_dim0_keep", "prod_dim1", "prod_nozero",
                                         "prod_all_keep", "var", "std", "var_mean", "var_mean_c0_keep",
                                         "var_mean_unb_false", "var_mean_all", "std_mean", "std_mean_c2_keep",
                                         "std_mean_unb_false", "std_mean_all"]))
def test_reduction_vs_torch_at_ties_and_zeros(name):
    torch_or_skip()
    tl_fn, torch_fn = _reduction_cases()[name]
    check_vs_torch(lambda x: _nz(tl_fn(x), x.sum()), lambda x: _nz(torch_fn(x), x.sum()), [RED],
                   tol=dict(rtol=1e-12, atol=1e-12))


# ------------------------------------------------------------------ movement: masked_fill, unflatten
def test_masked_fill_mask_forms_and_value_dtype():
    x = tl.Tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3))
    want = np.where([[True, False, True], [False, False, True]], -1.0, np.arange(6.0).reshape(2, 3))
    for mask in ([[True, False, True], [False, False, True]],                       # a nested list
                 np.array([[True, False, True], [False, False, True]]),             # an array
                 tl.Tensor(np.array([[True, False, True], [False, False, True]]))):  # a Tensor
        out = x.masked_fill(mask, -1.0)
        np.testing.assert_array_equal(out.numpy(), want)
        assert out.dtype == np.float32
        assert out.requires_grad is False                    # a constant fill value records no graph
    xg = tl.Tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3), requires_grad=True)
    v = tl.tensor(2.5, requires_grad=True)                  # a 0-d float32 Tensor value gets its gradient
    out = xg.masked_fill(np.array([True, False, True]), v)
    assert out.dtype == np.float32
    out.sum().backward()
    assert v.grad.dtype == np.float32 and float(v.grad) == 4.0
    np.testing.assert_array_equal(xg.grad.numpy(), [[0, 1, 0], [0, 1, 0]])
    with pytest.raises(ValueError, match=r"^masked_fill: mask of shape \(2,\) does not broadcast to the input's "
                                         r"shape \(2, 3\)$"):
        x.masked_fill(np.array([True, False]), 0.0)        # shapes that do not broadcast at all


def test_unflatten_sizes_rules():
    torch = torch_or_skip()
    x = np.arange(12.0).reshape(2, 6)
    for dim, sizes in [(1, (2, 1, -1)), (1, (-1, 1, 2)), (1, (1, 1, 6)), (1, (6, 1)), (-1, (1, -1)), (0, (-1,)),
                       (1, (-1, 3)), (0, (1, 2))]:
        ours = tl.Tensor(x).unflatten(dim, sizes)
        theirs = torch.tensor(x).unflatten(dim, sizes)
        assert ours.shape == tuple(theirs.shape), (dim, sizes)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    # zero-size dims: -1 is resolved here (a reshape cannot infer it when the tensor is empty)
    assert tl.zeros(0, 4).unflatten(1, (2, -1)).shape == tuple(torch.zeros(0, 4).unflatten(1, (2, -1)).shape)
    assert tl.zeros(2, 0, 3).unflatten(1, (-1,)).shape == (2, 0, 3)
    for sizes in [(-1, -1), (-1, 4), (0, -1), (2, 2), (4, -1)]:
        with pytest.raises(ValueError, match=r"^unflatten: sizes .* don't multiply to 6, the size of dim 1"):
            tl.Tensor(x).unflatten(1, sizes)
    with pytest.raises(IndexError, match=r"^unflatten: axis 2 is out of range"):
        tl.Tensor(x).unflatten(2, (2, 3))
    with pytest.raises(IndexError, match=r"^unflatten: axis 1 is out of range"):
        tl.ones(4).unflatten(1, (2, 2))
    # a 0-d tensor counts as one element in one dim here (tinygrad_lite's extension; torch raises)
    assert tl.tensor(5.0).unflatten(0, (1,)).shape == (1,)
    assert tl.tensor(5.0).unflatten(-1, (1, 1)).shape == (1, 1)
    with pytest.raises(IndexError, match=r"^unflatten: axis 1 is out of range"):
        tl.tensor(5.0).unflatten(1, (1,))


@pytest.mark.parametrize("fn", ["var_mean", "std_mean"])
def test_var_std_mean_correction_and_unbiased_together_is_an_error_naming_the_op(fn):
    with pytest.raises(TypeError, match=rf"^{fn}: give correction or unbiased, not both$"):
        getattr(tl, fn)(tl.ones(3), unbiased=True, correction=1)


# ------------------------------------------------------------------ float32 stays float32 in every gradient
def _f32_cases():
    return {
        "maximum": lambda h, w: tl.maximum(h, w), "minimum": lambda h, w: tl.minimum(h, w),
        "where": lambda h, w: tl.where(h > w, h, w), "mul": lambda h, w: h * w, "div": lambda h, w: h / (w * w + 1),
        "pow": lambda h, w: (h * h + 1) ** w, "logaddexp": lambda h, w: h.logaddexp(w), "matmul": lambda h, w: h @ w.T,
        "linear": lambda h, w: F.linear(h, w, w[0]), "abs": lambda h, w: h.abs(), "relu": lambda h, w: h.relu(),
        "sigmoid": lambda h, w: h.sigmoid(), "tanh": lambda h, w: h.tanh(), "clip": lambda h, w: h.clip(-0.5, 0.5),
        "clip_max": lambda h, w: h.clip(max=0.5), "pow_scalar": lambda h, w: h ** 3, "pow_scalar0": lambda h, w: h ** 0,
        "rpow": lambda h, w: 2.0 ** h, "rpow0": lambda h, w: 0.0 ** h, "rdiv": lambda h, w: 1.0 / (h * h + 1),
        "sum": lambda h, w: h.sum(0), "mean": lambda h, w: h.mean(-1), "max": lambda h, w: h.max(),
        "max_dim": lambda h, w: h.max(1).values, "amin": lambda h, w: h.amin(0), "logsumexp": lambda h, w: h.logsumexp(1),
        "softmax": lambda h, w: h.softmax(0), "log_softmax": lambda h, w: h.log_softmax(1),
        "prod": lambda h, w: h.prod(1), "prod_zero": lambda h, w: (h * tl.Tensor(np.eye(3, dtype=np.float32))).prod(1),
        "std": lambda h, w: h.std(0), "sign": lambda h, w: h.sign(), "round": lambda h, w: h.round(),
        "floor": lambda h, w: h.floor(), "erf": lambda h, w: h.erf(), "rsqrt": lambda h, w: (h * h + 1).rsqrt(),
        "elu": lambda h, w: F.elu(h), "selu": lambda h, w: F.selu(h), "softplus": lambda h, w: F.softplus(h),
        "logsigmoid": lambda h, w: F.logsigmoid(h), "sin": lambda h, w: h.sin(), "cos": lambda h, w: h.cos(),
        "tan": lambda h, w: h.tan(), "expm1": lambda h, w: h.expm1(), "exp2": lambda h, w: h.exp2(),
        "log2": lambda h, w: (h * h + 1).log2(), "log10": lambda h, w: (h * h + 1).log10(),
        "log1p": lambda h, w: (h * h).log1p(), "sqrt": lambda h, w: (h * h + 1).sqrt(),
        "getitem": lambda h, w: h[[0, 0, 2]], "setitem": lambda h, w: _setitem(h, w),
        "cat": lambda h, w: tl.cat([h, w], -1), "flip": lambda h, w: h.flip(0), "gather": lambda h, w: h.gather(1, np.array([[0, 0], [2, 1], [1, 1]])),
        "masked_fill": lambda h, w: h.masked_fill(np.eye(3, dtype=bool), w[0, 0]), "repeat": lambda h, w: h.repeat(2, 1),
        "pad": lambda h, w: F.pad(h, (1, -1)), "permute": lambda h, w: h.permute(1, 0), "expand": lambda h, w: h[:1].expand(4, 3),
        "cross_entropy": lambda h, w: F.cross_entropy(h, np.array([0, 2, 1])),
        "cross_entropy_probs": lambda h, w: F.cross_entropy(h, w.softmax(1), label_smoothing=0.1),
        "cross_entropy_w": lambda h, w: F.cross_entropy(h, np.array([0, 2, 1]), weight=tl.Tensor(np.array([1, 2, 3], np.float32)), label_smoothing=0.2, reduction="none"),
        "bce": lambda h, w: F.binary_cross_entropy(h.sigmoid(), w.sigmoid()),
    }


def _setitem(h, w):
    h = h * 1
    h[0] = w[1]
    return h


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("name", sorted(_f32_cases()))
def test_float32_in_gives_float32_gradients_also_to_retained_non_leaves(name, create_graph):
    rng = np.random.default_rng(3)
    x = tl.Tensor(np.array([[0.5, -1.0, 2.0], [1.0, 1.0, -0.0], [0.25, 3.0, -2.0]], np.float32), requires_grad=True)
    v = tl.Tensor(rng.standard_normal((3, 3)).astype(np.float32), requires_grad=True)
    h, w = x * 1.0, v * 1.0
    h.retain_grad()
    w.retain_grad()
    y = _f32_cases()[name](h, w)
    assert y.dtype == np.float32
    y.backward(tl.Tensor(np.ones(y.shape, np.float32)), create_graph=create_graph)
    for t, what in ((h, "h"), (w, "w"), (x, "x"), (v, "v")):
        if t.grad is not None:
            assert t.grad.dtype == np.float32, f"{what}.grad is {t.grad.dtype}"
    assert h.grad is not None


# ------------------------------------------------------------------ elementwise: erf's tables, rounding of ints, nan
def test_erf_matches_math_erf_on_every_interval_near_zero_and_at_the_ends(monkeypatch):
    import math
    import tinygrad_lite.elementwise as E
    monkeypatch.setattr(E, "_ERF_TABLES", None)    # build the tables afresh here (they are cached per process)
    h = 6.0 / 64
    pts = np.concatenate([np.arange(65) * h, np.arange(64) * h + h / 3, np.arange(64) * h + 0.9 * h,
                          [1e-300, 1e-30, 1e-8, 1e-3, 0.01, 0.05, 0.09, h * 0.999, 5.999, 6.0, 6.5, 27.0]])
    x = np.concatenate([pts, -pts])
    got = tl.Tensor(x).erf().numpy()
    want = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)
    assert got.dtype == np.float64
    near0 = np.linspace(0.05, 0.0937, 200)          # the Taylor series' upper end: within a few ulp of math.erf
    np.testing.assert_allclose(tl.Tensor(near0).erf().numpy(), [math.erf(v) for v in near0], rtol=6e-16, atol=0)
    special = tl.Tensor(np.array([np.nan, np.inf, -np.inf, -0.0])).erf().numpy()
    assert np.isnan(special[0]) and special[1] == 1.0 and special[2] == -1.0
    assert special[3] == 0.0 and np.signbit(special[3])
    y32 = tl.Tensor(np.array([[0.5, -2.0], [0.01, 7.0]], np.float32)).erf()
    assert y32.dtype == np.float32 and y32.shape == (2, 2)
    np.testing.assert_allclose(y32.numpy(), [[math.erf(0.5), math.erf(-2.0)], [math.erf(np.float32(0.01)), 1.0]],
                               rtol=1e-7)
    assert tl.Tensor(np.float64(0.25)).erf().shape == ()


@pytest.mark.parametrize("op", ["sign", "floor", "ceil", "trunc", "round"])
def test_rounding_ops_keep_integer_tensors_and_match_torch(op):
    torch = torch_or_skip()
    a = np.array([-7, -2, -1, 0, 1, 3, 25], dtype=np.int64)
    ours, theirs = getattr(tl.Tensor(a), op)(), getattr(torch.tensor(a), op)()
    assert ours.dtype == np.int64
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    f = np.array([np.nan, -np.inf, np.inf, -0.0, 2.5, -2.5, 0.5, 1.5], dtype=np.float32)
    ours, theirs = getattr(tl.Tensor(f), op)(), getattr(torch.tensor(f), op)()
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_round_with_decimals_matches_torch():
    torch = torch_or_skip()
    x = np.array([0.125, 0.375, -0.125, 1.25, 2.675, -1234.5678, 1250.0, 1350.0, -150.0, 0.0], dtype=np.float32)
    for d in (1, 2, 3, -1, -2):
        ours = tl.Tensor(x).round(decimals=d)
        assert ours.dtype == np.float32
        np.testing.assert_array_equal(ours.numpy(), torch.tensor(x).round(decimals=d).numpy(), err_msg=str(d))


# ------------------------------------------------------------------ movement: defaults, 0-d and 1-d inputs, messages
X23 = np.arange(6.0).reshape(2, 3)


def test_split_chunk_default_dim_is_0_and_chunk_rules():
    torch = torch_or_skip()
    x, t = tl.Tensor(X23), torch.tensor(X23)
    for ours, theirs in ((x.split(1), t.split(1)), (x.chunk(2), t.chunk(2)), (x.chunk(1), t.chunk(1)),
                         (tl.arange(5.0).chunk(2), torch.arange(5.0).chunk(2)),
                         (tl.split(x, 1), torch.split(t, 1)), (tl.chunk(x, 2), torch.chunk(t, 2))):
        assert [p.shape for p in ours] == [tuple(p.shape) for p in theirs]
        for p, q in zip(ours, theirs):
            np.testing.assert_array_equal(p.numpy(), q.numpy())
    with pytest.raises(ValueError, match=r"^chunk: a 0-d tensor has no dim to chunk$"):
        tl.tensor(1.0).chunk(1)
    with pytest.raises(IndexError, match=r"^chunk: axis 2 is out of range"):
        x.chunk(2, 2)


def test_flip_1d_0d_and_messages():
    x1 = tl.arange(4.0)
    np.testing.assert_array_equal(x1.flip(0).numpy(), [3, 2, 1, 0])
    np.testing.assert_array_equal(tl.flip(x1, -1).numpy(), [3, 2, 1, 0])
    assert float(tl.tensor(3.0).flip(0)) == 3.0 and tl.tensor(3.0).flip(-1).shape == ()
    with pytest.raises(IndexError, match=r"^flip: axis 1 is out of range"):
        tl.tensor(1.0).flip(1)
    with pytest.raises(IndexError, match=r"^flip: axis 2 is out of range"):
        tl.Tensor(X23).flip(2)
    with pytest.raises(ValueError, match=r"^repeat: sizes must be non-negative, got \(-1, 1\)$"):
        tl.Tensor(X23).repeat(-1, 1)


def test_gather_index_forms_0d_1d_empty_and_messages():
    torch = torch_or_skip()
    x = tl.Tensor(X23, requires_grad=True)
    want = torch.tensor(X23).gather(1, torch.tensor([[2, 0], [1, 1]])).numpy()
    for idx in ([[2, 0], [1, 1]], np.array([[2, 0], [1, 1]]), tl.Tensor(np.array([[2, 0], [1, 1]]))):
        np.testing.assert_array_equal(x.gather(1, idx).numpy(), want)
    np.testing.assert_array_equal(tl.arange(4.0).gather(0, np.array([3, 0, 3])).numpy(), [3, 0, 3])   # 1-d
    assert x.gather(1, np.zeros((2, 0), dtype=np.int64)).shape == (2, 0)                               # empty
    s = tl.tensor(3.0)                                                                                   # 0-d
    assert float(s.gather(0, np.array(0))) == 3.0 and float(s.gather(-1, np.array(0))) == 3.0
    with pytest.raises(IndexError, match=r"^gather: axis 1 is out of range"):
        s.gather(1, np.array(0))
    with pytest.raises(ValueError, match=r"^gather: index of shape \(1,\) for a 0-d input; it must be 0-d too$"):
        s.gather(0, np.array([0]))
    with pytest.raises(IndexError, match=r"^gather: index 1 is out of bounds for a 0-d input$"):
        s.gather(0, np.array(1))
    with pytest.raises(IndexError, match=r"^gather: axis 2 is out of range"):
        x.gather(2, [[0]])
    with pytest.raises(IndexError, match=r"^gather: index -1 is out of bounds for dim 1 with size 3"):
        x.gather(1, [[-1, 0], [0, 0]])


def test_pad_defaults_boundaries_and_fresh_memory():
    torch = torch_or_skip()
    TF = torch.nn.functional
    x = np.arange(3.0)
    for p in [(1, 2), (-3, 0), (-2, -1), (-1, -2), (-3, 1), (1, -3), (0, 0), (-1, 0)]:
        ours, theirs = F.pad(tl.Tensor(x), p), TF.pad(torch.tensor(x), p)
        assert ours.shape == tuple(theirs.shape), p
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=str(p))
    for p in [(-4, 3), (-3, -1)]:
        with pytest.raises(ValueError, match=rf"^pad: padding \({p[0]}, {p[1]}\) gives a negative size in dim 0"):
            F.pad(tl.Tensor(x), p)
    with pytest.raises(ValueError, match=r"^pad: 4 pad amounts for a tensor of 1 dims"):
        F.pad(tl.Tensor(x), (1, 1, 1, 1))
    for p in [(0, 0), (-1, 0), (0, -1)]:        # no padding added: still new memory, as torch's
        t = tl.Tensor(x.copy())
        y = F.pad(t, p)
        assert y is not t
        y += 100.0
        np.testing.assert_array_equal(t.numpy(), x)


def test_prod_arguments_dtypes_and_0d():
    torch = torch_or_skip()
    a = np.array([[1.5, -2.0, 3.0], [0.5, 4.0, -1.0]], np.float32)
    x, t = tl.Tensor(a), torch.tensor(a)
    assert tl.prod(x).shape == () and x.prod().shape == ()                # keepdim defaults to False
    np.testing.assert_allclose(tl.prod(x, axis=1).numpy(), t.prod(1).numpy(), rtol=1e-6)
    np.testing.assert_allclose(tl.prod(x, dim=0, keepdims=True).numpy(), t.prod(0, keepdim=True).numpy(), rtol=1e-6)
    np.testing.assert_allclose(tl.prod(x, 1).numpy(), t.prod(1).numpy(), rtol=1e-6)
    np.testing.assert_allclose(tl.arange(1.0, 5.0).prod(0).numpy(), 24.0)          # 1-d over its dim
    y = tl.prod(x, 1, dtype=np.float32)
    assert y.dtype == np.float32
    assert tl.prod(tl.Tensor(np.array([1, 2, 3], np.int32)), dtype=np.float32).dtype == np.float32
    for arr in (np.array([1, 2, 3], np.int32), np.array([3, 4], np.uint8), np.array([True, True])):
        ours, theirs = tl.prod(tl.Tensor(arr)), torch.prod(torch.tensor(arr))
        assert ours.dtype == np.int64 and int(ours) == int(theirs)
    s = tl.tensor(3.0)
    assert float(s.prod(0)) == 3.0 and float(s.prod(-1)) == 3.0
    with pytest.raises(IndexError, match=r"^prod: axis 1 is out of range"):
        s.prod(1)
    with pytest.raises(IndexError, match=r"^prod: axis 3 is out of range"):
        x.prod(3)


def test_var_std_mean_unbiased_true_matches_torch():
    torch = torch_or_skip()
    a = np.array([[1.0, 2.0, 4.0, 8.0], [0.5, -1.0, 3.0, 2.0]])
    for fn in ("var_mean", "std_mean"):
        for kw in (dict(unbiased=True), dict(unbiased=False), dict(correction=0), dict(correction=2), {}):
            ours = getattr(tl, fn)(tl.Tensor(a), 1, **kw)
            theirs = getattr(torch, fn)(torch.tensor(a), 1, **kw)
            for o, t in zip(ours, theirs):
                np.testing.assert_allclose(o.numpy(), t.numpy(), rtol=1e-12, err_msg=f"{fn} {kw}")


def test_elu_celu_keep_the_sign_of_zero_with_a_negative_alpha_as_torch():
    """A real (small) difference the mutant ELU.forward `a > 0 -> a >= 0` exposed: with alpha < 0 the negative
    branch turned +0.0 into -0.0 (and -0.0 into +0.0); PyTorch returns x itself at both zeros."""
    torch = torch_or_skip()
    TF = torch.nn.functional
    x = np.array([0.0, -0.0, 0.0, -0.0, 1.0, -1.0])
    for ours, theirs in ((F.elu(tl.Tensor(x), -1.5), TF.elu(torch.tensor(x), -1.5)),
                         (F.celu(tl.Tensor(x), -2.0), TF.celu(torch.tensor(x), -2.0)),
                         (F.elu(tl.Tensor(x), 1.0), TF.elu(torch.tensor(x), 1.0)),
                         (F.selu(tl.Tensor(x)), TF.selu(torch.tensor(x)))):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        np.testing.assert_array_equal(np.signbit(ours.numpy()), np.signbit(theirs.numpy()))


def test_split_empty_dims_0d_and_messages():
    torch = torch_or_skip()
    for size in (0, 2):                 # an empty dim splits into one empty piece, as torch's
        ours, theirs = tl.zeros(0, 2).split(size), torch.zeros(0, 2).split(size)
        assert [p.shape for p in ours] == [tuple(p.shape) for p in theirs] == [(0, 2)]
    for size in (0, -1):
        with pytest.raises(ValueError, match=rf"^split: split_size must be positive, got {size}$"):
            tl.zeros(3).split(size)
    with pytest.raises(ValueError, match=r"^split: split_size must be positive, got -1$"):
        tl.zeros(0).split(-1)
    with pytest.raises(ValueError, match=r"^split: a 0-d tensor has no dim to split$"):
        tl.tensor(1.0).split(1)
    with pytest.raises(IndexError, match=r"^split: axis 2 is out of range"):
        tl.zeros(2, 3).split(1, 2)


def test_rsqrt_at_zero_and_below_is_silent_inf_and_nan_as_torch():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no NumPy RuntimeWarning reaches the user (torch warns nothing)
        y = tl.Tensor(np.array([0.0, -1.0, 4.0])).rsqrt().numpy()
    assert y[0] == np.inf and np.isnan(y[1]) and y[2] == 0.5


def test_pow_backward_at_zero_and_negative_bases_is_silent_as_torch():
    import warnings
    a = tl.Tensor(np.array([0.0, 0.0, -2.0, 2.0]), requires_grad=True)
    b = tl.Tensor(np.array([0.5, -1.0, 0.5, 3.0]), requires_grad=True)
    with np.errstate(all="ignore"):
        y = a ** b
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # 0 ** -0.5 (divide) and (-2) ** -0.5 (invalid) warn in NumPy
        y.backward(tl.ones(4, dtype=np.float64))
    torch = torch_or_skip()
    ta = torch.tensor(a.numpy(), requires_grad=True)
    tb = torch.tensor(b.numpy(), requires_grad=True)
    (ta ** tb).backward(torch.ones(4, dtype=torch.float64))
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), equal_nan=True)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), equal_nan=True)


def test_anomaly_mode_checks_only_the_gradients_of_inputs_that_require_grad():
    """detect_anomaly checks each backward's gradients for nan/inf: a gradient computed for an input that does not
    require grad (or a placeholder for it) must not be there to trip it."""
    base = tl.Tensor(np.array([1.0, 2.0]))
    e = tl.Tensor(np.array([2.0, 3.0]), requires_grad=True)
    with tl.autograd.detect_anomaly():
        (base ** e).sum().backward()                               # Pow: the base needs no gradient
    np.testing.assert_allclose(e.grad.numpy(), [0.0, 8.0 * np.log(2.0)])
    nan = float("nan")
    with tl.autograd.detect_anomaly():
        v = tl.tensor(1.0, dtype=np.float64, requires_grad=True)   # SetItem: only the written value needs grad
        y = tl.zeros(3, dtype=np.float64)
        y[0] = v
        y.backward(tl.Tensor(np.array([1.0, nan, nan])))
        assert float(v.grad) == 1.0
        a = tl.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)   # only the written-into tensor needs grad
        y = a * 1.0
        y[0] = tl.tensor(5.0, dtype=np.float64)
        y.backward(tl.Tensor(np.array([nan, 1.0, 1.0])))
        np.testing.assert_array_equal(a.grad.numpy(), [0.0, 1.0, 1.0])


# ------------------------------------------------------------------ the engine: Tensor.backward, _run_backward, _toposort
def test_backward_errors_name_backward_and_say_what_to_do():
    with pytest.raises(RuntimeError, match=r"^backward\(\): this tensor does not require grad and has no graph; did "
                                           r"you create the inputs with requires_grad=True, or compute it under "
                                           r"no_grad\(\)\?$"):
        tl.ones(2).sum().backward()
    x = tl.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"^backward\(\): a gradient is implicit only for a one-element output; this "
                                           r"one has shape \(2, 3\): call backward\(gradient\) or reduce it first "
                                           r"\(e\.g\. \.sum\(\)\)$"):
        (x * 2).backward()
    with pytest.raises(ValueError, match=r"^backward\(\): gradient shape \(3,\) does not match output shape \(2, 3\)$"):
        (x * 2).backward(tl.ones(3))
    assert x.grad is None


def test_backward_implicit_and_explicit_gradients():
    x = tl.Tensor(np.array([[1.5, -2.0]], np.float32), requires_grad=True)
    y = (x * 3.0).sum(1)                        # one element, shape (1,): the implicit gradient is 1
    y.retain_grad()
    y.backward()
    assert y.grad.dtype == np.float32 and y.grad.shape == (1,) and float(y.grad[0]) == 1.0
    np.testing.assert_array_equal(x.grad.numpy(), [[3.0, 3.0]])
    x2 = tl.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x2 * 2.0).backward(np.array([1.0, -1.0]))          # a NumPy gradient
    (x2 * 2.0).backward([0.5, 0.5])                     # a list
    np.testing.assert_array_equal(x2.grad.numpy(), [3.0, -1.0])
    # a leaf's own backward: .grad gets a copy of the gradient, never the caller's memory
    leaf = tl.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    g = tl.Tensor(np.array([5.0, 6.0]))
    leaf.backward(g)
    g.data[0] = 100.0
    np.testing.assert_array_equal(leaf.grad.numpy(), [5.0, 6.0])
    assert leaf.grad.requires_grad is False
    leaf.backward(tl.Tensor(np.array([1.0, 1.0])))      # and accumulates
    np.testing.assert_array_equal(leaf.grad.numpy(), [6.0, 7.0])
    s = tl.tensor(2.0, requires_grad=True)              # a one-element leaf: implicit 1
    s.backward()
    assert float(s.grad) == 1.0 and s.grad.requires_grad is False


def test_gradients_never_share_memory_with_each_other_or_the_callers_gradient():
    a = tl.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = tl.Tensor(np.array([3.0, 4.0]), requires_grad=True)
    up = tl.Tensor(np.array([1.0, 10.0]))
    (a + b).backward(up)                                # Add hands the same gradient to both inputs
    a.grad *= 2.0
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 10.0])
    b.grad.zero_()
    np.testing.assert_array_equal(up.numpy(), [1.0, 10.0])
    np.testing.assert_array_equal(a.grad.numpy(), [2.0, 20.0])
    c = tl.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (c * 1.0).reshape(2).backward(up)
    c.grad += 1.0
    np.testing.assert_array_equal(up.numpy(), [1.0, 10.0])


def test_create_graph_keeps_the_graph_and_grad_mode_is_restored():
    torch = torch_or_skip()
    x = tl.Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    y = (x * x * x).sum()
    y.backward(create_graph=True)                       # retain_graph follows create_graph
    assert x.grad.requires_grad
    g1 = x.grad
    x.grad = None
    y.backward(retain_graph=True)                       # the graph was kept by create_graph
    np.testing.assert_allclose(x.grad.numpy(), g1.numpy())
    x.grad = None
    (g1 * tl.Tensor(np.array([1.0, 2.0, 3.0]))).sum().backward()
    tx = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    (gt,) = torch.autograd.grad((tx ** 3).sum(), tx, create_graph=True)
    (ht,) = torch.autograd.grad((gt * torch.tensor([1.0, 2.0, 3.0])).sum(), tx)
    np.testing.assert_allclose(x.grad.numpy(), ht.numpy())
    assert tl.is_grad_enabled()
    z = tl.Tensor(np.array([1.0]), requires_grad=True)
    w = (z * 2.0).sum()
    with tl.no_grad():
        w.backward()
        assert not tl.is_grad_enabled()
    assert tl.is_grad_enabled() and float(z.grad[0]) == 2.0


def test_backward_through_a_freed_inner_node_raises_the_retain_graph_error():
    x = tl.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 2.0
    y.sum().backward()
    msg = (r"^backward\(\): trying to backward through the graph a second time, but its saved arrays were freed by "
           r"the first backward; call the first backward\(retain_graph=True\) if you need to backward twice$")
    with pytest.raises(RuntimeError, match=msg):
        (y * 3.0).sum().backward()                      # a new root over the freed node y
    with pytest.raises(RuntimeError, match=msg):
        y.backward(tl.ones(2, dtype=np.float64))
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_retain_graph_backward_twice_counts_each_pass_once():
    x = tl.Tensor(np.array([1.0, 3.0]), requires_grad=True)
    h = x * x
    h.retain_grad()
    y = (h + h * 2.0).sum()                             # h used twice: its pending gradient sums 1 + 2
    y.backward(retain_graph=True)
    np.testing.assert_array_equal(h.grad.numpy(), [3.0, 3.0])
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 18.0])
    y.backward()
    np.testing.assert_array_equal(h.grad.numpy(), [6.0, 6.0])
    np.testing.assert_array_equal(x.grad.numpy(), [12.0, 36.0])
    k = tl.Tensor(np.array([2.0]), requires_grad=True)      # a constant beside a leaf gets no .grad
    c = tl.Tensor(np.array([5.0]))
    (k * c + c).sum().backward()
    assert c.grad is None and float(k.grad[0]) == 5.0


def test_create_graph_through_the_callers_gradient_as_torch():
    x = tl.ones(2, requires_grad=True)
    (x * 2.0).sum().backward(create_graph=True)         # linear: the gradient is a constant, as in torch
    assert x.grad.requires_grad is False
    x = tl.ones(2, requires_grad=True)
    v = tl.Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    (x * 3.0).backward(v, create_graph=True)            # a gradient that requires grad stays in the graph
    assert x.grad.requires_grad
    x.grad.sum().backward()
    np.testing.assert_array_equal(v.grad.numpy(), [3.0, 3.0])
    x = tl.ones(2, requires_grad=True)                  # the same into a leaf's own backward
    v = tl.Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    x.backward(v * 1.0, create_graph=True)
    assert x.grad.requires_grad
    x.grad.sum().backward()
    np.testing.assert_array_equal(v.grad.numpy(), [1.0, 1.0])


def test_pow_broadcast_exponent_zero_at_base_zero_gives_zero_gradient_as_torch():
    a = np.array([[0.0, 2.0, 0.0], [3.0, 0.0, 1.5]])
    b = np.array([[0.0, 0.0, 2.0]])                     # broadcast over a's rows: the b == 0 mask too
    check_vs_torch(lambda p, q: p ** q, lambda p, q: p ** q, [a, b], hvp=False)
    check_vs_torch(lambda p, q: p ** q, lambda p, q: p ** q, [b, a], hvp=False)


def test_anomaly_mode_bce_at_probability_0_and_1_with_a_constant_target():
    """The target's gradient -logit(p) is infinite at p in {0, 1}; with a constant target it is not computed, so
    detect_anomaly has nothing to complain about (p's own gradient is finite there, as torch's)."""
    torch = torch_or_skip()
    p = tl.Tensor(np.array([0.0, 1.0, 0.25]), requires_grad=True)
    t = tl.Tensor(np.array([0.0, 1.0, 1.0]))
    with tl.autograd.detect_anomaly():
        F.binary_cross_entropy(p, t).backward()
    tp = torch.tensor([0.0, 1.0, 0.25], dtype=torch.float64, requires_grad=True)
    torch.nn.functional.binary_cross_entropy(tp, torch.tensor([0.0, 1.0, 1.0], dtype=torch.float64)).backward()
    np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-12)


# ------------------------------------------------------------------ session 3 (mutC): ops.py / elementwise.py
def test_bce_at_probability_0_and_1_is_clamped_silently_as_torch():
    torch = torch_or_skip()
    p = np.array([0.0, 1.0, 0.0, 1.0], dtype=np.float32)
    t = np.array([0.0, 1.0, 1.0, 0.0], dtype=np.float32)
    ref = torch.nn.functional.binary_cross_entropy(torch.tensor(p), torch.tensor(t), reduction="none").numpy()
    with np.errstate(all="warn"), warnings.catch_warnings():
        warnings.simplefilter("error")                     # no "divide by zero encountered in log"
        out = F.binary_cross_entropy(tl.Tensor(p), t, reduction="none")
    np.testing.assert_array_equal(out.numpy(), ref)        # 0, 0, 100, 100


EMPTY_CASES = [((0, 3), 1), ((0, 3), 0), ((3, 0), 1), ((3, 0), 0), ((2, 0, 3), 1), ((2, 0, 3), (0, 2)),
               ((2, 0, 3), None), ((0,), 0), ((2, 0, 3), -1), ((2, 3, 0), (1, 2))]


@pytest.mark.parametrize("shape,dim", EMPTY_CASES)
def test_softmax_family_of_empty_tensors_matches_torch_silently(shape, dim):
    """Empty inputs (an empty reduced axis or an empty other axis): torch's shapes and values (logsumexp over
    an empty axis is -inf), with no NumPy warning (log(0) over no elements)."""
    torch = torch_or_skip()
    a = np.zeros(shape, np.float32)
    with np.errstate(all="warn"), warnings.catch_warnings():
        warnings.simplefilter("error")
        for kd in (False, True):
            td = tuple(range(len(shape))) if dim is None else dim
            ref = torch.logsumexp(torch.tensor(a), td, keepdim=kd).numpy()
            out = tl.Tensor(a).logsumexp(dim, keepdim=kd).numpy()
            assert out.shape == ref.shape and out.dtype == ref.dtype
            np.testing.assert_array_equal(out, ref)
        if isinstance(dim, int):
            for name in ("softmax", "log_softmax"):
                ref = getattr(torch, name)(torch.tensor(a), dim).numpy()
                out = getattr(tl.Tensor(a), name)(dim).numpy()
                assert out.shape == ref.shape and out.dtype == ref.dtype


@pytest.mark.parametrize("create_graph", [False, True])
def test_cross_entropy_probability_target_requiring_grad_gradients_as_torch(create_graph):
    """Both gradients (logits and the probability target) on both backward paths, with class weights and
    label smoothing, against torch."""
    torch = torch_or_skip()
    rng = np.random.default_rng(11)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    p = rng.dirichlet(np.ones(5), size=4).astype(np.float32)
    w = np.array([0.5, 1.0, 2.0, 1.5, 3.0], np.float32)
    for kw in (dict(), dict(weight=w), dict(label_smoothing=0.2), dict(weight=w, label_smoothing=0.1)):
        for reduction in ("mean", "sum", "none"):
            xx, pp = tl.Tensor(x, requires_grad=True), tl.Tensor(p, requires_grad=True)
            out = F.cross_entropy(xx, pp, reduction=reduction, **kw)
            g = np.arange(1, out.numel() + 1, dtype=np.float32).reshape(out.shape)
            out.backward(tl.Tensor(g), create_graph=create_graph)
            tx, tp = torch.tensor(x, requires_grad=True), torch.tensor(p, requires_grad=True)
            tkw = {k: torch.tensor(v) if k == "weight" else v for k, v in kw.items()}
            ref = torch.nn.functional.cross_entropy(tx, tp, reduction=reduction, **tkw)
            ref.backward(torch.tensor(g))
            np.testing.assert_allclose(xx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(pp.grad.numpy(), tp.grad.numpy(), rtol=1e-5, atol=1e-6)
            assert xx.grad.requires_grad is create_graph


def test_cross_entropy_gradients_stay_finite_for_large_and_far_apart_logit_rows_as_torch():
    """Each row is shifted by its own max (not the global one, not added): logits near 100 and rows 200 apart
    give torch's finite loss and gradients for both the logits and a probability target requiring grad."""
    torch = torch_or_skip()
    x = np.array([[100.0, 99.0, 97.5], [-100.0, -101.0, -99.5], [60.0, 61.0, 59.0]], np.float32)
    p = np.array([[0.2, 0.5, 0.3], [0.0, 0.25, 0.75], [1.0, 0.0, 0.0]], np.float32)
    for create_graph in (False, True):
        xx, pp = tl.Tensor(x, requires_grad=True), tl.Tensor(p, requires_grad=True)
        out = F.cross_entropy(xx, pp, reduction="sum")
        out.backward(create_graph=create_graph)
        tx, tp = torch.tensor(x, requires_grad=True), torch.tensor(p, requires_grad=True)
        ref = torch.nn.functional.cross_entropy(tx, tp, reduction="sum")
        ref.backward()
        np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-5)
        np.testing.assert_allclose(xx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(pp.grad.numpy(), tp.grad.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_class_weight_without_ignored_labels_matches_torch(reduction):
    torch = torch_or_skip()
    rng = np.random.default_rng(12)
    x = rng.standard_normal((6, 4)).astype(np.float32)
    t = np.array([0, 3, 1, 3, 2, 1])
    w = np.array([0.5, 2.0, 1.5, 3.0], np.float32)
    for ls in (0.0, 0.2):
        xx = tl.Tensor(x, requires_grad=True)
        out = F.cross_entropy(xx, t, weight=w, reduction=reduction, label_smoothing=ls)
        out.sum().backward()
        tx = torch.tensor(x, requires_grad=True)
        ref = torch.nn.functional.cross_entropy(tx, torch.tensor(t), weight=torch.tensor(w), reduction=reduction,
                                                label_smoothing=ls)
        ref.sum().backward()
        assert out.dtype == np.float32
        np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(xx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_cross_entropy_mean_over_nothing_is_a_silent_nan_as_torch():
    """'mean' with no label counted (an empty batch, every label ignored, or every label's class weight 0 with
    label smoothing): nan, with no NumPy warning, as torch."""
    torch = torch_or_skip()
    x = np.random.default_rng(0).standard_normal((3, 3)).astype(np.float32)
    w = np.array([0.0, 1.0, 1.0], np.float32)
    cases = [(np.zeros((0, 3), np.float32), np.zeros(0, np.int64), {}),
             (x, np.array([-100, -100, -100]), {}),
             (x, np.array([-100, -100, -100]), dict(weight=w)),
             (x, np.array([0, 0, 0]), dict(weight=w)),
             (x, np.array([0, 0, 0]), dict(weight=w, label_smoothing=0.1)),
             (x, np.array([0, -100, 0]), dict(weight=w, label_smoothing=0.3))]
    for xs, t, kw in cases:
        tkw = {k: torch.tensor(v) if k == "weight" else v for k, v in kw.items()}
        ref = torch.nn.functional.cross_entropy(torch.tensor(xs), torch.tensor(t), **tkw)
        assert torch.isnan(ref), kw
        with np.errstate(all="warn"), warnings.catch_warnings():
            warnings.simplefilter("error")
            out = F.cross_entropy(tl.Tensor(xs), t, **kw)
        assert out.shape == () and out.dtype == np.float32 and np.isnan(out.item()), kw


def test_gradients_are_plain_arrays_that_do_not_require_grad():
    """A leaf's .grad from the array path of backward: requires_grad False (not None), its data an ndarray even
    for a 0-d leaf (NumPy gives scalars for 0-d results), so in-place ops on it work, as on torch's .grad."""
    x = tl.Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    w = tl.Tensor(np.ones((4, 3), np.float32), requires_grad=True)
    b = tl.Tensor(np.zeros(4, np.float32), requires_grad=True)
    F.linear(x, w, b).sum().backward()
    for t in (x, w, b):
        assert t.grad.requires_grad is False and t.grad.dtype == np.float32
    for name, f in [("relu", lambda v: v.relu()), ("abs", lambda v: v.abs()), ("prod", lambda v: v.prod()),
                    ("clamp", lambda v: v.clamp(0, 1)), ("mul", lambda v: v * v)]:
        s = tl.Tensor(np.float32(0.5), requires_grad=True)
        f(s).backward()
        assert isinstance(s.grad.data, np.ndarray) and s.grad.shape == (), name
        assert s.grad.requires_grad is False
        before = s.grad.item()
        s.grad.mul_(2)
        assert s.grad.item() == 2 * before


def test_axis_arguments_are_ints_and_out_of_range_messages_count_the_dimensions():
    x1, x2 = tl.ones(3), tl.ones(2, 3)

    def raises(err, msg, fn):
        with pytest.raises(err, match="^" + re.escape(msg) + "$"):
            fn()
    raises(TypeError, "unsqueeze: axis must be an int, got bool True", lambda: x2.unsqueeze(True))
    raises(TypeError, "unsqueeze: axis must be an int, got float 2.0", lambda: x1.unsqueeze(2.0))
    raises(TypeError, "softmax: axis must be an int, got str 'a'", lambda: x1.softmax("a"))
    raises(IndexError, "unsqueeze: axis 5 is out of range for a tensor with 1 dimension (expected -2 to 1)",
           lambda: x1.unsqueeze(5))
    raises(IndexError, "squeeze: axis 1 is out of range for a tensor with 1 dimension (expected -1 to 0)",
           lambda: x1.squeeze(1))
    raises(IndexError, "softmax: axis 2 is out of range for a tensor with 2 dimensions (expected -2 to 1)",
           lambda: x2.softmax(2))
    assert x2.unsqueeze(np.int64(1)).shape == (2, 1, 3) and x1.softmax(np.int32(0)).shape == (3,)


def test_sum_of_float16_accumulates_in_float32_and_small_ints_give_int64_as_torch():
    torch = torch_or_skip()
    h = np.full((4096, 2), 0.1, np.float16)
    for axis in (0, None, (0, 1)):
        ref = torch.tensor(h).sum(dim=axis) if axis is not None else torch.tensor(h).sum()
        out = tl.Tensor(h).sum(axis=axis)
        assert out.dtype == np.float16
        np.testing.assert_array_equal(out.numpy(), ref.numpy())
    out = tl.Tensor(h).sum(0, keepdim=True)
    assert out.shape == (1, 2) and out.dtype == np.float16
    np.testing.assert_array_equal(out.numpy(), torch.tensor(h).sum(0, keepdim=True).numpy())
    for dt in (np.int8, np.int16):
        a = np.full((3, 50), 100, dt)
        out = tl.Tensor(a).sum(axis=1)
        ref = torch.tensor(a).sum(dim=1)
        assert out.dtype == np.int64 and str(ref.dtype) == "torch.int64"
        np.testing.assert_array_equal(out.numpy(), ref.numpy())


@pytest.mark.parametrize("axis,shown", [((0, True), "bool True"), ((0, 1.0), "float 1.0"), (True, "bool True"),
                                        ("a", "str 'a'")])
def test_reduction_axes_are_ints_or_tuples_of_ints(axis, shown):
    msg = f"sum: axis must be an int or a tuple of ints, got {shown}"
    with pytest.raises(TypeError, match="^" + re.escape(msg) + "$"):
        tl.ones(2, 3).sum(axis=axis)


def test_reduction_axis_of_a_0d_tensor_is_minus_1_or_0():
    s = tl.Tensor(np.float32(2.5))
    assert s.sum(axis=0).item() == 2.5 and s.sum(axis=-1).item() == 2.5
    for a in (1, -2, (0, 1)):
        bad = 1 if a == (0, 1) else a
        with pytest.raises(IndexError, match="^" + re.escape(f"sum: axis {bad} is out of range for a 0-d tensor "
                                                             "(expected -1 or 0)") + "$"):
            s.sum(axis=a)
