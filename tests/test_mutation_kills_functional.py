"""Tests written to kill mutants of tinygrad_lite/nn/functional.py that survived scripts/mutation_test.sh
(issue 17, third session): the losses' argument handling (nll_loss, binary_cross_entropy_with_logits and
their helpers _float_input, _class_weight, _array_on), the dtypes and requires_grad of what they return, and
the activations' internal constants (_const_like). Each test asserts behaviour a PyTorch user relies on:
values against torch where it is installed, the result's dtype and requires_grad, no stray NumPy warnings,
and the exact text of error messages (which must name the op). docs/mutation-survivors.md lists which
mutants each test kills."""
import re
import warnings

import numpy as np
import pytest

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F

from parity import raises_whole as _raises, torch_or_skip as _torch



RNG = np.random.default_rng(17)
LOGP = np.log(np.random.default_rng(3).dirichlet(np.ones(4), size=5)).astype(np.float32)   # (5, 4) log-probs
LABELS = np.array([0, 3, 1, 3, 2])
CW = np.array([0.5, 2.0, 1.5, 3.0], dtype=np.float32)


# =========================================================================== _float_input
def test_losses_refuse_a_non_tensor_input_with_a_type_error_naming_the_op():
    # torch: TypeError "nll_loss(): argument 'input' must be Tensor, not list"
    _raises(TypeError, "nll_loss: input must be a Tensor, got list", F.nll_loss, [[0.0, 1.0]], np.array([0]))
    _raises(TypeError, "cross_entropy: input must be a Tensor, got tuple", F.cross_entropy, ((0.0, 1.0),),
            np.array([0]))


def test_losses_refuse_integer_input_naming_the_op_and_the_cure():
    # torch raises RuntimeError for integer input (no integer kernels); ours is a DtypeError (TypeError and
    # RuntimeError both catch it)
    xi = tl.Tensor(np.ones((2, 3), dtype=np.int64))
    msg = ("nll_loss: input must be a floating-point tensor, got int64 (as in PyTorch); "
           "cast it first, e.g. x.float()")
    _raises(RuntimeError, msg, F.nll_loss, xi, np.array([0, 1]))
    _raises(TypeError, msg.replace("nll_loss", "cross_entropy"), F.cross_entropy, xi, np.array([0, 1]))
    # a float input of either width is accepted
    for dt in (np.float32, np.float64):
        assert F.nll_loss(tl.Tensor(LOGP.astype(dt)), LABELS).dtype == dt


# =========================================================================== nll_loss
def test_nll_loss_errors_name_the_op():
    x = tl.Tensor(LOGP)
    legacy = ("nll_loss: size_average and reduce are deprecated in PyTorch and not supported here; "
              "use reduction='mean' | 'sum' | 'none'")
    _raises(TypeError, legacy, F.nll_loss, x, LABELS, size_average=True)
    _raises(TypeError, legacy, F.nll_loss, x, LABELS, size_average=False)
    _raises(TypeError, legacy, F.nll_loss, x, LABELS, reduce=True)
    _raises(TypeError, legacy, F.nll_loss, x, LABELS, reduce=False)
    _raises(ValueError, "nll_loss: input must be (N, C) or (N, C, d1, ...) log-probabilities, got shape ()",
            F.nll_loss, tl.Tensor(np.float32(-1.0)), np.array(0))
    _raises(ValueError, "nll_loss: weight must have shape (4,) for input of shape (5, 4), got (3,)",
            F.nll_loss, x, LABELS, weight=np.ones(3, dtype=np.float32))
    _raises(TypeError, "nll_loss: target must hold integer class labels, got dtype float32", F.nll_loss, x,
            LABELS.astype(np.float32))


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_nll_loss_class_weight_without_ignored_labels_matches_torch(reduction):
    torch = _torch()
    x = tl.Tensor(LOGP, requires_grad=True)
    out = F.nll_loss(x, LABELS, weight=tl.Tensor(CW), reduction=reduction)
    tx = torch.tensor(LOGP, requires_grad=True)
    ref = torch.nn.functional.nll_loss(tx, torch.tensor(LABELS), weight=torch.tensor(CW), reduction=reduction)
    assert out.dtype == np.float32 and out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-6, atol=1e-6)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_nll_loss_of_one_sample_keeps_the_class_weight_and_the_reduction(reduction):
    # input (C,), target a 0-d label: torch weighs it too (only 'mean' divides the weight out again)
    torch = _torch()
    x = tl.Tensor(LOGP[1])
    out = F.nll_loss(x, np.array(2), weight=CW, reduction=reduction)
    ref = torch.nn.functional.nll_loss(torch.tensor(LOGP[1]), torch.tensor(2), weight=torch.tensor(CW),
                                       reduction=reduction)
    assert out.shape == () == tuple(ref.shape)
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-6)
    if reduction != "mean":
        np.testing.assert_allclose(out.numpy(), -CW[2] * LOGP[1, 2], rtol=1e-6)


