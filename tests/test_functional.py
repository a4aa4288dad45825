"""Tests for tl.nn.functional: every function's values AND gradients against
torch.nn.functional in float64, tl.gradcheck on every loss, cross-entropy's stability
and errors."""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite import nn

TORCH_REASON = "PyTorch is not installed: the comparisons with torch.nn.functional are skipped"
REDUCTIONS = ["mean", "sum", "none"]
TIGHT = dict(rtol=1e-10, atol=1e-12)


def _torch():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    torch.set_num_threads(1)   # tiny tensors: torch's thread pool only costs time on a busy 2-core machine
    return torch


def _compare(tl_fn, torch_fn, arrays, grad_of, rng, tol=TIGHT):
    """Run both functions on float64 copies of `arrays`; compare outputs and the gradients
    (under a random upstream gradient) of the inputs whose indices are in `grad_of`."""
    torch = _torch()
    ts = [torch.tensor(a, requires_grad=(i in grad_of)) if a.dtype.kind == "f" else torch.tensor(a)
          for i, a in enumerate(arrays)]
    os_ = [tl.Tensor(a, requires_grad=(i in grad_of)) for i, a in enumerate(arrays)]
    yt = torch_fn(*ts)
    yo = tl_fn(*os_)
    assert yo.shape == tuple(yt.shape), f"shape {yo.shape} != torch's {tuple(yt.shape)}"
    assert yo.dtype == np.float64
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), **tol)
    up = rng.standard_normal(yo.shape)
    yt.backward(torch.tensor(up))
    yo.backward(tl.Tensor(up))
    for i in grad_of:
        assert os_[i].grad is not None, f"input {i} got no gradient"
        np.testing.assert_allclose(os_[i].grad.numpy(), ts[i].grad.numpy(), **tol,
                                   err_msg=f"gradient of input {i}")


# --------------------------------------------------------------------------- activations / linear
@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
def test_elementwise_activations_match_torch(name, rng):
    torch = _torch()
    x = rng.standard_normal((4, 5)) * 4
    x[0, 0] = 30.0
    x[0, 1] = -30.0
    _compare(getattr(F, name), getattr(torch.nn.functional, name) if name == "relu" else getattr(torch, name),
             [x], [0], rng)


@pytest.mark.parametrize("dtype,rtol", [(np.float32, 1e-5), (np.float64, 1e-12)])
def test_sigmoid_keeps_relative_precision_for_negative_inputs(dtype, rtol):
    """sigmoid(-20) is 2.06e-9, not 0: the value (and its gradient) must be accurate relative to its
    size, as torch's is; 0.5 + 0.5*tanh(x/2) rounds everything below ~1e-8 (float32) to 0."""
    torch = _torch()
    x = np.linspace(-80, 30, 221).astype(dtype)
    xo = tl.Tensor(x, requires_grad=True)
    y = F.sigmoid(xo)
    y.sum().backward()
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.sigmoid(xt)
    yt.sum().backward()
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=rtol, atol=0)
    # the gradient y (1 - y): relative accuracy where y is small; for x > 0 torch's own 1 - y is
    # quantized to the dtype's epsilon, so there only an absolute tolerance of that size is fair
    neg = x <= 0
    np.testing.assert_allclose(xo.grad.numpy()[neg], xt.grad.numpy()[neg], rtol=rtol, atol=0)
    np.testing.assert_allclose(xo.grad.numpy()[~neg], xt.grad.numpy()[~neg], rtol=rtol,
                               atol=2 * np.finfo(dtype).eps)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_family_matches_torch(name, dim, rng):
    torch = _torch()
    x = rng.standard_normal((4, 6)) * 5
    _compare(lambda t: getattr(F, name)(t, dim=dim), lambda t: getattr(torch.nn.functional, name)(t, dim=dim),
             [x], [0], rng)


def test_softmax_family_stable_for_huge_logits():
    x = tl.Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]]), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = F.softmax(x, dim=1)
        ls = F.log_softmax(x, dim=1)
        (s.sum() + ls.sum()).backward()
    assert np.isfinite(s.numpy()).all() and np.isfinite(ls.numpy()).all()
    assert np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(ls.numpy()[0], [0.0, -2e4, -1e4])


