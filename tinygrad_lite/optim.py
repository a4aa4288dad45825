"""tl.optim: SGD, Adam, AdamW with PyTorch's update rules, updating parameters in place.

Updates work on the arrays directly (no graph is recorded) with in-place ufuncs, so a
step allocates no temporaries beyond one scratch buffer per parameter.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from . import backend, function
from .backend import xp_of


def _number(x):
    """x as a float for a range check, or None when it is not a real number (bools excluded)."""
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        return None
    return float(x)


def _check_range(name, x, lo=0.0, hi=math.inf, hi_open=False):
    """PyTorch's message for an out-of-range hyperparameter ("Invalid learning rate: -1"); NaN and
    infinities are refused too (a NaN lr or weight decay silently turns every weight into NaN)."""
    v = _number(x)
    if v is None:
        raise TypeError(f"Invalid {name}: {x!r} (expected a real number, got {type(x).__name__})")
    if not (math.isfinite(v) and lo <= v and (v < hi if hi_open else v <= hi)):
        raise ValueError(f"Invalid {name}: {x}")


class Optimizer:
    defaults: dict = {}
    #: state entries each parameter's state may hold: name -> "param" (an array shaped like the
    #: parameter), "nonneg" (the same, every element >= 0) or "count" (a non-negative number);
    #: and which of them a non-empty state must have. Subclasses set both.
    _state_spec: dict = {}
    _state_required: tuple = ()

    def __init__(self, params, **hyper):
        from .tensor import Tensor
        name = type(self).__name__
        if isinstance(params, (Tensor, dict)) or not hasattr(params, "__iter__") or isinstance(params, (str, bytes)):
            raise TypeError(f"{name}: params argument given to the optimizer should be an iterable of Tensors "
                            f"or dicts, but got {type(params).__name__}")
        params = list(params)
        if not params:
            raise ValueError(f"{name}: optimizer got an empty parameter list")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        self.param_groups = []
        for group in params:
            if not isinstance(group, dict):
                raise TypeError(f"{name}: params must be all Tensors or all param-group dicts, got a "
                                f"{type(group).__name__} among dicts")
            if "params" not in group:
                raise ValueError(f"{name}: a param group needs a 'params' entry, got keys {sorted(group)}")
            g = dict(self.defaults)
            g.update(hyper)
            g.update(group)
            ps = g["params"]
            if isinstance(ps, Tensor):
                ps = [ps]
            elif isinstance(ps, (dict, str, bytes)) or not hasattr(ps, "__iter__"):
                raise TypeError(f"{name}: a param group's 'params' must be a Tensor or an iterable of Tensors, "
                                f"got {type(ps).__name__}")
            g["params"] = list(ps)
            for p in g["params"]:
                if not isinstance(p, Tensor):
                    raise TypeError(f"{name}: optimizer can only optimize Tensors, but one of the params is "
                                    f"{type(p).__name__}")
            self._check(g)
            self.param_groups.append(g)
        seen = set()
        for p in self._params():
            if id(p) in seen:
                raise ValueError(f"{name}: a parameter appears twice")
            seen.add(id(p))
            if not p.requires_grad:
                raise ValueError(f"{name}: a parameter of shape {p.shape} does not require grad")
        self.state = {}     # id(param) -> dict of arrays / step count (what state_dict saves)
        self._scratch = {}  # id(param) -> reusable work buffers (never saved)

    def _check(self, g):
        """Raise ValueError/TypeError, PyTorch's way, for a group's out-of-range hyperparameter."""
        if g.get("lr") is None:
            raise TypeError(f"{type(self).__name__}: missing the required argument lr (the learning rate)")
        _check_range("learning rate", g["lr"])
        if "weight_decay" in g:
            _check_range("weight_decay value", g["weight_decay"])
        if "initial_lr" in g:                         # set by the lr schedulers
            _check_range("initial_lr", g["initial_lr"])

    def _params(self):
        return [p for g in self.param_groups for p in g["params"]]

    def _buffer(self, p):
        """The parameter's reusable work buffer, shaped and laid out like its data."""
        b, w = self._scratch.get(id(p)), p.data
        if b is None or b.__class__ is not w.__class__ or b.shape != w.shape or b.strides != w.strides:
            b = self._scratch[id(p)] = xp_of(w).empty_like(w)
        return b

    def zero_grad(self, set_to_none=True):
        """Drop the gradients (PyTorch 2's default), or with set_to_none=False zero them in place."""
        for p in self._params():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.detach().zero_()

    # ---------------------------------------------------------- state (PyTorch's layout, by index)
    def state_dict(self):
        index = {id(p): i for i, p in enumerate(self._params())}
        groups = []
        for g in self.param_groups:
            d = {k: v for k, v in g.items() if k != "params"}
            d["params"] = [index[id(p)] for p in g["params"]]
            groups.append(d)
        state = {index[k]: dict(v) for k, v in self.state.items() if k in index}
        return {"state": state, "param_groups": groups}

    def _validate_state_dict(self, state_dict):
        """Check a state_dict whole against this optimizer, changing nothing: its layout, every
        group's hyperparameters (finite, in range) and every state entry (known key, shape,
        dtype, finite). Raises ValueError/TypeError whose message starts with the field."""
        from collections.abc import Mapping
        params = self._params()
        if not isinstance(state_dict, Mapping) or not {"state", "param_groups"} <= set(state_dict):
            raise ValueError("optimizer state: expected a dict with 'state' and 'param_groups', got "
                             + (f"keys {sorted(map(str, state_dict))}" if isinstance(state_dict, Mapping)
                                else type(state_dict).__name__))
        groups, state = state_dict["param_groups"], state_dict["state"]
        if not isinstance(groups, (list, tuple)) or not all(isinstance(g, Mapping) for g in groups):
            raise ValueError("optimizer.param_groups: expected a list of dicts")
        if len(groups) != len(self.param_groups) or any(
                not isinstance(a.get("params"), (list, tuple)) or len(a["params"]) != len(b["params"])
                for a, b in zip(groups, self.param_groups)):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the saved groups do not match this "
                             f"optimizer's (saved {[len(g.get('params') or ()) for g in groups]} parameters per "
                             f"group, this optimizer {[len(g['params']) for g in self.param_groups]})")
        indices = [i for g in groups for i in g["params"]]
        if sorted(indices) != list(range(len(params))) or not all(type(i) is int for i in indices):
            raise ValueError(f"optimizer.param_groups: parameter indices must be 0..{len(params) - 1} once each, "
                             f"got {indices[:10]}")
        for gi, (g, saved) in enumerate(zip(self.param_groups, groups)):
            merged = dict(g)
            merged.update({k: tuple(v) if isinstance(v, list) else v for k, v in saved.items() if k != "params"})
            try:
                self._check(merged)
            except (ValueError, TypeError) as e:
                raise type(e)(f"optimizer.param_groups.{gi}: {e}") from None
        if not isinstance(state, Mapping):
            raise ValueError(f"optimizer.state: expected a dict, got {type(state).__name__}")
        for i, st in state.items():
            where = f"optimizer.state.{i}"
            try:
                idx = int(i)
            except (TypeError, ValueError):
                idx = -1
            if not 0 <= idx < len(params) or isinstance(i, bool):
                raise ValueError(f"{where}: no parameter {i!r} (this optimizer has {len(params)})")
            p = params[idx]
            if not isinstance(st, Mapping):
                raise ValueError(f"{where}: expected a dict, got {type(st).__name__}")
            spec = self._state_spec
            missing = [k for k in self._state_required if k not in st] if st else []
            unknown = [k for k in st if spec and k not in spec]
            if missing or unknown:
                raise ValueError(f"{where}: {type(self).__name__} state needs {list(self._state_required)}"
                                 + (f", missing {missing}" if missing else "")
                                 + (f", unknown {unknown}" if unknown else ""))
            for k, v in st.items():
                kind = spec.get(k, "param" if getattr(v, "ndim", 0) else "count")
                self._validate_state_entry(f"{where}.{k}", kind, v, p)

    @staticmethod
    def _validate_state_entry(where, kind, v, p):
        if kind == "count":
            x = _number(v.item() if getattr(v, "shape", None) == () and hasattr(v, "item") else v)
            if x is None or not math.isfinite(x) or x < 0:
                raise ValueError(f"{where}: expected a non-negative number, got {v!r}")
            return
        if not hasattr(v, "shape") or not hasattr(v, "dtype"):
            raise ValueError(f"{where}: expected an array of shape {p.shape}, got {type(v).__name__}")
        if tuple(v.shape) != p.shape:
            raise ValueError(f"{where}: has shape {tuple(v.shape)}, the parameter {p.shape}")
        if np.dtype(v.dtype).kind != "f":
            raise ValueError(f"{where}: has dtype {v.dtype}, expected a floating dtype like the parameter's {p.dtype}")
        host = backend.to_numpy(v)
        if not np.isfinite(host).all():
            raise ValueError(f"{where}: holds non-finite values (nan or inf)")
        if kind == "nonneg" and (host < 0).any():
            raise ValueError(f"{where}: holds negative values (it is a running mean of squares)")

    def load_state_dict(self, state_dict):
        """Restore a state_dict, validated whole first: on any error nothing is changed."""
        self._validate_state_dict(state_dict)
        params = self._params()
        for g, saved in zip(self.param_groups, state_dict["param_groups"]):
            for k, v in saved.items():
                if k != "params":
                    g[k] = tuple(v) if isinstance(v, list) else v
        new_state = {}
        for i, st in state_dict["state"].items():
            p = params[int(i)]
            new = {}
            for k, v in st.items():
                if self._state_spec.get(k, "param" if getattr(v, "ndim", 0) else "count") != "count":
                    v = backend.to_device(v, p.device).astype(p.dtype, copy=True)
                elif hasattr(v, "item"):
                    v = v.item()
                new[k] = v
            new_state[id(p)] = new
        self.state = new_state

    def step(self):
        """Update every parameter that has a gradient, in place. Each one's memory is stamped, as PyTorch bumps
        its version: a backward through a graph recorded before the step raises instead of using new weights."""
        states, update = self.state, self._update
        versions = self.__dict__.setdefault("_versions", {})   # id(param) -> (its array, its stamp record)
        now = function.tick()
        for g in self.param_groups:
            for p in g["params"]:
                grad = p.grad
                if grad is not None:
                    st = states.get(id(p))
                    if st is None:
                        st = states[id(p)] = {}
                    update(p, grad._data, g, st)
                    v = versions.get(id(p))
                    if v is None or v[0] is not p._data:
                        v = versions[id(p)] = (p._data, function.version_entry(p._data, "optimizer.step"))
                    e = v[1]
                    e[0], e[3] = now, "optimizer.step"

    def _update(self, p, grad, group, state):
        raise NotImplementedError

    def __repr__(self):
        hyper = ", ".join(f"{k}={v}" for k, v in self.param_groups[0].items() if k != "params")
        return f"{type(self).__name__}({hyper})"


