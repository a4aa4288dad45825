"""Tensor: an array on "cpu" (NumPy) or "gpu" (CuPy) that records the ops made with it,
and the reverse-mode engine that walks them back (`Tensor.backward`)."""
from __future__ import annotations

import numbers
import weakref
from collections import namedtuple
from operator import attrgetter as _attrgetter

import numpy as np

from . import backend, function
from . import elementwise as E
from . import movement as M
from . import ops as O
from . import reductions as R
from .backend import DeviceError, DtypeError, device_of, xp_of

_new = object.__new__
_post_backward_hooks = []   # callables run after every successful backward() (tl.distributed registers here)

# PyTorch's torch.return_types: `values, indices = x.max(1)`
max_result = namedtuple("max", ["values", "indices"])
min_result = namedtuple("min", ["values", "indices"])


class Size(tuple):
    """PyTorch's torch.Size: a tuple of ints (x.size(), x.shape compare equal to plain tuples)."""
    __slots__ = ()

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self):
        return f"tl.Size({list(self)})"


def _scalar(x):
    """x as a Python number when it is a real scalar, else None. NumPy scalars become Python
    numbers so they stay weakly typed: float32 * np.float64(2) is float32, as in PyTorch."""
    if isinstance(x, np.generic):             # (np.float64 is also a float: test it first)
        return x.item() if x.dtype.kind in "biuf" else None
    if isinstance(x, (int, float)):
        return x
    return None