@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(bias, rng):
    torch = _torch()
    arrays = [rng.standard_normal((5, 3)), rng.standard_normal((4, 3))] + ([rng.standard_normal(4)] if bias else [])
    _compare(F.linear, torch.nn.functional.linear, arrays, list(range(len(arrays))), rng)


def test_linear_batched_input_matches_torch(rng):
    torch = _torch()
    arrays = [rng.standard_normal((2, 5, 3)), rng.standard_normal((4, 3)), rng.standard_normal(4)]
    _compare(F.linear, torch.nn.functional.linear, arrays, [0, 1, 2], rng)


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_functional_dropout(p):
    tl.manual_seed(0)
    x = tl.ones(300, 300)
    y = F.dropout(x, p, training=True).numpy()
    assert abs((y == 0).mean() - p) < 0.01
    np.testing.assert_allclose(y[y != 0], 1 / (1 - p), rtol=1e-6)
    assert F.dropout(x, p, training=False) is x


def test_functional_dropout_p_one_gives_zeros_like_torch():
    """torch.nn.functional.dropout(x, p=1.0) is all zeros (and its gradient too)."""
    x = tl.Tensor(np.ones(5, np.float32), requires_grad=True)
    y = F.dropout(x, 1.0, training=True)
    np.testing.assert_array_equal(y.numpy(), np.zeros(5))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(5))


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_functional_dropout_rejects_invalid_p(p):
    """torch raises ValueError for p outside [0, 1]; silently rescaling is wrong."""
    with pytest.raises(ValueError):
        F.dropout(tl.ones(5), p, training=True)


# --------------------------------------------------------------------------- cross_entropy vs torch
def _logits_labels(rng, n=6, c=5, scale=3.0):
    return rng.standard_normal((n, c)) * scale, rng.integers(0, c, size=n)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ls", [0.0, 0.1, 0.5, 1.0])
def test_cross_entropy_labels_matches_torch(reduction, ls, rng):
    torch = _torch()
    x, y = _logits_labels(rng)
    _compare(lambda a, b: F.cross_entropy(a, b, reduction=reduction, label_smoothing=ls),
             lambda a, b: torch.nn.functional.cross_entropy(a, b, reduction=reduction, label_smoothing=ls),
             [x, y], [0], rng)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ls", [0.0, 0.2])
def test_cross_entropy_probability_targets_match_torch(reduction, ls, rng):
    torch = _torch()
    x = rng.standard_normal((7, 4)) * 2
    p = rng.dirichlet(np.ones(4), size=7)
    _compare(lambda a, b: F.cross_entropy(a, b, reduction=reduction, label_smoothing=ls),
             lambda a, b: torch.nn.functional.cross_entropy(a, b, reduction=reduction, label_smoothing=ls),
             [x, p], [0], rng)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_one_hot_rows_equal_labels(reduction, rng):
    x, y = _logits_labels(rng)
    onehot = np.eye(5)[y]
    a = F.cross_entropy(tl.Tensor(x), y, reduction=reduction).numpy()
    b = F.cross_entropy(tl.Tensor(x), onehot, reduction=reduction).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_cross_entropy_accepts_label_tensor_and_list(rng):
    x, y = _logits_labels(rng)
    ref = F.cross_entropy(tl.Tensor(x), y).item()
    assert F.cross_entropy(tl.Tensor(x), tl.Tensor(y)).item() == ref
    assert F.cross_entropy(tl.Tensor(x), y.tolist()).item() == ref
    assert F.cross_entropy(tl.Tensor(x), y.astype(np.int32)).item() == ref
    assert F.cross_entropy(tl.Tensor(x), y.astype(np.uint8)).item() == ref


def test_cross_entropy_1d_logits_matches_torch(rng):
    torch = _torch()
    x = rng.standard_normal(5)
    for reduction in REDUCTIONS:
        ours = F.cross_entropy(tl.Tensor(x), np.array(3), reduction=reduction)
        theirs = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(3), reduction=reduction)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
        assert ours.shape == tuple(theirs.shape), f"reduction={reduction}"