class SGD(Optimizer):
    """p -= lr * (g + wd p), with (Nesterov) momentum as in PyTorch (the buffer starts at the first gradient)."""
    defaults = {"lr": 1e-3, "momentum": 0.0, "dampening": 0.0, "nesterov": False, "weight_decay": 0.0}

    _state_spec = {"momentum_buffer": "param"}

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
                         weight_decay=weight_decay)

    def _check(self, g):
        super()._check(g)
        _check_range("momentum value", g["momentum"])
        _check_range("dampening value", g["dampening"], lo=-math.inf)  # any finite value, as PyTorch
        if g["nesterov"] and (g["momentum"] <= 0 or g["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening "
                             "(Nesterov momentum needs momentum > 0 and dampening 0)")

    def _update(self, p, g, group, state):
        lr, mom, wd = group["lr"], group["momentum"], group["weight_decay"]
        w = p.data
        xp = xp_of(w)
        s = self._buffer(p)
        if wd:                                    # g + wd w, in the scratch buffer
            xp.multiply(w, wd, out=s)
            s += g
            g = s
        if mom:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.copy()
            else:
                buf *= mom
                buf += g if group["dampening"] == 0 else (1 - group["dampening"]) * g
            if group["nesterov"]:                 # g + mom buf, in the scratch buffer
                if g is s:
                    s += mom * buf
                else:
                    xp.multiply(buf, mom, out=s)
                    s += g
                g = s
            else:
                g = buf
        xp.multiply(g, lr, out=s)
        w -= s


class Adam(Optimizer):
    """Adam (Kingma & Ba) with PyTorch's bias correction; weight_decay is L2 added to the gradient."""
    defaults = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0}
    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr=lr, betas=tuple(betas) if isinstance(betas, (list, tuple)) else betas,
                         eps=eps, weight_decay=weight_decay)

    _state_spec = {"step": "count", "exp_avg": "param", "exp_avg_sq": "nonneg"}
    _state_required = ("step", "exp_avg", "exp_avg_sq")

    def _check(self, g):
        super()._check(g)
        _check_range("epsilon value", g["eps"])
        betas = g["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{type(self).__name__}: betas must be a pair (beta1, beta2), got {betas!r}")
        for i, b in enumerate(betas):
            try:
                _check_range(f"beta parameter at index {i}", b, 0.0, 1.0, hi_open=True)
            except ValueError as e:
                raise ValueError(f"{e} ({type(self).__name__}: betas must be in [0, 1), got {tuple(betas)})") from None

    def _update(self, p, g, group, state):
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        w = p.data
        on_gpu = not isinstance(w, np.ndarray)
        if not state:
            xp = xp_of(w)
            # on the GPU the step count lives on the device, so a captured step (tl.TinyJit) advances it
            state.update(step=xp.zeros((), dtype=np.float32) if on_gpu else 0,
                         exp_avg=xp.zeros_like(w), exp_avg_sq=xp.zeros_like(w))
        if wd and self.decoupled:
            w *= 1 - lr * wd
        elif wd:
            g = g + wd * w
        if on_gpu:
            if not hasattr(state["step"], "shape"):   # a step count loaded from a CPU checkpoint
                state["step"] = xp_of(w).asarray(state["step"], dtype=np.float32)
            state["step"] += 1
            backend.adam_update_gpu(w, g, state["exp_avg"], state["exp_avg_sq"], state["step"], b1, b2, lr, eps)
            return
        state["step"] += 1
        t = state["step"]
        step_size = lr / (1 - b1 ** t)
        inv_bc2 = 1.0 / math.sqrt(1 - b2 ** t)
        backend.adam_update(w, g, state["exp_avg"], state["exp_avg_sq"], b1, b2, step_size, inv_bc2, eps,
                            self._buffer(p))


