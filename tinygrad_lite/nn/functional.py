"""tl.nn.functional (import as F): activations, dropout, linear, the losses; conv2d and pooling (from conv.py)."""
from __future__ import annotations

import numpy as np

from .. import backend
from .. import ops as O
from ..tensor import Tensor, linear  # noqa: F401  (re-exported: F.linear)
from ..tensor import where as _where
from ..conv import adaptive_avg_pool2d, avg_pool2d, conv2d, dropout2d, max_pool2d  # noqa: F401  (F.conv2d, ...)

_REDUCTIONS = ("mean", "sum", "none")


def relu(x):
    return x.relu()


def sigmoid(x):
    return x.sigmoid()


def tanh(x):
    return x.tanh()


def leaky_relu(x, negative_slope=0.01):
    """x where x > 0, negative_slope * x elsewhere (gradient negative_slope at 0, as in PyTorch)."""
    return _where(x.data > 0, x, x * negative_slope)


def softplus(x, beta=1.0, threshold=20.0):
    """log(1 + e^(beta x)) / beta, computed stably as (relu(bx) + log1p(e^-|bx|)) / beta; x itself where
    beta x > threshold, as in PyTorch."""
    bx = x * beta
    return _where(bx.data > threshold, x, (bx.relu() + (-bx.abs()).exp().log1p()) / beta)


def one_hot(labels, num_classes=-1):
    """Integer labels (any shape) -> int64 one-hot rows with num_classes columns (inferred as max + 1 when -1),
    on the labels' device; what the "from scratch" tutorials call t with one_hot_label=True."""
    t = labels.data if isinstance(labels, Tensor) else labels
    if not backend.is_array(t):
        t = np.asarray(t)
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers, got dtype {t.dtype}")
    xp = backend.xp_of(t)
    lo, hi = (int(t.min()), int(t.max())) if t.size else (0, -1)
    if num_classes == -1:
        num_classes = hi + 1 if t.size else 0
    if lo < 0 or hi >= num_classes:
        bad = lo if lo < 0 else hi
        raise IndexError(f"one_hot: label {bad} is outside [0, {num_classes})")
    return Tensor._make((t[..., None] == xp.arange(num_classes)).astype(np.int64), False, None)


def softmax(x, dim=-1):
    return x.softmax(axis=dim)


def log_softmax(x, dim=-1):
    return x.log_softmax(axis=dim)


def dropout(x, p=0.5, training=True):
    """Zero each element with probability p and scale the rest by 1/(1-p) (inverted dropout)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0.0
    keep = backend.rng(x.device).random(x.shape, dtype=np.float32) >= p
    return x * Tensor._make((keep * (1.0 / (1.0 - p))).astype(x.dtype), False, None)


def _labels(target, logits, op):
    """The target as an array on the logits' device, checked against the logits' shape."""
    t = target.data if isinstance(target, Tensor) else target
    if type(t) is not type(logits.data):     # a list, or an array on the other device
        if not backend.is_array(t):
            t = np.asarray(t)
        if backend.device_of(t) != logits.device:
            t = backend.to_device(t, logits.device)
    if logits.ndim != 2:
        raise ValueError(f"{op}: input must be (N, C), got shape {logits.shape}")
    n, c = logits.shape
    if t.dtype.kind in "iu":
        if t.shape != (n,):
            raise ValueError(f"{op}: class labels must have shape ({n},) for logits of shape {logits.shape}, "
                             f"got {t.shape}")
        if n and not backend.capturing():      # (a host sync: skipped while a CUDA graph is recorded)
            lo, hi = int(t.min()), int(t.max())
            if lo < 0 or hi >= c:
                bad = lo if lo < 0 else hi
                raise IndexError(f"{op}: label {bad} is outside [0, {c}) for logits of shape {logits.shape}")
    elif t.dtype.kind == "f":
        if t.shape != (n, c):
            raise ValueError(f"{op}: class probabilities must have the logits' shape {logits.shape}, got {t.shape}")
        t = t.astype(logits.dtype, copy=False)
    else:
        raise TypeError(f"{op}: target must hold integer labels or float probabilities, got dtype {t.dtype}")
    return t


def _check_reduction(reduction, op):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _float_input(x, op):
    """Losses take floating-point inputs, as PyTorch's (which has no integer kernels for them)."""
    dt = getattr(x, "dtype", None)
    if dt is None:
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if np.dtype(dt).kind != "f":
        raise backend.DtypeError(f"{op}: input must be a floating-point tensor, got {dt} (as in PyTorch); "
                                 "cast it first, e.g. x.float()")


