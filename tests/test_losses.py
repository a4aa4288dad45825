"""Tests for the losses' PyTorch arguments: cross_entropy / nll_loss with weight=, ignore_index=, reduction= and
(N, C, d1, ...) inputs (PyTorch's weighted-mean rule), probability targets whose rows don't sum to 1 and that
require grad, BCE-with-logits with pos_weight= and weight= (and a smooth gradient at logit 0), and the nn
modules; values, both gradients and Hessian-vector products against PyTorch, finite differences (hypothesis)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite import nn

from parity import check_float32, check_vs_torch, gradgradcheck, torch_or_skip

REDUCTIONS = ["mean", "sum", "none"]
LOOSE = dict(rtol=1e-8, atol=1e-12)   # BCE on probabilities: second derivatives of 1 / (p (1 - p)) round more


def _case(shape, seed=0, ignore=True):
    """Logits of `shape` (N, C, ...), labels with repeats and (optionally) ignored entries, class weights."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 2
    c = shape[1]
    y = rng.integers(0, c, size=(shape[0],) + shape[2:])
    y.reshape(-1)[0] = y.reshape(-1)[1]
    if ignore:
        y.reshape(-1)[2] = -100
    w = rng.uniform(0.2, 2.0, c)
    return x, y, w


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5), (2, 3, 2, 2)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ls", [0.0, 0.2])
def test_cross_entropy_labels_weight_ignore_index_match_torch(reduction, shape, weighted, ls):
    torch = torch_or_skip()
    x, y, w = _case(shape)
    wt = torch.tensor(w) if weighted else None
    wo = tl.Tensor(w) if weighted else None
    check_vs_torch(lambda a, b: F.cross_entropy(a, b, weight=wo, reduction=reduction, label_smoothing=ls),
                   lambda a, b: torch.nn.functional.cross_entropy(a, b, weight=wt, reduction=reduction,
                                                                  label_smoothing=ls), [x, y])


@pytest.mark.parametrize("ignore_index", [0, 2, -1])
def test_cross_entropy_ignore_index_a_real_class_matches_torch(ignore_index):
    torch = torch_or_skip()
    x, y, w = _case((8, 3), seed=1, ignore=False)
    y[:3] = [0, 2, 1]
    if ignore_index == -1:
        y[3] = -1
    for reduction in REDUCTIONS:
        check_vs_torch(lambda a, b: F.cross_entropy(a, b, tl.Tensor(w), ignore_index=ignore_index, reduction=reduction),
                       lambda a, b: torch.nn.functional.cross_entropy(a, b, torch.tensor(w), ignore_index=ignore_index,
                                                                      reduction=reduction), [x, y])


def test_all_labels_ignored_mean_is_nan_like_torch():
    torch = torch_or_skip()
    x = np.zeros((2, 3))
    y = np.array([-100, -100])
    ours = F.cross_entropy(tl.Tensor(x), y).item()
    theirs = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(y)).item()
    assert np.isnan(ours) and np.isnan(theirs)
    assert F.cross_entropy(tl.Tensor(x), y, reduction="sum").item() == 0.0
    assert np.isnan(F.nll_loss(tl.Tensor(x), y).item())


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4)])
@pytest.mark.parametrize("weighted,ls", [(False, 0.0), (True, 0.0), (True, 0.3), (False, 0.1)])
def test_cross_entropy_probability_targets_match_torch_in_both_gradients(reduction, shape, weighted, ls):
    """Rows that don't sum to 1 (here 0.3 to 2.5): the logits' gradient is softmax * rowsum - target (not
    softmax - target), and the target, which requires grad, gets -(1 - s) w log_softmax; to second order."""
    torch = torch_or_skip()
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape) * 2
    t = rng.uniform(0.0, 1.0, shape)
    t *= rng.uniform(0.3, 2.5, (shape[0], 1) + shape[2:]) / t.sum(axis=1, keepdims=True)
    w = rng.uniform(0.2, 2.0, shape[1])
    wt, wo = (torch.tensor(w), tl.Tensor(w)) if weighted else (None, None)
    check_vs_torch(lambda a, b: F.cross_entropy(a, b, weight=wo, reduction=reduction, label_smoothing=ls),
                   lambda a, b: torch.nn.functional.cross_entropy(a, b, weight=wt, reduction=reduction,
                                                                  label_smoothing=ls), [x, t])


