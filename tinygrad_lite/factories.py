"""Tensor factories: zeros, ones, full, arange, eye, rand, randn, *_like, from_numpy."""
from __future__ import annotations

import numpy as np

from . import backend
from .tensor import Tensor


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _shape(shape, op="zeros"):
    """A shape from `f(2, 3)` or `f((2, 3))`: ints >= 0 only, as PyTorch's factories (zeros(2.5) and
    zeros(-1) raise, naming the op)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for i, s in enumerate(shape):
        if not _is_int(s):
            raise TypeError(f"{op}(): argument 'size' must be a tuple of ints, but found element of type "
                            f"{type(s).__name__} at pos {i}")
        if s < 0:
            raise ValueError(f"{op}(): trying to create a tensor with negative dimension {int(s)}: "
                             f"{[int(d) for d in shape]}")
    return tuple(int(s) for s in shape)


def _like(t, op):
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be a Tensor, not {type(t).__module__}.{type(t).__name__}"
                        .replace("builtins.", ""))
    return t


def _wrap(arr, requires_grad):
    return Tensor._wrap(arr, requires_grad=requires_grad)


def zeros(*shape, dtype=None, device=None, requires_grad=False):
    xp = backend.xp_for(backend.canonical_device(device))
    return _wrap(xp.zeros(_shape(shape, "zeros"), dtype=dtype or np.float32), requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False):
    xp = backend.xp_for(backend.canonical_device(device))
    return _wrap(xp.ones(_shape(shape, "ones"), dtype=dtype or np.float32), requires_grad)


def full(shape, fill_value, dtype=None, device=None, requires_grad=False):
    xp = backend.xp_for(backend.canonical_device(device))
    shape = _shape((shape,) if _is_int(shape) else (shape,) if isinstance(shape, (tuple, list)) else (shape,), "full")
    if not isinstance(fill_value, (bool, np.bool_, int, float, np.number)):
        raise TypeError(f"full(): argument 'fill_value' must be a number, not {type(fill_value).__name__}")
    if dtype is None:
        dtype = np.float32 if isinstance(fill_value, float) else np.asarray(fill_value).dtype
    return _wrap(xp.full(shape, fill_value, dtype=dtype), requires_grad)


def arange(start, stop=None, step=1, dtype=None, device=None, requires_grad=False):
    xp = backend.xp_for(backend.canonical_device(device))
    if stop is None:
        start, stop = 0, start
    for name, v in (("start", start), ("end", stop), ("step", step)):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"arange(): argument '{name}' must be a number, not {type(v).__name__}")
        if not np.isfinite(v):
            raise ValueError(f"arange(): {name} must be finite, got {v}")
    if step == 0:
        raise ValueError("arange(): step must be nonzero")
    if (stop - start) * step < 0:
        raise ValueError(f"arange(): upper bound and lower bound inconsistent with step sign "
                         f"(start {start}, end {stop}, step {step})")
    if dtype is None:
        dtype = np.int64 if all(isinstance(v, int) for v in (start, stop, step)) else np.float32
    return _wrap(xp.arange(start, stop, step, dtype=dtype), requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    xp = backend.xp_for(backend.canonical_device(device))
    for name, v in (("n", n), ("m", m)):
        if (v is not None or name == "n") and not _is_int(v):
            raise TypeError(f"eye(): argument '{name}' must be an int, not {type(v).__name__}")
        if v is not None and v < 0:
            raise ValueError(f"eye(): {name} must be greater or equal to 0, got {v}")
    return _wrap(xp.eye(n, m, dtype=dtype or np.float32), requires_grad)


def rand(*shape, dtype=None, device=None, requires_grad=False):
    """Uniform on [0, 1), from the device's generator (seed it with tl.manual_seed)."""
    dev = backend.canonical_device(device)
    arr = backend.rng(dev).random(_shape(shape, "rand"), dtype=dtype or np.float32)
    return _wrap(arr, requires_grad)


def randn(*shape, dtype=None, device=None, requires_grad=False):
    """Standard normal, from the device's generator (seed it with tl.manual_seed)."""
    dev = backend.canonical_device(device)
    arr = backend.rng(dev).standard_normal(_shape(shape, "randn"), dtype=dtype or np.float32)
    return _wrap(arr, requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    xp = backend.xp_of(_like(t, "zeros_like").data)
    return _wrap(xp.zeros(t.shape, dtype=dtype or t.dtype), requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    xp = backend.xp_of(_like(t, "ones_like").data)
    return _wrap(xp.ones(t.shape, dtype=dtype or t.dtype), requires_grad)


def from_numpy(array, requires_grad=False):
    """A Tensor sharing memory with a NumPy array (its dtype kept): changing one changes the other, as
    torch.from_numpy. (tl.tensor and tl.Tensor copy.)"""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor._wrap(array, requires_grad=requires_grad)


def tensor(data, requires_grad=False, device=None, dtype=None):
    """PyTorch's torch.tensor: a new tensor holding a copy of `data` (dtype inferred: Python floats give
    float32, ints int64; an out-of-range int for an integer dtype raises)."""
    return Tensor(data, requires_grad=requires_grad, device=device, dtype=dtype)


# ---- PyTorch-parity factories
def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor of t's shape (and dtype and device, unless given) filled with fill_value, as torch.full_like."""
    dev = backend.canonical_device(device) if device is not None else t.device
    xp = backend.xp_for(dev)
    return _wrap(xp.full(t.shape, fill_value, dtype=dtype or t.dtype), requires_grad)


def randint(*args, size=None, dtype=None, device=None, requires_grad=False):
    """torch.randint(high, size) or randint(low, high, size): integers uniform on [low, high), int64 by default,
    from the device's generator (seeded by tl.manual_seed)."""
    if size is None:
        if not args or not isinstance(args[-1], (tuple, list)):
            raise TypeError("randint: give the shape: randint(high, size) or randint(low, high, size)")
        *args, size = args
    if len(args) == 1:
        low, high = 0, args[0]
    elif len(args) == 2:
        low, high = args
    else:
        raise TypeError(f"randint: expected (high, size) or (low, high, size), got {len(args)} bounds")
    low, high = int(low), int(high)
    if low >= high:
        raise ValueError(f"randint: low ({low}) must be below high ({high})")
    dev = backend.canonical_device(device)
    dtype = np.dtype(dtype or np.int64)
    arr = backend.rng(dev).integers(low, high, size=tuple(int(s) for s in size), dtype=np.int64)
    return _wrap(arr.astype(dtype, copy=False), requires_grad)


def as_tensor(data, dtype=None, device=None):
    """PyTorch's torch.as_tensor: a Tensor sharing `data`'s memory where it can (an array of the dtype, on the
    device; a Tensor is returned as it is), else a new one."""
    if isinstance(data, Tensor):
        out = data if device is None else data.to(device)
        return out if dtype is None else out.astype(dtype)
    return Tensor._wrap(data, device=device, dtype=dtype)
