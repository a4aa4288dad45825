"""Shape and indexing ops beyond ops.py: flip, repeat, gather, masked_fill, split, chunk, unflatten, sum_to_size, pad.

Flip is the one new primitive; the rest are a few lines of existing ops and take their gradients from them
(gather is a GetItem, whose backward scatter-adds, so repeated indices accumulate).
"""
from __future__ import annotations

import math

import numpy as np

from . import backend
from .backend import xp_of
from .function import Function
from .ops import Cat, GetItem, Where, _norm_axis, axis_index, sum_to_shape


class Flip(Function):
    """Reverse the order along `dims`, into new memory (as torch.flip); the gradient flips back."""
    saves_inputs = False

    def forward(self, a, dims):
        self.dims = dims
        return xp_of(a).flip(a, axis=dims).copy()

    def backward(self, g):
        return Flip.apply(g, dims=self.dims)


def _dims(dims):
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        return tuple(dims[0])
    return tuple(dims)


def flip(x, *dims):
    dims = _dims(dims)
    if x.ndim == 0:
        for d in dims:
            axis_index(d, 1, "flip")
        return x.clone()
    return Flip.apply(x, dims=_norm_axis(dims, x.ndim, "flip"))


def repeat(x, *sizes):
    """torch's repeat (NumPy's tile): sizes has one entry per dim, leading extra entries add dims. Built from
    reshape and expand (the gradient sums the copies); always new memory."""
    sizes = _dims(sizes)
    if len(sizes) < x.ndim:
        raise ValueError(f"repeat: {len(sizes)} repeat sizes {sizes} for a tensor with {x.ndim} dims (shape "
                         f"{x.shape}); give at least one per dim")
    if any(int(r) < 0 for r in sizes):
        raise ValueError(f"repeat: sizes must be non-negative, got {sizes}")
    shape = (1,) * (len(sizes) - x.ndim) + x.shape
    if all(r == 1 for r in sizes):
        return x.reshape(shape).clone()
    pairs = tuple(v for s in shape for v in (1, s))
    wide = tuple(v for r, s in zip(sizes, shape) for v in (int(r), s))
    return x.reshape(pairs).expand(wide).reshape(tuple(int(r) * s for r, s in zip(sizes, shape)))


def gather(x, dim, index):
    """torch.gather: out[i][j][k] = x[index[i][j][k]][j][k] for dim=0 (and so on); index has x's number of dims
    and is no larger than x in the other dims. Repeated indices accumulate their gradients."""
    from .tensor import Tensor
    idx = index.data if isinstance(index, Tensor) else index
    if not backend.is_array(idx):
        idx = np.asarray(idx)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"gather: index must hold integers, got dtype {idx.dtype}")
    if backend.device_of(idx) != x.device:
        idx = backend.to_device(idx, x.device)
    if x.ndim == 0:
        axis_index(dim, 1, "gather")
        if idx.ndim != 0:
            raise ValueError(f"gather: index of shape {idx.shape} for a 0-d input; it must be 0-d too")
        if not backend.capturing() and int(idx) != 0:
            raise IndexError(f"gather: index {int(idx)} is out of bounds for a 0-d input")
        return x.clone()
    d = axis_index(dim, x.ndim, "gather")
    if idx.ndim != x.ndim:
        raise ValueError(f"gather: index has {idx.ndim} dims (shape {idx.shape}), the input {x.ndim} "
                         f"(shape {x.shape}); they must have the same number of dims")
    for k, (i, s) in enumerate(zip(idx.shape, x.shape)):
        if k != d and i > s:
            raise ValueError(f"gather: index of shape {idx.shape} is larger than the input of shape {x.shape} "
                             f"in dim {k} ({i} > {s})")
    if idx.size and not backend.capturing():    # (a host sync on the GPU: skipped while a CUDA graph is recorded)
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= x.shape[d]:
            raise IndexError(f"gather: index {lo if lo < 0 else hi} is out of bounds for dim {d} with size "
                             f"{x.shape[d]} (input of shape {x.shape})")
    xp = xp_of(idx)
    full = tuple(idx if k == d else xp.arange(n).reshape([-1 if j == k else 1 for j in range(x.ndim)])
                 for k, n in enumerate(idx.shape))
    return GetItem.apply(x, index=full)


