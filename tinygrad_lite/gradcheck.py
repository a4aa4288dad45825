"""tl.gradcheck: the analytic gradient against central finite differences, in float64.

The upstream gradient is random (never all ones: softmax's gradient under an
all-ones upstream is zero, so such a check passes a broken backward). Small inputs
are checked element by element; large ones by random directional derivatives.
When a check fails where fn has a kink (relu or abs at 0, max at a tie: the one-sided
differences disagree), the error says so: no gradient is right at such a point.

tl.gradgradcheck does the same one order up: the gradient of <v, fn> (v a random upstream),
computed with create_graph=True, is checked by gradcheck under a second random upstream. It
runs every backward rule on its Tensor-op path (the path create_graph records), which the
first-order check never reaches where an op has a fast array path for the no-graph case;
and it first asserts that both paths give the same first-order gradient.
"""
from __future__ import annotations

import numpy as np

from . import backend
from .tensor import Tensor, cat


class GradcheckError(AssertionError):
    """The analytic gradient disagrees with the numeric one."""


class NondifferentiableError(GradcheckError):
    """fn is not differentiable within eps of the input (its left and right derivatives differ), so the
    check cannot judge the gradient there: move the input away from the kink (Chainer's check does the same)."""


def _to64(x):
    if isinstance(x, Tensor) and x.dtype.kind == "f":
        return Tensor(x.data.astype(np.float64), requires_grad=x.requires_grad)
    return x


def _f(fn, inputs, upstream):
    """<upstream, fn(inputs)> in float64 (grad mode left on: fn may call backward itself)."""
    out = fn(*inputs)
    return float((backend.to_numpy(out.data).astype(np.float64) * upstream).sum())