class Tensor:
    """An array on "cpu" (NumPy) or "gpu" (CuPy) that records the ops made with it.

        >>> import tinygrad_lite as tl
        >>> a = tl.Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        >>> y = (a.exp() * 2).log().sum(axis=1)       # log(2 e^a) = a + log 2, summed over rows
        >>> y.backward(tl.Tensor([1.0, -1.0]))
        >>> a.grad
        tensor([[ 1.,  1.],
                [-1., -1.]])
        >>> a.dtype, y.shape, a.device
        (dtype('float32'), (2,), 'cpu')
    """
    __slots__ = ("_data", "grad", "requires_grad", "_ctx", "__weakref__")
    __array_priority__ = 1000      # numpy scalars/arrays on the left defer to our operators

    def __init__(self, data, requires_grad=False, device=None, dtype=None):
        """A new tensor holding a copy of `data` (as torch.tensor); tl.from_numpy shares an array's memory."""
        self._init(data, requires_grad, device, dtype, copy=True)

    def _init(self, data, requires_grad=False, device=None, dtype=None, copy=False):
        if isinstance(data, Tensor):
            data = data._data
        if backend.is_array(data):
            arr = data
            if copy:
                arr = arr.copy(order="K") if isinstance(arr, np.ndarray) else arr.copy()
                copy = False
        elif isinstance(data, np.generic):
            arr = np.asarray(data)
        else:
            arr = np.asarray(data)
            if arr.dtype == np.float64 and dtype is None:
                arr = arr.astype(np.float32)      # Python floats and lists become float32
            elif arr.dtype == object:
                if _has_big_int(data):
                    raise OverflowError(f"Tensor: value {_has_big_int(data)} does not fit in int64")
                raise TypeError(f"Tensor: cannot make a tensor from {type(data).__name__} (ragged or non-numeric data)")
            elif dtype is not None and arr.dtype.kind in "iub" and arr.size:
                _check_int_range(arr, np.dtype(dtype))
        if arr.dtype.kind not in "biufc":             # strings, bytes, datetimes, objects: PyTorch refuses too
            raise TypeError(f"Tensor: invalid data type {arr.dtype.name!r} from {type(data).__name__} data: a "
                            "tensor holds numbers or bools")
        if device is not None:
            dev = backend.canonical_device(device)
            if device_of(arr) != dev:
                arr = backend.to_device(arr, dev)
        if dtype is not None:
            try:
                dt = np.dtype(dtype)
            except TypeError:
                raise TypeError(f"Tensor: dtype {dtype!r} is not a data type (e.g. tl.float32, 'float64')") from None
            if dt.kind not in "biufc":
                raise TypeError(f"Tensor: dtype {dt.name!r} is not a numeric or bool data type")
            arr = arr.astype(dt, copy=False)
        if requires_grad and arr.dtype.kind not in "fc":
            raise TypeError(f"Tensor: only floating-point tensors can require gradients, got dtype {arr.dtype}")
        self._data = arr
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None

    @staticmethod
    def _wrap(data, requires_grad=False, device=None, dtype=None):
        """A tensor holding `data` itself when it is an array (no copy): tl.from_numpy, factories, Parameter."""
        t = _new(Tensor)
        t._init(data, requires_grad, device, dtype)
        return t

    @staticmethod
    def _make(data, requires_grad, ctx):
        t = _new(Tensor)
        t._data = data
        t.grad = None
        t.requires_grad = requires_grad
        t._ctx = ctx
        return t

    def _set_data(self, value):
        if isinstance(value, Tensor):
            value = value._data
        elif not backend.is_array(value):
            raise TypeError(f"Tensor.data: assign an array or a Tensor, got {type(value).__name__}")
        self._data = value

    data = property(_attrgetter("_data"), _set_data, doc=(
        "The array (NumPy or CuPy) this tensor holds, outside the graph (PyTorch's .data). Assigning a Tensor "
        "stores its array; `w.data -= lr * w.grad` changes the array in place."))

    # -------------------------------------------------------------- attributes
    shape = property(lambda self: self._data.shape)
    ndim = property(lambda self: self._data.ndim)
    dtype = property(lambda self: self._data.dtype)
    device = property(lambda self: device_of(self._data))
    is_leaf = property(lambda self: self._ctx is None)
    grad_fn = property(lambda self: self._ctx)

    def numpy(self):
        return backend.to_numpy(self._data)

    def size(self, dim=None):
        """The shape as a tl.Size (PyTorch's x.size()), or the length of one dim: x.size(0)."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[O.axis_index(dim, self.ndim, "size")]

    def item(self):
        if self._data.size != 1:
            raise ValueError(f"item(): only a one-element tensor has an item, this one has shape {self.shape}")
        return self.data.item()

    def tolist(self):
        return self.numpy().tolist()

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        return bool(self.item())

    def __hash__(self):
        return id(self)

    def __format__(self, spec):
        """As PyTorch: a 0-d tensor formats as its number ("{:.4f}".format(loss), "{}".format(acc)); others as repr."""
        if self.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __repr__(self):
        body = np.array2string(self.numpy(), separator=", ", precision=4, threshold=50, prefix="tensor(")
        extra = ""
        if self.device != "cpu":
            extra += f", device='{self.device}'"
        if self.dtype != np.float32 and self.dtype.kind == "f":
            extra += f", dtype={self.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn=<{type(self._ctx).__name__}Backward>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def cpu(self):
        return self.to("cpu")

    def gpu(self):
        return self.to("gpu")

    cuda = gpu

    def detach(self):
        return Tensor._make(self._data, False, None)

    def __array__(self, dtype=None, copy=None):
        """np.asarray(x): the values as a host NumPy array (as PyTorch's CPU tensors)."""
        a = backend.to_numpy(self._data)
        return a if dtype is None else a.astype(dtype, copy=False)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """NumPy meeting a Tensor: `arr -= t` (a ufunc with out=) changes the array in place, as in PyTorch where
        `w.data -= lr * w.grad` stays an array; `arr + t` is t's own op (in the graph); other NumPy functions of
        a tensor give a tensor outside the graph (and refuse one that requires grad, as PyTorch's .numpy())."""
        out = kwargs.get("out")
        if method == "__call__" and out is None and len(inputs) == 2 and ufunc in _REFLECTED:
            a, b = inputs
            fwd, ref = _REFLECTED[ufunc]
            return getattr(a, fwd)(b) if isinstance(a, Tensor) else getattr(b, ref)(a)
        if out is None and any(isinstance(i, Tensor) and i.requires_grad for i in inputs):
            raise TypeError(f"numpy.{ufunc.__name__}: a tensor that requires grad can't enter NumPy; use the "
                            f"tensor's own method, or .detach() it first")
        arrays = [i._data if isinstance(i, Tensor) else i for i in inputs]
        if out is not None:
            kwargs["out"] = tuple(o._data if isinstance(o, Tensor) else o for o in out)
            if any(isinstance(o, Tensor) for o in out):
                raise TypeError(f"numpy.{ufunc.__name__}: out= a tensor; use the tensor's in-place methods")
            return getattr(ufunc, method)(*arrays, **kwargs)
        res = getattr(ufunc, method)(*arrays, **kwargs)
        return Tensor._make(np.asarray(res) if isinstance(res, np.generic) else res, False, None) \
            if backend.is_array(res) or isinstance(res, np.generic) else res

    def clone(self):
        """A copy in new memory that stays in the graph (its gradient flows back to self)."""
        return O.Clone.apply(self)

    # -------------------------------------------------------------- in place (PyTorch's autograd rules)
    def _inplace(self, name, other, ufunc, method):
        """self <- self `op` other in the same memory. With grad mode on and a gradient involved, a leaf that
        requires grad raises (PyTorch's rule) and a non-leaf records the op; otherwise the array changes in place.
        Either way the memory's version is stamped, so a backward that needs the old values raises."""
        if function._get_grad_enabled() and (self.requires_grad or (isinstance(other, Tensor) and other.requires_grad)):
            return self._inplace_recorded(name, lambda t: getattr(t, method)(other))
        o = other
        if isinstance(other, Tensor):
            o = other._data
            if type(o) is not type(self._data):
                _check_same_device(name, self, other)
        elif not backend.is_array(other) and _scalar(other) is None:
            o = np.asarray(other)
        try:
            ufunc(self._data, o, out=self._data, casting="same_kind")
        except TypeError:
            rt = np.result_type(self._data, o if backend.is_array(o) else np.asarray(o))
            raise RuntimeError(f"{name}: result type {rt} can't be cast to the desired output type "
                               f"{self.dtype}") from None
        except ValueError:
            oshape = tuple(getattr(o, "shape", ()))
            raise RuntimeError(f"{name}: output with shape {self.shape} doesn't match the broadcast shape "
                               f"{np.broadcast_shapes(self.shape, oshape) if _broadcastable(self.shape, oshape) else oshape}"
                               ) from None
        function.bump_version(self._data, name)
        return self

    def _inplace_recorded(self, name, op):
        """An in-place op while the graph is recorded: self's memory gets the result and self takes its node."""
        if self._ctx is None and self.requires_grad:
            raise RuntimeError(f"{name}: a leaf Variable that requires grad is being used in an in-place operation "
                               f"(shape {self.shape}); update parameters inside `with tl.no_grad():` as optimizers do")
        if _view_of_leaf(self):
            raise RuntimeError(f"{name}: a view of a leaf Variable that requires grad is being used in an in-place "
                               f"operation (shape {self.shape}); change the leaf inside `with tl.no_grad():`, or "
                               f".clone() the view first")
        prev = self._ctx
        old = Tensor._make(self._data.copy(), self.requires_grad, prev)    # self's value before, for the new node
        if prev is not None and not (prev.needs_output or prev.saves_output):
            prev._out_data = old._data            # prev's output is now `old`; a prev that saved it will raise
        new = op(old)
        if new.shape != self.shape:
            raise RuntimeError(f"{name}: output with shape {self.shape} doesn't match the broadcast shape {new.shape}")
        if new.dtype != self.dtype:
            if not np.can_cast(new.dtype, self.dtype, "same_kind"):
                raise RuntimeError(f"{name}: result type {new.dtype} can't be cast to the desired output type "
                                   f"{self.dtype}")
            new = new.astype(self.dtype)
        self._data[...] = new._data
        function.bump_version(self._data, name, recorded=True)
        ctx = new._ctx
        if ctx is not None:
            ctx._epoch, ctx._out_data = function._clock, self._data
            if ctx.needs_output:
                ctx._out = weakref.ref(self)
        self._ctx, self.requires_grad = ctx, new.requires_grad
        return self

    def __iadd__(self, other): return self._inplace("add_", other, np.add, "__add__")
    def __isub__(self, other): return self._inplace("sub_", other, np.subtract, "__sub__")
    def __imul__(self, other): return self._inplace("mul_", other, np.multiply, "__mul__")
    def __itruediv__(self, other): return self._inplace("div_", other, np.true_divide, "__truediv__")

    def add_(self, other, alpha=1):
        return self._inplace("add_", other if alpha == 1 else other * alpha, np.add, "__add__")

    def sub_(self, other, alpha=1):
        return self._inplace("sub_", other if alpha == 1 else other * alpha, np.subtract, "__sub__")

    def __ipow__(self, other): return self._inplace("pow_", other, np.power, "__pow__")
    def pow_(self, other): return self._inplace("pow_", other, np.power, "__pow__")
    def mul_(self, other): return self._inplace("mul_", other, np.multiply, "__mul__")
    def div_(self, other): return self._inplace("div_", other, np.true_divide, "__truediv__")

    def copy_(self, src):
        """Copy src's values into self (broadcast, cast to self's dtype), in place; the gradient flows to src."""
        if function._get_grad_enabled() and (self.requires_grad or (isinstance(src, Tensor) and src.requires_grad)):
            return self._inplace_recorded("copy_", lambda t: _copy_into(t, src))
        o = src._data if isinstance(src, Tensor) else src
        if device_of(o) != self.device:
            o = backend.to_device(o, self.device)
        try:
            self._data[...] = o
        except ValueError:
            raise RuntimeError(f"copy_: a source of shape {tuple(np.shape(o))} doesn't broadcast to {self.shape}") from None
        function.bump_version(self._data, "copy_")
        return self

    def fill_(self, value):
        """Set every element to `value` in place (PyTorch's rules: not on a leaf that requires grad while the
        graph is recorded; do it inside `with tl.no_grad():`)."""
        if function._get_grad_enabled() and self.requires_grad:
            return self._inplace_recorded("fill_", lambda t: _copy_into(t, value))
        self._data[...] = value
        function.bump_version(self._data, "fill_")
        return self

    def zero_(self):
        if function._get_grad_enabled() and self.requires_grad:
            return self._inplace_recorded("zero_", lambda t: _copy_into(t, 0))
        self._data[...] = 0
        function.bump_version(self._data, "zero_")
        return self

    def clamp_(self, min=None, max=None):
        if function._get_grad_enabled() and self.requires_grad:
            return self._inplace_recorded("clamp_", lambda t: t.clip(min, max))
        if min is None and max is None:
            raise ValueError("clamp_: give min, max or both")
        if self._data.dtype.kind == "f":          # PyTorch's clamp: x itself at a bound (-0.0 kept), as clamp()
            O._clamp(self._data, min, max, out=self._data)
        else:
            xp_of(self._data).clip(self._data, min, max, out=self._data)
        function.bump_version(self._data, "clamp_")
        return self

    clip_ = clamp_

    def __setitem__(self, index, value):
        """x[index] = value, in place (PyTorch's rules as for the other in-place ops); recorded on a non-leaf."""
        index = _index(index, self)
        if function._get_grad_enabled() and (self.requires_grad or (isinstance(value, Tensor) and value.requires_grad)):
            if index.__class__ is tuple and _mixed(index):
                raise NotImplementedError("setitem: an index mixing ints and index arrays on a tensor in the graph; "
                                          "index with the ints first: x[1][:, idx] = v")
            return self._inplace_recorded("setitem", lambda t: O.SetItem.apply(
                t, _as_tensor_like(value, t).astype(t.dtype), index=index))
        v = value._data if isinstance(value, Tensor) else value
        if backend.is_array(v) and device_of(v) != self.device:
            v = backend.to_device(v, self.device)
        if index.__class__ is tuple and _mixed(index):    # the ints select first (a view), as in PyTorch
            first, second = _split_index(index)
            self._data[first][second] = v
        else:
            self._data[index] = v
        function.bump_version(self._data, "setitem")

    def numel(self):
        return self._data.size

    def dim(self):
        return self.ndim

    def contiguous(self, memory_format=None):
        """PyTorch's contiguous: self when its memory is C-ordered, else a C-ordered copy that stays in the graph
        (conv2d's outputs, stored spatial-major, and transposes are not), so .numpy() of it is C-contiguous."""
        if memory_format is not None:
            raise NotImplementedError(f"contiguous: memory_format={memory_format!r} is not supported (C order only)")
        if self._data.flags.c_contiguous:
            return self
        return O.Clone.apply(self)

    def requires_grad_(self, flag=True):
        if flag and self.dtype.kind not in "fc":
            raise TypeError(f"only floating-point tensors can require gradients, got dtype {self.dtype}")
        self.requires_grad = bool(flag)
        return self

    def retain_grad(self):
        """Keep .grad on this non-leaf tensor after backward, as PyTorch's retain_grad()."""
        if self._ctx is not None:
            self._ctx.retained = self
        return self

    def astype(self, dtype):
        dtype = np.dtype(dtype)
        if dtype == self.dtype:
            return self
        if dtype.kind not in "fc":                # integer and bool results carry no gradient (PyTorch's rule)
            return Tensor._make(self._data.astype(dtype), False, None)
        return O.Cast.apply(self, dtype=dtype)

    def to(self, *args, dtype=None, device=None, **kwargs):
        """PyTorch's x.to(device), x.to(dtype), x.to(device, dtype) (and keyword forms)."""
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif _is_dtype(a):
                dtype = a
            else:
                device = a
        out = self
        if device is not None:
            dev = backend.canonical_device(device)
            if dev != out.device:
                out = O.ToDevice.apply(out, device=dev)
        if dtype is not None:
            out = out.astype(dtype)
        return out

    def type(self, dtype=None):
        """x.type(tl.float32) casts; x.type() names the type, as PyTorch ('tinygrad_lite.FloatTensor')."""
        if dtype is None:
            name = _TYPE_NAMES.get(self.dtype.name, self.dtype.name)
            return f"tinygrad_lite.{'cuda.' if self.device == 'gpu' else ''}{name}"
        return self.astype(dtype)

    def float(self):
        return self.astype(np.float32)

    def double(self):
        return self.astype(np.float64)

    def half(self):
        return self.astype(np.float16)

    def long(self):
        return self.astype(np.int64)

    def int(self):
        return self.astype(np.int32)

    def bool(self):
        return self.astype(np.bool_)

    def is_floating_point(self):
        return self.dtype.kind == "f"

    # -------------------------------------------------------------- the engine
    def backward(self, gradient=None, retain_graph=False, create_graph=False):
        """Accumulate d(self)/d(leaf) into every leaf's .grad that requires it.

        `gradient` is the upstream gradient (required unless self has one element).
        The graph is released afterwards unless retain_graph=True; create_graph=True
        records the backward pass so the gradients can be differentiated again.
        """
        if not self.requires_grad:
            raise RuntimeError("backward(): this tensor does not require grad and has no graph; "
                               "did you create the inputs with requires_grad=True, or compute it under no_grad()?")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward(): a gradient is implicit only for a one-element output; this one has "
                                   f"shape {self.shape}: call backward(gradient) or reduce it first (e.g. .sum())")
            gradient = Tensor._make(backend.ones(self.shape, self.dtype, self.data), False, None)
        else:
            gradient = gradient if isinstance(gradient, Tensor) else Tensor(gradient, device=self.device)
            if gradient.shape != self.shape:
                raise ValueError(f"backward(): gradient shape {gradient.shape} does not match output shape {self.shape}")
            if gradient.device != self.device:
                raise DeviceError(f"backward(): gradient is on {gradient.device}, output on {self.device}")
        retain_graph = retain_graph or create_graph
        token = function._grad_enabled.set(create_graph)   # grad mode for the backward pass itself
        try:
            if self._ctx is None:        # a leaf: d(self)/d(self) (a copy: .grad never shares the caller's array)
                _accumulate(self, gradient if gradient._ctx is not None else
                            Tensor._make(gradient._data.copy(), False, None))
            else:
                _run_backward(self, gradient, retain_graph)
        finally:
            function._grad_enabled.reset(token)
        for hook in _post_backward_hooks:    # e.g. tl.distributed's gradient all-reduce; empty otherwise
            hook()

    # -------------------------------------------------------------- operators
    def _binary(self, other, op, scalar_op, name, true_div=False):
        if isinstance(other, Tensor):
            a, b = self, other
            if type(b._data) is not type(a._data):
                _check_same_device(name, a, b)
            if a._data.dtype != b._data.dtype or (true_div and a._data.dtype.kind not in "fc"):
                a, b = _promoted(a, b, true_div)
            return op.apply(a, b)
        c = _scalar(other)
        if c is not None:
            return scalar_op.apply(self._with_scalar(c, true_div), c=c)
        return self._binary(self._lift(other, name), op, scalar_op, name, true_div)

    def _with_scalar(self, c, floating=False):
        """Self as the tensor operand beside the Python scalar c, PyTorch's promotion: an int or bool tensor
        meeting a float (or true division) computes in float32, never NumPy's float64."""
        if (floating or isinstance(c, float)) and self._data.dtype.kind not in "fc":
            return self.astype(np.float32)
        return self

    def _lift(self, other, op="a tensor op"):
        """A constant Tensor for an array or scalar met in an op, on self's device and dtype."""
        if isinstance(other, Tensor):
            return other
        c = _scalar(other)
        arr = other if backend.is_array(other) else np.asarray(
            other if c is None else c, dtype=None if c is None else backend.result_dtype(self._data, c))
        if isinstance(other, (list, tuple)):           # PyTorch: unsupported operand type(s) ... 'list'
            raise TypeError(f"{op}: unsupported operand type {type(other).__name__!r} beside a Tensor "
                            f"(make it a tensor first: tl.tensor(...))")
        if arr.dtype.kind not in "biufc":             # 'a', None, objects: PyTorch's TypeError
            raise TypeError(f"{op}: unsupported operand type {type(other).__name__!r} beside a Tensor "
                            f"(expected a Tensor, a number or a numeric array)")
        if arr.dtype == np.float64 and not backend.is_array(other) and self.dtype != np.float64:
            arr = arr.astype(self.dtype if self.dtype.kind == "f" else np.float32)
        if device_of(arr) != self.device:
            arr = backend.to_device(arr, self.device)
        return Tensor._make(arr, False, None)

    def __add__(self, other):
        return self._binary(other, O.Add, O.AddScalar, "add")

    __radd__ = __add__

    def _no_bool_sub(self, other):
        if self._data.dtype.kind == "b" or isinstance(other, (bool, np.bool_)) or \
                getattr(getattr(other, "dtype", None), "kind", None) == "b":
            raise DtypeError("sub: subtraction, the `-` operator, with a bool tensor is not supported (as in "
                             "PyTorch); to invert a mask use ~ or logical_not()")

    def __sub__(self, other):
        self._no_bool_sub(other)
        c = _scalar(other)
        if c is not None:
            return O.AddScalar.apply(self._with_scalar(c), c=-c)
        return self._binary(other, O.Sub, None, "sub")

    def __rsub__(self, other):
        self._no_bool_sub(other)
        c = _scalar(other)
        if c is not None:
            return O.RSubScalar.apply(self._with_scalar(c), c=c)
        return self._lift(other) - self

    def __mul__(self, other):
        return self._binary(other, O.Mul, O.MulScalar, "mul")

    __rmul__ = __mul__

    def __truediv__(self, other):
        return self._binary(other, O.Div, O.DivScalar, "div", true_div=True)

    def __rtruediv__(self, other):
        c = _scalar(other)
        if c is not None:
            return O.RDivScalar.apply(self._with_scalar(c, True), c=c)
        return self._lift(other) / self

    def __pow__(self, other):
        if self._data.dtype.kind == "b" and getattr(getattr(other, "dtype", None), "kind", None) == "b":
            raise DtypeError("pow: not implemented for a bool tensor to a bool tensor's power (as in PyTorch)")
        if self._data.dtype.kind == "b" and isinstance(other, (bool, np.bool_)):   # bool ** bool scalar: bool
            return Tensor._make(self._data | (not other), False, None)
        if self._data.dtype.kind == "b" and isinstance(other, (int, np.integer)):     # bool ** int: int64
            return self.astype(np.int64)._binary(other, O.Pow, O.PowScalar, "pow")
        return self._binary(other, O.Pow, O.PowScalar, "pow")

    def __rpow__(self, other):
        c = _scalar(other)
        if c is not None:
            return O.RPowScalar.apply(self._with_scalar(c), c=c)
        return self._lift(other) ** self

    def __neg__(self):
        return O.Neg.apply(self)

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(self._lift(other), self)

    def matmul(self, other):
        return matmul(self, other)

    # comparisons: no gradient
    def _compare(self, other, fn):
        o = other.data if isinstance(other, Tensor) else other
        return Tensor._make(fn(self.data, o), False, None)

    def __lt__(self, other): return self._compare(other, lambda a, b: a < b)
    def __le__(self, other): return self._compare(other, lambda a, b: a <= b)
    def __gt__(self, other): return self._compare(other, lambda a, b: a > b)
    def __ge__(self, other): return self._compare(other, lambda a, b: a >= b)
    def __eq__(self, other): return self._compare(other, lambda a, b: a == b)
    def __ne__(self, other): return self._compare(other, lambda a, b: a != b)
    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    def all(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        ax = self._axis(axis, dim, "all")
        kd = _kd(keepdim, keepdims)
        return Tensor._make(xp_of(self._data).asarray(self._data.all(axis=ax, keepdims=kd)), False, None)

    def any(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        ax = self._axis(axis, dim, "any")
        kd = _kd(keepdim, keepdims)
        return Tensor._make(xp_of(self._data).asarray(self._data.any(axis=ax, keepdims=kd)), False, None)

    def _arg(self, axis, dim, keepdims, op):
        d = dim if dim is not None else axis
        if d is not None and not isinstance(d, numbers.Integral):
            raise TypeError(f"{op}: dim must be an int, got {d!r}")
        ax = self._axis(d, None, op)
        a = self._data
        if ax is not None:
            if a.shape[ax[0]] == 0:
                raise IndexError(f"{op}: expected reduction dim {ax[0]} to have non-zero size (shape {self.shape})")
            ax = ax[0]
        elif a.size == 0:
            raise RuntimeError(f"{op}: the tensor is empty (shape {self.shape}); give a dim of non-zero size")
        r = a.argmax(axis=ax, keepdims=keepdims and ax is not None) if op[3:] == "max" else \
            a.argmin(axis=ax, keepdims=keepdims and ax is not None)
        return Tensor._make(xp_of(a).asarray(r).astype(np.int64, copy=False), False, None)

    def argmax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return self._not_bool_arg("argmax")._arg(axis, dim, _kd(keepdim, keepdims), "argmax")

    def argmin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return self._not_bool_arg("argmin")._arg(axis, dim, _kd(keepdim, keepdims), "argmin")

    def _not_bool_arg(self, op):
        if self._data.dtype.kind == "b":
            raise DtypeError(f"{op}(): does not support bool input (as in PyTorch); convert first, e.g. x.int()")
        return self

    # -------------------------------------------------------------- elementwise
    def _float(self):
        """Self, or self cast to float32 when integer/bool: float ops on int tensors give float32 (PyTorch)."""
        return self if self._data.dtype.kind in "fc" else self.astype(np.float32)

    def exp(self): return O.Exp.apply(self._float())
    def log(self): return O.Log.apply(self._float())
    def sqrt(self): return O.Sqrt.apply(self._float())
    def abs(self): return O.Abs.apply(self._not_bool("abs"))
    def tanh(self): return O.Tanh.apply(self._float())
    def sigmoid(self): return O.Sigmoid.apply(self._float())
    def relu(self): return O.ReLU.apply(self._not_bool("relu"))

    def _not_bool(self, op):
        if self._data.dtype.kind == "b":                  # PyTorch: "abs_cpu" not implemented for 'Bool'
            raise DtypeError(f"{op}: not implemented for bool tensors (as in PyTorch); convert first, e.g. x.int()")
        return self
    def log1p(self): return O.Log1p.apply(self._float())

    __abs__ = abs

    def clip(self, min=None, max=None):
        if min is None and max is None:
            raise ValueError("clip: give min, max or both")
        t = self
        for name, v in (("min", min), ("max", max)):
            if v is not None and _scalar(v) is None:
                raise TypeError(f"clip: {name} must be a number, got {type(v).__name__}")
        if isinstance(min, float) or isinstance(max, float):
            t = self._float()
        elif t._data.dtype.kind == "b" and not all(v is None or isinstance(v, bool) for v in (min, max)):
            t = self.astype(np.int64)                       # bool meets int bounds: int64, as PyTorch
        return O.Clip.apply(t, lo=min, hi=max)

    clamp = clip

    # -------------------------------------------------------------- reductions
    def _axis(self, axis, dim, op):
        return O._norm_axis(dim if dim is not None else axis, self.ndim, op)

    def sum(self, dim=None, keepdim=False, *, axis=None, keepdims=None, dtype=None):
        x = self if dtype is None else self.astype(dtype)     # dtype=: cast first, as in PyTorch
        return O.Sum.apply(x, axis=self._axis(axis, dim, "sum"), keepdims=_kd(keepdim, keepdims))

    def _count(self, ax):
        return self._data.size if ax is None else int(np.prod([self.shape[i] for i in ax]))

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """The mean over dims (all by default); an empty one gives nan, as PyTorch. Float tensors only."""
        if self._data.dtype.kind not in "fc":
            raise DtypeError(f"mean(): could not infer the output dtype: the input must be a floating-point "
                             f"tensor, got {self.dtype}; cast it first (x.float().mean())")
        ax = self._axis(axis, dim, "mean")
        n = self._count(ax)
        if self._data.dtype == np.float16:                # accumulate in float32, as PyTorch's half reductions
            return self.float().mean(axis=ax, keepdims=_kd(keepdim, keepdims)).astype(np.float16)
        return O.Sum.apply(self, axis=ax, keepdims=_kd(keepdim, keepdims)) * (1.0 / n if n else float("nan"))

    def _extreme(self, dim, keepdim, axis, keepdims, sign, op):
        if isinstance(dim, Tensor):                       # x.max(other): PyTorch's elementwise form
            return maximum(self, dim) if sign > 0 else minimum(self, dim)
        d = dim if dim is not None else axis
        if d is None:
            if self._data.size == 0:
                raise RuntimeError(f"{op}(): the tensor is empty (shape {self.shape}); give a dim of non-zero size")
            return O.Max.apply(self, axis=None, keepdims=False, sign=sign, nan_aware=True)
        if not isinstance(d, numbers.Integral):
            raise TypeError(f"{op}: dim must be an int, got {d!r}; amax/amin reduce over several dims")
        kd = _kd(keepdim, keepdims)
        ax = self._axis(d, None, op)
        if ax is not None and self.shape[ax[0]] == 0:
            raise IndexError(f"{op}(): expected reduction dim {ax[0]} to have non-zero size (shape {self.shape})")
        values = O.Max.apply(self, axis=ax, keepdims=kd, sign=sign, first=True)   # torch.max(dim): the
        indices = self._arg(d, None, kd, "argmax" if sign > 0 else "argmin")     # gradient goes to `indices`
        return (max_result if sign > 0 else min_result)(values, indices)

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """The largest value (a 0-d tensor); with a dim, PyTorch's named tuple (values, indices):
        `values, indices = x.max(1)`; with a tensor, the elementwise maximum."""
        return self._extreme(dim, keepdim, axis, keepdims, 1, "max")

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """The smallest value; with a dim, (values, indices); with a tensor, the elementwise minimum."""
        return self._extreme(dim, keepdim, axis, keepdims, -1, "min")

    def amax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """The largest values over one or several dims (no indices; tied maxima share the gradient)."""
        return O.Max.apply(self, axis=self._axis(axis, dim, "amax"), keepdims=_kd(keepdim, keepdims), sign=1)

    def amin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return O.Max.apply(self, axis=self._axis(axis, dim, "amin"), keepdims=_kd(keepdim, keepdims), sign=-1)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None, ddof=None):
        """The variance over dims, divided by n - correction (PyTorch's default correction=1, unbiased; pass
        correction=0, unbiased=False or ddof=0 for the population variance). n - correction <= 0 gives
        inf (nan for a zero sum), as PyTorch."""
        if self._data.dtype.kind not in "fc":
            raise DtypeError(f"var(): the input must be a floating-point tensor, got {self.dtype}")
        c = 1
        for v in (ddof, correction):
            if v is not None:
                c = v
        if unbiased is not None:
            c = 1 if unbiased else 0
        ax = self._axis(axis, dim, "var")
        if self._data.dtype == np.float16:                # accumulate in float32, as PyTorch's half reductions
            return self.float().var(axis=ax, correction=c, keepdims=_kd(keepdim, keepdims)).astype(np.float16)
        return R.Var.apply(self, axis=ax, keepdims=_kd(keepdim, keepdims), n=self._count(ax), correction=c)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None, ddof=None):
        """sqrt(var); where the variance is 0 the gradient is 0, as PyTorch's (not sqrt's 0/0 = nan)."""
        if self._data.dtype.kind not in "fc":
            raise DtypeError(f"std(): the input must be a floating-point tensor, got {self.dtype}")
        v = self.var(dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims, ddof=ddof)
        if not (self.requires_grad and function._get_grad_enabled()):
            return v.sqrt()
        zero = v == 0
        return where(zero, 0.0, where(zero, 1.0, v).sqrt())

    def _softmax(self, fn, axis, dim, op):
        a = axis if axis is not None else dim
        if self._data.dtype.kind not in "fc":             # PyTorch: not implemented for 'Long' / 'Bool'
            raise DtypeError(f"{op}: not implemented for {self.dtype} tensors (as in PyTorch); convert first: "
                             f"x.float().{op}(...)")
        t = self
        if self.ndim == 0:                                 # dim 0 or -1: the one element, as PyTorch
            O._norm_axis(a, 0, op)
            return fn.apply(t.reshape(1), axis=0).reshape(())
        return fn.apply(t, axis=O.axis_index(a, self.ndim, op))

    def softmax(self, dim=-1, *, axis=None):
        return self._softmax(O.Softmax, axis, dim, "softmax")

    def log_softmax(self, dim=-1, *, axis=None):
        return self._softmax(O.LogSoftmax, axis, dim, "log_softmax")

    def logsumexp(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return O.LogSumExp.apply(self._float(), axis=self._axis(axis, dim, "logsumexp"), keepdims=_kd(keepdim, keepdims))

    # -------------------------------------------------------------- shapes
    def reshape(self, *shape):
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        for i, d in enumerate(shape):
            if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
                raise TypeError(f"reshape: the shape must be ints, got {type(d).__name__} {d!r} at position {i}")
        if sum(1 for d in shape if d == -1) > 1 or any(d < -1 for d in shape):
            raise ValueError(f"reshape: invalid shape {shape} (one -1 at most, other sizes >= 0)")
        if shape == self.shape:
            return self
        return O.Reshape.apply(self, shape=shape)

    def view(self, *shape):
        """PyTorch's view: a reshape (NumPy copies only where a view is impossible; no error then)."""
        if len(shape) == 1 and _is_dtype(shape[0]):
            raise TypeError("view(dtype): reinterpreting the bytes is not supported; use .type(dtype) to cast")
        return self.reshape(*shape)

    def view_as(self, other):
        return self.reshape(other.shape)

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def transpose(self, dim0, dim1):
        """PyTorch's transpose: swap two dims (a permutation of all of them is permute)."""
        return self._swap(dim0, dim1, "transpose")

    def swapaxes(self, axis0, axis1):
        return self._swap(axis0, axis1, "swapaxes")

    swapdims = swapaxes

    def _swap(self, dim0, dim1, op):
        if self.ndim == 0:
            O._norm_axis((dim0, dim1), 0, op)
            return self
        a, b = O.axis_index(dim0, self.ndim, op), O.axis_index(dim1, self.ndim, op)
        if a == b:
            return self
        perm = list(range(self.ndim))
        perm[a], perm[b] = perm[b], perm[a]
        return O.Transpose.apply(self, axes=tuple(perm))

    def t(self):
        """The transpose of a 2-D tensor (0-D and 1-D are returned as they are), as PyTorch."""
        if self.ndim > 2:
            raise ValueError(f"t(): expects a tensor with <= 2 dimensions, got shape {self.shape}; "
                             "use transpose(dim0, dim1) or permute")
        return self if self.ndim < 2 else O.Transpose.apply(self, axes=(1, 0))

    def permute(self, *dims):
        dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        return O.Transpose.apply(self, axes=self._permutation(dims, "permute"))

    def _permutation(self, axes, op):
        """`axes` (negative ones counted from the end) as a permutation of range(ndim), or a ValueError."""
        n = self.ndim
        if len(axes) != n or sorted(a % n if -n <= a < n else a for a in axes) != list(range(n)):
            raise ValueError(f"{op}: axes {tuple(axes)} are not a permutation of the {n} axes of shape {self.shape}")
        return tuple(a % n for a in axes)

    def pow(self, exponent):
        return self ** exponent

    def maximum(self, other):
        return maximum(self, other)

    def minimum(self, other):
        return minimum(self, other)

    @property
    def T(self):
        """All dims reversed (the transpose of a matrix)."""
        return self if self.ndim < 2 else O.Transpose.apply(self, axes=tuple(range(self.ndim))[::-1])

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        s, e = O.axis_index(start_dim, self.ndim, "flatten"), O.axis_index(end_dim, self.ndim, "flatten")
        if s > e:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {self.shape}")
        shape = self.shape[:s] + (int(np.prod(self.shape[s:e + 1])),) + self.shape[e + 1:]
        return self.reshape(shape)

    def unsqueeze(self, dim=None, *, axis=None):
        axis = dim if dim is not None else axis
        axis = O.axis_index(axis, self.ndim, "unsqueeze", new=1)
        return self.reshape(self.shape[:axis] + (1,) + self.shape[axis:])

    def squeeze(self, dim=None, *, axis=None):
        axis = dim if dim is not None else axis
        if self.ndim == 0:
            if axis is not None:
                O._norm_axis(axis, 0, "squeeze")          # 0 or -1, else an IndexError as PyTorch
            return self
        if axis is None:
            return self.reshape(tuple(s for s in self.shape if s != 1))
        axis = O.axis_index(axis, self.ndim, "squeeze")
        if self.shape[axis] != 1:
            return self
        return self.reshape(self.shape[:axis] + self.shape[axis + 1:])

    def expand(self, *shape):
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        if -1 in shape:                       # PyTorch: -1 keeps that dim's size
            lead = len(shape) - self.ndim
            shape = tuple(self.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(shape))
        if shape == self.shape:
            return self
        return O.Expand.apply(self, shape=shape)

    broadcast_to = expand

    def __getitem__(self, index):
        index = _index(index, self)
        if index.__class__ is tuple and _mixed(index):    # PyTorch: the ints select first, then the arrays index
            first, second = _split_index(index)
            return self[first][second]
        try:
            return O.GetItem.apply(self, index=index)
        except IndexError as e:               # NumPy's words, with the op and the shape
            raise IndexError(f"getitem: {e} (tensor of shape {self.shape})") from None

    # ---- PyTorch-parity ops (elementwise.py, movement.py)
    def sin(self): return E.Sin.apply(self._float())
    def cos(self): return E.Cos.apply(self._float())
    def tan(self): return E.Tan.apply(self._float())
    def rsqrt(self): return E.Rsqrt.apply(self._float())
    def expm1(self): return E.Expm1.apply(self._float())
    def exp2(self): return E.Exp2.apply(self._float())
    def log2(self): return E.Log2.apply(self._float())
    def log10(self): return E.Log10.apply(self._float())
    def erf(self): return E.Erf.apply(self._float())
    def sign(self): return E.Sign.apply(self)
    def floor(self): return E.Floor.apply(self)
    def ceil(self): return E.Ceil.apply(self)
    def trunc(self): return E.Trunc.apply(self)
    def round(self, decimals=0): return E.Round.apply(self, decimals=int(decimals))

    def logaddexp(self, other):
        other = self._lift(other)
        _check_same_device("logaddexp", self, other)
        return E.LogAddExp.apply(self._float(), other._float())

    def lerp(self, end, weight):
        """self + weight * (end - self), as torch.lerp computes it (elementwise.Lerp); weight a number or a Tensor
        (broadcasting)."""
        a, b = _operands(self, end, "lerp")
        if isinstance(weight, Tensor):
            a, w = _operands(a, weight, "lerp")
            if b._data.dtype != a._data.dtype:
                b = b.astype(a.dtype)
            return E.Lerp.apply(a._float(), b._float(), w._float())
        if _scalar(weight) is None:
            raise TypeError(f"lerp: weight must be a number or a Tensor, got {type(weight).__name__}")
        return E.Lerp.apply(a._float(), b._float(), weight=float(weight))

    def prod(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
        return R.prod(self, dim, keepdim, dtype=dtype, axis=axis, keepdims=keepdims)

    def cumsum(self, dim, *, dtype=None):
        return R.cumsum(self, dim, dtype=dtype)

    def _predicate(self, fn):
        return Tensor._make(xp_of(self.data).asarray(fn(xp_of(self.data), self.data)), False, None)

    def isnan(self): return self._predicate(lambda xp, a: xp.isnan(a))
    def isinf(self): return self._predicate(lambda xp, a: xp.isinf(a))
    def isfinite(self): return self._predicate(lambda xp, a: xp.isfinite(a))
    def logical_not(self): return self._predicate(lambda xp, a: xp.logical_not(a))
    def logical_and(self, other): return self._predicate(lambda xp, a: xp.logical_and(a, self._lift(other).data))
    def logical_or(self, other): return self._predicate(lambda xp, a: xp.logical_or(a, self._lift(other).data))
    def logical_xor(self, other): return self._predicate(lambda xp, a: xp.logical_xor(a, self._lift(other).data))

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        """|self - other| <= atol + rtol * |other| elementwise (a bool tensor), as torch.isclose."""
        o = self._lift(other).data
        return self._predicate(lambda xp, a: xp.isclose(a, o, rtol=rtol, atol=atol, equal_nan=equal_nan))

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        """True when isclose holds everywhere (a Python bool, as torch.allclose)."""
        return bool(self.isclose(other, rtol, atol, equal_nan).data.all())

    def flip(self, *dims): return M.flip(self, *dims)
    def repeat(self, *sizes): return M.repeat(self, *sizes)
    def gather(self, dim, index): return M.gather(self, dim, index)
    def masked_fill(self, mask, value): return M.masked_fill(self, mask, value)
    def split(self, split_size, dim=0): return M.split(self, split_size, dim)
    def chunk(self, chunks, dim=0): return M.chunk(self, chunks, dim)
    def unflatten(self, dim, sizes): return M.unflatten(self, dim, sizes)
    def sum_to_size(self, *size): return M.sum_to_size(self, *size)


# ------------------------------------------------------------------ PyTorch's type promotion
def _category(dt):
    return 0 if dt.kind == "b" else 1 if dt.kind in "iu" else 2 if dt.kind == "f" else 3


def result_type(a, b):
    """The dtype of a binary op on arrays a, b by PyTorch's rules (not NumPy's): the higher category
    (bool < int < float < complex) wins with its own dtype (int64 + float32 is float32), and a 0-d operand
    counts only when its category is higher than the dimensioned one's (float32 + a 0-d float64 is float32)."""
    da, db = a.dtype, b.dtype
    if da == db:
        return da
    ca, cb = _category(da), _category(db)
    if (a.ndim == 0) != (b.ndim == 0):
        z, d = (a, b) if a.ndim == 0 else (b, a)
        if _category(z.dtype) <= _category(d.dtype):
            return d.dtype
        return z.dtype
    if ca != cb:
        return da if ca > cb else db
    return np.promote_types(da, db)


def _promoted(a, b, true_div=False):
    dt = result_type(a._data, b._data)
    if true_div and dt.kind not in "fc":
        dt = np.dtype(np.float32)
    return (a if a.dtype == dt else a.astype(dt)), (b if b.dtype == dt else b.astype(dt))


# ------------------------------------------------------------------ helpers of the constructor and in-place ops
def _kd(keepdim, keepdims):
    """PyTorch's keepdim= or NumPy's keepdims=."""
    return bool(keepdim) if keepdims is None else bool(keepdims)


def _is_dtype(x):
    if isinstance(x, (np.dtype, type)) and not isinstance(x, Tensor):
        try:
            np.dtype(x)
            return True
        except TypeError:
            return False
    return False


_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor", "int64": "LongTensor",
               "int32": "IntTensor", "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor",
               "bool": "BoolTensor"}
_REFLECTED = {np.add: ("__add__", "__radd__"), np.subtract: ("__sub__", "__rsub__"),
              np.multiply: ("__mul__", "__rmul__"), np.true_divide: ("__truediv__", "__rtruediv__"),
              np.power: ("__pow__", "__rpow__"), np.matmul: ("__matmul__", "__rmatmul__"),
              np.less: ("__lt__", "__gt__"), np.less_equal: ("__le__", "__ge__"), np.greater: ("__gt__", "__lt__"),
              np.greater_equal: ("__ge__", "__le__"), np.equal: ("__eq__", "__eq__"),
              np.not_equal: ("__ne__", "__ne__")}


def _has_big_int(data):
    """The first Python int in (nested lists of) data that int64 can't hold, else None."""
    if isinstance(data, bool):
        return None
    if isinstance(data, int):
        return data if not -2**63 <= data < 2**63 else None
    if isinstance(data, (list, tuple)):
        for d in data:
            b = _has_big_int(d)
            if b is not None:
                return b
    return None


def _check_int_range(arr, dtype):
    """PyTorch raises where a Python int does not fit the requested integer dtype (NumPy's astype wraps it)."""
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = int(arr.min()), int(arr.max())
        if lo < info.min or hi > info.max:
            bad = lo if lo < info.min else hi
            raise RuntimeError(f"Tensor: value {bad} cannot be converted to type {dtype} without overflow")


def _broadcastable(a, b):
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


def _view_of_leaf(t):
    """True when t's memory is, through view ops (reshape, transpose, basic indexing), a leaf's that requires grad."""
    base, ctx = function._base(t._data), t._ctx
    while ctx is not None and type(ctx) in (O.Reshape, O.Transpose, O.GetItem):
        inp = ctx.inputs[0]
        if function._base(inp._data) is not base:
            return False
        if inp._ctx is None:
            return inp.requires_grad
        ctx = inp._ctx
    return False


def _copy_into(t, src):
    """src broadcast to t's shape and cast to t's dtype, in the graph w.r.t. src (t's old value gets no gradient)."""
    s = _as_tensor_like(src, t)
    if s.dtype != t.dtype:
        s = s.astype(t.dtype)
    if s.device != t.device:
        s = s.to(t.device)
    if s.shape != t.shape:
        s = s.expand(t.shape)
    return s.clone() if s is src and s.requires_grad else s     # (a node of its own for self to take)


# ------------------------------------------------------------------ module-level ops
def _check_same_device(op, *tensors):
    devs = [t.device for t in tensors]
    if len(set(devs)) > 1:
        raise DeviceError(f"{op}: tensors are on different devices ({' and '.join(devs)}); "
                          f"move them with .to('{devs[0]}')")


def matmul(a, b):
    if not isinstance(a, Tensor):
        a = b._lift(a)
    if not isinstance(b, Tensor):
        b = a._lift(b)
    if type(a._data) is not type(b._data):
        _check_same_device("matmul", a, b)
    if a._data.dtype != b._data.dtype:
        raise DtypeError(f"matmul: expected both operands to have the same dtype, but got {a.dtype} (shape "
                         f"{a.shape}) and {b.dtype} (shape {b.shape}); cast one with .to(dtype) or .float()")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least one dimension, got shapes {a.shape} and {b.shape}")
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} don't match: "
                         f"{ka} (last axis of the first) != {kb} ({'only' if b.ndim == 1 else 'second-to-last'} "
                         f"axis of the second)")
    if a.ndim >= 2 and b.ndim >= 2:
        return O.MatMul.apply(a, b)
    a2 = a.reshape(1, ka) if a.ndim == 1 else a
    b2 = b.reshape(kb, 1) if b.ndim == 1 else b
    out = O.MatMul.apply(a2, b2)
    if a.ndim == 1 and b.ndim == 1:
        return out.reshape(())
    if a.ndim == 1:
        return out.reshape(out.shape[:-2] + out.shape[-1:])
    return out.reshape(out.shape[:-1])


