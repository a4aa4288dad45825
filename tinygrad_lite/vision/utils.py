"""torchvision.utils.make_grid: a batch of images tiled into one, e.g. for SummaryWriter.add_image."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..tensor import Tensor


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, pad_value=0.0):
    """N x C x H x W images (Tensor or array; N x H x W taken as one channel) -> a C x H' x W' Tensor, `nrow`
    images a row with `padding` pixels of `pad_value` around each, as torchvision's: one channel becomes three;
    `normalize` scales to [0, 1] by `value_range` (default: the batch's min and max)."""
    x = backend.to_numpy(tensor.data if isinstance(tensor, Tensor) else tensor)
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or x.shape[0] == 0:
        raise ValueError(f"make_grid: expected N x C x H x W images (N >= 1), got shape {x.shape}")
    if not isinstance(nrow, int) or nrow < 1:
        raise ValueError(f"make_grid: nrow must be a positive int, got {nrow!r}")
    x = x.astype(np.float32) if x.dtype.kind != "f" else x
    if x.shape[1] == 1:
        x = np.repeat(x, 3, axis=1)
    if normalize:
        lo, hi = value_range if value_range is not None else (float(x.min()), float(x.max()))
        x = (x.clip(lo, hi) - lo) / max(hi - lo, 1e-5)
    n, c, h, w = x.shape
    if n == 1:                                    # torchvision: a single image comes back as it is
        return Tensor(x[0])
    cols = min(nrow, n)
    rows = -(-n // cols)
    hh, ww = h + padding, w + padding
    grid = np.full((c, rows * hh + padding, cols * ww + padding), pad_value, dtype=x.dtype)
    for k in range(n):
        r, q = divmod(k, cols)
        grid[:, r * hh + padding:r * hh + padding + h, q * ww + padding:q * ww + padding + w] = x[k]
    return Tensor(grid)
