"""Tensor: an array on "cpu" (NumPy) or "gpu" (CuPy) that records the ops made with it,
and the reverse-mode engine that walks them back (`Tensor.backward`)."""
from __future__ import annotations

import numbers

import numpy as np

from . import backend, function
from . import ops as O
from .backend import DeviceError, device_of, xp_of

_new = object.__new__


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
    __slots__ = ("data", "grad", "requires_grad", "_ctx", "__weakref__")
    __array_priority__ = 1000      # numpy scalars/arrays on the left defer to our operators

    def __init__(self, data, requires_grad=False, device=None, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        if backend.is_array(data):
            arr = data
        elif isinstance(data, np.generic):
            arr = np.asarray(data)
        else:
            arr = np.asarray(data)
            if arr.dtype == np.float64 and dtype is None:
                arr = arr.astype(np.float32)      # Python floats and lists become float32
            elif arr.dtype == object:
                raise TypeError(f"Tensor: cannot make a tensor from {type(data).__name__} (ragged or non-numeric data)")
        if device is not None:
            dev = backend.canonical_device(device)
            if device_of(arr) != dev:
                arr = backend.to_device(arr, dev)
        if dtype is not None:
            arr = arr.astype(dtype, copy=False)
        if requires_grad and arr.dtype.kind not in "fc":
            raise TypeError(f"Tensor: only floating-point tensors can require gradients, got dtype {arr.dtype}")
        self.data = arr
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None

    @staticmethod
    def _make(data, requires_grad, ctx):
        t = _new(Tensor)
        t.data = data
        t.grad = None
        t.requires_grad = requires_grad
        t._ctx = ctx
        return t

    # -------------------------------------------------------------- attributes
    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)
    dtype = property(lambda self: self.data.dtype)
    device = property(lambda self: device_of(self.data))
    is_leaf = property(lambda self: self._ctx is None)
    grad_fn = property(lambda self: self._ctx)

    def numpy(self):
        return backend.to_numpy(self.data)

    def item(self):
        if self.data.size != 1:
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

    def to(self, device):
        dev = backend.canonical_device(device)
        if dev == self.device:
            return self
        return O.ToDevice.apply(self, device=dev)

    def cpu(self):
        return self.to("cpu")

    def gpu(self):
        return self.to("gpu")

    cuda = gpu

    def detach(self):
        return Tensor._make(self.data, False, None)

    def clone(self):
        """A copy in new memory that stays in the graph (its gradient flows back to self)."""
        return O.Clone.apply(self)

    def fill_(self, value):
        """Set every element to `value` in place (under tl.no_grad() for a tensor that requires grad)."""
        if self.requires_grad and function.is_grad_enabled():
            raise RuntimeError(f"fill_: a tensor that requires grad (shape {self.shape}) can't be changed in place "
                               f"while gradients are recorded; do it inside `with tl.no_grad():`")
        self.data[...] = value
        return self

    def zero_(self):
        return self.fill_(0)

    def numel(self):
        return self.size

    def dim(self):
        return self.ndim

    def contiguous(self):
        return self

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
        return self if dtype == self.dtype else O.Cast.apply(self, dtype=dtype)

    def float(self):
        return self.astype(np.float32)

    def double(self):
        return self.astype(np.float64)

    def long(self):
        return self.astype(np.int64)

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
            if self._ctx is None:        # a leaf: d(self)/d(self)
                _accumulate(self, gradient)
            else:
                _run_backward(self, gradient, retain_graph)
        finally:
            function._grad_enabled.reset(token)

    # -------------------------------------------------------------- operators
    def _binary(self, other, op, scalar_op, name):
        if isinstance(other, Tensor):
            if type(other.data) is not type(self.data):
                _check_same_device(name, self, other)
            return op.apply(self, other)
        c = _scalar(other)
        if c is not None:
            return scalar_op.apply(self, c=c)
        return op.apply(self, self._lift(other))

    def _lift(self, other):
        """A constant Tensor for an array or scalar met in an op, on self's device and dtype."""
        if isinstance(other, Tensor):
            return other
        c = _scalar(other)
        arr = other if backend.is_array(other) else np.asarray(
            other if c is None else c, dtype=None if c is None else backend.result_dtype(self.data, c))
        if arr.dtype == np.float64 and not backend.is_array(other) and self.dtype != np.float64:
            arr = arr.astype(self.dtype if self.dtype.kind == "f" else np.float32)
        if device_of(arr) != self.device:
            arr = backend.to_device(arr, self.device)
        return Tensor._make(arr, False, None)

    def __add__(self, other):
        return self._binary(other, O.Add, O.AddScalar, "add")

    __radd__ = __add__

    def __sub__(self, other):
        c = _scalar(other)
        if c is not None:
            return O.AddScalar.apply(self, c=-c)
        return self._binary(other, O.Sub, None, "sub")

    def __rsub__(self, other):
        c = _scalar(other)
        if c is not None:
            return O.RSubScalar.apply(self, c=c)
        return self._lift(other) - self

    def __mul__(self, other):
        return self._binary(other, O.Mul, O.MulScalar, "mul")

    __rmul__ = __mul__

    def __truediv__(self, other):
        return self._binary(other, O.Div, O.DivScalar, "div")

    def __rtruediv__(self, other):
        c = _scalar(other)
        if c is not None:
            return O.RDivScalar.apply(self, c=c)
        return self._lift(other) / self

    def __pow__(self, other):
        return self._binary(other, O.Pow, O.PowScalar, "pow")

    def __rpow__(self, other):
        c = _scalar(other)
        if c is not None:
            return O.RPowScalar.apply(self, c=c)
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

    def all(self, axis=None, keepdims=False, *, dim=None):
        ax = self._axis(axis, dim, "all")
        return Tensor._make(xp_of(self.data).asarray(self.data.all(axis=ax, keepdims=keepdims)), False, None)

    def any(self, axis=None, keepdims=False, *, dim=None):
        ax = self._axis(axis, dim, "any")
        return Tensor._make(xp_of(self.data).asarray(self.data.any(axis=ax, keepdims=keepdims)), False, None)

    def argmax(self, axis=None, keepdims=False, *, dim=None):
        axis = dim if dim is not None else axis
        return Tensor._make(xp_of(self.data).asarray(self.data.argmax(axis=axis, keepdims=keepdims)), False, None)

    def argmin(self, axis=None, keepdims=False, *, dim=None):
        axis = dim if dim is not None else axis
        return Tensor._make(xp_of(self.data).asarray(self.data.argmin(axis=axis, keepdims=keepdims)), False, None)

    # -------------------------------------------------------------- elementwise
    def exp(self): return O.Exp.apply(self)
    def log(self): return O.Log.apply(self)
    def sqrt(self): return O.Sqrt.apply(self)
    def abs(self): return O.Abs.apply(self)
    def tanh(self): return O.Tanh.apply(self)
    def sigmoid(self): return O.Sigmoid.apply(self)
    def relu(self): return O.ReLU.apply(self)
    def log1p(self): return O.Log1p.apply(self)

    __abs__ = abs

    def clip(self, min=None, max=None):
        if min is None and max is None:
            raise ValueError("clip: give min, max or both")
        return O.Clip.apply(self, lo=min, hi=max)

    clamp = clip

    # -------------------------------------------------------------- reductions
    def _axis(self, axis, dim, op):
        return O._norm_axis(dim if dim is not None else axis, self.ndim, op)

    def sum(self, axis=None, keepdims=False, *, dim=None):
        return O.Sum.apply(self, axis=self._axis(axis, dim, "sum"), keepdims=keepdims)

    def mean(self, axis=None, keepdims=False, *, dim=None):
        ax = self._axis(axis, dim, "mean")
        n = self.size if ax is None else int(np.prod([self.shape[i] for i in ax]))
        return O.Sum.apply(self, axis=ax, keepdims=keepdims) * (1.0 / n)

    def max(self, axis=None, keepdims=False, *, dim=None):
        return O.Max.apply(self, axis=self._axis(axis, dim, "max"), keepdims=keepdims, sign=1)

    def min(self, axis=None, keepdims=False, *, dim=None):
        return O.Max.apply(self, axis=self._axis(axis, dim, "min"), keepdims=keepdims, sign=-1)

    def var(self, axis=None, keepdims=False, ddof=0, *, dim=None):
        ax = self._axis(axis, dim, "var")
        n = self.size if ax is None else int(np.prod([self.shape[i] for i in ax]))
        d = self - self.mean(axis=ax, keepdims=True)
        return (d * d).sum(axis=ax, keepdims=keepdims) * (1.0 / max(n - ddof, 0) if n - ddof > 0 else float("nan"))

    def std(self, axis=None, keepdims=False, ddof=0, *, dim=None):
        return self.var(axis, keepdims, ddof, dim=dim).sqrt()

    def softmax(self, axis=-1, *, dim=None):
        return O.Softmax.apply(self, axis=dim if dim is not None else axis)

    def log_softmax(self, axis=-1, *, dim=None):
        return O.LogSoftmax.apply(self, axis=dim if dim is not None else axis)

    def logsumexp(self, axis=None, keepdims=False, *, dim=None):
        return O.LogSumExp.apply(self, axis=self._axis(axis, dim, "logsumexp"), keepdims=keepdims)

    # -------------------------------------------------------------- shapes
    def reshape(self, *shape):
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        if shape == self.shape:
            return self
        return O.Reshape.apply(self, shape=shape)

    view = reshape

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        if not axes:
            axes = tuple(range(self.ndim))[::-1]
        elif len(axes) == 2 and self.ndim != 2:     # PyTorch's transpose(dim0, dim1)
            perm = list(range(self.ndim))
            a, b = O.axis_index(axes[0], self.ndim, "transpose"), O.axis_index(axes[1], self.ndim, "transpose")
            perm[a], perm[b] = perm[b], perm[a]
            axes = tuple(perm)
        return O.Transpose.apply(self, axes=self._permutation(axes, "transpose"))

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
        return self.transpose()

    def swapaxes(self, a, b):
        a, b = O.axis_index(a, self.ndim, "swapaxes"), O.axis_index(b, self.ndim, "swapaxes")
        perm = list(range(self.ndim))
        perm[a], perm[b] = perm[b], perm[a]
        return self.transpose(tuple(perm))

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        s, e = O.axis_index(start_dim, self.ndim, "flatten"), O.axis_index(end_dim, self.ndim, "flatten")
        if s > e:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {self.shape}")
        shape = self.shape[:s] + (int(np.prod(self.shape[s:e + 1])),) + self.shape[e + 1:]
        return self.reshape(shape)

    def unsqueeze(self, axis):
        axis = O.axis_index(axis, self.ndim, "unsqueeze", new=1)
        return self.reshape(self.shape[:axis] + (1,) + self.shape[axis:])

    def squeeze(self, axis=None):
        if self.ndim == 0:
            return self
        if axis is None:
            return self.reshape(tuple(s for s in self.shape if s != 1))
        axis = O.axis_index(axis, self.ndim, "squeeze")
        if self.shape[axis] != 1:
            return self
        return self.reshape(self.shape[:axis] + self.shape[axis + 1:])

    def expand(self, *shape):
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        if shape == self.shape:
            return self
        return O.Expand.apply(self, shape=shape)

    broadcast_to = expand

    def __getitem__(self, index):
        index = _index(index, self)
        try:
            return O.GetItem.apply(self, index=index)
        except IndexError as e:               # NumPy's words, with the op and the shape
            raise IndexError(f"getitem: {e} (tensor of shape {self.shape})") from None


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
    if type(a.data) is not type(b.data):
        _check_same_device("matmul", a, b)
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
    if type(x.data) is not type(weight.data):
        _check_same_device("linear", x, weight)
    if x.shape[-1] != weight.shape[-1]:
        raise ValueError(f"linear: input of shape {x.shape} has {x.shape[-1]} features, "
                         f"weight of shape {weight.shape} expects {weight.shape[-1]}")
    if bias is None:
        return O.Linear.apply(x, weight)
    return O.Linear.apply(x, weight, bias)