class AdamW(Adam):
    """Adam with decoupled weight decay (p *= 1 - lr*wd before the Adam step), as PyTorch's AdamW."""
    defaults = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2}
    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


class MultiStepLR:
    """Multiply each group's initial lr by gamma at every milestone epoch (PyTorch's MultiStepLR).

    Call `step()` once per epoch. The lr is a closed form of the epoch count, and the initial
    lr is kept in the optimizer's param groups (`initial_lr`), so a run resumed from a
    checkpoint only needs `step(epoch)` (tl.training.fit does it) to continue exactly.
    """

    def __init__(self, optimizer, milestones, gamma=0.1):
        self.optimizer, self.milestones, self.gamma = optimizer, sorted(int(m) for m in milestones), gamma
        for g in optimizer.param_groups:
            g.setdefault("initial_lr", g["lr"])
        self.last_epoch = 0

    def factor(self, epoch):
        return self.gamma ** sum(1 for m in self.milestones if m <= epoch)

    def step(self, epoch=None):
        """Advance one epoch (or jump to `epoch`) and set the groups' lr."""
        self.last_epoch = self.last_epoch + 1 if epoch is None else int(epoch)
        f = self.factor(self.last_epoch)
        for g in self.optimizer.param_groups:
            g["lr"] = g["initial_lr"] * f

    def get_last_lr(self):
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self):
        return {"last_epoch": self.last_epoch, "milestones": list(self.milestones), "gamma": self.gamma}

    def load_state_dict(self, state):
        self.milestones, self.gamma = sorted(state["milestones"]), state["gamma"]
        self.step(state["last_epoch"])


class StepLR(MultiStepLR):
    """Multiply the lr by gamma every `step_size` epochs (PyTorch's StepLR)."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        super().__init__(optimizer, (), gamma)
        self.step_size = int(step_size)

    def factor(self, epoch):
        return self.gamma ** (epoch // self.step_size)

    def state_dict(self):
        return {**super().state_dict(), "step_size": self.step_size}

    def load_state_dict(self, state):
        self.step_size = state["step_size"]
        super().load_state_dict(state)


lr_scheduler = SimpleNamespace(MultiStepLR=MultiStepLR, StepLR=StepLR)   # torch.optim.lr_scheduler spelling