def test_nll_loss_with_ignored_labels_or_weights_stays_float32_and_matches_torch():
    torch = _torch()
    x = tl.Tensor(LOGP)
    t = np.array([0, 3, -100, 3, 2])
    for kw in (dict(), dict(weight=CW), dict(weight=CW.astype(np.float64)), dict(ignore_index=3),
               dict(ignore_index=3, weight=CW)):
        t = np.array([0, 3, 1, 3, 2]) if "ignore_index" in kw else np.array([0, 3, -100, 3, 2])
        for reduction in ("none", "sum", "mean"):
            tkw = {k: torch.tensor(v.astype(np.float32)) if k == "weight" else v for k, v in kw.items()}
            out = F.nll_loss(x, t, reduction=reduction, **kw)
            ref = torch.nn.functional.nll_loss(torch.tensor(LOGP), torch.tensor(t), reduction=reduction, **tkw)
            assert out.dtype == np.float32, (kw, reduction)          # no float64 from the weights or the mask
            np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-6, atol=1e-7)


def test_nll_loss_result_requires_grad_only_when_the_input_does():
    for kw in (dict(), dict(weight=CW), dict(ignore_index=3)):
        t = np.array([0, 3, 1, 3, 2]) if kw else np.array([0, 3, -100, 3, 2])
        for reduction in ("none", "sum", "mean"):
            out = F.nll_loss(tl.Tensor(LOGP), t, reduction=reduction, **kw)
            assert out.requires_grad is False, (kw, reduction)
            x = tl.Tensor(LOGP, requires_grad=True)
            out = F.nll_loss(x, t, reduction=reduction, **kw)
            assert out.requires_grad is True
            out.sum().backward()
            assert x.grad.dtype == np.float32


def test_nll_loss_with_every_label_ignored_is_a_silent_nan_as_torch():
    torch = _torch()
    t = np.full(5, -100)
    ref = torch.nn.functional.nll_loss(torch.tensor(LOGP), torch.tensor(t))
    assert torch.isnan(ref)
    for kw in (dict(), dict(weight=CW)):
        with np.errstate(all="warn"), warnings.catch_warnings():
            warnings.simplefilter("error")                 # no "divide by zero" / "invalid value" warnings
            out = F.nll_loss(tl.Tensor(LOGP), t, **kw)
            assert np.isnan(out.item())
            assert F.nll_loss(tl.Tensor(LOGP), t, reduction="sum", **kw).item() == 0.0


def test_nll_loss_and_cross_entropy_take_labels_and_weights_as_arrays_or_lists():
    # the tutorials' datasets give labels as NumPy arrays (or lists): the same loss as a Tensor of them
    x = tl.Tensor(LOGP)
    ref = F.nll_loss(x, tl.Tensor(LABELS), weight=tl.Tensor(CW)).item()
    for labels in (LABELS, LABELS.tolist(), LABELS.astype(np.int32)):
        for w in (CW, CW.tolist()):
            assert F.nll_loss(x, labels, weight=w).item() == pytest.approx(ref, rel=1e-6)
    ref = F.cross_entropy(x, tl.Tensor(LABELS)).item()
    assert F.cross_entropy(x, LABELS.tolist()).item() == pytest.approx(ref, rel=1e-6)
    assert F.cross_entropy(x, LABELS.astype(np.int32)).item() == pytest.approx(ref, rel=1e-6)
    # one sample, the label a Python or NumPy int
    assert F.nll_loss(x[1], 3).item() == pytest.approx(-float(LOGP[1, 3]), rel=1e-6)
    assert F.nll_loss(x[1], np.int64(3)).item() == pytest.approx(-float(LOGP[1, 3]), rel=1e-6)
    assert F.cross_entropy(x[1], 3).item() == pytest.approx(F.cross_entropy(x[1:2], [3]).item(), rel=1e-6)