def _as_tensor_like(x, ref):
    return x if isinstance(x, Tensor) else ref._lift(x)


def maximum(a, b):
    ref = a if isinstance(a, Tensor) else b
    a, b = _as_tensor_like(a, ref), _as_tensor_like(b, ref)
    _check_same_device("maximum", a, b)
    return O.Maximum.apply(a, b)


def minimum(a, b):
    ref = a if isinstance(a, Tensor) else b
    a, b = _as_tensor_like(a, ref), _as_tensor_like(b, ref)
    _check_same_device("minimum", a, b)
    return O.Minimum.apply(a, b)


def where(cond, a, b):
    ref = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    if ref is None:
        ref = Tensor(np.asarray(a, dtype=np.float32))
    a, b = _as_tensor_like(a, ref), _as_tensor_like(b, ref)
    _check_same_device("where", a, b)
    c = cond.data if isinstance(cond, Tensor) else cond
    if device_of(c) != a.device:
        c = backend.to_device(c, a.device)
    return O.Where.apply(a, b, cond=c.astype(bool, copy=False))


def cat(tensors, axis=0, *, dim=None):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: needs at least one tensor")
    axis = dim if dim is not None else axis
    _check_same_device("cat", *tensors)
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
    if i is None or i is Ellipsis or isinstance(i, (slice, bool)):
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
    leaf.grad = g if leaf.grad is None else leaf.grad + g


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
    """Walk the nodes from the output back; each node's pending output gradient waits in fn.grad_out."""
    order = _toposort(root._ctx)
    root._ctx.grad_out = gradient
    sum_to_shape = O.sum_to_shape
    anomaly = function._anomaly                   # tl.autograd.detect_anomaly(): one flag test per backward
    if anomaly:
        from .autograd import _check_gradients
    try:
        for fn in reversed(order):
            g = fn.grad_out
            if g is None:
                continue
            if fn.retained is not None:           # t.retain_grad(): keep the non-leaf's gradient
                t = fn.retained
                t.grad = g if t.grad is None else t.grad + g
            gin = fn.backward(g)
            if gin.__class__ is not tuple:
                gin = (gin,)
            if anomaly:
                _check_gradients(fn, gin)
            for inp, gi in zip(fn.inputs, gin):
                if gi is None or not inp.requires_grad:
                    continue
                if gi.data.shape != inp.data.shape:
                    gi = sum_to_shape(gi, inp.shape)
                c = inp._ctx
                if c is None:                     # a leaf: accumulate into .grad
                    if inp.grad is None and gi.data.dtype == inp.data.dtype:
                        inp.grad = gi
                    else:
                        _accumulate(inp, gi)
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


function._Tensor = Tensor
O._make = Tensor._make
