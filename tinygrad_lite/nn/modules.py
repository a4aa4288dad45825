"""nn.Module and the layers: PyTorch's names and semantics, so an MLP ports by changing the import."""
from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

from .. import backend
from ..tensor import Tensor
from . import functional as F


class Parameter(Tensor):
    """A Tensor that is a module's weight: requires grad, found by Module.parameters()."""
    __slots__ = ()

    def __init__(self, data, requires_grad=True):
        self._init(data, requires_grad=requires_grad)     # shares data's memory, as nn.Parameter(tensor)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class: assign Parameters and Modules as attributes; they are registered in order."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())       # name -> Tensor or None (register_buffer)
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        params, mods = self.__dict__["_parameters"], self.__dict__["_modules"]
        params.pop(name, None)
        mods.pop(name, None)
        buffers = self.__dict__["_buffers"]
        if name in buffers and not isinstance(value, Parameter):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"{type(self).__name__}: cannot assign a {type(value).__name__} to buffer {name!r} "
                                "(a Tensor or None)")
            buffers[name] = value
        elif isinstance(value, Parameter):
            buffers.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            mods[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._buffers.pop(name, None)
        object.__delattr__(self, name)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------ traversal
    def named_modules(self, prefix=""):
        seen = set()
        stack = [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            children = [(f"{name}.{n}" if name else n, c) for n, c in m._modules.items() if c is not None]
            stack.extend(reversed(children))

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_children(self):
        return iter(self._modules.items())

    def children(self):
        return iter(self._modules.values())

    def named_parameters(self, prefix=""):
        seen = set()
        for mname, m in self.named_modules(prefix):
            for pname, p in m._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self):
        """All parameters, in declaration order, each once."""
        return [p for _, p in self.named_parameters()]

    def register_buffer(self, name, tensor, persistent=True):
        """Hold `tensor` (e.g. BatchNorm's running mean) as state that is not a parameter: no gradient,
        not in parameters(), but moved by .to(device), cast by .float()/.double() when floating, and
        saved in state_dict() (unless persistent=False), as in PyTorch."""
        if "_buffers" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before register_buffer")
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"register_buffer: the name must be a non-empty string without '.', got {name!r}")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None, got {type(tensor).__name__}")
        if name in self._parameters or name in self._modules:
            raise KeyError(f"register_buffer: {name!r} is already a parameter or submodule of {type(self).__name__}")
        self._buffers[name] = tensor
        (self._non_persistent.discard if persistent else self._non_persistent.add)(name)
        object.__setattr__(self, name, tensor)

    def named_buffers(self, prefix=""):
        for mname, m in self.named_modules(prefix):
            for bname, b in m._buffers.items():
                if b is not None:
                    yield (f"{mname}.{bname}" if mname else bname), b

    def buffers(self):
        return [b for _, b in self.named_buffers()]

    def _state_items(self):
        """(name, Tensor) for state_dict: each module's parameters then its persistent buffers (PyTorch's order)."""
        seen = set()
        for mname, m in self.named_modules():
            for pname, p in m._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mname}.{pname}" if mname else pname), p
            for bname, b in m._buffers.items():
                if b is not None and bname not in m._non_persistent:
                    yield (f"{mname}.{bname}" if mname else bname), b

    def num_parameters(self):
        return sum(p.numel() for p in self.parameters())

    # ------------------------------------------------------------ state
    def state_dict(self):
        """OrderedDict of name -> Tensor: the parameters' and persistent buffers' current values, detached."""
        return OrderedDict((n, p.detach()) for n, p in self._state_items())

    def load_state_dict(self, state_dict, strict=True):
        """Copy values in; every key, shape and dtype is checked (strict: no missing or unexpected key)."""
        own = OrderedDict(self._state_items())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict for {type(self).__name__}: missing keys {missing}, "
                           f"unexpected keys {unexpected}")
        for k, p in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            arr = v.data if isinstance(v, Tensor) else v
            if tuple(arr.shape) != p.shape:
                raise ValueError(f"load_state_dict: {k} has shape {tuple(arr.shape)} in the state dict, "
                                 f"{p.shape} in the model")
            if np.dtype(arr.dtype) != p.dtype:
                raise TypeError(f"load_state_dict: {k} has dtype {arr.dtype} in the state dict, {p.dtype} in the "
                                "model; convert it first")
            p.data[...] = backend.to_device(arr, p.device)   # in place: layout and array identity kept
            if isinstance(p, Parameter):
                p.grad = None
        return missing, unexpected

    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def to(self, device):
        """Move every parameter and buffer to `device` in place (optimizers keep their references)."""
        dev = backend.canonical_device(device)
        for b in self.buffers():
            if b.device != dev:
                b.data = backend.to_device(b.data, dev)
        for p in self.parameters():
            if p.device != dev:
                p.data = backend.to_device(p.data, dev)
                if p.grad is not None:
                    p.grad = p.grad.to(dev)
        return self

    def zero_grad(self, set_to_none=True):
        """Drop the gradients (PyTorch 2's default), or with set_to_none=False zero them in place."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.detach().zero_()

    def cpu(self):
        return self.to("cpu")

    def gpu(self):
        return self.to("gpu")

    cuda = gpu

    def float(self):
        """Cast every parameter (and its gradient) to float32 in place, keeping its memory layout."""
        return self._cast(np.float32)

    def double(self):
        """Cast every parameter (and its gradient) to float64 in place; build optimizers after casting."""
        return self._cast(np.float64)

    def _cast(self, dtype):
        for b in self.buffers():
            if b.dtype.kind == "f" and b.dtype != dtype:     # (num_batches_tracked stays an integer)
                b.data = b.data.astype(dtype)
        for p in self.parameters():
            if p.dtype != dtype:
                p.data = p.data.astype(dtype)          # order "K": a column-major weight stays so
                if p.grad is not None:
                    p.grad = p.grad.astype(dtype)
        return self

    def requires_grad_(self, requires_grad=True):
        """Freeze (False) or unfreeze every parameter, as PyTorch's Module.requires_grad_."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def apply(self, fn):
        """Call fn on every submodule, children first, then on self (PyTorch's order); e.g. custom init."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------ repr
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        if self._modules:
            for n, m in self._modules.items():
                sub = repr(m).replace("\n", "\n  ")
                lines.append(f"\n  ({n}): {sub}")
            lines.append("\n")
        return "".join(lines) + ")"


def _uniform(shape, bound, device, dtype):
    # drawn on the CPU generator, then moved: the same seed gives the same weights on every device
    arr = backend.rng("cpu").uniform(-bound, bound, size=shape).astype(dtype)
    return backend.to_device(arr, backend.canonical_device(device))


class Linear(Module):
    """y = x @ W.T + b, W of shape (out_features, in_features), PyTorch's default init U(-1/sqrt(in), 1/sqrt(in))."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=np.float32):
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"Linear: {name} must be an int, got {type(v).__name__} {v!r}")
            if v < 0:
                raise ValueError(f"Linear: {name} must be >= 0, got {v} (PyTorch: trying to create a tensor "
                                 f"with negative dimension)")
        self.in_features, self.out_features = in_features, out_features
        bound = 1.0 / math.sqrt(in_features) if in_features else 0.0
        # stored column-major (shape still (out, in)): x @ W.T is then a plain GEMM, ~15% faster on OpenBLAS
        w = _uniform((out_features, in_features), bound, "cpu", dtype)
        self.weight = Parameter(backend.to_device(np.asfortranarray(w), backend.canonical_device(device)))
        self.bias = Parameter(_uniform((out_features,), bound, device, dtype)) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Sequential(Module):
    def __init__(self, *layers):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (dict, OrderedDict)):
            items = layers[0].items()
        else:
            items = ((str(i), m) for i, m in enumerate(layers))
        for name, m in items:
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: layer {name} is a {type(m).__name__}, not a Module")
            setattr(self, name, m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i):
        mods = list(self._modules.values())
        if isinstance(i, slice):
            return Sequential(*mods[i])
        return mods[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, m):
        setattr(self, str(len(self)), m)
        return self