def linear(x, weight, bias=None):
    """x @ weight.T + bias in one node (PyTorch's F.linear)."""
    xd, wd = x._data, weight._data
    if type(xd) is not type(wd):
        _check_same_device("linear", x, weight)
    if xd.dtype != wd.dtype or (bias is not None and bias._data.dtype != wd.dtype):
        raise DtypeError(f"linear: input and weight must have the same dtype, but got input {x.dtype} and weight "
                         f"{weight.dtype}{'' if bias is None else f' (bias {bias.dtype})'}; cast the input "
                         f"(x.float()) or the layer (.to(dtype) / .double())")
    if xd.shape[-1] != wd.shape[-1]:
        raise ValueError(f"linear: input of shape {x.shape} has {x.shape[-1]} features, "
                         f"weight of shape {weight.shape} expects {weight.shape[-1]}")
    if bias is None:
        return O.Linear.apply(x, weight)
    return O.Linear.apply(x, weight, bias)


def _as_tensor_like(x, ref):
    return x if isinstance(x, Tensor) else ref._lift(x)


def _operands(a, b, op):
    """a and b as Tensors of one dtype (PyTorch's promotion, a Python scalar weakly typed) and one device."""
    ref = a if isinstance(a, Tensor) else b
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        c = _scalar(b if ref is a else a)
        if c is not None:
            ref = ref._with_scalar(c)
    a, b = _as_tensor_like(a, ref), _as_tensor_like(b, ref)
    _check_same_device(op, a, b)
    if a._data.dtype != b._data.dtype:
        a, b = _promoted(a, b)
    return a, b