# =========================================================================== binary_cross_entropy_with_logits
def test_bce_with_logits_errors_name_the_op():
    op = "binary_cross_entropy_with_logits"
    x, t = tl.ones(3, 4), np.ones((3, 4), dtype=np.float32)
    f = F.binary_cross_entropy_with_logits
    _raises(ValueError, f"{op}: target shape (3, 3) does not match input shape (3, 4)", f, x, np.ones((3, 3)))
    _raises(ValueError, f"{op}: reduction must be one of ('mean', 'sum', 'none'), got 'avg'", f, x, t,
            reduction="avg")
    legacy = (f"{op}: size_average and reduce are deprecated in PyTorch and not supported here; "
              "use reduction='mean' | 'sum' | 'none'")
    _raises(TypeError, legacy, f, x, t, size_average=True)
    _raises(TypeError, legacy, f, x, t, size_average=False)
    _raises(TypeError, legacy, f, x, t, reduce=False)
    _raises(TypeError, legacy, f, x, t, reduce=True)
    _raises(ValueError, f"{op}: weight of shape (3,) does not broadcast to the input's shape (3, 4)", f, x, t,
            weight=np.ones(3))
    _raises(ValueError, f"{op}: pos_weight of shape (3,) does not broadcast to the input's shape (3, 4)", f, x, t,
            pos_weight=np.ones(3))                # (the argument it is about, not "weight")


# =========================================================================== _const_like (activations' constants)
@pytest.mark.parametrize("name", ["hardtanh", "hardsigmoid", "hardswish", "normalize", "relu6"])
def test_activation_of_a_constant_does_not_require_grad(name):
    fn = getattr(F, name)
    x = tl.Tensor(np.linspace(-5, 5, 12, dtype=np.float32).reshape(3, 4))
    y = fn(x)
    assert y.requires_grad is False and y.dtype == np.float32
    x = tl.Tensor(x.numpy(), requires_grad=True)
    y = fn(x)
    assert y.requires_grad is True
    y.sum().backward()
    assert x.grad.dtype == np.float32


# =========================================================================== _class_weight: the weight is saved
@pytest.mark.parametrize("kind", ["labels", "label_smoothing", "probabilities", "probabilities_requiring_grad"])
def test_cross_entropy_weight_changed_in_place_before_backward_raises_as_torch(kind):
    # torch saves the class weight for backward: changing it in place in between raises its version-counter
    # error. Ours did not look and computed the gradient with the changed weight (a silently different result).
    torch = _torch()
    x = np.random.default_rng(5).standard_normal((5, 4)).astype(np.float32)
    probs = np.random.default_rng(6).dirichlet(np.ones(4), size=5).astype(np.float32)
    ls = 0.2 if kind == "label_smoothing" else 0.0
    for change in (False, True):
        tx = torch.tensor(x, requires_grad=True)
        tw = torch.tensor(CW)
        tt = torch.tensor(LABELS) if kind in ("labels", "label_smoothing") else \
            torch.tensor(probs, requires_grad=kind.endswith("grad"))
        ref = torch.nn.functional.cross_entropy(tx, tt, weight=tw, label_smoothing=ls)
        xx, w = tl.Tensor(x, requires_grad=True), tl.Tensor(CW)
        tgt = LABELS if kind in ("labels", "label_smoothing") else \
            tl.Tensor(probs, requires_grad=kind.endswith("grad"))
        out = F.cross_entropy(xx, tgt, weight=w, label_smoothing=ls)
        if change:
            tw.mul_(2)
            w.mul_(2)
            with pytest.raises(RuntimeError, match="modified by an inplace operation"):
                ref.backward()
            with pytest.raises(RuntimeError, match=r"^one of the variables needed for gradient computation has "
                               r"been modified by an inplace operation: the weight of CrossEntropy \(shape \(4,\), "
                               r"dtype float32\) was changed by mul_ after CrossEntropy used it"):
                out.backward()
        else:
            ref.backward()
            out.backward()
            np.testing.assert_allclose(xx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)