def _unpack(inputs):
    """gradcheck(fn, (x, y)), PyTorch's form, as gradcheck(fn, x, y)."""
    if len(inputs) == 1 and isinstance(inputs[0], (tuple, list)):
        return tuple(inputs[0])
    return inputs


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0, max_elements=2000, n_directions=3):
    """Check the gradients of `fn(*inputs)` with respect to every input that requires grad.

        >>> import tinygrad_lite as tl
        >>> x = tl.randn(3, 4, requires_grad=True)
        >>> tl.gradcheck(lambda t: (t * t).softmax(axis=1), x)
        True

    Returns True, or raises GradcheckError naming the input, the element and both values;
    NondifferentiableError (a GradcheckError) where the failure comes from a kink of fn within
    eps of the input. Inputs are copied to float64 first; fn may return a Tensor of any shape. The inputs may
    also come as one tuple or list, PyTorch's form: gradcheck(fn, (x, y)) is gradcheck(fn, x, y).
    """
    xs = [_to64(x) for x in _unpack(inputs)]
    wrt = [i for i, x in enumerate(xs) if isinstance(x, Tensor) and x.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad; create them with requires_grad=True")
    rng = np.random.default_rng(seed)
    out = fn(*xs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    upstream = rng.standard_normal(out.shape)
    if not out.requires_grad:
        analytic = {i: np.zeros(xs[i].shape) for i in wrt}
    else:
        out.backward(Tensor(backend.to_device(upstream.astype(out.dtype), out.device)))
        analytic = {}
        for i in wrt:
            g = xs[i].grad
            if g is None:
                analytic[i] = np.zeros(xs[i].shape)
            else:
                if g.shape != xs[i].shape:
                    raise GradcheckError(f"gradcheck: gradient of input {i} has shape {g.shape}, "
                                         f"the input has shape {xs[i].shape}")
                analytic[i] = backend.to_numpy(g.data).astype(np.float64)
        for i in wrt:
            xs[i].grad = None       # fn may call backward itself: start the numeric passes clean
    total = sum(xs[i].numel() for i in wrt)
    unshifted = []                  # f at the inputs themselves: needed only once a check fails

    def close(a, n):
        return abs(a - n) <= atol + rtol * abs(n)

    def check(what, a, at):
        """at(s): <upstream, fn> with the tested element (or direction) moved by s."""
        fp, fm = at(eps), at(-eps)
        n = (fp - fm) / (2 * eps)
        if close(a, n):
            return
        if not unshifted:
            unshifted.append(_f(fn, xs, upstream))
        f0 = unshifted[0]
        left, right = (f0 - fm) / eps, (fp - f0) / eps
        if not close(left, right):               # the one-sided derivatives disagree: a kink near x?
            h = eps / 10
            fp2, fm2 = at(h), at(-h)
            if close(a, (fp2 - fm2) / (2 * h)):  # the kink lies between h and eps: the finer step is smooth
                return
            left2, right2 = (f0 - fm2) / h, (fp2 - f0) / h
            if abs(left2 - right2) > 0.5 * abs(left - right):   # smooth functions' gap shrinks with the step
                raise NondifferentiableError(
                    f"gradcheck: {what}: fn is not differentiable here (a kink within eps={eps:g}: left "
                    f"derivative {left2:.8g}, right derivative {right2:.8g}), so no gradient can be checked at "
                    f"this point (analytic {a:.8g}); move the input away from the kink (relu or abs at 0, "
                    f"max at a tie)")
        raise GradcheckError(f"gradcheck: {what}: analytic {a:.8g} != numeric {n:.8g} "
                             f"(|diff| {abs(a - n):.3g} > atol {atol} + rtol {rtol} * |numeric|)")

    if total <= max_elements:
        for i in wrt:
            x = xs[i]
            flat = x.data.reshape(-1)       # a view: perturb in place
            for k in range(x.numel()):
                old = flat[k].item()

                def at(s):
                    flat[k] = old + s
                    try:
                        return _f(fn, xs, upstream)
                    finally:
                        flat[k] = old

                idx = np.unravel_index(k, x.shape) if x.ndim else ()
                check(f"input {i}, element {tuple(int(j) for j in idx)}", analytic[i].reshape(-1)[k], at)
        return True

    for d in range(n_directions):
        dirs = {i: rng.standard_normal(xs[i].shape) for i in wrt}
        base = {i: xs[i].data.copy() for i in wrt}

        def shifted(s):
            for i in wrt:
                xs[i].data[...] = base[i] + s * backend.to_device(dirs[i], xs[i].device)
            try:
                return _f(fn, xs, upstream)
            finally:
                for i in wrt:
                    xs[i].data[...] = base[i]

        a = sum(float((analytic[i] * dirs[i]).sum()) for i in wrt)
        check(f"directional derivative {d} (inputs {wrt}, random direction)", a, shifted)
    return True


def _grads(fn, xs, wrt, v, create_graph):
    """d<v, fn(xs)>/dxs[i] for i in wrt (zeros where fn does not depend on it), leaving every input's
    .grad as it was. With create_graph the gradients stay in the graph, as functions of xs."""
    saved = [x.grad for x in xs if isinstance(x, Tensor)]
    for x in xs:
        if isinstance(x, Tensor):
            x.grad = None
    try:
        out = fn(*xs)
        if not isinstance(out, Tensor):
            raise TypeError(f"gradgradcheck: fn must return a Tensor, got {type(out).__name__}")
        if out.shape != v.shape:
            raise ValueError(f"gradgradcheck: grad_outputs has shape {v.shape}, fn's output has shape {out.shape}")
        got = {}
        if out.requires_grad:
            out.backward(Tensor(backend.to_device(v.astype(out.dtype), out.device)), create_graph=create_graph)
            got = {i: xs[i].grad for i in wrt}
    finally:
        for x, g in zip((x for x in xs if isinstance(x, Tensor)), saved):
            x.grad = g
    return [got[i] if got.get(i) is not None else Tensor._make(xs[i].data * 0, False, None) for i in wrt]


def gradgradcheck(fn, *inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0, max_elements=2000,
                  n_directions=3):
    """Check the second derivatives of `fn(*inputs)` (PyTorch's name): the gradient of <v, fn(inputs)> for a
    random upstream v (or `grad_outputs`), computed with `backward(create_graph=True)`, is differentiated
    again and checked against central differences under a second random upstream, as tl.gradcheck does.

        >>> import tinygrad_lite as tl
        >>> x = tl.randn(3, 4, requires_grad=True)
        >>> w = tl.randn(4, 4, requires_grad=True)
        >>> tl.gradgradcheck(lambda a, b: (a @ b).tanh(), x, w)
        True

    Before that it asserts that the create_graph gradient equals the plain one: several backward rules have a
    fast array path used only when no graph is recorded, and a bug on just one of the two paths (a transposed
    weight gradient, silent for square weights) is otherwise invisible. Inputs are copied to float64.
    Returns True or raises GradcheckError (NondifferentiableError at a kink of fn's gradient). The inputs may come
    as one tuple or list, as in PyTorch.
    """
    xs = [_to64(x) for x in _unpack(inputs)]
    wrt = [i for i, x in enumerate(xs) if isinstance(x, Tensor) and x.requires_grad]
    if not wrt:
        raise ValueError("gradgradcheck: no input requires grad; create them with requires_grad=True")
    rng = np.random.default_rng(seed + 1)
    out = fn(*xs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradgradcheck: fn must return a Tensor, got {type(out).__name__}")
    if grad_outputs is None:
        v = rng.standard_normal(out.shape)
    else:
        v = np.asarray(backend.to_numpy(grad_outputs.data if isinstance(grad_outputs, Tensor) else grad_outputs),
                       dtype=np.float64)
    del out
    plain = _grads(fn, xs, wrt, v, create_graph=False)
    graph = _grads(fn, xs, wrt, v, create_graph=True)
    for i, p, g in zip(wrt, plain, graph):
        p, g = backend.to_numpy(p.data).astype(np.float64), backend.to_numpy(g.data).astype(np.float64)
        if p.shape != g.shape:
            where = f"shape {g.shape} != {p.shape}"
        elif not np.allclose(g, p, rtol=1e-7, atol=1e-9, equal_nan=True):
            k = np.unravel_index(int(np.argmax(np.abs(g - p))), p.shape)
            where = f"element {tuple(int(j) for j in k)}: {g[k]:.8g} != {p[k]:.8g}"
        else:
            continue
        raise GradcheckError(f"gradgradcheck: input {i}: the gradient computed with create_graph=True differs from "
                             f"the one computed without it at {where} (a backward rule's fast array path and its "
                             f"Tensor-op path disagree)")

    def first_grads(*ys):
        gs = _grads(fn, list(ys), wrt, v, create_graph=True)
        return cat([g.reshape(-1) for g in gs]) if len(gs) > 1 else gs[0]

    try:
        return gradcheck(first_grads, *xs, eps=eps, atol=atol, rtol=rtol, seed=seed, max_elements=max_elements,
                         n_directions=n_directions)
    except GradcheckError as e:
        msg = e.args[0].replace("gradcheck: ", "", 1)
        raise type(e)(f"gradgradcheck: second derivatives (the gradient of <random v, fn> as a function of the "
                      f"inputs, flattened and concatenated), {msg}") from None
