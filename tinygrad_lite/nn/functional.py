"""tl.nn.functional (import as F): activations, dropout, linear, the losses; conv2d and pooling (from conv.py)."""
from __future__ import annotations

import numpy as np

from .. import backend
from .. import elementwise as E
from .. import losses as L
from .. import movement as M
from .. import ops as O
from ..function import is_grad_enabled
from ..tensor import Tensor, _check_same_device, linear  # noqa: F401  (re-exported: F.linear)
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
    """log(1 + e^(beta x)) / beta, stably; x itself where beta x > threshold, as in PyTorch (elementwise.Softplus:
    smooth at 0, PyTorch's conventions at the threshold)."""
    return E.Softplus.apply(x, beta=beta, threshold=threshold)


# ---- PyTorch-parity activations (derived from Tensor ops, which give their gradients; elu/celu/selu, softplus
# and logsigmoid are Functions in elementwise.py, for PyTorch's conventions at their kinks and for stability)
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _const_like(array, x):
    return Tensor._make(array.astype(x.dtype, copy=False), False, None)


def gelu(x, approximate="none"):
    """x * Phi(x) = x (1 + erf(x / sqrt 2)) / 2; approximate='tanh': x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2."""
    if approximate == "none":
        return E.GELU.apply(x._float())
    if approximate == "tanh":
        return E.GELUTanh.apply(x._float())
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(x):
    """x * sigmoid(x) (swish; elementwise.SiLU: PyTorch's gradient under an inf upstream gradient)."""
    return E.SiLU.apply(x._float())


def elu(x, alpha=1.0):
    """x where x > 0, alpha (e^x - 1) elsewhere (gradient alpha at 0, second derivative 0 there, as in PyTorch)."""
    return E.ELU.apply(x, alpha=alpha, scale=1.0, input_scale=1.0)


def selu(x):
    """scale * elu(x, alpha) with PyTorch's constants."""
    return E.ELU.apply(x, alpha=_SELU_ALPHA, scale=_SELU_SCALE, input_scale=1.0)


def celu(x, alpha=1.0):
    """x where x > 0, alpha (e^(x/alpha) - 1) elsewhere (gradient 1 at 0, as in PyTorch)."""
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0")
    return E.ELU.apply(x, alpha=alpha, scale=1.0, input_scale=1.0 / alpha)