def test_cross_entropy_float32_keeps_dtype_and_matches_torch(rng):
    torch = _torch()
    x, y = _logits_labels(rng, n=32, c=10)
    x = x.astype(np.float32)
    xo = tl.Tensor(x, requires_grad=True)
    lo = F.cross_entropy(xo, y, label_smoothing=0.1)
    lo.backward()
    assert lo.dtype == np.float32 and xo.grad.dtype == np.float32
    xt = torch.tensor(x, requires_grad=True)
    lt = torch.nn.functional.cross_entropy(xt, torch.tensor(y), label_smoothing=0.1)
    lt.backward()
    np.testing.assert_allclose(lo.item(), lt.item(), rtol=1e-6)
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-7)


@given(n=st.integers(1, 8), c=st.integers(1, 7), ls=st.sampled_from([0.0, 0.05, 0.3]),
       reduction=st.sampled_from(REDUCTIONS), probs=st.booleans(), seed=st.integers(0, 2 ** 31))
def test_cross_entropy_property_matches_torch(n, c, ls, reduction, probs, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c)) * rng.uniform(0.1, 20)
    y = rng.dirichlet(np.ones(c), size=n) if probs else rng.integers(0, c, size=n)
    _compare(lambda a, b: F.cross_entropy(a, b, reduction=reduction, label_smoothing=ls),
             lambda a, b: _torch().nn.functional.cross_entropy(a, b, reduction=reduction, label_smoothing=ls),
             [x, y], [0], rng, tol=dict(rtol=1e-9, atol=1e-11))


def test_cross_entropy_double_backward_matches_torch(rng):
    """create_graph=True: the gradient is itself differentiable (Hessian-vector product)."""
    torch = _torch()
    x, y = _logits_labels(rng, n=4, c=3)
    v = rng.standard_normal(x.shape)
    xo = tl.Tensor(x, requires_grad=True)
    F.cross_entropy(xo, y, label_smoothing=0.1).backward(create_graph=True)
    g = xo.grad
    xo.grad = None
    (g * tl.Tensor(v)).sum().backward()
    xt = torch.tensor(x, requires_grad=True)
    (gt,) = torch.autograd.grad(torch.nn.functional.cross_entropy(xt, torch.tensor(y), label_smoothing=0.1), xt,
                                create_graph=True)
    (gt * torch.tensor(v)).sum().backward()
    np.testing.assert_allclose(g.numpy(), gt.detach().numpy(), **TIGHT)
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), **TIGHT)


def test_cross_entropy_backward_twice_with_retain_graph(rng):
    """loss.backward(retain_graph=True) then loss.backward() accumulates the same gradient twice."""
    x, y = _logits_labels(rng)
    xo = tl.Tensor(x, requires_grad=True)
    loss = F.cross_entropy(xo, y)
    loss.backward(retain_graph=True)
    g1 = xo.grad.numpy().copy()
    loss.backward()
    np.testing.assert_allclose(xo.grad.numpy(), 2 * g1, rtol=1e-12)


def test_cross_entropy_is_one_fused_node(rng):
    x, y = _logits_labels(rng)
    xo = tl.Tensor(x, requires_grad=True)
    loss = F.cross_entropy(xo, y)
    assert loss.grad_fn is not None
    assert len(loss.grad_fn.inputs) == 1 and loss.grad_fn.inputs[0] is xo


