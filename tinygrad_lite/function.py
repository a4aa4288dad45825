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
    """Context manager and decorator setting grad mode for the current thread/context only.

    The object keeps no state of its own between __enter__ and __exit__: the mode to restore is kept
    per thread (per contextvars context), so one object can be entered again, nested in itself, and
    shared by several threads at once, as PyTorch's can. Subclasses set `mode` (or `self.mode`)."""
    mode = True

    def __enter__(self):
        _saved.set((_get_grad_enabled(), _saved.get()))   # a stack of previous modes, per context
        _grad_enabled.set(self.mode)
        return self

    def __exit__(self, *exc):
        prev, rest = _saved.get()
        _saved.set(rest)
        _grad_enabled.set(prev)
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


_saved = contextvars.ContextVar("tinygrad_lite_grad_mode_saved", default=None)


class no_grad(_GradMode):
    """Record no graph inside `with tl.no_grad():` (or on a decorated function)."""
    mode = False


class enable_grad(_GradMode):
    """Record the graph again, e.g. inside a no_grad block."""
    mode = True


class inference_mode(_GradMode):
    """PyTorch's inference_mode: records no graph (here the same as no_grad); inference_mode(False) records."""

    def __init__(self, mode=True):
        if callable(mode) and not isinstance(mode, bool):   # used as a bare decorator: @tl.inference_mode
            self.mode = False
            self._fn = mode
        else:
            self.mode = not bool(mode)

    def __call__(self, *args, **kwargs):
        fn = getattr(self, "_fn", None)
        if fn is not None:
            return _GradMode.__call__(self, fn)(*args, **kwargs)
        return _GradMode.__call__(self, args[0])


class set_grad_enabled(_GradMode):
    def __init__(self, mode: bool):
        self.mode = bool(mode)


_Tensor = None  # set by tensor.py (avoids an import cycle)

# ------------------------------------------------------------------ version counters, PyTorch's way but cheap
# An in-place op stamps the memory it changed (keyed by the array's base, so views share the stamp) with
# the next tick of a clock; every recorded node notes the tick it was made at. A node is stale when memory
# it depends on was stamped after it: backward then raises instead of using the changed values.
_clock = 0
_stamps = {}      # id(base array) -> [tick of any change, tick of a recorded change, weakref to base, op name]


def _base(arr):
    b = arr.base
    return arr if b is None else b


def bump_version(arr, op, recorded=False):
    """Stamp `arr`'s memory as changed in place by `op` (recorded: the change is in the graph)."""
    global _clock
    _clock += 1
    base = _base(arr)
    e = _stamps.get(id(base))
    if e is None or e[2]() is not base:
        if len(_stamps) > 4096:                   # forget the memory that is gone
            for k in [k for k, v in _stamps.items() if v[2]() is None]:
                del _stamps[k]
        try:
            ref = weakref.ref(base)
        except TypeError:                         # (a bytes buffer under np.frombuffer: keep it)
            ref = (lambda b: lambda: b)(base)
        e = _stamps[id(base)] = [0, 0, ref, op]
    e[0], e[3] = _clock, op
    if recorded:
        e[1] = _clock


def version_entry(arr, op):
    """The stamp record of `arr`'s memory (made on first use), for a caller that stamps it often itself:
    `entry[0] = tick()` after each change (Optimizer.step: one store per parameter, no lookup)."""
    bump_version(arr, op)
    return _stamps[id(_base(arr))]


def tick():
    """Advance the version clock; the new tick."""
    global _clock
    _clock += 1
    return _clock


def _stamp(arr):
    if arr is None:
        return None
    base = _base(arr)
    e = _stamps.get(id(base))
    return e if e is not None and e[2]() is base else None


def check_versions(fn):
    """Raise PyTorch's error when memory that `fn`'s backward reads (or its output) changed after fn was recorded."""
    epoch = fn._epoch
    saved = []
    if fn.saves_inputs and fn.inputs is not None:
        saved = [(f"input {i}", t._data) for i, t in enumerate(fn.inputs)]
    if fn.needs_output or fn.saves_output:
        saved.append(("output", fn._out_data))
    for what, arr in saved:
        e = _stamp(arr)
        if e is not None and e[0] > epoch:
            _raise_modified(fn, what, arr, e)
    e = _stamp(fn._out_data)
    if e is not None and e[1] > epoch:
        _raise_modified(fn, "output", fn._out_data, e)


def _raise_modified(fn, what, arr, e):
    name = type(fn).__name__
    raise RuntimeError(f"one of the variables needed for gradient computation has been modified by an inplace "
                       f"operation: the {what} of {name} (shape {tuple(arr.shape)}, dtype {arr.dtype}) was changed "
                       f"by {e[3]} after {name} used it; compute the changed value out of place (y = y + 1, "
                       f"not y += 1) or .clone() the tensor before changing it")


class Function:
    """One node of the graph: forward on arrays, backward with Tensor ops."""
    needs_output = False   # True: backward reads self.output (held by a weak reference)
    saves_inputs = True    # False: backward never reads the inputs' values (modifying them later is harmless)
    saves_output = False   # True: forward keeps the output array for backward (without needs_output's weakref)
    _epoch = 0             # the version clock's tick when the node was recorded
    _out_data = None       # the output array
    inputs = None          # the input Tensors, kept until backward releases the node
    grad_out = None        # the gradient w.r.t. the output, summed here during backward
    retained = None        # the output Tensor, when it asked to retain_grad()

    @classmethod
    def apply(cls, *inputs, **params):
        fn = cls()
        try:
            out = fn.forward(*[t._data for t in inputs], **params)
        except ValueError as e:
            shapes = " and ".join(str(tuple(t.shape)) for t in inputs)
            raise ValueError(f"{cls.__name__.lower()}: shapes {shapes} don't fit: {e}") from None
        except (TypeError, IndexError, ZeroDivisionError, OverflowError) as e:
            name = cls.__name__.lower()                # a NumPy/Python error from inside an op: name the op
            if str(e).lower().startswith(name):
                raise
            what = " and ".join(f"{t.dtype} {tuple(t.shape)}" for t in inputs)
            base = next(b for b in (TypeError, IndexError, ZeroDivisionError, OverflowError) if isinstance(e, b))
            raise base(f"{name}: cannot compute it for {what}{' with ' + str(params) if params else ''}: "
                       f"{e}") from None
        if isinstance(out, _np_generic):      # NumPy gives scalars for 0-d results: keep arrays
            out = _np_asarray(out)
        if _get_grad_enabled():
            for t in inputs:
                if t.requires_grad:
                    fn.inputs = inputs
                    fn._epoch = _clock
                    fn._out_data = out
                    result = _Tensor._make(out, True, fn)
                    if cls.needs_output:
                        fn._out = weakref.ref(result)
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