def maximum(a, b):
    return O.Maximum.apply(*_operands(a, b, "maximum"))


def minimum(a, b):
    return O.Minimum.apply(*_operands(a, b, "minimum"))


def where(cond, a, b):
    """a where cond holds, else b. Python scalars take PyTorch's dtypes: where(c, 1, 3) is int64, a float is
    float32 (or the tensor operand's float dtype)."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        dev = cond.device if isinstance(cond, Tensor) else "cpu"
        ca, cb = _scalar(a), _scalar(b)
        if ca is not None and cb is not None:
            dt = np.float32 if isinstance(ca, float) or isinstance(cb, float) else \
                np.bool_ if isinstance(ca, bool) and isinstance(cb, bool) else np.int64
            a = Tensor._make(backend.to_device(np.asarray(ca, dtype=dt), dev), False, None)
        else:
            a = Tensor(a if ca is None else np.asarray(a, dtype=np.float32 if isinstance(ca, float) else None),
                       device=dev)
    a, b = _operands(a, b, "where")
    c = cond.data if isinstance(cond, Tensor) else cond
    if device_of(c) != a.device:
        c = backend.to_device(c, a.device)
    return O.Where.apply(a, b, cond=c.astype(bool, copy=False))


def cat(tensors, axis=0, *, dim=None):
    if isinstance(tensors, Tensor) or not hasattr(tensors, "__iter__"):
        raise TypeError(f"cat: expected a sequence of Tensors, got {type(tensors).__name__}")
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: needs at least one tensor")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"cat: expected a sequence of Tensors, got {type(t).__name__} at position {i}")
        if t.ndim == 0:
            raise ValueError(f"cat: zero-dimensional tensor (at position {i}) cannot be concatenated")
    axis = dim if dim is not None else axis
    _check_same_device("cat", *tensors)
    kept = [t for t in tensors if t.shape != (0,)]         # PyTorch's legacy rule: 1-D empty tensors are skipped
    if not kept:                                            # (torch takes any int dim then)
        O.axis_index(0 if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool) else axis, 1, "cat")
        return O.Cat.apply(*tensors, axis=0)
    tensors = kept
    axis = O.axis_index(axis, tensors[0].ndim, "cat")
    ref = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.ndim != len(ref) or any(a != b for k, (a, b) in enumerate(zip(t.shape, ref)) if k != axis):
            raise ValueError(f"cat: sizes of tensors must match except in dimension {axis}: tensor 0 has shape "
                             f"{ref}, tensor {i} has shape {t.shape}")
    return O.Cat.apply(*tensors, axis=axis)


concatenate = cat


def stack(tensors, axis=0, *, dim=None):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    axis = dim if dim is not None else axis
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    axis = O.axis_index(axis, tensors[0].ndim, "stack", new=1)
    return cat([t.unsqueeze(axis) for t in tensors], axis=axis)


def _index(index, t):
    """Validate an index and move Tensor/list indices to t's device as arrays."""
    if isinstance(index, tuple):
        index = tuple(_index_item(i, t) for i in index)
    else:
        index = _index_item(index, t)
    if t.device != "cpu" and not backend.capturing():
        _check_array_bounds(index if isinstance(index, tuple) else (index,), t.shape)
    return index


