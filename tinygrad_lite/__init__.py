"""tinygrad_lite: a small, fast, honest autodiff framework on NumPy (cpu) and CuPy (gpu).

    >>> import tinygrad_lite as tl
    >>> x = tl.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([2., 4., 6.])
"""
import builtins as _builtins

import numpy as _np

from .backend import DeviceError, DtypeError, Generator, gpu_available, manual_seed, synchronize
from .function import Function, enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .tensor import Size, Tensor, cat, concatenate, linear, matmul, maximum, minimum, result_type, stack, where
from .factories import (arange, as_tensor, eye, from_numpy, full, ones, ones_like, rand, randn, tensor, zeros,
                        zeros_like)
from .gradcheck import GradcheckError, NondifferentiableError, gradcheck, gradgradcheck
from . import backend

backend.keep_freed_memory()     # the heap a training step frees stays for the next step (see its docstring)

# dtypes, PyTorch's names: NumPy dtype objects, so `x.dtype == tl.float32` and `dtype=tl.long` work everywhere
float32 = float = _np.dtype(_np.float32)
float64 = double = _np.dtype(_np.float64)
float16 = half = _np.dtype(_np.float16)
int64 = long = _np.dtype(_np.int64)
int32 = int = _np.dtype(_np.int32)
int16 = short = _np.dtype(_np.int16)
int8 = _np.dtype(_np.int8)
uint8 = _np.dtype(_np.uint8)
bool = bool_ = _np.dtype(_np.bool_)


def _unary(name):
    def f(x, *args, **kwargs):
        return getattr(x, name)(*args, **kwargs)
    f.__name__ = name
    f.__doc__ = f"tl.{name}(x) is x.{name}()"
    return f


exp, log, sqrt, abs, tanh, sigmoid, relu = (_unary(n) for n in ("exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu"))
softmax, log_softmax, logsumexp = (_unary(n) for n in ("softmax", "log_softmax", "logsumexp"))
sum, mean, var, std, argmax, argmin, reshape, transpose, flatten, clip, clamp, permute = (
    _unary(n) for n in ("sum", "mean", "var", "std", "argmax", "argmin", "reshape", "transpose", "flatten", "clip",
                        "clamp", "permute"))
squeeze, unsqueeze, amax, amin, t, numel = (_unary(n) for n in ("squeeze", "unsqueeze", "amax", "amin", "t", "numel"))


def max(input, dim=None, keepdim=False, **kwargs):
    """tl.max(x): the largest value; tl.max(x, dim): PyTorch's (values, indices); tl.max(a, b): elementwise."""
    return input.max(dim, keepdim, **kwargs)


def min(input, dim=None, keepdim=False, **kwargs):
    """tl.min(x): the smallest value; tl.min(x, dim): (values, indices); tl.min(a, b): elementwise."""
    return input.min(dim, keepdim, **kwargs)


def is_tensor(obj):
    return isinstance(obj, Tensor)


class device(str):
    """PyTorch's torch.device: `tl.device("cuda" if tl.cuda.is_available() else "cpu")`, accepted wherever a device
    name is (model.to(dev), x.to(dev), device=dev). It checks the name, not the hardware (as PyTorch): a GPU that
    is missing is reported when it is used."""

    def __new__(cls, type, index=None):
        name = str(type)
        if index is not None:
            name = f"{name}:{index}"
        base, _, idx = name.lower().partition(":")
        if base not in ("cpu", "gpu", "cuda") or (idx and not idx.isdigit()):
            raise ValueError(f"unknown device {name!r}: use 'cpu' or 'gpu' (aliases 'cuda', 'cuda:N')")
        self = super().__new__(cls, name.lower())
        self.type, self.index = base, (_builtins.int(idx) if idx else None)
        return self

    def _canon(self):
        return "cpu" if self.type == "cpu" else "gpu"

    def __eq__(self, other):
        if isinstance(other, str):
            o = other.lower().partition(":")[0]
            return self._canon() == ("gpu" if o in ("gpu", "cuda") else o)
        return NotImplemented

    __hash__ = str.__hash__

    def __repr__(self):
        return f"device(type='{self.type}'{'' if self.index is None else f', index={self.index}'})"