class ModuleList(Module):
    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, m):
        setattr(self, str(len(self._modules)), m)
        return self

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ReLU(Module):
    def forward(self, x):
        return x.relu()


class Sigmoid(Module):
    def forward(self, x):
        return x.sigmoid()


class Tanh(Module):
    def forward(self, x):
        return x.tanh()


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Softplus(Module):
    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return x.softmax(axis=self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    def forward(self, x):
        return x.log_softmax(axis=self.dim)


# ---- PyTorch-parity activation modules (nn.functional holds the math)
class GELU(Module):
    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    def forward(self, x):
        return F.silu(x)


class ELU(Module):
    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return F.elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class CELU(ELU):
    def forward(self, x):
        return F.celu(x, self.alpha)


class SELU(Module):
    def forward(self, x):
        return F.selu(x)


class Hardtanh(Module):
    def __init__(self, min_val=-1.0, max_val=1.0):
        super().__init__()
        self.min_val, self.max_val = min_val, max_val

    def forward(self, x):
        return F.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"


class ReLU6(Module):
    def forward(self, x):
        return F.relu6(x)


class Hardsigmoid(Module):
    def forward(self, x):
        return F.hardsigmoid(x)


class Hardswish(Module):
    def forward(self, x):
        return F.hardswish(x)


class Mish(Module):
    def forward(self, x):
        return F.mish(x)


class LogSigmoid(Module):
    def forward(self, x):
        return F.logsigmoid(x)


class Softsign(Module):
    def forward(self, x):
        return F.softsign(x)


class Softmin(Module):
    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmin(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Dropout(Module):
    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class Flatten(Module):
    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    def forward(self, x):
        return x


class _Loss(Module):
    """A loss as a module (PyTorch's nn.*Loss): calls its functional with `reduction`."""
    fn = None

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, input, target):
        return self.fn(input, target, reduction=self.reduction)

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class _WeightedLoss(_Loss):
    """A class-weighted loss module (PyTorch's weight=, ignore_index=); the weight is a buffer, not a parameter."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
        super().__init__(reduction)
        F._legacy(size_average, reduce, type(self).__name__)
        self.weight = weight.detach() if isinstance(weight, Tensor) else weight
        self.ignore_index = ignore_index

    def extra_repr(self):
        parts = [super().extra_repr()] if self.reduction != "mean" else []
        if self.ignore_index != -100:
            parts.append(f"ignore_index={self.ignore_index}")
        return ", ".join(parts)


class CrossEntropyLoss(_WeightedLoss):
    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                 label_smoothing=0.0):
        super().__init__(weight, size_average, ignore_index, reduce, reduction)
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    def forward(self, input, target):
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class L1Loss(_Loss):
    fn = staticmethod(F.l1_loss)


class MSELoss(_Loss):
    fn = staticmethod(F.mse_loss)


class BCELoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(reduction)
        F._legacy(size_average, reduce, "BCELoss")
        self.weight = weight.detach() if isinstance(weight, Tensor) else weight

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None):
        super().__init__(reduction)
        F._legacy(size_average, reduce, "BCEWithLogitsLoss")
        self.weight = weight.detach() if isinstance(weight, Tensor) else weight
        self.pos_weight = pos_weight.detach() if isinstance(pos_weight, Tensor) else pos_weight

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)
