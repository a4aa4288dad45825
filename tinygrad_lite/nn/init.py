"""tl.nn.init: PyTorch's in-place initializers, for the weight-initialization chapters of the tutorials.

    >>> import tinygrad_lite as tl
    >>> layer = tl.nn.Linear(784, 100)
    >>> _ = tl.nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")   # He init, std sqrt(2 / 784)
    >>> _ = tl.nn.init.zeros_(layer.bias)

Each function fills its Tensor (usually a Parameter) in place, records no graph, keeps the
tensor's dtype, device and memory layout (an optimizer built earlier still holds it), and
returns it. Random values come from tl's CPU generator (`tl.manual_seed`), so one seed gives
the same weights on every device. Fans are PyTorch's: for a weight of shape (out, in, *k),
fan_in = in * prod(k) and fan_out = out * prod(k).
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_", "xavier_uniform_",
           "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"]


def calculate_gain(nonlinearity, param=None):
    """PyTorch's recommended gain for a nonlinearity: 1 for linear/sigmoid, 5/3 for tanh, sqrt(2) for relu,
    sqrt(2 / (1 + slope^2)) for leaky_relu (slope `param`, default 0.01), 3/4 for selu."""
    if nonlinearity in ("linear", "identity", "sigmoid", "conv1d", "conv2d", "conv3d"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"calculate_gain: negative slope {slope!r} is not a number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; use one of linear, identity, "
                     f"sigmoid, tanh, relu, leaky_relu, selu")


def _empty(tensor, op):
    """Check the argument; True when it has no elements (then there is nothing to fill, as in PyTorch)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a Tensor (e.g. layer.weight), got {type(tensor).__name__}")
    if tensor.dtype.kind != "f":
        raise TypeError(f"{op}: can only fill a floating-point tensor, got dtype {tensor.dtype}")
    return tensor.numel() == 0


def _fill(tensor, values):
    """Write `values` (a NumPy array or scalar) into the tensor's own buffer."""
    if isinstance(values, np.ndarray):
        values = backend.to_device(values.astype(tensor.dtype, copy=False), tensor.device)
    tensor.data[...] = values
    return tensor


def _fans(tensor, op):
    if tensor.ndim < 2:
        raise ValueError(f"{op}: fan_in and fan_out need a tensor with at least 2 dimensions, got shape "
                         f"{tensor.shape}")
    receptive = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor, mode, op):
    fan_in, fan_out = _fans(tensor, op)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{op}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a=0.0, b=1.0):
    """Fill with U(a, b)."""
    if _empty(tensor, "uniform_"):
        return tensor
    if not a <= b:
        raise ValueError(f"uniform_: need a <= b, got a={a}, b={b}")
    return _fill(tensor, backend.rng("cpu").uniform(a, b, size=tensor.shape))


def normal_(tensor, mean=0.0, std=1.0):
    """Fill with N(mean, std^2)."""
    if _empty(tensor, "normal_"):
        return tensor
    if std < 0:
        raise ValueError(f"normal_: std must be >= 0, got {std}")
    return _fill(tensor, backend.rng("cpu").normal(mean, std, size=tensor.shape))


def constant_(tensor, val):
    if _empty(tensor, "constant_"):
        return tensor
    return _fill(tensor, val)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor, gain=1.0):
    """Glorot: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)) (for sigmoid and tanh layers)."""
    if _empty(tensor, "xavier_uniform_"):
        return tensor
    fan_in, fan_out = _fans(tensor, "xavier_uniform_")
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return _fill(tensor, backend.rng("cpu").uniform(-bound, bound, size=tensor.shape))


def xavier_normal_(tensor, gain=1.0):
    """Glorot: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    if _empty(tensor, "xavier_normal_"):
        return tensor
    fan_in, fan_out = _fans(tensor, "xavier_normal_")
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return _fill(tensor, backend.rng("cpu").normal(0.0, std, size=tensor.shape))


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """He: U(-b, b) with b = gain * sqrt(3 / fan) (for ReLU layers; `a` is leaky_relu's slope)."""
    if _empty(tensor, "kaiming_uniform_"):
        return tensor
    fan = _fan(tensor, mode, "kaiming_uniform_")
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return _fill(tensor, backend.rng("cpu").uniform(-bound, bound, size=tensor.shape))


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """He: N(0, std^2) with std = gain / sqrt(fan); nonlinearity="relu" gives the tutorials' sqrt(2 / n)."""
    if _empty(tensor, "kaiming_normal_"):
        return tensor
    fan = _fan(tensor, mode, "kaiming_normal_")
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return _fill(tensor, backend.rng("cpu").normal(0.0, std, size=tensor.shape))
