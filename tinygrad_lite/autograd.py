"""tl.autograd: anomaly detection for the backward pass, PyTorch's names.

    >>> with tl.autograd.detect_anomaly():
    ...     loss.backward()          # raises AnomalyError naming the op whose backward made a nan/inf

While anomaly mode is on, every op records where its forward was called (a few frames of
the user's stack), and the engine checks each gradient an op's backward returns; the first
one holding nan or inf raises :class:`AnomalyError` naming the op, the input, and that
place. Off (the default), the engine tests one flag per backward call and records nothing.
"""
from __future__ import annotations

import traceback

from . import function

__all__ = ["AnomalyError", "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]


class AnomalyError(RuntimeError):
    """An op's backward produced a non-finite gradient while anomaly mode was on."""


def is_anomaly_enabled() -> bool:
    return function._anomaly


class set_detect_anomaly:
    """Turn anomaly mode on or off: as a call (``tl.autograd.set_detect_anomaly(True)``) or as a
    context manager, which restores the previous mode on exit (as PyTorch's)."""

    def __init__(self, mode: bool, check_nan: bool = True):
        if not isinstance(mode, bool):
            raise TypeError(f"set_detect_anomaly: mode must be a bool, got {type(mode).__name__}")
        self.prev = function._anomaly
        function._anomaly = mode and bool(check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        function._anomaly = self.prev
        return False


class detect_anomaly:
    """Context manager (and decorator) turning anomaly mode on inside it."""

    def __init__(self, check_nan: bool = True):
        self.check_nan = bool(check_nan)
        self._prev = []

    def __enter__(self):
        self._prev.append(function._anomaly)
        function._anomaly = self.check_nan
        return self

    def __exit__(self, *exc):
        function._anomaly = self._prev.pop()
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)
        return wrapper


def _user_stack(limit=6):
    """The caller's frames outside tinygrad_lite (where the op was written), innermost last."""
    here = __file__.rsplit("/", 1)[0].rsplit("\\", 1)[0]
    frames = [f for f in traceback.extract_stack()[:-2] if not f.filename.startswith(here)]
    return frames[-limit:]


def _check_gradients(fn, grads):
    """Raise AnomalyError when an op's backward returned a nan or inf gradient (anomaly mode only)."""
    from . import backend
    for i, g in enumerate(grads):
        if g is None:
            continue
        a = g.data if hasattr(g, "data") else g
        xp = backend.xp_of(a)
        if a.dtype.kind not in "fc" or bool(xp.isfinite(a).all()):
            continue
        what = "nan" if bool(xp.isnan(a).any()) else "inf"
        op = type(fn).__name__
        where = getattr(fn, "_anomaly_trace", None)
        trace = ("".join(traceback.format_list(where)).rstrip() if where
                 else "  (not recorded: the forward ran before anomaly mode was turned on)")
        shape = tuple(fn.inputs[i].shape) if fn.inputs is not None and i < len(fn.inputs) else tuple(a.shape)
        raise AnomalyError(
            f"detect_anomaly: the backward of {op} ('{op}Backward') returned {what} values in its gradient "
            f"for input {i} (shape {shape}). The forward of that {op} was called at:\n{trace}")
