"""Elementwise math primitives beyond ops.py (sin ... erf, logsigmoid, logaddexp): forward and backward side by side.

Each backward is written with Tensor ops, so create_graph=True differentiates it again. One definition serves
NumPy and CuPy (`xp_of`); erf is the only one NumPy lacks: `_erf_numpy` below, cupyx.scipy.special.erf on the GPU.
The rounding ops (sign floor ceil round trunc) have a zero gradient everywhere, as in PyTorch.
"""
from __future__ import annotations

import math

import numpy as np

from .backend import xp_of
from .function import Function
from .function import is_grad_enabled
from .ops import Where, _const, _masked

_LN2, _LN10 = math.log(2.0), math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


class Sin(Function):
    def forward(self, a):
        return xp_of(a).sin(a)

    def backward(self, g):
        return g * self.inputs[0].cos()


class Cos(Function):
    def forward(self, a):
        return xp_of(a).cos(a)

    def backward(self, g):
        return -(g * self.inputs[0].sin())


class Tan(Function):
    needs_output = True
    saves_inputs = False   # (backward reads only the output)

    def forward(self, a):
        return xp_of(a).tan(a)

    def backward(self, g):
        y = self.output
        return g * (y * y + 1)


class Rsqrt(Function):
    """1 / sqrt(x); d/dx = -y^3 / 2 (inf at 0 and nan below it, as in PyTorch)."""
    needs_output = True
    saves_inputs = False   # (backward reads only the output)

    def forward(self, a):
        xp = xp_of(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            return xp.reciprocal(xp.sqrt(a))

    def backward(self, g):
        y = self.output
        return g * (y * y * y) * -0.5


class Expm1(Function):
    """e^x - 1, accurate near 0 (elu, celu and selu use it, as PyTorch does)."""
    needs_output = True
    saves_inputs = False   # (backward reads only the output)

    def forward(self, a):
        return xp_of(a).expm1(a)

    def backward(self, g):
        return g * (self.output + 1)


class Exp2(Function):
    needs_output = True
    saves_inputs = False   # (backward reads only the output)

    def forward(self, a):
        return xp_of(a).exp2(a)

    def backward(self, g):
        return g * self.output * _LN2


class Log2(Function):
    def forward(self, a):
        return xp_of(a).log2(a)

    def backward(self, g):
        return g / (self.inputs[0] * _LN2)


class Log10(Function):
    def forward(self, a):
        return xp_of(a).log10(a)

    def backward(self, g):
        return g / (self.inputs[0] * _LN10)


def _erf(a):
    if isinstance(a, np.ndarray):
        return _erf_numpy(a)
    from cupyx.scipy.special import erf   # (the GPU only: imported on first use)
    return erf(a)


class Erf(Function):
    """The error function; d/dx = 2/sqrt(pi) e^(-x^2). NumPy: `_erf_numpy` (float64 inside, within 2e-15 of
    PyTorch's); CuPy: cupyx.scipy.special.erf."""

    def forward(self, a):
        return _erf(a)

    def backward(self, g):
        x = self.inputs[0]
        return g * (-(x * x)).exp() * _TWO_OVER_SQRT_PI


class _ZeroGrad(Function):
    """A piecewise-constant op: its gradient is zero everywhere (PyTorch's convention at the jumps too)."""
    saves_inputs = False

    def backward(self, g):
        return _const(xp_of(g.data).zeros(g.shape, dtype=g.dtype))


class Sign(_ZeroGrad):
    """-1, 0 or 1 (0 at +-0 and, as torch.sign, at nan)."""

    def forward(self, a):
        xp = xp_of(a)
        return xp.nan_to_num(xp.sign(a), nan=0.0) if a.dtype.kind == "f" else xp.sign(a)


class Floor(_ZeroGrad):
    def forward(self, a):
        return xp_of(a).floor(a) if a.dtype.kind == "f" else a.copy()


class Ceil(_ZeroGrad):
    def forward(self, a):
        return xp_of(a).ceil(a) if a.dtype.kind == "f" else a.copy()


class Trunc(_ZeroGrad):
    def forward(self, a):
        return xp_of(a).trunc(a) if a.dtype.kind == "f" else a.copy()


class Round(_ZeroGrad):
    """Round half to even (torch.round): 0.5 -> 0, 1.5 -> 2, -2.5 -> -2; decimals as PyTorch computes it."""

    def forward(self, a, decimals=0):
        xp = xp_of(a)
        if a.dtype.kind != "f":
            return a.copy()
        if decimals == 0:
            return xp.rint(a)
        if decimals > 0:
            p = a.dtype.type(10.0 ** decimals)
            return xp.rint(a * p) / p
        p = a.dtype.type(10.0 ** -decimals)
        return xp.rint(a / p) * p


class LogSigmoid(Function):
    """log(sigmoid(x)) = min(x, 0) - log1p(e^-|x|): a Function because the composed form overflows (log of 0
    for x < -104 in float32) or, written stably with abs, has a wrong gradient at exactly 0; d/dx = sigmoid(-x)."""

    def forward(self, a):
        return _log_sigmoid(a)

    def backward(self, g):
        return g * (-self.inputs[0]).sigmoid()


def _log_sigmoid(a):
    xp = xp_of(a)
    return xp.minimum(a, 0) - xp.log1p(xp.exp(-xp.abs(a)))


class BCEWithLogits(Function):
    """binary_cross_entropy_with_logits's elementwise loss, (1 - t) x - (1 + (pw - 1) t) logsigmoid(x) (pw = 1 without
    pos_weight), as PyTorch computes it; one node so that its gradients are PyTorch's formulas, each factor formed
    before the upstream gradient multiplies it: d/dx = ((pw t + 1 - t) sigmoid(x) - pw t) g, d/dt = (logsigmoid(-x)
    - pw logsigmoid(x)) g (-x g without pos_weight), d/dpw = -t logsigmoid(x) g. (The composed form gave
    g (1 - t) - g sigmoid(-x): nan for every element under an infinite upstream gradient.)"""

    def forward(self, x, t, pw=None):
        ls = _log_sigmoid(x)
        if pw is None:
            return (1 - t) * x - ls
        return (1 - t) * x - ((pw - 1) * t + 1) * ls

    def backward(self, g):
        x, t = self.inputs[0], self.inputs[1]
        pw = self.inputs[2] if len(self.inputs) == 3 else None
        gx = gt = None
        if x.requires_grad:
            if pw is None:
                gx = (x.sigmoid() - t) * g
            else:
                pt = pw * t
                gx = ((pt + 1 - t) * x.sigmoid() - pt) * g
        if t.requires_grad:
            gt = (-x if pw is None else LogSigmoid.apply(-x) - LogSigmoid.apply(x) * pw) * g
        if pw is None:
            return gx, gt
        return gx, gt, (-(t * LogSigmoid.apply(x)) * g if pw.requires_grad else None)


class LogAddExp(Function):
    """log(e^a + e^b), stably (np.logaddexp); a Function because the composed form overflows.
    d/da = 1 / (1 + e^(b - a)) = sigmoid(a - b), as PyTorch computes it (nan where a = b = -inf, as there)."""

    def forward(self, a, b):
        return xp_of(a).logaddexp(a, b)

    def backward(self, g):
        a, b = self.inputs
        ga = g * (a - b).sigmoid() if a.requires_grad else None
        gb = g * (b - a).sigmoid() if b.requires_grad else None
        return ga, gb


class Lerp(Function):
    """torch.lerp: a + w (b - a) where |w| < 0.5, else b - (b - a) (1 - w) (PyTorch's two forms); w a number
    (`weight`) or a third input. Gradients g (1 - w), g w and g (b - a), PyTorch's: the composed form's a + (b - a) w
    gives a's gradient as g - g w, nan under an inf upstream gradient."""

    def forward(self, a, b, *w, weight=None):
        xp = xp_of(a)
        d = b - a
        if not w:
            self.weight = weight
            return a + weight * d if abs(weight) < 0.5 else b - d * (1 - weight)
        w = w[0]
        return xp.where(xp.abs(w) < 0.5, a + w * d, b - d * (1 - w))

    def backward(self, g):
        a, b = self.inputs[0], self.inputs[1]
        w = self.inputs[2] if len(self.inputs) > 2 else self.weight
        ga = g * (1 - w) if a.requires_grad else None
        gb = g * w if b.requires_grad else None
        if len(self.inputs) == 2:
            return ga, gb
        return ga, gb, (g * (b - a) if w.requires_grad else None)


class ELU(Function):
    """PyTorch's elu, celu and selu: scale x for x > 0, alpha scale (e^(input_scale x) - 1) elsewhere. A Function
    to keep PyTorch's conventions at 0 to second order: the first derivative there is the negative side's
    (alpha scale input_scale), the second is 0 (PyTorch's double backward masks x < 0 strictly)."""

    def forward(self, a, alpha, scale, input_scale):
        xp = xp_of(a)
        self.params = alpha, scale, input_scale
        neg = xp.expm1(xp.minimum(a, 0) * input_scale) * (alpha * scale)
        # x itself at +-0 (a >= 0, not a > 0): a negative alpha would turn +0 into -0 and -0 into +0 (PyTorch keeps x)
        return xp.where(a >= 0, a * scale, neg).astype(a.dtype, copy=False)

    def backward(self, g):
        alpha, scale, input_scale = self.params
        x = self.inputs[0]
        zero = _const(xp_of(x.data).zeros((), dtype=x.dtype))
        # x where x < 0 (no second derivative at 0) or nan: PyTorch's gradient at a nan input is nan
        below = Where.apply(x, zero, cond=~(x.data >= 0))
        d = (below * input_scale).exp() * (alpha * scale * input_scale)
        return g * Where.apply(_const(xp_of(x.data).asarray(scale, dtype=x.dtype)), d, cond=x.data > 0)


class Softplus(Function):
    """log(1 + e^(beta x)) / beta, and x where beta x > threshold, as PyTorch; d/dx = sigmoid(beta x) (1 above the
    threshold). A Function to keep PyTorch's conventions at the threshold to second order (the first derivative
    there is sigmoid's, the second 0) and to be smooth at 0 (a stable form written with abs has a kink there)."""

    def forward(self, a, beta, threshold):
        xp = xp_of(a)
        self.beta, self.threshold = beta, threshold
        bx = a * beta
        return xp.where(bx > threshold, a, xp.logaddexp(0, bx) / beta).astype(a.dtype, copy=False)

    def backward(self, g):
        x = self.inputs[0]
        bx = x.data * self.beta
        below = Where.apply(x, _const(x.data), cond=bx < self.threshold)   # only strictly below differentiates on
        one = _const(xp_of(bx).ones((), dtype=x.dtype))
        return g * Where.apply(one, (below * self.beta).sigmoid(), cond=bx > self.threshold)


# ------------------------------------------------------------------ activations fused for PyTorch's special values
# gelu, silu, mish and hardswish as x times a factor, composed of Tensor ops, get their gradient by the product rule,
# g * factor + g * x * factor': an inf upstream gradient where x or factor' is 0 gives inf * 0 = nan there, where
# PyTorch's kernels give g * (factor + x factor') (inf). So each is a Function with PyTorch's forward and derivative
# formulas; the derivative is written with Tensor ops, so create_graph differentiates it again. (One node instead of
# four to eight, too.)
_K_ALPHA = 0.7071067811865476           # 1 / sqrt(2)
_K_BETA = 0.3989422804014327            # 1 / sqrt(2 pi): the normal density at 0
_K_SQRT_2_OVER_PI = 0.7978845608028654
_K_KAPPA = 0.044715


class GELU(Function):
    """x Phi(x) = x / 2 (1 + erf(x / sqrt 2)); d/dx = Phi(x) + x phi(x), PyTorch's formulas."""

    def forward(self, a):
        return (a * 0.5 * (1 + _erf(a * _K_ALPHA))).astype(a.dtype, copy=False)

    def backward(self, g):
        x = self.inputs[0]
        cdf = ((x * _K_ALPHA).erf() + 1) * 0.5
        pdf = (x * x * -0.5).exp() * _K_BETA
        return g * (cdf + x * pdf)


class GELUTanh(Function):
    """gelu(approximate='tanh'): x / 2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), PyTorch's forward and derivative."""

    def forward(self, a):
        xp = xp_of(a)
        inner = (a + a * a * a * _K_KAPPA) * _K_SQRT_2_OVER_PI
        return (a * 0.5 * (1 + xp.tanh(inner))).astype(a.dtype, copy=False)

    def backward(self, g):
        x = self.inputs[0]
        x_sq = x * x
        t = ((x + x_sq * x * _K_KAPPA) * _K_SQRT_2_OVER_PI).tanh()
        right = (x * 0.5) * (1 - t * t) * ((x_sq * (3 * _K_KAPPA) + 1) * _K_SQRT_2_OVER_PI)
        return g * ((t + 1) * 0.5 + right)


class SiLU(Function):
    """x sigmoid(x) = x / (1 + e^-x); d/dx = s (1 + x (1 - s)) with s = sigmoid(x), PyTorch's formulas."""

    def forward(self, a):
        xp = xp_of(a)
        with np.errstate(over="ignore"):
            return a / (1 + xp.exp(-a))

    def backward(self, g):
        x = self.inputs[0]
        s = x.sigmoid()
        return g * (s * (x * (1 - s) + 1))


class Mish(Function):
    """x tanh(softplus(x)); d/dx = t + x sigmoid(x) (1 - t^2) with t = tanh(softplus(x)), PyTorch's formulas."""

    def forward(self, a):
        xp = xp_of(a)
        with np.errstate(over="ignore"):
            return a * xp.tanh(xp.log1p(xp.exp(a)))

    def backward(self, g):
        x = self.inputs[0]
        t = Softplus.apply(x, beta=1.0, threshold=20.0).tanh()
        return g * (t + x * x.sigmoid() * (1 - t * t))


class Hardswish(Function):
    """x relu6(x + 3) / 6, computed as PyTorch's kernel does (so -inf gives nan, x <= -3 gives -0.0). The gradient,
    as PyTorch's vectorized kernel: g where x >= 3, exactly 0 where x <= -3, g (x / 3 + 1/2) strictly between and
    at nan; its own derivative is g / 3 strictly inside (-3, 3), 0 elsewhere (PyTorch's double backward)."""

    def forward(self, a):
        xp = xp_of(a)
        return a * xp.clip(a + 3, 0, 6) / 6

    def backward(self, g):
        x = self.inputs[0]
        xd = x.data
        xp = xp_of(xd)
        inner = Where.apply(x, _const(xd), cond=xd > -3) if is_grad_enabled() else x   # (differentiable inside only)
        d = Where.apply(_const(xp.ones((), dtype=x.dtype)), inner / 3 + 0.5, cond=xd >= 3)
        return _masked(g * d, ~(xd <= -3))


# ------------------------------------------------------------------ erf on NumPy
_ERF_K, _ERF_DEG = 64, 9          # 64 intervals on [0, 6), a degree-9 polynomial on each
_ERF_H = 6.0 / _ERF_K
_ERF_TABLES = None                # (coefficients (DEG + 1, K), interval midpoints (K,), Taylor coefficients at 0)


def _erf_tables():
    """Built on first use (a few ms): on each interval of [0, 6) the Chebyshev interpolant of math.erf, as a power
    series about the interval's midpoint; near 0 the Taylor series of erf(x)/x (relative accuracy for tiny x).
    Beyond 6, erf is +-1 in float64."""
    global _ERF_TABLES
    from numpy.polynomial import chebyshev
    f = np.frompyfunc(math.erf, 1, 1)
    coef = np.zeros((_ERF_K, _ERF_DEG + 1))
    for k in range(_ERF_K):
        lo, hi = k * _ERF_H, (k + 1) * _ERF_H
        c = chebyshev.chebinterpolate(lambda t: f((t * (hi - lo) + hi + lo) / 2).astype(np.float64), _ERF_DEG)
        p = chebyshev.cheb2poly(c)                          # in t = (x - mid) * 2 / (hi - lo)
        coef[k, :len(p)] = p * (2 / (hi - lo)) ** np.arange(len(p))
    taylor = [_TWO_OVER_SQRT_PI * (-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(8)]
    _ERF_TABLES = coef.T.copy(), (np.arange(_ERF_K) + 0.5) * _ERF_H, taylor


def _erf_numpy(a):
    """erf of a NumPy array (any float dtype; computed in float64): within 2e-15 relative of math.erf (and of
    PyTorch's), about 40 elementwise passes and no boolean indexing."""
    if _ERF_TABLES is None:
        _erf_tables()
    coef, mid, taylor = _ERF_TABLES
    x = a.astype(np.float64).reshape(-1)        # (1-D inside: 0-d arrays become NumPy scalars)
    ax = np.fmin(np.abs(x), 6.0)                # (fmin: nan becomes 6 here; put back below)
    k = np.minimum((ax * (1 / _ERF_H)).astype(np.intp), _ERF_K - 1)
    u = ax - mid[k]
    p = coef[_ERF_DEG][k]
    for d in range(_ERF_DEG - 1, -1, -1):       # Horner with each element's own interval's coefficients
        p *= u
        p += coef[d][k]
    p[ax >= 6.0] = 1.0
    z = ax * ax
    q = np.full_like(z, taylor[-1])
    for c in taylor[-2::-1]:
        q *= z
        q += c
    out = np.copysign(np.where(ax < _ERF_H, ax * q, p), x)
    out[np.isnan(x)] = np.nan
    out = out.reshape(a.shape)
    return out.astype(a.dtype, copy=False) if a.dtype.kind == "f" else out