# --------------------------------------------------------------------------- cross_entropy stability & errors
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ls", [0.0, 0.1])
@pytest.mark.parametrize("probs", [False, True])
def test_cross_entropy_stable_for_huge_logits(dtype, ls, probs):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [-1e4, -1e4, -1e4]], dtype=dtype)
    y = np.array([1, 0, 2])
    target = np.eye(3, dtype=dtype)[y] if probs else y
    xo = tl.Tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise"):   # exp underflow to 0 is fine
            loss = F.cross_entropy(xo, target, label_smoothing=ls)
            loss.backward()
    assert np.isfinite(loss.item())
    assert np.isfinite(xo.grad.numpy()).all()
    # exact values: row 0 pays 2e4, row 1 log(2)+2e4, row 2 log(3)
    if ls == 0.0:
        expected = (2e4 + (np.log(2) + 2e4) + np.log(3)) / 3
        np.testing.assert_allclose(loss.item(), expected, rtol=1e-6)
    torch = _torch()
    xt = torch.tensor(x, requires_grad=True)
    lt = torch.nn.functional.cross_entropy(xt, torch.tensor(target), label_smoothing=ls)
    lt.backward()
    np.testing.assert_allclose(loss.item(), lt.item(), rtol=1e-6)
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("bad", [5, 7, -1, -99])
def test_cross_entropy_label_out_of_range_names_the_label(bad):
    y = np.array([0, bad, 1])
    with pytest.raises(IndexError, match=rf"label {bad}\b"):
        F.cross_entropy(tl.zeros(3, 5), y)


def test_nll_loss_label_out_of_range_names_the_label():
    with pytest.raises(IndexError, match=r"label 4\b"):
        F.nll_loss(tl.zeros(2, 4), np.array([4, 0]))


@pytest.mark.parametrize("logits_shape,target,match", [
    ((3, 5), np.zeros(4, np.int64), r"\(3,\)"),                     # wrong number of labels
    ((3, 5), np.zeros((3, 1), np.int64), r"\(3,\)"),                # labels with an extra axis
    ((3, 5), np.zeros((3, 4)), r"\(3, 5\)"),                         # probabilities of the wrong width
    ((3, 5, 2), np.zeros(3, np.int64), r"\(3, 2\)"),                 # (N, C, d): labels must be (N, d)
    ((), np.zeros(1, np.int64), r"cross_entropy"),                   # a scalar
])
def test_cross_entropy_bad_shapes_are_clear(logits_shape, target, match):
    with pytest.raises(ValueError, match=match):
        F.cross_entropy(tl.Tensor(np.zeros(logits_shape)), target)