def _mixed(items):
    """True when an index tuple holds both a Python int and an index array (NumPy and PyTorch differ there)."""
    has_int = has_arr = False
    for i in items:
        if i.__class__ is int:
            has_int = True
        elif backend.is_array(i):
            has_arr = True
    return has_int and has_arr


def _split_index(items):
    """An index mixing ints and arrays as two steps, PyTorch's meaning: ints and slices first (a view), then the
    arrays on what is left (NumPy would treat the ints as index arrays, moving the broadcast dims first)."""
    first, second = [], []
    for i in items:
        if i.__class__ is int:
            first.append(i)
        elif i is None or isinstance(i, slice):
            first.append(i)
            second.append(slice(None))
        elif i is Ellipsis:
            first.append(i)
            second.append(i)
        else:
            first.extend([slice(None)] * (i.ndim if i.dtype.kind == "b" else 1))
            second.append(i)
    return tuple(first), tuple(second)


def _check_array_bounds(items, shape):
    """CuPy wraps out-of-range integer-array indices around where NumPy raises: raise as NumPy does
    (one host sync per index array; skipped while a CUDA graph is captured)."""
    if any(i is Ellipsis for i in items):
        k = items.index(Ellipsis)
        used = sum(1 for i in items if i is not None and i is not Ellipsis and not _is_bool_array(i)) + sum(
            i.ndim for i in items if _is_bool_array(i))
        items = items[:k] + (slice(None),) * (len(shape) - used) + items[k + 1:]
    axis = 0
    for i in items:
        if i is None:
            continue
        if _is_bool_array(i):
            axis += i.ndim
            continue
        if backend.is_array(i) and i.size and axis < len(shape):
            lo, hi, n = int(i.min()), int(i.max()), shape[axis]
            if lo < -n or hi >= n:
                raise IndexError(f"getitem: index {hi if hi >= n else lo} is out of bounds for axis {axis} with "
                                 f"size {n} (tensor of shape {shape})")
        axis += 1