def masked_fill(x, mask, value):
    """x with `value` where `mask` (bool, broadcastable to x's shape) is True; the gradient reaches x where the
    mask is False, and a 0-d Tensor value the sum of the rest."""
    from .tensor import Tensor
    m = mask.data if isinstance(mask, Tensor) else mask
    if not backend.is_array(m):
        m = np.asarray(m)
    if m.dtype.kind != "b":
        raise TypeError(f"masked_fill: mask must be bool, got dtype {m.dtype}")
    try:
        ok = np.broadcast_shapes(m.shape, x.shape) == x.shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"masked_fill: mask of shape {m.shape} does not broadcast to the input's shape {x.shape}")
    if backend.device_of(m) != x.device:
        m = backend.to_device(m, x.device)
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(f"masked_fill: a Tensor value must be 0-d, got shape {value.shape}")
        v = value.astype(x.dtype)
    else:
        v = Tensor._make(xp_of(x.data).asarray(value, dtype=x.dtype), False, None)
    return Where.apply(v, x, cond=m)


def _slice(x, d, start, stop):
    return GetItem.apply(x, index=(slice(None),) * d + (slice(start, stop),))


def split(x, split_size_or_sections, dim=0):
    """torch.split: pieces of split_size (the last one smaller), or of the sizes in a list (summing to the dim's
    size). A tuple of views, as in PyTorch."""
    if x.ndim == 0:
        raise ValueError("split: a 0-d tensor has no dim to split")
    d = axis_index(dim, x.ndim, "split")
    n = x.shape[d]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [int(s) for s in split_size_or_sections]
        if any(s < 0 for s in sizes) or sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} must be non-negative and sum to {n}, the size of dim {d} "
                             f"of shape {x.shape}")
    else:
        size = int(split_size_or_sections)
        if size <= 0 and not (size == 0 and n == 0):
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [min(size, n - i) for i in range(0, n, size)] if n else [0]
    out, start = [], 0
    for s in sizes:
        out.append(_slice(x, d, start, start + s))
        start += s
    return tuple(out)


def chunk(x, chunks, dim=0):
    """torch.chunk: split into pieces of ceil(n / chunks) (so possibly fewer than `chunks` pieces)."""
    chunks = int(chunks)
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    if x.ndim == 0:
        raise ValueError("chunk: a 0-d tensor has no dim to chunk")
    n = x.shape[axis_index(dim, x.ndim, "chunk")]
    if n == 0:
        return split(x, [0] * chunks, dim)
    return split(x, math.ceil(n / chunks), dim)


def unflatten(x, dim, sizes):
    """Expand dim into `sizes` (one entry may be -1)."""
    d = axis_index(dim, max(x.ndim, 1), "unflatten")
    sizes = tuple(int(s) for s in sizes)
    n = x.shape[d] if x.ndim else 1
    known = math.prod(s for s in sizes if s != -1)
    if sizes.count(-1) > 1 or (-1 in sizes and (known == 0 or n % known)) or (-1 not in sizes and known != n):
        raise ValueError(f"unflatten: sizes {sizes} don't multiply to {n}, the size of dim {d} of shape {x.shape}")
    if -1 in sizes:
        sizes = tuple(n // known if s == -1 else s for s in sizes)
    return x.reshape(x.shape[:d] + sizes + x.shape[d + 1:])


def sum_to_size(x, *size):
    """Sum x down to `size` (a shape x broadcasts from): what the engine does to broadcast gradients."""
    size = _dims(size)
    try:
        ok = np.broadcast_shapes(size, x.shape) == x.shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"sum_to_size: size {size} is not expandable to the tensor's shape {x.shape}")
    return sum_to_shape(x, size)


def pad(x, pad, mode="constant", value=0.0):
    """F.pad in constant mode: pad = (left, right) for the last dim, then the dim before, ...; negative
    amounts crop. Always new memory."""
    from .tensor import Tensor
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} is not implemented; only 'constant' is")
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: {len(pad)} pad amounts for a tensor of {x.ndim} dims (shape {x.shape}); give "
                         f"an even number, at most two per dim")
    out, padded = x, False
    xp = xp_of(x.data)
    for i in range(len(pad) // 2):
        d = x.ndim - 1 - i
        left, right = pad[2 * i], pad[2 * i + 1]
        n = out.shape[d]
        start, stop = max(-left, 0), n - max(-right, 0)
        if stop - start + max(left, 0) + max(right, 0) < 0 or stop < start:
            raise ValueError(f"pad: padding {pad} gives a negative size in dim {d} of shape {x.shape}")
        if start or stop != n:
            out = _slice(out, d, start, stop)
        parts = []
        for amount in (left, None, right):
            if amount is None:
                parts.append(out)
            elif amount > 0:
                shape = out.shape[:d] + (amount,) + out.shape[d + 1:]
                parts.append(Tensor._make(xp.full(shape, value, dtype=x.dtype), False, None))
        if len(parts) > 1:
            out, padded = Cat.apply(*parts, axis=d), True
    return out if padded else out.clone()