def test_cross_entropy_probability_rows_not_summing_to_one_regression():
    """The audit's case: the value was right, the gradient was softmax - t (wrong when rows don't sum to 1)."""
    x = tl.Tensor(np.array([[1.0, 2.0, 0.5]]), requires_grad=True)
    t = np.array([[0.5, 0.5, 0.5]])
    F.cross_entropy(x, t).backward()
    p = np.exp([1.0, 2.0, 0.5]) / np.exp([1.0, 2.0, 0.5]).sum()
    np.testing.assert_allclose(x.grad.numpy()[0], p * 1.5 - 0.5, rtol=1e-12)


@settings(max_examples=15)
@given(data=st.data())
def test_cross_entropy_gradients_match_finite_differences(data):
    n, c = data.draw(st.integers(1, 4)), data.draw(st.integers(2, 4))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    reduction = data.draw(st.sampled_from(REDUCTIONS))
    ls = data.draw(st.sampled_from([0.0, 0.25]))
    w = tl.Tensor(rng.uniform(0.2, 2, c)) if data.draw(st.booleans()) else None
    x = tl.Tensor(rng.standard_normal((n, c)) * 2, requires_grad=True)
    if data.draw(st.booleans()):
        y = rng.integers(0, c, n)
        y[0] = -100 if n > 1 and data.draw(st.booleans()) else y[0]
        assert tl.gradcheck(lambda a: F.cross_entropy(a, y, weight=w, reduction=reduction, label_smoothing=ls), x)
    else:
        t = tl.Tensor(rng.uniform(0, 1, (n, c)), requires_grad=True)
        assert tl.gradcheck(lambda a, b: F.cross_entropy(a, b, weight=w, reduction=reduction, label_smoothing=ls),
                            x, t)


def test_cross_entropy_float32_stays_float32_with_weights():
    x, y, w = _case((4, 3, 2))
    check_float32(lambda a: F.cross_entropy(a, y, weight=tl.Tensor(w.astype(np.float32))), [x])
    t = np.random.default_rng(0).uniform(0, 1, (4, 3, 2))
    check_float32(lambda a, b: F.cross_entropy(a, b, weight=tl.Tensor(w.astype(np.float32))), [x, t])


def test_cross_entropy_argument_errors():
    x = tl.zeros(2, 3)
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        F.cross_entropy(x, np.array([0, 1]), weight=tl.ones(4))
    with pytest.raises(TypeError, match="reduction is passed by keyword"):
        F.cross_entropy(x, np.array([0, 1]), "sum")
    with pytest.raises(TypeError, match="deprecated"):
        F.cross_entropy(x, np.array([0, 1]), size_average=False)
    with pytest.raises(IndexError, match=r"label 3 .*not ignore_index=-100"):
        F.cross_entropy(x, np.array([0, 3]))
    with pytest.raises(NotImplementedError, match="weight"):
        F.cross_entropy(x, np.array([0, 1]), weight=tl.ones(3, requires_grad=True))


# ------------------------------------------------------------------ nll_loss
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5)])
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_weight_ignore_index_match_torch(reduction, shape, weighted):
    torch = torch_or_skip()
    x, y, w = _case(shape, seed=3)
    wt, wo = (torch.tensor(w), tl.Tensor(w)) if weighted else (None, None)
    check_vs_torch(lambda a, b: F.nll_loss(a.log_softmax(1), b, weight=wo, reduction=reduction),
                   lambda a, b: torch.nn.functional.nll_loss(a.log_softmax(1), b, weight=wt, reduction=reduction),
                   [x, y])


def test_nll_loss_one_sample_matches_torch():
    torch = torch_or_skip()
    x = np.log(np.array([0.2, 0.5, 0.3]))
    for reduction in REDUCTIONS:
        check_vs_torch(lambda a, b: F.nll_loss(a, b, reduction=reduction),
                       lambda a, b: torch.nn.functional.nll_loss(a, b, reduction=reduction), [x, np.array(1)])


