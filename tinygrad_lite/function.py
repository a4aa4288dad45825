"""The op node of the graph and the grad-mode switch.

A `Function` subclass defines `forward(self, *arrays, **params) -> array` on raw
NumPy/CuPy arrays and, right beside it, `backward(self, grad) -> Tensor | tuple`
written with Tensor ops (so `create_graph=True` differentiates the backward pass
too). `Function.apply(*tensors, **params)` runs forward and, when a gradient is
wanted, records the node on the output.
"""
from __future__ import annotations

import contextvars
import functools
import weakref

from numpy import asarray as _np_asarray, generic as _np_generic

_anomaly = False  # tl.autograd.detect_anomaly(): record forward stacks, check backward gradients
_grad_enabled = contextvars.ContextVar("tinygrad_lite_grad_enabled", default=True)
_get_grad_enabled = _grad_enabled.get


def is_grad_enabled() -> bool:
    return _get_grad_enabled()


class _GradMode:
    """Context manager and decorator setting grad mode for the current thread/context only."""
    mode = True

    def __enter__(self):
        self._tokens = getattr(self, "_tokens", [])
        self._tokens.append(_grad_enabled.set(self.mode))
        return self

    def __exit__(self, *exc):
        _grad_enabled.reset(self._tokens.pop())
        return False

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            token = _grad_enabled.set(mode)
            try:
                return fn(*args, **kwargs)
            finally:
                _grad_enabled.reset(token)
        return wrapper


class no_grad(_GradMode):
    """Record no graph inside `with tl.no_grad():` (or on a decorated function)."""
    mode = False


class enable_grad(_GradMode):
    """Record the graph again, e.g. inside a no_grad block."""
    mode = True


class set_grad_enabled(_GradMode):
    def __init__(self, mode: bool):
        self.mode = bool(mode)


_Tensor = None  # set by tensor.py (avoids an import cycle)


class Function:
    """One node of the graph: forward on arrays, backward with Tensor ops."""
    needs_output = False   # True: backward reads self.output (held by a weak reference)
    inputs = None          # the input Tensors, kept until backward releases the node
    grad_out = None        # the gradient w.r.t. the output, summed here during backward
    retained = None        # the output Tensor, when it asked to retain_grad()

    @classmethod
    def apply(cls, *inputs, **params):
        fn = cls()
        try:
            out = fn.forward(*[t.data for t in inputs], **params)
        except ValueError as e:
            shapes = " and ".join(str(tuple(t.shape)) for t in inputs)
            raise ValueError(f"{cls.__name__.lower()}: shapes {shapes} don't fit: {e}") from None
        if isinstance(out, _np_generic):      # NumPy gives scalars for 0-d results: keep arrays
            out = _np_asarray(out)
        if _get_grad_enabled():
            for t in inputs:
                if t.requires_grad:
                    fn.inputs = inputs
                    result = _Tensor._make(out, True, fn)
                    if cls.needs_output:
                        fn._out, fn._out_data = weakref.ref(result), out
                    if _anomaly:
                        from .autograd import _user_stack
                        fn._anomaly_trace = _user_stack()
                    return result
        return _Tensor._make(out, False, None)

    @property
    def output(self):
        """The output Tensor (in the graph, for create_graph), or its array once nothing else holds it."""
        t = self._out()
        return t if t is not None else _Tensor._make(self._out_data, False, None)

    def forward(self, *arrays, **params):
        raise NotImplementedError

    def backward(self, grad):
        raise NotImplementedError

    def release(self):
        """Drop the inputs and saved arrays: the graph behind this node is freed."""
        self.__dict__.clear()                     # inputs, grad_out, ... fall back to the class's None

    def __repr__(self):
        return f"<{type(self).__name__}>"