def _is_bool_array(i):
    return backend.is_array(i) and i.dtype.kind == "b"


def _index_item(i, t):
    if isinstance(i, slice):
        for part in (i.start, i.stop, i.step):
            if part is not None and not isinstance(part, numbers.Integral) and not (
                    isinstance(part, Tensor) and part.ndim == 0 and part.dtype.kind in "iu"):
                raise TypeError(f"getitem: slice indices must be integers or None, got {part!r}")
        if i.step is not None and int(i.step) <= 0:          # PyTorch has no negative steps: use flip
            raise ValueError(f"getitem: slice step must be greater than zero, got {int(i.step)} (as in PyTorch; "
                             "reverse with flip)")
        return i
    if i is None or i is Ellipsis or isinstance(i, bool):
        return i
    if isinstance(i, numbers.Integral):
        return int(i)
    if isinstance(i, Tensor):
        i = i.data
    elif isinstance(i, (list, tuple)):
        i = np.asarray(i)
    elif isinstance(i, float):
        raise IndexError(f"getitem: index {i!r} is a float; indices must be integers, slices or integer/bool arrays")
    if backend.is_array(i) or isinstance(i, np.ndarray):
        if i.dtype.kind not in "iub":
            raise IndexError(f"getitem: index array of dtype {i.dtype} on a tensor of shape {t.shape}; "
                             "indices must be integers or booleans")
        if device_of(i) != t.device:
            i = backend.to_device(i, t.device)
        return i
    raise IndexError(f"getitem: unsupported index {i!r} of type {type(i).__name__}")


