"""The losses' fused nodes: softmax cross-entropy (labels or probabilities, class weights, ignore_index, label
smoothing), binary cross-entropy on probabilities, and nll_loss's watch on the arrays its backward reads. Each keeps
forward and backward side by side; F.cross_entropy, F.binary_cross_entropy and F.nll_loss (nn/functional.py)
check the arguments and call them. (binary_cross_entropy_with_logits's node is in elementwise.py, beside
LogSigmoid.)"""
from __future__ import annotations

import numpy as np

from .backend import xp_of
from .function import Function, _raise_modified, _stamp, is_grad_enabled
from .ops import Softmax, _const, _kept_shape


class CrossEntropy(Function):
    """Softmax cross-entropy of logits x (M, C) against a target (M, C) of class probabilities or (M,) of class
    labels, with PyTorch's class `weight` (C,), ignored labels (`ignore`: a bool mask (M,), those labels set to
    0) and label smoothing; F.cross_entropy brings (N, C, d1, ...) inputs to (M, C). One node.

    Every case is loss_i = sum_c T_ic (lse_i - x_ic) for an effective target T: the one-hot labels or the
    probabilities, smoothed (T (1 - s) + s / C), weighted by class, zero in ignored rows. So the gradients are
    d/dx = softmax(x) * sum_c T_ic - T_i (rows of probabilities need not sum to 1) and, for probabilities,
    d/dtarget = -(1 - s) weight log_softmax(x). 'mean' divides by the summed weights of the labels counted
    (labels; ignored ones count 0) or by M (probabilities): PyTorch's rule.
    """

    def forward(self, x, target=None, reduction="mean", label_smoothing=0.0, weight=None, ignore=None):
        xp = xp_of(x)
        n, c = x.shape
        z = x - x.max(axis=1, keepdims=True)
        e = xp.exp(z)
        s = e.sum(axis=1, keepdims=True)
        lse = xp.log(s).reshape(n)                # logsumexp(z) per row; log p = z - lse
        ls = label_smoothing
        self.weight, self.ignore, self.ls, self.reduction = weight, ignore, ls, reduction
        self.target = target                      # (the labels or probabilities: backward reads them)
        self.rows = None                          # per-row weights of the labels (None: all 1)
        if target.ndim == 1:                      # class labels: nll = lse - z[label]
            self.labels = (xp.arange(n), target)
            nll = lse - z[self.labels]
            if weight is not None or ignore is not None:
                r = weight[target] if weight is not None else xp.ones(n, dtype=x.dtype)
                self.rows = r = r * ~ignore if ignore is not None else r
                if ignore is not None:            # an ignored row counts 0, even where its logit is -inf
                    nll[ignore] = 0               # (inf * 0 would be nan); PyTorch skips those rows
                nll *= r
            if ls:                                # mixes in the uniform target: sum_k w_k (lse - z_k) / C
                nll *= 1.0 - ls
                smooth = lse * c - z.sum(axis=1) if weight is None else lse * weight.sum() - z @ weight
                if ignore is not None:
                    smooth[ignore] = 0
                nll += (ls / c) * smooth
            denom = n if self.rows is None else self.rows.sum(dtype=x.dtype)
        else:                                     # class probabilities (any non-negative rows)
            self.labels = None
            t = target * (1.0 - ls) + ls / c if ls else target
            if weight is not None:
                t = t * weight
            self.t = t
            nll = lse * t.sum(axis=1) - (t * z).sum(axis=1)
            denom = n
        e /= s                                    # softmax(x), kept for backward
        self.probs, self.denom = e, denom
        if reduction == "mean":
            if isinstance(denom, int):
                return xp.asarray(nll.sum(dtype=x.dtype) / x.dtype.type(denom) if n else x.dtype.type(np.nan))
            with np.errstate(invalid="ignore", divide="ignore"):   # all labels ignored: nan, as PyTorch
                out = nll.sum(dtype=x.dtype) / denom
            # (also where the labels' weights are all 0 but label smoothing gave a sum: nan, not inf, as there)
            return xp.where(denom == 0, x.dtype.type(np.nan), out)
        if reduction == "sum":
            return xp.asarray(nll.sum(dtype=x.dtype))
        return nll

    def _effective_target(self, dtype):
        """(T, rowsum(T)) as arrays: the dense effective target and its row sums (M, 1)."""
        if self.labels is None:
            t = self.t.astype(dtype, copy=False)
            return t, t.sum(axis=1, keepdims=True)
        xp = xp_of(self.probs)
        n, c = self.probs.shape
        t = xp.zeros((n, c), dtype=dtype)
        t[self.labels] = (1.0 - self.ls) * (1 if self.rows is None else self.rows)
        if self.ls:
            u = xp.full(c, self.ls / c, dtype=dtype) if self.weight is None else (self.ls / c) * self.weight
            t += u if self.ignore is None else u * ~self.ignore[:, None]
        return t, t.sum(axis=1, keepdims=True)

    def _scale(self, g, n):
        """The upstream gradient per row: divided by the mean's denominator, or (M, 1) for 'none'."""
        if self.reduction == "mean":
            return g / self.denom if isinstance(self.denom, int) else g * _const(1 / self.denom)
        if self.reduction == "none":
            return g.reshape(n, 1)
        return g

    def backward(self, g):
        for what in ("weight", "target"):         # the caller's memory changed in place since forward: PyTorch's
            e = _stamp(getattr(self, what))       # error, not a gradient for other weights / targets
            if e is not None and e[0] > self._epoch:
                _raise_modified(self, what, getattr(self, what), e)
        x = self.inputs[0]                        # (the target is an input only when it requires grad)
        target = self.inputs[1] if len(self.inputs) > 1 else None
        n, c = x.shape
        if is_grad_enabled():                     # create_graph: softmax as a Tensor op
            gs = self._scale(g, n)
            if target is not None:                # the target stays in the graph: it requires grad
                t = target * (1.0 - self.ls) + self.ls / c if self.ls else target
                t = t * _const(self.weight) if self.weight is not None else t
                rowsum = t.sum(axis=1, keepdims=True)
            else:
                ta, rs = self._effective_target(x.dtype)
                t, rowsum = _const(ta), _const(rs)
            gx = (x.softmax(axis=1) * rowsum - t) * gs if x.requires_grad else None
            gt = None
            if target is None:
                return gx
            w = -(x.log_softmax(axis=1) * (1.0 - self.ls))
            return gx, (w * _const(self.weight) if self.weight is not None else w) * gs
        gd = g.data
        if self.reduction == "mean":
            gd = gd / (x.dtype.type(self.denom) if isinstance(self.denom, int) else self.denom)
        elif self.reduction == "none":
            gd = gd.reshape(n, 1)
        gx = gt = None
        if x.requires_grad:
            if self.labels is not None and self.rows is None and not self.ls:
                p = self.probs * gd               # (probs kept intact for a retain_graph second backward)
                p[self.labels] -= gd if gd.ndim == 0 else gd[self.labels[0], 0]
            else:
                t, rowsum = self._effective_target(self.probs.dtype)
                p = self.probs * rowsum
                p -= t
                p *= gd
            gx = _const(p)
        if target is None:
            return gx
        if target.requires_grad:                  # -(1 - s) w log_softmax(x) upstream
            xd = x.data
            z = xd - xd.max(axis=1, keepdims=True)
            z -= xp_of(xd).log(xp_of(xd).exp(z).sum(axis=1, keepdims=True))
            z *= -(1.0 - self.ls) * gd
            gt = _const(z * self.weight if self.weight is not None else z)
        return gx, gt


