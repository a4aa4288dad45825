"""Batch normalization layers: BatchNorm1d, BatchNorm2d (running statistics held as buffers)."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..tensor import Tensor
from . import functional as F
from .modules import Module, Parameter


class _BatchNorm(Module):
    """PyTorch's _BatchNorm: weight (gamma, ones) and bias (beta, zeros) when affine; buffers running_mean
    (zeros), running_var (ones) and num_batches_tracked (int64) when track_running_stats. Training
    normalizes with the batch's statistics and updates the running ones (momentum None: a cumulative
    average); eval uses the running ones (the batch's when track_running_stats=False)."""
    dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None,
                 dtype=np.float32):
        super().__init__()
        if num_features < 1:
            raise ValueError(f"{type(self).__name__}: num_features must be positive, got {num_features}")
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"{type(self).__name__}: momentum must be in [0, 1] or None, got {momentum}")
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dev = backend.canonical_device(device)
        xp = backend.xp_for(dev)
        c = self.num_features
        self.weight = Parameter(xp.ones(c, dtype=dtype)) if affine else None
        self.bias = Parameter(xp.zeros(c, dtype=dtype)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(xp.zeros(c, dtype=dtype)))
            self.register_buffer("running_var", Tensor(xp.ones(c, dtype=dtype)))
            self.register_buffer("num_batches_tracked", Tensor(xp.zeros((), dtype=np.int64)))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def forward(self, x):
        name = type(self).__name__
        if x.ndim not in self.dims:
            want = " or ".join(f"{d}-D" for d in self.dims)
            raise ValueError(f"{name}: expected a {want} input, got shape {x.shape}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{name}({self.num_features}): the input has {x.shape[1]} channels (shape {x.shape})")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.data)
        use_batch = self.training or self.running_mean is None
        keep = not self.training or self.track_running_stats
        return F.batch_norm(x, self.running_mean if keep else None, self.running_var if keep else None,
                            self.weight, self.bias, use_batch, factor, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) inputs over N (and L)."""
    dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) inputs over N, H and W."""
    dims = (4,)