# ------------------------------------------------------------------ binary cross-entropy
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weight,weight", [(None, None), ("pw", None), (None, "w"), ("pw", "w")])
def test_bce_with_logits_pos_weight_weight_match_torch(reduction, pos_weight, weight):
    """Logits on a grid with 0 (the gradient there is sigmoid(0) - t, as in PyTorch), targets that require grad,
    pos_weight per class (the last dim), weight broadcast."""
    torch = torch_or_skip()
    rng = np.random.default_rng(4)
    x = np.concatenate([np.array([[0.0, 0.0, -0.0], [3.0, -2.0, 0.0]]), rng.standard_normal((3, 3)) * 3])
    x[4, 0] = 40.0
    t = rng.uniform(0, 1, x.shape)
    t[0] = [0.0, 1.0, 0.5]
    pw = rng.uniform(0.5, 3.0, 3)
    w = rng.uniform(0.5, 2.0, (5, 1))
    kw_t = {"reduction": reduction}
    kw_o = {"reduction": reduction}
    if pos_weight:
        kw_t["pos_weight"], kw_o["pos_weight"] = torch.tensor(pw), tl.Tensor(pw)
    if weight:
        kw_t["weight"], kw_o["weight"] = torch.tensor(w), tl.Tensor(w)
    check_vs_torch(lambda a, b: F.binary_cross_entropy_with_logits(a, b, **kw_o),
                   lambda a, b: torch.nn.functional.binary_cross_entropy_with_logits(a, b, **kw_t), [x, t])
    m = nn.BCEWithLogitsLoss(**kw_o)
    check_vs_torch(m, lambda a, b: torch.nn.BCEWithLogitsLoss(**kw_t)(a, b), [x, t])
    check_float32(lambda a, b: F.binary_cross_entropy_with_logits(a, b, **kw_o), [x, t])


@settings(max_examples=10)
@given(data=st.data())
def test_bce_with_logits_gradients_match_finite_differences(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    x = tl.Tensor(rng.standard_normal((3, 2)) * 3, requires_grad=True)
    t = tl.Tensor(rng.uniform(0, 1, (3, 2)), requires_grad=True)
    pw = tl.Tensor(rng.uniform(0.5, 3, 2)) if data.draw(st.booleans()) else None
    assert tl.gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=pw), x, t)


def test_bce_weight_matches_torch():
    torch = torch_or_skip()
    rng = np.random.default_rng(5)
    p, t, w = rng.uniform(0.05, 0.95, (4, 3)), rng.uniform(0, 1, (4, 3)), rng.uniform(0.5, 2, 3)
    for reduction in REDUCTIONS:
        check_vs_torch(lambda a, b: F.binary_cross_entropy(a, b, weight=tl.Tensor(w), reduction=reduction),
                       lambda a, b: torch.nn.functional.binary_cross_entropy(a, b, weight=torch.tensor(w),
                                                                             reduction=reduction), [p, t], tol=LOOSE)
        check_vs_torch(nn.BCELoss(weight=tl.Tensor(w), reduction=reduction),
                       torch.nn.BCELoss(weight=torch.tensor(w), reduction=reduction), [p, t], tol=LOOSE)


# ------------------------------------------------------------------ modules
def test_loss_modules_take_weight_and_ignore_index():
    torch = torch_or_skip()
    x, y, w = _case((6, 4, 3), seed=7)
    with pytest.raises(IndexError, match=r"label -100 .*ignore_index=3"):     # as torch: out of bounds
        nn.CrossEntropyLoss(ignore_index=3)(tl.Tensor(x), y)
    y[y == -100] = 3
    for reduction in REDUCTIONS:
        check_vs_torch(nn.CrossEntropyLoss(weight=tl.Tensor(w), ignore_index=3, reduction=reduction,
                                           label_smoothing=0.1),
                       torch.nn.CrossEntropyLoss(weight=torch.tensor(w), ignore_index=3, reduction=reduction,
                                                 label_smoothing=0.1), [x, y])
        check_vs_torch(lambda a, b: nn.NLLLoss(weight=tl.Tensor(w), ignore_index=3, reduction=reduction)(
                           a.log_softmax(1), b),
                       lambda a, b: torch.nn.NLLLoss(weight=torch.tensor(w), ignore_index=3, reduction=reduction)(
                           a.log_softmax(1), b), [x, y])
    assert "ignore_index=3" in repr(nn.CrossEntropyLoss(ignore_index=3))


def test_gradgradcheck_losses():
    rng = np.random.default_rng(8)
    x = tl.Tensor(rng.standard_normal((3, 4, 2)), requires_grad=True)
    y = np.array([[0, 3], [-100, 1], [2, 2]])
    w = tl.Tensor(rng.uniform(0.5, 2, 4))
    gradgradcheck(lambda a: F.cross_entropy(a, y, weight=w, label_smoothing=0.1), x)
    t = tl.Tensor(rng.uniform(0, 1, (3, 4, 2)), requires_grad=True)
    gradgradcheck(lambda a, b: F.cross_entropy(a, b, weight=w, reduction="sum"), x, t)
    gradgradcheck(lambda a: F.nll_loss(a.log_softmax(1), y, weight=w), x)
    z = tl.Tensor(rng.standard_normal((3, 2)), requires_grad=True)
    p = tl.Tensor(rng.uniform(0, 1, (3, 2)), requires_grad=True)
    gradgradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=tl.Tensor([2.0, 0.5])),
                          z, p)