class BinaryCrossEntropy(Function):
    """-(t log p + (1-t) log(1-p)) with the logs clamped at -100, as PyTorch; finite gradient at p in {0, 1}."""

    def forward(self, p, t):
        xp = xp_of(p)
        with np.errstate(divide="ignore"):
            lp = xp.maximum(xp.log(p), -100)
            l1p = xp.maximum(xp.log1p(-p), -100)
        return -(t * lp + (1 - t) * l1p)

    def backward(self, g):
        p, t = self.inputs
        d = (p * (1 - p)).clip(min=1e-12)
        gp = g * (p - t) / d if p.requires_grad else None
        # torch's target gradient is -logit(p), not clamped (it is +-inf at p in {0, 1})
        gt = g * ((1 - p).log() - p.log()) if t.requires_grad else None
        return gp, gt


class NllLoss(Function):
    """The identity on nll_loss's picked log-probabilities, standing for the arrays PyTorch's nll_loss backward reads
    (`watched`: the class weight and the target, as (name, array) pairs): backward raises PyTorch's error when one
    was changed in place after forward (the composed loss has copies of them, so it would go on silently)."""
    saves_inputs = False

    def forward(self, a, watched=()):
        self.watched = watched
        return a.view()

    def backward(self, g):
        for what, arr in self.watched:
            e = _stamp(arr)
            if e is not None and e[0] > self._epoch:
                _raise_modified(self, what, arr, e)
        return g