class _Cuda:
    """tl.cuda: is_available(), device_count(), synchronize(), manual_seed() (PyTorch's torch.cuda)."""

    @staticmethod
    def is_available():
        return gpu_available()

    @staticmethod
    def device_count():
        return backend.cupy_module().cuda.runtime.getDeviceCount() if gpu_available() else 0

    @staticmethod
    def synchronize():
        synchronize("gpu")

    @staticmethod
    def manual_seed(seed):
        manual_seed(seed)

    manual_seed_all = manual_seed


cuda = _Cuda()


class _Accelerator:
    """tl.accelerator (PyTorch 2.6's torch.accelerator, as the current quickstart uses it): the GPU when CuPy sees one."""

    @staticmethod
    def is_available():
        return gpu_available()

    @staticmethod
    def current_accelerator():
        return device("cuda") if gpu_available() else None


accelerator = _Accelerator()

# ---- PyTorch-parity ops (elementwise.py, movement.py, reductions.py)
from .factories import full_like, randint  # noqa: E402
from .movement import flip, gather, masked_fill, repeat, split, chunk, unflatten  # noqa: E402
from .reductions import cumsum, prod, std_mean, var_mean  # noqa: E402
(sin, cos, tan, rsqrt, sign, floor, ceil, round, trunc, exp2, log2, log10, erf, expm1, logaddexp, lerp, isclose,
 allclose, isnan, isinf, isfinite, logical_not, logical_and, logical_or, logical_xor, sum_to_size) = (
    _unary(n) for n in ("sin", "cos", "tan", "rsqrt", "sign", "floor", "ceil", "round", "trunc", "exp2", "log2",
                        "log10", "erf", "expm1", "logaddexp", "lerp", "isclose", "allclose", "isnan", "isinf",
                        "isfinite", "logical_not", "logical_and", "logical_or", "logical_xor", "sum_to_size"))

_LAZY = {"autograd": ".autograd", "nn": ".nn", "optim": ".optim", "data": ".data", "datasets": ".datasets", "models": ".models",
         "viz": ".viz", "plots": ".plots", "training": ".training", "serialization": ".serialization",
         "distributed": ".distributed", "threads": ".threads", "utils": ".utils", "vision": ".vision"}
_LAZY_ATTRS = {"random_split": ".data", "save": ".serialization", "load": ".serialization", "save_checkpoint": ".serialization",
               "load_checkpoint": ".serialization", "CheckpointError": ".serialization",
               "summary": ".viz", "to_dot": ".viz", "DataLoader": ".data", "TinyJit": ".capture", "jit": ".capture",
               "set_num_threads": ".threads", "get_num_threads": ".threads"}


def __getattr__(name):
    """Submodules and tools load on first use: `import tinygrad_lite` stays light."""
    import importlib
    if name in _LAZY:
        return importlib.import_module(_LAZY[name], __name__)
    if name in _LAZY_ATTRS:
        return getattr(importlib.import_module(_LAZY_ATTRS[name], __name__), name)
    raise AttributeError(f"module 'tinygrad_lite' has no attribute {name!r}")


def _source_checkout_models():
    """In a source checkout (not installed), find `tinygrad_lite.models` in the repo's models/ folder.

    An install maps it there through setuptools' package-dir; this does the same for a fresh clone.
    """
    import os
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if (os.path.isfile(os.path.join(root, "models", "__init__.py"))
            and os.path.isfile(os.path.join(root, "pyproject.toml"))
            and not os.path.isdir(os.path.join(os.path.dirname(__file__), "models"))):
        __path__.append(root)


_source_checkout_models()
__version__ = "0.1.0"
