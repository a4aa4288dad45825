"""tl.nn.functional's defaults, argument checks and error messages, against PyTorch's where installed.

Written to kill the mutants that survived the first mutation run (docs/testing.md): a default changed
(leaky_relu's slope, softplus's threshold, dropout's p and training, a loss's reduction), an op's name
dropped from its error message, one_hot's empty and Tensor inputs, dropout keeping the input's dtype.
"""
import numpy as np
import pytest

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _np(t):
    return np.asarray(t.numpy())


X = np.array([[-25.0, -1.5, 0.0, 0.5], [2.0, 20.5, 21.0, -0.25]])
T = np.array([[0.5, -1.0, 0.25, 0.0], [1.0, 20.0, 22.0, 0.5]])


@pytest.mark.parametrize("name", ["leaky_relu", "softplus"])
def test_activation_defaults_are_pytorchs(name):
    x = tl.Tensor(X, requires_grad=True)
    y = getattr(F, name)(x)
    y.backward(tl.Tensor(np.ones_like(X)))
    # PyTorch: negative_slope=0.01; softplus beta=1, threshold=20 (x itself above it)
    want = {"leaky_relu": np.where(X > 0, X, 0.01 * X),
            "softplus": np.where(X > 20, X, np.log1p(np.exp(np.minimum(X, 20))))}[name]
    np.testing.assert_allclose(_np(y), want, rtol=1e-12)
    torch = _torch()
    if torch is not None:
        tx = torch.tensor(X, requires_grad=True)
        ty = getattr(torch.nn.functional, name)(tx)
        ty.backward(torch.ones_like(ty))
        np.testing.assert_allclose(_np(y), ty.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(_np(x.grad), tx.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", ["l1_loss", "mse_loss", "binary_cross_entropy", "nll_loss", "cross_entropy"])
def test_loss_default_reduction_is_mean_and_a_bad_one_names_the_loss(name):
    if name in ("nll_loss", "cross_entropy"):
        a, t = tl.Tensor(X), tl.Tensor(np.array([1, 3]))
    elif name == "binary_cross_entropy":
        a, t = tl.Tensor(np.full((2, 4), 0.3)), tl.Tensor(np.full((2, 4), 0.75))
    else:
        a, t = tl.Tensor(X), tl.Tensor(T)
    fn = getattr(F, name)
    np.testing.assert_allclose(_np(fn(a, t)), _np(fn(a, t, reduction="none")).mean(), rtol=1e-12)
    np.testing.assert_allclose(_np(fn(a, t, reduction="sum")), _np(fn(a, t, reduction="none")).sum(), rtol=1e-12)
    with pytest.raises(ValueError, match=rf"^{name}: reduction must be one of \('mean', 'sum', 'none'\), got 'avg'"):
        fn(a, t, reduction="avg")


def test_l1_and_mse_loss_match_pytorch_with_gradients():
    torch = _torch()
    for name in ("l1_loss", "mse_loss"):
        for reduction in ("mean", "sum", "none"):
            x = tl.Tensor(X + 0.125, requires_grad=True)
            y = getattr(F, name)(x, tl.Tensor(T), reduction=reduction)
            diff = X + 0.125 - T
            want = np.abs(diff) if name == "l1_loss" else diff ** 2
            want = {"mean": want.mean(), "sum": want.sum(), "none": want}[reduction]
            np.testing.assert_allclose(_np(y), want, rtol=1e-12)
            y.backward(tl.Tensor(np.ones(y.shape)))
            if torch is not None:
                tx = torch.tensor(X + 0.125, requires_grad=True)
                ty = getattr(torch.nn.functional, name)(tx, torch.tensor(T), reduction=reduction)
                ty.backward(torch.ones_like(ty))
                np.testing.assert_allclose(_np(x.grad), tx.grad.numpy(), rtol=1e-12)


def test_nll_loss_rejects_float_targets_naming_itself():
    with pytest.raises(TypeError, match=r"^nll_loss: target must hold integer class labels"):
        F.nll_loss(tl.Tensor(X), tl.Tensor(np.full((2, 4), 0.25)))
    with pytest.raises(IndexError, match=r"^nll_loss: label 4 is outside \[0, 4\)"):
        F.nll_loss(tl.Tensor(X), tl.Tensor(np.array([0, 4])))


def test_one_hot_inputs_and_edges():
    for labels in (tl.Tensor(np.array([2, 0])), np.array([2, 0]), [2, 0]):
        y = F.one_hot(labels)
        assert y.dtype == np.int64 and not y.requires_grad
        np.testing.assert_array_equal(_np(y), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(RuntimeError, match=r"^one_hot: can't infer the number of classes from empty labels"):
        F.one_hot(np.array([], dtype=np.int64))        # as torch
    assert F.one_hot(np.array([], dtype=np.int64), num_classes=3).shape == (0, 3)
    np.testing.assert_array_equal(_np(F.one_hot(np.array([1, 1]), num_classes=3)), [[0, 1, 0], [0, 1, 0]])
    with pytest.raises(TypeError, match=r"^one_hot: labels must be integers, got dtype float"):
        F.one_hot(np.array([1.0]))
    with pytest.raises(TypeError, match=r"^one_hot: labels must be integers, got dtype bool"):
        F.one_hot(np.array([True]))
    with pytest.raises(IndexError, match=r"^one_hot: label -1 is outside \[0, 3\)"):
        F.one_hot(np.array([-1, 2]), num_classes=3)
    with pytest.raises(IndexError, match=r"^one_hot: label 3 is outside \[0, 3\)"):
        F.one_hot(np.array([0, 3]), num_classes=3)
    torch = _torch()
    if torch is not None:
        with pytest.raises(RuntimeError):
            torch.nn.functional.one_hot(torch.tensor([], dtype=torch.int64))
        assert tuple(torch.nn.functional.one_hot(torch.tensor([], dtype=torch.int64), 3).shape) == (0, 3)


def test_dropout_defaults_range_and_dtype():
    x = tl.ones(2000, dtype=np.float32)
    tl.manual_seed(0)
    y = F.dropout(x)                                   # PyTorch's defaults: p=0.5, training=True
    kept = _np(y) != 0
    assert 0.4 < kept.mean() < 0.6 and np.all(_np(y)[kept] == 2.0)
    assert y.dtype == np.float32 and not y.requires_grad
    assert F.dropout(x, 0.0) is x                      # p = 0 is allowed (and does nothing)
    for p in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"^dropout: p must be in \[0, 1\], got"):
            F.dropout(x, p)
    w = tl.Tensor(np.ones(50), requires_grad=True)
    F.dropout(w, 0.3).sum().backward()
    g = _np(w.grad)
    assert set(np.unique(g)) <= {0.0, 1 / 0.7} and w.grad.dtype == np.float64
