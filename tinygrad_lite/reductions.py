"""Reductions beyond ops.py's sum/max/logsumexp: prod (a primitive: its gradient needs care at zeros), the variance
(Var, PyTorch's var_backward) with var_mean and std_mean; and the running sum cumsum."""
from __future__ import annotations

import numpy as np

from .backend import xp_of
from .function import Function, is_grad_enabled
from .ops import Where, _const, _kept_shape, _outer_first, axis_index


class Prod(Function):
    """The product over the last axis. Gradient: the product of the other elements, as PyTorch computes it:
    out / x where no element is 0; else exact products of the others (one zero: only it gets a gradient;
    two or more: none does). Under create_graph the zero case is written with Tensor ops (O(n^2) memory in the
    reduced axis), so second derivatives are exact there too."""
    needs_output = True

    def forward(self, a):
        return xp_of(a).asarray(a.prod(axis=-1))

    def backward(self, g):
        x = self.inputs[0]
        g = g.unsqueeze(-1)
        has_zero = bool((x.data == 0).any())
        if is_grad_enabled():                      # create_graph: Tensor ops all the way
            if not has_zero:
                return g * self.output.unsqueeze(-1) / x
            n = x.shape[-1]
            xp = xp_of(x.data)
            others = x.unsqueeze(-2).expand(x.shape[:-1] + (n, n))
            one = _const(xp.ones((), dtype=x.dtype))
            return g * Prod.apply(Where.apply(one, others, cond=xp.eye(n, dtype=bool)))
        xd, gd = x.data, g.data
        if not has_zero:
            return _const(gd * (self.output.data[..., None] / xd))
        xp = xp_of(xd)
        ones = xp.ones(xd.shape[:-1] + (1,), dtype=xd.dtype)
        left = xp.cumprod(xp.concatenate([ones, xd[..., :-1]], axis=-1), axis=-1)           # prod of x[..., :i]
        right = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(xd, -1)[..., :-1]], axis=-1), axis=-1), -1)
        return _const(gd * (left * right))


def prod(x, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    """torch.prod: over all elements (a 0-d result) or over one dim; `dtype` casts first; integer and bool
    inputs give int64, as in PyTorch."""
    if dtype is not None:
        x = x.astype(dtype)
    elif x.dtype.kind in "biu":
        x = x.astype(np.int64)
    dim = axis if dim is None else dim
    keepdim = keepdims if keepdims is not None else keepdim
    if dim is None:
        out = Prod.apply(x.reshape(-1))
        return out.reshape((1,) * x.ndim) if keepdim else out
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"prod: dim must be one int (PyTorch's prod reduces one dim or all), got {dim!r}")
    if x.ndim == 0:
        axis_index(dim, 1, "prod")
        return x.clone()
    d = axis_index(dim, x.ndim, "prod")
    if d != x.ndim - 1:
        perm = tuple(i for i in range(x.ndim) if i != d) + (d,)
        x = x.permute(perm)
    out = Prod.apply(x)
    return out.unsqueeze(d) if keepdim else out


def _correction(correction, unbiased, op):
    if unbiased is not None:
        if correction is not None:
            raise TypeError(f"{op}: give correction or unbiased, not both")
        return 1 if unbiased else 0
    return 1 if correction is None else correction


def var_mean(x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """torch.var_mean: (var, mean) over dim (all when None); Bessel's correction (correction=1) by default,
    as in PyTorch."""
    c = _correction(correction, unbiased, "var_mean")
    return x.var(dim=dim, keepdims=keepdim, ddof=c), x.mean(dim=dim, keepdims=keepdim)


def std_mean(x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """torch.std_mean: (std, mean) over dim (all when None), correction=1 by default as in PyTorch."""
    c = _correction(correction, unbiased, "std_mean")
    return x.std(dim=dim, keepdims=keepdim, ddof=c), x.mean(dim=dim, keepdims=keepdim)


class Var(Function):
    """The sum of squared deviations from the mean over `axis` (n elements each) divided by n - correction: the
    variance (inf where n - correction <= 0, as PyTorch), computed as x - mean, squared, summed (the mean and the sum
    as Sum and MulScalar compute them). Backward is PyTorch's var_backward, 2 g (x - mean(x)) / (n - correction),
    not the chain rule through the mean: those extra terms sum to zero in exact arithmetic, but with one infinite
    input they made every gradient nan where PyTorch gives +-inf."""
    def forward(self, a, axis, keepdims, n, correction):
        self.axis, self.keepdims = axis, keepdims
        self.scale = scale = 1.0 / (n - correction) if n - correction > 0 else float("inf")
        m = _outer_first(a, axis).sum(axis=axis, keepdims=True) * (1.0 / n if n else float("nan"))
        d = a - m
        d *= d
        return xp_of(a).asarray(_outer_first(d, axis).sum(axis=axis, keepdims=keepdims) * scale)

    def backward(self, g):
        x = self.inputs[0]
        if not self.keepdims:
            g = g.reshape(_kept_shape(x.shape, self.axis))
        return g * (2 * self.scale) * (x - x.mean(axis=self.axis, keepdims=True))


class CumSum(Function):
    """Running sums along `axis` (torch.cumsum). Backward: the running sums of g taken from the other end, a linear
    map written with Tensor ops (flip, cumsum, flip), so create_graph differentiates it again."""
    saves_inputs = False

    def forward(self, a, axis):
        self.axis = axis
        if a.dtype.kind in "biu":                 # PyTorch: integer and bool running sums are int64
            return xp_of(a).cumsum(a, axis=axis, dtype=np.int64)
        return xp_of(a).cumsum(a, axis=axis)

    def backward(self, g):
        return CumSum.apply(g.flip(self.axis), axis=self.axis).flip(self.axis)


def cumsum(x, dim, *, dtype=None):
    """torch.cumsum: x's running sums along dim (a negative dim counts from the end); dtype= casts x first. Integer
    and bool tensors give int64, as PyTorch. A 0-d tensor takes dim 0 or -1 and is its own running sum."""
    if dtype is not None:
        x = x.astype(dtype)
    if x.ndim == 0:
        axis_index(dim, 1, "cumsum")
        return x.astype(np.int64) if x.dtype.kind in "biu" else x.clone()
    return CumSum.apply(x, axis=axis_index(dim, x.ndim, "cumsum"))