def cross_entropy(logits, target, reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy from logits (N, C) and integer labels (N,) or class probabilities (N, C).

    One fused node: logsumexp forward, (softmax - target) backward; stable for any finite logits.
    """
    _check_reduction(reduction, "cross_entropy")
    _float_input(logits, "cross_entropy")
    if logits.ndim == 1:
        t = target.data if isinstance(target, Tensor) else target if backend.is_array(target) else np.asarray(target)
        out = cross_entropy(logits.unsqueeze(0), t.reshape((1,) + t.shape), reduction, label_smoothing)
        return out.reshape(()) if reduction == "none" else out
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy: logits must be (N, C), got shape {logits.shape}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    t = _labels(target, logits, "cross_entropy")
    return O.CrossEntropy.apply(logits, target=t, reduction=reduction, label_smoothing=label_smoothing)


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def nll_loss(log_probs, target, reduction="mean"):
    """Negative log-likelihood of log-probabilities (N, C) at integer labels (N,)."""
    _check_reduction(reduction, "nll_loss")
    _float_input(log_probs, "nll_loss")
    t = _labels(target, log_probs, "nll_loss")
    if t.dtype.kind not in "iu":
        raise TypeError("nll_loss: target must hold integer class labels")
    rows = backend.xp_of(t).arange(t.shape[0])
    return _reduce(-log_probs[rows, t], reduction)


def _as_target(target, like, op):
    t = target
    if not isinstance(t, Tensor):            # a device array stays one (CuPy refuses np.asarray); lists in like's dtype
        t = Tensor(t if backend.is_array(t) else np.asarray(t, dtype=like.dtype), device=like.device, dtype=like.dtype)
    if t.shape != like.shape:
        raise ValueError(f"{op}: target shape {t.shape} does not match input shape {like.shape}")
    return t


def binary_cross_entropy(probs, target, reduction="mean"):
    """-(t log p + (1-t) log(1-p)); the logs are clamped at -100 as in PyTorch."""
    _check_reduction(reduction, "binary_cross_entropy")
    t = _as_target(target, probs, "binary_cross_entropy")
    if probs.numel() and not backend.capturing():    # (a host sync: skipped while a CUDA graph is recorded)
        lo, hi = float(probs.data.min()), float(probs.data.max())
        if not (lo >= 0 and hi <= 1):              # (NaN fails too)
            raise ValueError(f"binary_cross_entropy: input must be probabilities in [0, 1], got values from {lo:g} "
                             f"to {hi:g}; for logits use binary_cross_entropy_with_logits (nn.BCEWithLogitsLoss)")
    return _reduce(O.BinaryCrossEntropy.apply(probs, t), reduction)


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    """Stable BCE on logits: max(x, 0) - x t + log1p(exp(-|x|))."""
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    t = _as_target(target, logits, "binary_cross_entropy_with_logits")
    loss = logits.relu() - logits * t + (-logits.abs()).exp().log1p()
    return _reduce(loss, reduction)


def l1_loss(input, target, reduction="mean"):
    """|input - target| (mean absolute error)."""
    _check_reduction(reduction, "l1_loss")
    return _reduce((input - _as_target(target, input, "l1_loss")).abs(), reduction)


def mse_loss(input, target, reduction="mean"):
    _check_reduction(reduction, "mse_loss")
    t = _as_target(target, input, "mse_loss")
    d = input - t
    return _reduce(d * d, reduction)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalize input (N, C, ...) per channel C, as PyTorch's F.batch_norm.

    training: with the batch's mean and (biased) variance over every axis but 1, and, when running_mean /
    running_var are given, update them in place: r = (1 - momentum) r + momentum s, the variance's s
    unbiased (n/(n-1)) as in PyTorch. Otherwise with running_mean / running_var. Then * weight + bias.
    """
    op = "batch_norm"
    if input.ndim < 2:
        raise ValueError(f"{op}: expected an input of at least 2 dimensions (N, C, ...), got shape {input.shape}")
    c = input.shape[1]
    for t, name in ((running_mean, "running_mean"), (running_var, "running_var"), (weight, "weight"), (bias, "bias")):
        if t is not None and t.shape != (c,):
            raise ValueError(f"{op}: {name} must have shape ({c},) for an input of shape {input.shape}, got {t.shape}")
    axes = (0,) + tuple(range(2, input.ndim))
    shape = (1, c) + (1,) * (input.ndim - 2)
    if training:
        n = input.numel() // c if c else 0
        if n <= 1:
            raise ValueError(f"{op}: expected more than 1 value per channel when training, got input of shape "
                             f"{input.shape}")
        mean = input.mean(axis=axes, keepdims=True)
        d = input - mean
        var = (d * d).mean(axis=axes, keepdims=True)
        if running_mean is not None:
            rm = running_mean.data
            rm *= 1 - momentum
            rm += momentum * mean.data.reshape(c)
        if running_var is not None:
            rv = running_var.data
            rv *= 1 - momentum
            rv += (momentum * n / (n - 1)) * var.data.reshape(c)
        y = d / (var + eps).sqrt()
    else:
        if running_mean is None or running_var is None:
            raise ValueError(f"{op}: running_mean and running_var are needed when training=False")
        y = (input - running_mean.reshape(shape)) / (running_var.reshape(shape) + eps).sqrt()
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y
