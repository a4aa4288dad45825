"""Optimizer hyperparameters and params are checked as PyTorch checks them (same exception
type and message), and NaN/inf, which PyTorch lets through, are refused too."""

import math

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import nn, optim

try:
    import torch
except ImportError:  # the messages are still checked against the literal strings below
    torch = None

NAN, INF = float("nan"), float("inf")

BAD = [  # (optimizer, kwargs, message as PyTorch words it)
    ("SGD", {"lr": -1}, "Invalid learning rate: -1"),
    ("SGD", {"lr": 0.1, "momentum": -0.5}, "Invalid momentum value: -0.5"),
    ("SGD", {"lr": 0.1, "weight_decay": -1}, "Invalid weight_decay value: -1"),
    ("SGD", {"lr": 0.1, "nesterov": True}, "Nesterov momentum requires a momentum and zero dampening"),
    ("Adam", {"lr": -1e-3}, "Invalid learning rate: -0.001"),
    ("Adam", {"eps": -1}, "Invalid epsilon value: -1"),
    ("Adam", {"betas": (1.0, 0.999)}, "Invalid beta parameter at index 0: 1.0"),
    ("Adam", {"betas": (0.9, -0.1)}, "Invalid beta parameter at index 1: -0.1"),
    ("Adam", {"weight_decay": -0.1}, "Invalid weight_decay value: -0.1"),
    ("AdamW", {"lr": -2}, "Invalid learning rate: -2"),
]


def _p():
    return nn.Parameter(np.ones(2, np.float32))


@pytest.mark.parametrize("name,kwargs,message", BAD)
def test_bad_hyperparameters_raise_like_torch(name, kwargs, message):
    with pytest.raises(ValueError) as e:
        getattr(optim, name)([_p()], **kwargs)
    assert message in str(e.value)
    if torch is not None:
        with pytest.raises(ValueError) as te:
            getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kwargs)
        assert message in str(te.value)


@pytest.mark.parametrize("name,key", [("SGD", "lr"), ("SGD", "momentum"), ("SGD", "weight_decay"),
                                      ("Adam", "lr"), ("Adam", "eps"), ("Adam", "weight_decay"),
                                      ("AdamW", "weight_decay")])
@pytest.mark.parametrize("value", [NAN, INF, -INF])
def test_non_finite_hyperparameters_are_refused(name, key, value):
    kwargs = {"lr": 0.1, key: value}
    with pytest.raises(ValueError, match="Invalid"):
        getattr(optim, name)([_p()], **kwargs)


def test_nan_beta_and_wrong_types():
    with pytest.raises(ValueError, match="beta parameter at index 1: nan"):
        optim.Adam([_p()], betas=(0.9, NAN))
    with pytest.raises(TypeError, match="learning rate"):
        optim.SGD([_p()], lr="0.1")
    with pytest.raises(ValueError, match="betas must be a pair"):
        optim.Adam([_p()], betas=(0.9,))


def test_params_must_be_an_iterable_of_tensors_or_dicts():
    p = _p()
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts, but got Parameter|Tensor"):
        optim.SGD(p, lr=0.1)
    if torch is not None:
        with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts"):
            torch.optim.SGD(torch.zeros(2, requires_grad=True), lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors, but one of the params is float"):
        optim.SGD([1.0], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.Adam(3)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.Adam({"params": [p]})
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="'params' entry"):
        optim.Adam([{"lr": 0.1}])
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.Adam([{"params": [p], "lr": -1}])
    opt = optim.SGD([{"params": p}], lr=0.1)               # a group's params may be one Tensor, as in torch
    assert opt.param_groups[0]["params"] == [p]


def test_sgd_default_lr_is_torchs():
    assert optim.SGD([_p()]).param_groups[0]["lr"] == 1e-3
    if torch is not None:
        assert torch.optim.SGD([torch.zeros(2, requires_grad=True)]).defaults["lr"] == 1e-3


def test_a_bare_tensor_used_to_be_silently_ignored_now_every_param_updates():
    p = _p()
    opt = optim.SGD([p], lr=0.5)
    (p * p).sum().backward()
    opt.step()
    np.testing.assert_allclose(p.numpy(), [0.0, 0.0])
    assert math.isfinite(float(p.numpy().sum()))


@pytest.mark.parametrize("name,key", [("RMSprop", "alpha"), ("RMSprop", "eps"), ("RMSprop", "momentum"),
                                      ("Adagrad", "lr_decay"), ("Adagrad", "initial_accumulator_value"),
                                      ("Adagrad", "eps")])
def test_rmsprop_and_adagrad_refuse_a_nan_hyperparameter_like_torch(name, key):
    """A NaN eps, momentum, lr_decay or initial accumulator turned every weight into NaN at the first step;
    PyTorch raises ValueError for each (it used to be accepted here: the checks were `x < 0`, False for NaN)."""
    with pytest.raises(ValueError, match=f"^{name}: .*must be >= 0|^{name}: need 0 <= alpha <= 1"):
        getattr(optim, name)([_p()], **{key: NAN})
    if torch is not None:
        with pytest.raises(ValueError):
            getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **{key: NAN})