# ------------------------------------------------------------------ the engine's walk
def _accumulate(leaf, g):
    if g.dtype != leaf.dtype:
        g = g.astype(leaf.dtype)
    if leaf.grad is None:
        leaf.grad = _own(g, None)
    else:
        leaf.grad = leaf.grad + g


def _own(g, owned):
    """g as a gradient the leaf may own: writable and sharing memory with no other gradient of this pass
    (`owned`: ids of the memory handed out so far) nor with a tensor outside it, so `p.grad.zero_()` or
    `p.grad *= 0.5` changes this .grad alone. Fresh results pass as they are (no copy in the common case)."""
    a = g._data
    base = a.base
    key = id(a if base is None else base)
    if not getattr(a.flags, "writeable", True) or g._ctx is not None or (owned is not None and key in owned) or (
            owned is None and base is not None):
        if g._ctx is not None:                    # create_graph: keep the graph, own the memory
            return g.clone() if owned is not None and key in owned else g
        a = a.copy()
        key = id(a)
        g = Tensor._make(a, False, None)
    if owned is not None:
        owned.add(key)
    return g


_FREED = ("backward(): trying to backward through the graph a second time, but its saved arrays were freed by "
          "the first backward; call the first backward(retain_graph=True) if you need to backward twice")


def _toposort(root_fn):
    """The op nodes reachable from root_fn, inputs before outputs (iterative DFS: no recursion limit)."""
    if root_fn.inputs is None:
        raise RuntimeError(_FREED)
    order, seen = [], {root_fn}
    stack = [(root_fn, iter(root_fn.inputs))]
    while stack:
        fn, it = stack[-1]
        for i in it:
            c = i._ctx
            if c is not None and c not in seen:
                if c.inputs is None:
                    raise RuntimeError(_FREED)
                seen.add(c)
                stack.append((c, iter(c.inputs)))
                break
        else:
            stack.pop()
            order.append(fn)
    return order