# =========================================================================== binary_cross_entropy
def test_bce_errors_name_the_op():
    op = "binary_cross_entropy"
    p, t = tl.full((3, 4), 0.5), np.ones((3, 4), dtype=np.float32)
    legacy = (f"{op}: size_average and reduce are deprecated in PyTorch and not supported here; "
              "use reduction='mean' | 'sum' | 'none'")
    for kw in (dict(size_average=True), dict(size_average=False), dict(reduce=True), dict(reduce=False)):
        _raises(TypeError, legacy, F.binary_cross_entropy, p, t, **kw)
    _raises(ValueError, f"{op}: weight of shape (3,) does not broadcast to the input's shape (3, 4)",
            F.binary_cross_entropy, p, t, weight=np.ones(3))


@pytest.mark.parametrize("lo,hi,ok", [(0.0, 1.0, True), (-0.5, 0.5, False), (-1e-6, 1.0, False),
                                      (0.5, 1.5, False), (0.0, 1.000001, False), (0.25, 2.5, False)])
def test_bce_takes_probabilities_in_0_1_both_ends_included_as_torch(lo, hi, ok):
    torch = _torch()
    v = np.array([lo, 0.5, hi], dtype=np.float32)
    t = np.array([0.0, 1.0, 1.0], dtype=np.float32)
    try:
        ref = torch.nn.functional.binary_cross_entropy(torch.tensor(v), torch.tensor(t), reduction="sum").item()
    except RuntimeError:
        ref = None
    assert (ref is not None) == ok
    if ok:
        with np.errstate(all="warn"), warnings.catch_warnings():
            warnings.simplefilter("error")                 # log(0) is clamped to -100 silently, as torch
            out = F.binary_cross_entropy(tl.Tensor(v), t, reduction="sum")
        assert out.item() == pytest.approx(ref, rel=1e-6)
    else:
        _raises(ValueError, f"binary_cross_entropy: input must be probabilities in [0, 1], got values from "
                f"{float(v.min()):g} to {float(v.max()):g}; for logits use binary_cross_entropy_with_logits "
                "(nn.BCEWithLogitsLoss)", F.binary_cross_entropy, tl.Tensor(v), t)


def test_bce_of_empty_tensors_as_torch():
    torch = _torch()
    for reduction in ("mean", "sum", "none"):
        ref = torch.nn.functional.binary_cross_entropy(torch.zeros(0, 3), torch.zeros(0, 3), reduction=reduction)
        out = F.binary_cross_entropy(tl.zeros(0, 3), np.zeros((0, 3), dtype=np.float32), reduction=reduction)
        assert out.shape == tuple(ref.shape)
        np.testing.assert_array_equal(out.numpy(), ref.numpy())     # mean: nan, sum: 0, none: (0, 3)


# =========================================================================== _as_target, _bce_args
def test_pointwise_losses_take_targets_as_lists_or_arrays_in_the_input_dtype():
    x = tl.Tensor(np.array([[0.2, 0.7], [0.9, 0.4]], dtype=np.float32))
    lst = [[0.0, 1.0], [1.0, 0.0]]
    for name in ("mse_loss", "l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits"):
        fn = getattr(F, name)
        ref = fn(x, tl.Tensor(np.array(lst, dtype=np.float32)), reduction="none")
        for t in (lst, np.array(lst), np.array(lst, dtype=np.float32), [[0, 1], [1, 0]]):
            out = fn(x, t, reduction="none")
            assert out.dtype == np.float32, (name, t)
            np.testing.assert_array_equal(out.numpy(), ref.numpy())


@pytest.mark.parametrize("name", ["binary_cross_entropy", "binary_cross_entropy_with_logits"])
def test_bce_takes_the_old_positional_reduction_in_place_of_weight(name):
    # F.binary_cross_entropy(p, t, "sum"): a string where weight goes is the reduction (old call form)
    fn = getattr(F, name)
    p, t = tl.Tensor(np.array([0.2, 0.7, 0.9], dtype=np.float32)), np.array([0.0, 1.0, 1.0], dtype=np.float32)
    for reduction in ("sum", "none", "mean"):
        np.testing.assert_array_equal(fn(p, t, reduction).numpy(), fn(p, t, reduction=reduction).numpy())
    _raises(ValueError, f"{name}: reduction must be one of ('mean', 'sum', 'none'), got 'avg'", fn, p, t, "avg")


