"""tinygrad_lite: a small, fast, honest autodiff framework on NumPy (cpu) and CuPy (gpu).

    >>> import tinygrad_lite as tl
    >>> x = tl.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([2., 4., 6.])
"""
from .backend import DeviceError, gpu_available, manual_seed, synchronize
from .function import Function, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .tensor import Tensor, cat, concatenate, linear, matmul, maximum, minimum, stack, where
from .factories import arange, eye, from_numpy, full, ones, ones_like, rand, randn, tensor, zeros, zeros_like
from .gradcheck import GradcheckError, NondifferentiableError, gradcheck
from . import backend

float32, float64, int64, int32, uint8, bool_ = "float32", "float64", "int64", "int32", "uint8", "bool"


def _unary(name):
    def f(x, *args, **kwargs):
        return getattr(x, name)(*args, **kwargs)
    f.__name__ = name
    f.__doc__ = f"tl.{name}(x) is x.{name}()"
    return f


exp, log, sqrt, abs, tanh, sigmoid, relu = (_unary(n) for n in ("exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu"))
softmax, log_softmax, logsumexp = (_unary(n) for n in ("softmax", "log_softmax", "logsumexp"))
sum, mean, var, argmax, reshape, transpose, flatten, clip = (
    _unary(n) for n in ("sum", "mean", "var", "argmax", "reshape", "transpose", "flatten", "clip"))

_LAZY = {"autograd": ".autograd", "nn": ".nn", "optim": ".optim", "data": ".data", "datasets": ".datasets", "models": ".models",
         "viz": ".viz", "plots": ".plots", "training": ".training", "serialization": ".serialization"}
_LAZY_ATTRS = {"save": ".serialization", "load": ".serialization", "save_checkpoint": ".serialization",
               "load_checkpoint": ".serialization", "CheckpointError": ".serialization",
               "summary": ".viz", "to_dot": ".viz", "DataLoader": ".data", "TinyJit": ".capture", "jit": ".capture"}


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