def _run_backward(root, gradient, retain_graph):
    """Walk the nodes from the output back; each node's pending output gradient waits in fn.grad_out.

    Leaf (and retain_grad) gradients are summed aside and committed to .grad only once the whole walk has
    succeeded: a backward that raises leaves every .grad as it was, as PyTorch's does."""
    order = _toposort(root._ctx)
    root._ctx.grad_out = gradient
    sum_to_shape = O.sum_to_shape
    anomaly = function._anomaly                   # tl.autograd.detect_anomaly(): one flag test per backward
    if anomaly:
        from .autograd import _check_gradients
    clock = function._clock
    gb = gradient._data.base
    owned = {id(gradient._data if gb is None else gb)}    # memory a leaf's .grad must not share
    pending = {}                                  # id(tensor) -> [tensor, summed gradient], committed at the end
    try:
        for fn in reversed(order):
            g = fn.grad_out
            if g is None:
                continue
            if fn._epoch < clock:                 # something changed in place since fn was recorded
                function.check_versions(fn)
            if fn.retained is not None:           # t.retain_grad(): keep the non-leaf's gradient
                _pend(pending, fn.retained, g)
            gin = fn.backward(g)
            if gin.__class__ is not tuple:
                gin = (gin,)
            if anomaly:
                _check_gradients(fn, gin)
            for inp, gi in zip(fn.inputs, gin):
                if gi is None or not inp.requires_grad:
                    continue
                if gi._data.shape != inp._data.shape:
                    gi = sum_to_shape(gi, inp.shape)
                c = inp._ctx
                if c is None:                     # a leaf: its .grad is set once the walk is done
                    _pend(pending, inp, gi)
                else:
                    c.grad_out = gi if c.grad_out is None else c.grad_out + gi
            if retain_graph:
                fn.grad_out = None
            else:
                fn.release()                      # (drops grad_out with the rest)
    except BaseException:
        for fn in order:                          # leave no half-summed gradient behind
            if fn.inputs is not None:
                fn.grad_out = None
        raise
    for t, g in pending.values():                 # commit
        if t._ctx is not None:                    # a non-leaf that asked to retain_grad()
            t.grad = g if t.grad is None else t.grad + g
        elif t.grad is None and g._data.dtype == t._data.dtype:
            a = g._data
            if a.base is None and g._ctx is None and id(a) not in owned:    # fresh memory: keep it
                owned.add(id(a))
                t.grad = g
            else:
                t.grad = _own(g, owned)
        else:
            _accumulate(t, g)


def _pend(pending, t, g):
    entry = pending.get(id(t))
    if entry is None:
        pending[id(t)] = [t, g]
    else:
        entry[1] = entry[1] + g


function._Tensor = Tensor
O._make = Tensor._make
