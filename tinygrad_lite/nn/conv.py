"""Convolutional layers: Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Dropout2d (the ops are in conv.py)."""
from __future__ import annotations

import math

import numpy as np

from . import functional as F
from .modules import Module, Parameter, _uniform


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


class Conv2d(Module):
    """2-D convolution over (N, C_in, H, W) -> (N, C_out, OH, OW), as PyTorch's nn.Conv2d: weight
    (out_channels, in_channels, kh, kw) and bias (out_channels,), both initialized U(-1/sqrt(fan_in),
    1/sqrt(fan_in)) with fan_in = in_channels*kh*kw (PyTorch's default). Only groups=1 and
    padding_mode='zeros' are implemented."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=np.float32):
        super().__init__()
        if groups != 1:
            raise NotImplementedError(f"Conv2d: groups={groups} is not implemented (only groups=1)")
        if padding_mode != "zeros":
            raise NotImplementedError(f"Conv2d: padding_mode={padding_mode!r} is not implemented (only 'zeros')")
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"Conv2d: in_channels and out_channels must be positive, got {in_channels}, {out_channels}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _pair(kernel_size)
        self.stride, self.dilation, self.groups = _pair(stride), _pair(dilation), groups
        self.padding = padding if isinstance(padding, str) else _pair(padding)
        fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        bound = 1.0 / math.sqrt(fan_in)
        self.weight = Parameter(_uniform((self.out_channels, self.in_channels) + self.kernel_size, bound, device, dtype))
        self.bias = Parameter(_uniform((self.out_channels,), bound, device, dtype)) if bias else None

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding not in ((0, 0), "valid"):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        return s + ("" if self.bias is not None else ", bias=False")


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        if return_indices or ceil_mode:
            raise NotImplementedError("MaxPool2d: return_indices and ceil_mode are not implemented")
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation)

    def extra_repr(self):
        stride = self.kernel_size if self.stride is None else self.stride
        return f"kernel_size={self.kernel_size}, stride={stride}, padding={self.padding}, dilation={self.dilation}"


class AvgPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        if ceil_mode:
            raise NotImplementedError("AvgPool2d: ceil_mode=True is not implemented")
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, count_include_pad=self.count_include_pad,
                            divisor_override=self.divisor_override)

    def extra_repr(self):
        stride = self.kernel_size if self.stride is None else self.stride
        return f"kernel_size={self.kernel_size}, stride={stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class Dropout2d(Module):
    """Zero whole channels with probability p while training (nn.Dropout2d)."""

    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout2d: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x):
        return F.dropout2d(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