# =========================================================================== ignored labels (_class_labels)
@pytest.mark.parametrize("name", ["nll_loss", "cross_entropy"])
def test_ignored_rows_count_zero_even_at_minus_inf_as_torch(name):
    # masked logits / log-probabilities (-inf at a class) in a row whose label is ignored: torch skips the row;
    # ours computed inf * 0 = nan there (and warned). Also with class weights and label smoothing.
    torch = _torch()
    lp = np.array([[-np.inf, -0.1, -2.5], [-1.0, -0.5, -2.0], [-0.3, -np.inf, -1.0]], np.float32)
    t = np.array([-100, 1, -100])
    for kw in (dict(), dict(weight=np.array([1.0, 2.0, 3.0], np.float32))):
        for ls in ((0.0, 0.3) if name == "cross_entropy" else (0.0,)):
            extra = dict(label_smoothing=ls) if ls else {}
            for reduction in ("mean", "sum", "none"):
                for create_graph in (False, True):
                    x = tl.Tensor(lp, requires_grad=True)
                    with np.errstate(all="warn"), warnings.catch_warnings():
                        warnings.simplefilter("error")
                        out = getattr(F, name)(x, t, reduction=reduction, **kw, **extra)
                        out.sum().backward(create_graph=create_graph)
                    tx = torch.tensor(lp, requires_grad=True)
                    ref = getattr(torch.nn.functional, name)(tx, torch.tensor(t), reduction=reduction,
                                                             **{k: torch.tensor(v) for k, v in kw.items()}, **extra)
                    ref.sum().backward()
                    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-5)
                    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["nll_loss", "cross_entropy"])
def test_ignored_labels_with_a_single_class_as_torch(name):
    # C = 1: the ignored labels' placeholder must be a valid class (0), not counted
    torch = _torch()
    x = np.array([[-0.5], [-1.5], [-2.0]], np.float32)
    t = np.array([0, -100, 0])
    for reduction in ("mean", "sum", "none"):
        out = getattr(F, name)(tl.Tensor(x), t, reduction=reduction)
        ref = getattr(torch.nn.functional, name)(torch.tensor(x), torch.tensor(t), reduction=reduction)
        np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-6, atol=1e-7)


def test_cross_entropy_refuses_the_legacy_arguments_naming_the_op():
    x = tl.Tensor(LOGP)
    legacy = ("cross_entropy: size_average and reduce are deprecated in PyTorch and not supported here; "
              "use reduction='mean' | 'sum' | 'none'")
    for kw in (dict(size_average=True), dict(size_average=False), dict(reduce=True), dict(reduce=False),
               dict(size_average=True, reduce=True)):
        _raises(TypeError, legacy, F.cross_entropy, x, LABELS, **kw)
    assert F.cross_entropy(x, LABELS, size_average=None, reduce=None).shape == ()


def test_cross_entropy_target_changed_in_place_before_backward_raises_as_torch():
    torch = _torch()
    x = np.random.default_rng(7).standard_normal((3, 4)).astype(np.float32)
    for kind in ("labels", "probabilities"):
        t = tl.Tensor(np.array([0, 1, 2])) if kind == "labels" else tl.Tensor(np.full((3, 4), 0.25, np.float32))
        tt = torch.tensor(t.numpy())
        xx, tx = tl.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out, ref = F.cross_entropy(xx, t), torch.nn.functional.cross_entropy(tx, tt)
        t.mul_(2)
        tt.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            ref.backward()
        with pytest.raises(RuntimeError, match=r"^one of the variables needed for gradient computation has been "
                           r"modified by an inplace operation: the target of CrossEntropy"):
            out.backward()


