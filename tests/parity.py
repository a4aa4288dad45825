"""The PyTorch-parity check shared by the op test modules (issue 17's bar), in float64:

* values equal torch's;
* first-order gradients under a random upstream gradient equal torch's, both on the fast no-graph backward
  and on the create_graph path;
* the double-backward Hessian-vector product (backward(create_graph=True), then the gradient of <grad, v>)
  equals torch's.
Skips cleanly where torch is not installed.
"""
import re

import numpy as np
import pytest

import tinygrad_lite as tl

TORCH_REASON = "PyTorch is not installed: the comparisons with PyTorch are skipped"
TIGHT = dict(rtol=1e-10, atol=1e-14)


def torch_or_skip():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    torch.set_num_threads(1)   # tiny tensors: torch's thread pool only costs time on a busy 2-core machine
    return torch


def raises_whole(err, msg, fn, *args, **kw):
    """fn(*args, **kw) raises err whose whole message is msg (so a changed or wrapped message fails)."""
    with pytest.raises(err, match="^" + re.escape(msg) + "$"):
        fn(*args, **kw)


def _np(t):
    return np.zeros(()) if t is None else (t.numpy() if isinstance(t, tl.Tensor) else t.detach().numpy())


def _close(ours, theirs, what, tol):
    ours, theirs = _np(ours), _np(theirs)
    np.testing.assert_allclose(np.broadcast_to(ours, np.shape(theirs)) if ours.shape == () else ours, theirs,
                               equal_nan=True, err_msg=what, **tol)


def check_vs_torch(tl_fn, torch_fn, arrays, grad_of=None, seed=0, tol=TIGHT, hvp=True):
    """Compare tl_fn(*tensors) with torch_fn(*tensors) on float64 copies of `arrays` (integer arrays are passed
    as constants): values, gradients of the inputs in `grad_of` (default: every float input) on both backward
    paths, and Hessian-vector products."""
    torch = torch_or_skip()
    rng = np.random.default_rng(seed)
    arrays = [np.asarray(a) for a in arrays]
    if grad_of is None:
        grad_of = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]

    def make():
        ts = [torch.tensor(a, requires_grad=i in grad_of) for i, a in enumerate(arrays)]
        os_ = [tl.Tensor(a.copy(), requires_grad=i in grad_of) for i, a in enumerate(arrays)]
        return ts, os_

    ts, os_ = make()
    yt, yo = torch_fn(*ts), tl_fn(*os_)
    assert yo.shape == tuple(yt.shape), f"shape {yo.shape} != torch's {tuple(yt.shape)}"
    if yo.dtype.kind == "f":
        assert yo.dtype == np.float64, f"float64 in gave {yo.dtype} out"
    _close(yo, yt, "value", tol)
    if not grad_of:
        return
    up = rng.standard_normal(yo.shape)
    if not yt.requires_grad:
        assert not yo.requires_grad
        return
    gt = torch.autograd.grad(yt, [ts[i] for i in grad_of], torch.tensor(up), create_graph=True, allow_unused=True)
    yo.backward(tl.Tensor(up))                                  # the fast (no-graph) path
    for k, i in enumerate(grad_of):
        _close(os_[i].grad, gt[k], f"gradient of input {i} (no-graph backward)", tol)
    ts2, os2 = make()
    yo2 = tl_fn(*os2)
    yo2.backward(tl.Tensor(up), create_graph=True)             # the create_graph path
    for k, i in enumerate(grad_of):
        _close(os2[i].grad, gt[k], f"gradient of input {i} (create_graph backward)", tol)
    if not hvp:
        return
    vs = [rng.standard_normal(arrays[i].shape) for i in grad_of]
    st = sum((g * torch.tensor(v)).sum() for g, v in zip(gt, vs) if g is not None)
    try:
        ht = (torch.autograd.grad(st, [ts[i] for i in grad_of], allow_unused=True)
              if isinstance(st, torch.Tensor) and st.requires_grad else [None] * len(grad_of))
    except RuntimeError as e:                 # torch has no double backward for this op (hardsigmoid)
        if "not implemented" not in str(e):
            raise
        return
    go = [os2[i].grad for i in grad_of]
    so = None
    for g, v in zip(go, vs):
        if g is not None and g.requires_grad:
            term = (g * tl.Tensor(v)).sum()
            so = term if so is None else so + term
    for i in grad_of:
        os2[i].grad = None
    if so is not None:
        so.backward()
    for k, i in enumerate(grad_of):
        _close(os2[i].grad, ht[k], f"Hessian-vector product of input {i}", tol)


def check_float32(tl_fn, arrays, grad_of=None):
    """float32 in gives float32 out, and float32 gradients."""
    arrays = [np.asarray(a) for a in arrays]
    if grad_of is None:
        grad_of = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    xs = [tl.Tensor(a.astype(np.float32) if a.dtype.kind == "f" else a, requires_grad=i in grad_of)
          for i, a in enumerate(arrays)]
    y = tl_fn(*xs)
    assert y.dtype == np.float32, f"float32 in gave {y.dtype} out"
    if y.requires_grad:
        y.backward(tl.ones(*y.shape) * 0.5)
        for i in grad_of:
            if xs[i].grad is not None:
                assert xs[i].grad.dtype == np.float32, f"gradient of input {i} is {xs[i].grad.dtype}"


# values where ties, kinks and rounding boundaries sit, and a few ordinary ones
GRID = np.array([-25.0, -7.0, -6.0, -3.5, -3.0, -2.5, -2.0, -1.5, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 1.5, 2.0,
                 2.5, 3.0, 3.5, 6.0, 7.0, 25.0])


def grid_and_random(seed=0, n=10, scale=3.0, positive=False):
    rng = np.random.default_rng(seed)
    x = np.concatenate([GRID, rng.standard_normal(n) * scale])
    return np.abs(x) + (0.25 if positive else 0) if positive else x


def gradgradcheck(fn, *inputs):
    """tl.gradgradcheck on fn: second derivatives (the create_graph path) against finite differences."""
    assert tl.gradgradcheck(fn, *inputs)


def grid_or_continuous(lo=-7.0, hi=7.0):
    """A hypothesis element strategy: exact kink/tie/integer/half values of GRID (within [lo, hi]) or any float in
    [lo, hi], so property tests meet the kinks as well as ordinary points."""
    from hypothesis import strategies as st
    return st.one_of(st.sampled_from([float(v) for v in GRID if lo <= v <= hi]), st.floats(lo, hi, allow_nan=False))
