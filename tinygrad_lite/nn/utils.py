"""tl.nn.utils: gradient clipping, PyTorch's names and behaviour.

The gradients are scaled or clamped on the device with array ops only (no host read), so a
clipped step can be captured by tl.TinyJit. Each parameter's ``.grad`` Tensor keeps its
identity and gets new values (a gradient shared between parameters is changed once).
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _params(parameters, op):
    if isinstance(parameters, Tensor):
        return [parameters]
    if isinstance(parameters, (str, bytes, dict)) or not hasattr(parameters, "__iter__"):
        raise TypeError(f"{op}: parameters must be a Tensor or an iterable of Tensors, "
                        f"got {type(parameters).__name__}")
    params = list(parameters)
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: parameters must be Tensors, got a {type(p).__name__}")
    return params


def _real(x, name, op):
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise TypeError(f"{op}: {name} must be a number, got {type(x).__name__}")
    return float(x)


def _norm(a, p, xp):
    """The p-norm of an array, accumulated as PyTorch's vector_norm (float32 stays float32)."""
    a = a.reshape(-1)
    if p == math.inf:
        return xp.abs(a).max() if a.size else xp.zeros((), a.dtype)
    if p == -math.inf:
        return xp.abs(a).min() if a.size else xp.asarray(math.inf, a.dtype)
    if p == 0:
        return xp.count_nonzero(a).astype(a.dtype)
    if p == 1:
        return xp.abs(a).sum(dtype=a.dtype)
    if p == 2:
        return xp.sqrt(xp.vdot(a, a).astype(a.dtype)) if a.dtype.kind == "f" else xp.sqrt((a * a).sum())
    return (xp.abs(a) ** p).sum(dtype=a.dtype) ** (1.0 / p)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale the gradients of ``parameters`` so that their total ``norm_type``-norm (the norm of
    all of them as one vector) is at most ``max_norm``; returns that total norm (before clipping)
    as a 0-d Tensor. With ``error_if_nonfinite`` a nan/inf total norm raises RuntimeError."""
    op = "clip_grad_norm_"
    params = _params(parameters, op)
    max_norm = _real(max_norm, "max_norm", op)
    norm_type = _real(norm_type, "norm_type", op)
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return Tensor(np.zeros((), np.float32))
    for g in grads:
        if g.dtype.kind != "f":
            raise TypeError(f"{op}: gradients must be floating point, got {g.dtype}")
    xp = backend.xp_of(grads[0].data)
    if any(backend.xp_of(g.data) is not xp for g in grads):
        raise backend.DeviceError(f"{op}: the gradients are on different devices")
    norms = [_norm(g.data, norm_type, xp) for g in grads]
    dtype = np.result_type(*[g.dtype for g in grads])
    total = _norm(xp.stack([n.astype(dtype) for n in norms]), norm_type, xp)
    if error_if_nonfinite and not bool(xp.isfinite(total)):       # (a host read only when asked)
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
                           "so it cannot be clipped. To disable this error and scale the gradients by the "
                           "non-finite norm anyway, set `error_if_nonfinite=False`")
    coef = xp.minimum(dtype.type(max_norm) / (total + dtype.type(1e-6)), dtype.type(1.0))
    seen = set()
    for g in grads:
        if id(g) not in seen:
            seen.add(id(g))
            g.data = g.data * coef.astype(g.dtype)
    return Tensor._make(total, False, None)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient of ``parameters`` into [-clip_value, clip_value] (nan stays nan)."""
    op = "clip_grad_value_"
    params = _params(parameters, op)
    clip_value = _real(clip_value, "clip_value", op)
    seen = set()
    for p in params:
        g = p.grad
        if g is not None and id(g) not in seen:
            seen.add(id(g))
            xp = backend.xp_of(g.data)
            g.data = xp.clip(g.data, -clip_value, clip_value).astype(g.dtype, copy=False)
    return None