def test_cross_entropy_of_one_sample_keeps_weight_smoothing_and_target_gradient_as_torch():
    torch = _torch()
    x = np.array([0.3, -1.2, 2.0, 0.5], np.float32)
    p = np.array([0.1, 0.2, 0.3, 0.4], np.float32)
    for kw in (dict(weight=CW), dict(label_smoothing=0.25), dict(weight=CW, label_smoothing=0.1)):
        tkw = {k: torch.tensor(v) if k == "weight" else v for k, v in kw.items()}
        for reduction in ("sum", "none", "mean"):
            out = F.cross_entropy(tl.Tensor(x), np.array(2), reduction=reduction, **kw)
            ref = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(2), reduction=reduction, **tkw)
            assert out.shape == ()
            np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-6)
    xx, pp = tl.Tensor(x, requires_grad=True), tl.Tensor(p, requires_grad=True)    # a probability target
    F.cross_entropy(xx, pp, label_smoothing=0.1).backward()
    tx, tp = torch.tensor(x, requires_grad=True), torch.tensor(p, requires_grad=True)
    torch.nn.functional.cross_entropy(tx, tp, label_smoothing=0.1).backward()
    np.testing.assert_allclose(xx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(pp.grad.numpy(), tp.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_cross_entropy_errors_name_the_op():
    x = tl.Tensor(LOGP)
    _raises(ValueError, "cross_entropy: weight must have shape (4,) for input of shape (5, 4), got (3,)",
            F.cross_entropy, x, LABELS, weight=np.ones(3, dtype=np.float32))
    _raises(IndexError, "cross_entropy: label 4 is outside [0, 4) for input of shape (5, 4) (and is not "
            "ignore_index=-100)", F.cross_entropy, x, np.array([0, 4, 1, 3, 2]))


@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 3, 2, 5), (3, 4)])
def test_cross_entropy_spatial_probability_targets_as_torch(shape):
    # (N, C, d1, ...) logits with class probabilities along dim 1 (a constant target: the NumPy path)
    torch = _torch()
    rng = np.random.default_rng(8)
    x = rng.standard_normal(shape).astype(np.float32)
    p = rng.random(shape).astype(np.float32)
    p /= p.sum(axis=1, keepdims=True)
    for reduction in ("mean", "sum", "none"):
        for ls in (0.0, 0.2):
            xx = tl.Tensor(x, requires_grad=True)
            out = F.cross_entropy(xx, p, reduction=reduction, label_smoothing=ls)
            out.sum().backward()
            tx = torch.tensor(x, requires_grad=True)
            ref = torch.nn.functional.cross_entropy(tx, torch.tensor(p), reduction=reduction, label_smoothing=ls)
            ref.sum().backward()
            assert out.shape == tuple(ref.shape)
            np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(xx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)


# =========================================================================== BCE argument handling (the run's timeouts)
@pytest.mark.parametrize("fn", [F.binary_cross_entropy, F.binary_cross_entropy_with_logits])
def test_bce_takes_a_numpy_weight_and_a_list_target(fn):
    """A weight given as an array and a target given as a list or array are converted like the input (same values
    as with Tensors); a weight that does not broadcast and a target of another shape are errors naming the op."""
    p = np.array([[0.2, 0.7], [0.9, 0.4]], np.float32)
    t = [[0.0, 1.0], [1.0, 0.0]]
    w = np.array([0.5, 2.0], np.float32)
    ref = fn(tl.Tensor(p), tl.Tensor(np.array(t, np.float32)), weight=tl.Tensor(w), reduction="none").numpy()
    for tt in (t, np.array(t, np.float32)):
        got = fn(tl.Tensor(p), tt, weight=w, reduction="none")
        assert got.dtype == tl.float32
        np.testing.assert_array_equal(got.numpy(), ref)
    np.testing.assert_array_equal(fn(tl.Tensor(p), t, weight=[0.5, 2.0], reduction="none").numpy(), ref)
    name = fn.__name__
    with pytest.raises(ValueError, match=re.escape(f"{name}: weight of shape (3,) does not broadcast to the input's "
                                                   f"shape (2, 2)")):
        fn(tl.Tensor(p), t, weight=np.ones(3, np.float32))
    with pytest.raises(ValueError, match=re.escape(f"{name}: target shape (3,) does not match input shape (2, 2)")):
        fn(tl.Tensor(p), [0.0, 1.0, 1.0])
    with pytest.raises(TypeError, match=f"^{name}: size_average and reduce are deprecated"):
        fn(tl.Tensor(p), t, reduce=True)
    with pytest.raises(TypeError, match=f"^{name}: size_average and reduce are deprecated"):
        fn(tl.Tensor(p), t, size_average=False)