def hardtanh(x, min_val=-1.0, max_val=1.0):
    """x clipped to [min_val, max_val]; the gradient is 1 strictly inside and 0 at and beyond the ends, as in
    PyTorch (unlike clamp's, which is 1 at the ends)."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} is above max_val {max_val}")
    d = x.data
    inside = (d > min_val) & (d < max_val)
    return _where(inside, x, _const_like(backend.xp_of(d).clip(d, min_val, max_val), x))


def relu6(x):
    """min(max(x, 0), 6) = hardtanh(x, 0, 6): gradient 0 at 0 and at 6, as in PyTorch."""
    return hardtanh(x, 0.0, 6.0)


def hardsigmoid(x):
    """relu6(x + 3) / 6; gradient 1/6 strictly inside (-3, 3), 0 at and beyond the ends, as in PyTorch."""
    d = x.data
    inside = (d > -3) & (d < 3)
    outside = backend.xp_of(d).clip(d * (1 / 6) + 0.5, 0, 1)      # 0 or 1 there, and nan at nan (as PyTorch)
    return _where(inside, x * (1 / 6) + 0.5, _const_like(outside, x))


def hardswish(x):
    """x * relu6(x + 3) / 6; gradient x/3 + 1/2 strictly inside (-3, 3), 0 at and below -3, 1 at and above 3, as
    in PyTorch (elementwise.Hardswish)."""
    return E.Hardswish.apply(x._float())


def mish(x):
    """x * tanh(softplus(x)) (elementwise.Mish: PyTorch's gradient under an inf upstream gradient)."""
    return E.Mish.apply(x._float())


def logsigmoid(x):
    """log(sigmoid(x)), stable for any x (a fused op: elementwise.LogSigmoid)."""
    return E.LogSigmoid.apply(x)


def softsign(x):
    """x / (1 + |x|)."""
    return x / (x.abs() + 1)


def softmin(x, dim=-1):
    """softmax(-x) along dim."""
    return (-x).softmax(axis=dim)


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """input / max(||input||_p, eps) along dim, as torch.nn.functional.normalize (the norm's gradient at a zero
    vector is 0, as in PyTorch)."""
    if not (isinstance(p, (int, float)) and 0 < p < float("inf")):
        raise NotImplementedError(f"normalize: p={p!r} is not supported; give a finite p > 0")
    d = input.data
    xp = backend.xp_of(d)
    if p == 2:
        s = (input * input).sum(axis=dim, keepdims=True)
    else:
        s = (input.abs() ** p).sum(axis=dim, keepdims=True)
    pos = ~(s.data <= 0)                      # (and nan: a nan in the vector makes it all nan, as in PyTorch)
    safe = _where(pos, s, _const_like(xp.ones((), d.dtype), input))     # no inf gradient at a zero vector
    norm = safe.sqrt() if p == 2 else safe ** (1.0 / p)
    norm = _where(pos, norm, _const_like(xp.zeros((), d.dtype), input))
    return input / norm.clip(min=eps)


def pad(input, pad, mode="constant", value=0.0):
    """torch.nn.functional.pad, constant mode: pad = (left, right) for the last dim, then the one before, ...;
    negative amounts crop."""
    return M.pad(input, pad, mode, value)


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
    if not t.size and num_classes < 1:            # as PyTorch (-1, 0, ...): nothing to infer the count from
        raise RuntimeError(f"one_hot: can't infer the number of classes from empty labels; pass num_classes >= 1, "
                           f"got {num_classes}")
    if num_classes == -1:
        num_classes = hi + 1
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


def _array_on(t, like):
    """t (Tensor, array or list) as an array on `like`'s device."""
    t = t.data if isinstance(t, Tensor) else t
    if type(t) is not type(like.data):       # a list, or an array on the other device
        if not backend.is_array(t):
            t = np.asarray(t)
        if backend.device_of(t) != like.device:
            t = backend.to_device(t, like.device)
    return t


def _class_weight(weight, x, op):
    """weight (C,) as an array in x's dtype and device, or None."""
    if weight is None:
        return None
    if isinstance(weight, str):
        raise TypeError(f"{op}: weight must be a tensor of shape (C,), got the string {weight!r}; reduction is "
                        f"passed by keyword (reduction={weight!r}), as in PyTorch")
    if isinstance(weight, Tensor) and weight.requires_grad and is_grad_enabled():
        raise NotImplementedError(f"{op}: the gradient with respect to weight is not implemented (PyTorch has "
                                  f"none either); pass weight.detach()")
    w = _array_on(weight, x)
    c = x.shape[1] if x.ndim > 1 else x.shape[0]
    if w.shape != (c,):
        raise ValueError(f"{op}: weight must have shape ({c},) for input of shape {x.shape}, got {w.shape}")
    return w.astype(x.dtype, copy=False)


def _class_labels(t, x, op, ignore_index):
    """Integer labels (N, d1, ...) checked against input (N, C, d1, ...): (flat labels with the ignored ones
    set to 0, the ignore mask or None)."""
    shape = x.shape
    want = (shape[0],) + shape[2:] if len(shape) > 2 else shape[:1]
    if t.shape != want:
        raise ValueError(f"{op}: class labels must have shape {want} for input of shape {shape}, got {t.shape}")
    if t.ndim != 1:
        t = t.reshape(-1)
    c = shape[1]
    ignore = None
    if backend.capturing():                   # no host sync while a CUDA graph is recorded: always mask
        ignore = t == ignore_index
        return backend.xp_of(t).where(ignore, 0, t), ignore
    if t.size:
        lo, hi = int(t.min()), int(t.max())
        if lo <= ignore_index <= hi:
            mask = t == ignore_index
            if mask.any():
                ignore = mask
                t = backend.xp_of(t).where(mask, 0, t)
                lo, hi = int(t.min()), int(t.max())
        if lo < 0 or hi >= c:
            bad = lo if lo < 0 else hi
            raise IndexError(f"{op}: label {bad} is outside [0, {c}) for input of shape {x.shape} (and is not "
                             f"ignore_index={ignore_index})")
    return t, ignore


def _classes_last(x):
    """(N, C, d1, ...) -> (N * d1 * ..., C), a Tensor op (so gradients flow back); (N, C) unchanged."""
    if x.ndim == 2:
        return x
    return x.permute((0,) + tuple(range(2, x.ndim)) + (1,)).reshape(-1, x.shape[1])


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


def _legacy(size_average, reduce, op):
    if size_average is not None or reduce is not None:
        raise TypeError(f"{op}: size_average and reduce are deprecated in PyTorch and not supported here; "
                        f"use reduction='mean' | 'sum' | 'none'")


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy from logits (N, C) or (N, C, d1, ...) (or (C,)) and integer labels (N, d1, ...)
    or class probabilities shaped like the logits, as torch.nn.functional.cross_entropy: class `weight`,
    `ignore_index` (labels only), `label_smoothing`; 'mean' divides by the summed weights of the labels
    counted (by the number of rows for probabilities). A probability target that requires grad gets its
    gradient. One fused node: logsumexp forward, softmax backward; stable for any finite logits.
    """
    op = "cross_entropy"
    if reduction not in _REDUCTIONS:
        _check_reduction(reduction, op)
    if size_average is not None or reduce is not None:
        _legacy(size_average, reduce, op)
    if getattr(getattr(input, "dtype", None), "kind", None) != "f":   # (one cheap test on the hot path)
        _float_input(input, op)
    if label_smoothing and not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    nd = input.ndim
    if nd == 1:
        t = target if isinstance(target, Tensor) else _array_on(target, input)
        out = cross_entropy(input.unsqueeze(0), t.reshape((1,) + tuple(t.shape)), weight, None, ignore_index,
                            None, reduction, label_smoothing)
        return out.reshape(()) if reduction == "none" else out
    if nd < 2:
        raise ValueError(f"{op}: input must be (N, C) or (N, C, d1, ...) logits, got shape {input.shape}")
    w = None if weight is None else _class_weight(weight, input, op)
    keep_graph = False
    if isinstance(target, Tensor):
        keep_graph = target.requires_grad
        t = target.data
    else:
        t = target
    if type(t) is not type(input.data):
        t = _array_on(t, input)
    ignore = None
    kind = t.dtype.kind
    if kind in "iu":
        t, ignore = _class_labels(t, input, op, ignore_index)
    elif kind == "f":
        if tuple(t.shape) != input.shape:
            raise ValueError(f"{op}: class probabilities must have the logits' shape {input.shape}, got "
                             f"{tuple(t.shape)}")
        if keep_graph:                            # an input of the node: it gets its gradient
            _check_same_device(op, input, target)
            tt = _classes_last(target.astype(input.dtype))
            return _unflatten_none(L.CrossEntropy.apply(_classes_last(input), tt, reduction=reduction,
                                                        label_smoothing=label_smoothing, weight=w), input, reduction)
        t = t.astype(input.dtype, copy=False)
        if nd > 2:
            t = backend.xp_of(t).moveaxis(t, 1, -1).reshape(-1, input.shape[1])
    else:
        raise TypeError(f"{op}: target must hold integer labels or float probabilities, got dtype {t.dtype}")
    out = L.CrossEntropy.apply(input if nd == 2 else _classes_last(input), target=t, reduction=reduction,
                               label_smoothing=label_smoothing, weight=w, ignore=ignore)
    return out if nd == 2 else _unflatten_none(out, input, reduction)


def _unflatten_none(out, input, reduction):
    """reduction='none' over (N, C, d1, ...): the (N * d1 * ...,) losses back to (N, d1, ...)."""
    if reduction == "none" and input.ndim > 2:
        return out.reshape((input.shape[0],) + input.shape[2:])
    return out


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of log-probabilities (N, C) or (N, C, d1, ...) (or (C,)) at integer labels
    (N, d1, ...), as torch.nn.functional.nll_loss: class `weight`, `ignore_index`; 'mean' divides by the summed
    weights of the labels counted."""
    op = "nll_loss"
    _check_reduction(reduction, op)
    _legacy(size_average, reduce, op)
    _float_input(input, op)
    if input.ndim == 1:
        t = _array_on(target, input)
        out = nll_loss(input.unsqueeze(0), t.reshape((1,) + t.shape), weight, None, ignore_index, None, reduction)
        return out.reshape(()) if reduction == "none" else out
    if input.ndim < 2:
        raise ValueError(f"{op}: input must be (N, C) or (N, C, d1, ...) log-probabilities, got shape "
                         f"{input.shape}")
    t = _array_on(target, input)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class labels, got dtype {t.dtype}")
    w = _class_weight(weight, input, op)
    watched = (("target", t),) + ((("weight", _array_on(weight, input)),) if weight is not None else ())
    t, ignore = _class_labels(t, input, op, ignore_index)
    lp = _classes_last(input)
    xp = backend.xp_of(t)
    picked = L.NllLoss.apply(lp[xp.arange(t.shape[0]), t], watched=watched)   # (PyTorch's error if they change)
    if w is None and ignore is None:
        loss = -picked
        denom = None
    else:
        r = w[t] if w is not None else xp.ones(t.shape, dtype=input.dtype)
        if ignore is not None:
            r = r * ~ignore                   # an ignored row counts 0, even where its log-probability is -inf
            picked = _where(ignore, _const_like(xp.zeros((), r.dtype), input), picked)   # (not -inf * 0 = nan)
        loss = picked * Tensor._make(-r, False, None)
        denom = r.sum(dtype=input.dtype)
    if reduction == "none":
        return loss.reshape((input.shape[0],) + input.shape[2:]) if input.ndim > 2 else loss
    if reduction == "sum" or denom is None:
        return _reduce(loss, reduction)
    with np.errstate(invalid="ignore", divide="ignore"):    # all labels ignored: nan, as PyTorch
        return loss.sum() * Tensor._make(xp.asarray(1 / denom, dtype=input.dtype), False, None)


def _as_target(target, like, op):
    t = target
    if not isinstance(t, Tensor):            # a device array stays one (CuPy refuses np.asarray); lists in like's dtype
        t = Tensor(t if backend.is_array(t) else np.asarray(t, dtype=like.dtype), device=like.device, dtype=like.dtype)
    if t.shape != like.shape:
        raise ValueError(f"{op}: target shape {t.shape} does not match input shape {like.shape}")
    return t


def _loss_weight(weight, like, op, name="weight"):
    """A rescaling weight (the argument `name`) broadcast against the loss (a constant Tensor), or None."""
    if weight is None:
        return None
    w = weight if isinstance(weight, Tensor) else Tensor(_array_on(weight, like), device=like.device)
    try:
        np.broadcast_shapes(w.shape, like.shape)
    except ValueError:
        raise ValueError(f"{op}: {name} of shape {w.shape} does not broadcast to the input's shape "
                         f"{like.shape}") from None
    return w.astype(like.dtype)


def _bce_args(weight, reduction, size_average, reduce, target, x, op):
    """The BCE losses' shared argument handling: (weight, reduction, target as a tensor like x)."""
    if isinstance(weight, str):                   # the old positional reduction
        weight, reduction = None, weight
    _check_reduction(reduction, op)
    _legacy(size_average, reduce, op)
    return weight, reduction, _as_target(target, x, op)


def binary_cross_entropy(probs, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-w (t log p + (1-t) log(1-p)); the logs are clamped at -100 as in PyTorch."""
    op = "binary_cross_entropy"
    weight, reduction, t = _bce_args(weight, reduction, size_average, reduce, target, probs, op)
    if probs.numel() and not backend.capturing():    # (a host sync: skipped while a CUDA graph is recorded)
        lo, hi = float(probs.data.min()), float(probs.data.max())
        if not (lo >= 0 and hi <= 1):              # (NaN fails too)
            raise ValueError(f"binary_cross_entropy: input must be probabilities in [0, 1], got values from {lo:g} "
                             f"to {hi:g}; for logits use binary_cross_entropy_with_logits (nn.BCEWithLogitsLoss)")
    loss = L.BinaryCrossEntropy.apply(probs, t)
    w = _loss_weight(weight, probs, op)
    return _reduce(loss if w is None else loss * w, reduction)


def binary_cross_entropy_with_logits(logits, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """BCE on logits, stably: (1 - t) x - (1 + (pos_weight - 1) t) logsigmoid(x), times `weight`, as PyTorch;
    smooth everywhere (the gradient at x = 0 is sigmoid(0) - t, as there). pos_weight (C,) weighs the positive
    term of each class (the last dim)."""
    op = "binary_cross_entropy_with_logits"
    weight, reduction, t = _bce_args(weight, reduction, size_average, reduce, target, logits, op)
    pw = () if pos_weight is None else (_loss_weight(pos_weight, logits, op, "pos_weight"),)
    loss = E.BCEWithLogits.apply(logits, t, *pw)          # (its gradients are PyTorch's formulas: see there)
    w = _loss_weight(weight, logits, op)
    return _reduce(loss if w is None else loss * w, reduction)


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