def test_cross_entropy_bad_target_dtype_and_args():
    with pytest.raises(TypeError, match="integer labels or float probabilities"):
        F.cross_entropy(tl.zeros(2, 3), np.array([True, False]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(tl.zeros(2, 3), np.array([0, 1]), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(tl.zeros(2, 3), np.array([0, 1]), label_smoothing=1.5)


def test_cross_entropy_empty_batch_sum_is_zero():
    assert F.cross_entropy(tl.zeros(0, 3), np.zeros(0, np.int64), reduction="sum").item() == 0.0
    assert F.cross_entropy(tl.zeros(0, 3), np.zeros(0, np.int64), reduction="none").shape == (0,)


# --------------------------------------------------------------------------- nll_loss
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_matches_torch(reduction, rng):
    torch = _torch()
    x, y = _logits_labels(rng)
    y[0] = y[1]                                                       # a repeated label: gradients accumulate
    logp = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    _compare(lambda a, b: F.nll_loss(a, b, reduction=reduction),
             lambda a, b: torch.nn.functional.nll_loss(a, b, reduction=reduction), [logp, y], [0], rng)


def test_nll_of_log_softmax_equals_cross_entropy(rng):
    x, y = _logits_labels(rng)
    a = F.nll_loss(F.log_softmax(tl.Tensor(x), dim=1), y).item()
    b = F.cross_entropy(tl.Tensor(x), y).item()
    np.testing.assert_allclose(a, b, rtol=1e-12)


def test_nll_loss_bad_shape_is_a_clear_error():
    """Labels that don't fit a 3-D input are refused naming the op and both shapes."""
    with pytest.raises(ValueError, match=r"nll_loss.*\(2, 4\).*\(2, 3, 4\)"):
        F.nll_loss(tl.Tensor(np.zeros((2, 3, 4))), np.zeros(2, np.int64))


def test_nll_loss_rejects_probability_targets():
    with pytest.raises(TypeError, match="integer"):
        F.nll_loss(tl.zeros(2, 3), np.zeros((2, 3)))


# --------------------------------------------------------------------------- binary cross-entropy, mse
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_matches_torch(reduction, rng):
    torch = _torch()
    p = rng.uniform(0.02, 0.98, size=(5, 3))
    t = rng.uniform(0, 1, size=(5, 3))
    t[0] = [0.0, 1.0, 1.0]
    _compare(lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction),
             lambda a, b: torch.nn.functional.binary_cross_entropy(a, b, reduction=reduction), [p, t], [0], rng)


# log(0) = -inf is the point of this test (then clamped to -100); NumPy warns about it on the way
@pytest.mark.filterwarnings("ignore:divide by zero encountered in log:RuntimeWarning")
def test_binary_cross_entropy_clamps_logs_like_torch():
    torch = _torch()
    p = np.array([0.0, 1.0, 0.0, 1.0])
    t = np.array([1.0, 0.0, 0.0, 1.0])
    ours = F.binary_cross_entropy(tl.Tensor(p), tl.Tensor(t), reduction="none").numpy()
    theirs = torch.nn.functional.binary_cross_entropy(torch.tensor(p), torch.tensor(t), reduction="none").numpy()
    np.testing.assert_array_equal(ours, theirs)          # [100, 100, 0, 0]
    assert np.isfinite(ours).all()


def test_binary_cross_entropy_gradient_is_finite_at_saturated_probabilities():
    """Probabilities of exactly 0 or 1 (a saturated sigmoid): torch's loss is clamped at 100 and its
    gradient is finite ((p - t) / max(p (1 - p), 1e-12)); a NaN gradient would poison the whole model."""
    torch = _torch()
    p = np.array([0.0, 1.0, 0.0, 1.0])
    t = np.array([1.0, 0.0, 0.0, 1.0])
    po = tl.Tensor(p, requires_grad=True)
    F.binary_cross_entropy(po, t, reduction="sum").backward()
    pt = torch.tensor(p, requires_grad=True)
    torch.nn.functional.binary_cross_entropy(pt, torch.tensor(t), reduction="sum").backward()
    assert np.isfinite(po.grad.numpy()).all(), f"gradient {po.grad.numpy()}"
    np.testing.assert_allclose(po.grad.numpy(), pt.grad.numpy(), rtol=1e-6)


def test_binary_cross_entropy_of_sigmoid_of_negative_logits_float32():
    """BCE(sigmoid(-20), 1) is 20 (torch: 20.0), not the clamp value 100, and its gradient is finite."""
    torch = _torch()
    x = np.array([-20.0, -30.0, 15.0], dtype=np.float32)
    t = np.array([1.0, 1.0, 1.0], dtype=np.float32)
    xo = tl.Tensor(x, requires_grad=True)
    loss = F.binary_cross_entropy(F.sigmoid(xo), t, reduction="none")
    loss.sum().backward()
    xt = torch.tensor(x, requires_grad=True)
    lt = torch.nn.functional.binary_cross_entropy(torch.sigmoid(xt), torch.tensor(t), reduction="none")
    lt.sum().backward()
    np.testing.assert_allclose(loss.numpy(), lt.detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_logits_matches_torch(reduction, rng):
    torch = _torch()
    x = rng.standard_normal((6, 2)) * 5
    x[0] = [60.0, -60.0]
    t = rng.uniform(0, 1, size=(6, 2))
    _compare(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction),
             lambda a, b: torch.nn.functional.binary_cross_entropy_with_logits(a, b, reduction=reduction),
             [x, t], [0, 1], rng)


def test_binary_cross_entropy_with_logits_stable_for_huge_logits():
    x = tl.Tensor(np.array([1e4, -1e4, 1e4, -1e4]), requires_grad=True)
    t = np.array([1.0, 0.0, 0.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
        loss.sum().backward()
    np.testing.assert_allclose(loss.numpy(), [0.0, 0.0, 1e4, 1e4])
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0, 1.0, -1.0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss_matches_torch(reduction, rng):
    torch = _torch()
    _compare(lambda a, b: F.mse_loss(a, b, reduction=reduction),
             lambda a, b: torch.nn.functional.mse_loss(a, b, reduction=reduction),
             [rng.standard_normal((4, 3)), rng.standard_normal((4, 3))], [0, 1], rng)


@pytest.mark.parametrize("fn", [F.binary_cross_entropy, F.binary_cross_entropy_with_logits, F.mse_loss])
def test_elementwise_losses_bad_shapes_and_reduction(fn):
    with pytest.raises(ValueError, match=r"target shape \(3,\) does not match input shape \(3, 1\)"):
        fn(tl.Tensor(np.full((3, 1), 0.5)), np.full(3, 0.5))
    with pytest.raises(ValueError, match="reduction"):
        fn(tl.Tensor(np.full(3, 0.5)), np.full(3, 0.5), reduction="batchmean")


def test_losses_accept_numpy_and_tensor_targets(rng):
    x = rng.uniform(0.1, 0.9, size=(3, 2))
    t = rng.uniform(0, 1, size=(3, 2))
    for fn in (F.binary_cross_entropy, F.binary_cross_entropy_with_logits, F.mse_loss):
        a = fn(tl.Tensor(x), t).item()
        b = fn(tl.Tensor(x), tl.Tensor(t)).item()
        assert a == b


# --------------------------------------------------------------------------- gradcheck every loss
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ls", [0.0, 0.3])
@pytest.mark.parametrize("probs", [False, True])
def test_gradcheck_cross_entropy(reduction, ls, probs, rng):
    x = tl.Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    y = rng.dirichlet(np.ones(3), size=4) if probs else rng.integers(0, 3, size=4)
    assert tl.gradcheck(lambda a: F.cross_entropy(a, y, reduction=reduction, label_smoothing=ls), x)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_nll_loss(reduction, rng):
    x = tl.Tensor(rng.standard_normal((5, 3)), requires_grad=True)
    y = np.array([0, 2, 2, 1, 0])
    assert tl.gradcheck(lambda a: F.nll_loss(a, y, reduction=reduction), x)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_binary_cross_entropy(reduction, rng):
    p = tl.Tensor(rng.uniform(0.05, 0.95, size=(3, 4)), requires_grad=True)
    t = rng.uniform(0, 1, size=(3, 4))
    assert tl.gradcheck(lambda a: F.binary_cross_entropy(a, t, reduction=reduction), p)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_binary_cross_entropy_with_logits(reduction, rng):
    x = tl.Tensor(rng.standard_normal((3, 4)) * 3, requires_grad=True)
    t = tl.Tensor(rng.uniform(0, 1, size=(3, 4)), requires_grad=True)
    assert tl.gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction), x, t)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_mse_loss(reduction, rng):
    x = tl.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    t = tl.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert tl.gradcheck(lambda a, b: F.mse_loss(a, b, reduction=reduction), x, t)


def test_gradcheck_activations_and_linear(rng):
    x = tl.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    w = tl.Tensor(rng.standard_normal((2, 4)), requires_grad=True)
    b = tl.Tensor(rng.standard_normal(2), requires_grad=True)
    assert tl.gradcheck(F.linear, x, w, b)
    for fn in (F.sigmoid, F.tanh, lambda a: F.softmax(a, dim=1), lambda a: F.log_softmax(a, dim=0)):
        assert tl.gradcheck(fn, x)
    xr = tl.Tensor(rng.standard_normal((3, 4)) + np.sign(rng.standard_normal((3, 4))) * 0.1, requires_grad=True)
    assert tl.gradcheck(F.relu, xr)


def test_bce_rejects_inputs_that_are_not_probabilities():
    """PyTorch raises for BCE inputs outside [0, 1]; computing NaN and warning would hide a missing sigmoid."""
    t = tl.Tensor([0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"binary_cross_entropy: input must be probabilities in \[0, 1\], got "
                                         r"values from -0\.5 to 1\.5.*binary_cross_entropy_with_logits"):
        F.binary_cross_entropy(tl.Tensor([-0.5, 0.2, 1.5]), t)
    with pytest.raises(ValueError, match="from nan"):
        F.binary_cross_entropy(tl.Tensor([np.nan, 0.2, 0.9]), t)
    assert F.binary_cross_entropy(tl.Tensor([0.0, 1.0, 1.0]), t).item() == 0.0   # the ends are allowed


# --------------------------------------------------------------------------- leaky_relu, softplus, l1_loss, one_hot
_X = np.array([[-3.0, -0.7, -0.2, 0.3, 1.1], [2.5, -1.6, 0.9, -25.0, 25.0]])


@pytest.mark.parametrize("name, fn", [
    ("leaky_relu", lambda t: F.leaky_relu(t, 0.1)),
    ("softplus", lambda t: F.softplus(t)),
    ("softplus_beta", lambda t: F.softplus(t, beta=2.0, threshold=4.0)),    # (at 5.0, x=2.5 sits on the jump)
    ("l1_loss", lambda t: F.l1_loss(t, np.full_like(_X, 0.05), reduction="sum")),
])
def test_new_activations_and_l1_gradcheck_in_float64_and_keep_float32(name, fn):
    assert tl.gradcheck(fn, tl.Tensor(_X, requires_grad=True))      # no element sits on a kink
    out = fn(tl.Tensor(_X.astype(np.float32), requires_grad=True))
    assert out.dtype == np.float32


def test_new_activations_match_torch():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    tf = torch.nn.functional
    for ours, theirs in [(lambda t: F.leaky_relu(t, 0.1), lambda t: tf.leaky_relu(t, 0.1)),
                         (F.softplus, tf.softplus),
                         (lambda t: F.softplus(t, 2.0, 5.0), lambda t: tf.softplus(t, 2.0, 5.0)),
                         (lambda t: nn.LeakyReLU()(t), lambda t: torch.nn.LeakyReLU()(t)),
                         (lambda t: nn.Softplus(beta=0.5)(t), lambda t: torch.nn.Softplus(beta=0.5)(t))]:
        x = tl.Tensor(_X, requires_grad=True)
        xt = torch.tensor(_X, requires_grad=True)
        y, yt = ours(x), theirs(xt)
        np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
        up = np.arange(_X.size, dtype=np.float64).reshape(_X.shape) / 7 - 1
        y.backward(tl.Tensor(up))
        yt.backward(torch.tensor(up))
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    z = tl.Tensor(np.array([0.0]), requires_grad=True)              # at 0 the slope, as torch
    F.leaky_relu(z, 0.1).sum().backward()
    assert z.grad.item() == pytest.approx(0.1)
    t = np.full_like(_X, 0.05)
    assert nn.L1Loss()(tl.Tensor(_X), t).item() == pytest.approx(torch.nn.L1Loss()(torch.tensor(_X),
                                                                                    torch.tensor(t)).item())


def test_one_hot():
    labels = tl.Tensor(np.array([2, 0, 1, 2]))
    out = F.one_hot(labels)
    assert out.dtype == np.int64 and out.shape == (4, 3) and not out.requires_grad
    np.testing.assert_array_equal(out.numpy(), np.eye(3, dtype=np.int64)[[2, 0, 1, 2]])
    assert F.one_hot([[1], [0]], num_classes=5).shape == (2, 1, 5)
    with pytest.raises(IndexError, match=r"one_hot: label 3 is outside \[0, 3\)"):
        F.one_hot(np.array([0, 3]), num_classes=3)
    with pytest.raises(IndexError, match="label -1"):
        F.one_hot(np.array([0, -1]))
    with pytest.raises(TypeError, match="one_hot: labels must be integers"):
        F.one_hot(np.array([0.0, 1.0]))
    # one-hot rows are what cross_entropy takes as probability targets: the same loss as the labels
    logits = tl.Tensor(_X[:, :3].astype(np.float32))
    y = np.array([2, 0])
    assert F.cross_entropy(logits, F.one_hot(y, 3).float()).item() == pytest.approx(
        F.cross_entropy(logits, y).item(), rel=1e-6)
