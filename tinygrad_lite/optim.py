"""tl.optim: SGD, Adam, AdamW, RMSprop, Adagrad with PyTorch's update rules, updating parameters in place;
the lr schedules MultiStepLR, StepLR, ExponentialLR, CosineAnnealingLR, OneCycleLR (also as optim.lr_scheduler.X).

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
        super().__init__(params, lr=lr, betas=tuple(betas) if isinstance(betas, (list, tuple, np.ndarray)) else betas,
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


class RMSprop(Optimizer):
    """RMSprop with PyTorch's update: v = alpha v + (1-alpha) g^2 (centered: minus the squared mean
    gradient), p -= lr g / (sqrt(v) + eps), with optional momentum on g / (sqrt(v) + eps) and L2
    weight_decay added to g. State: step, square_avg (+ momentum_buffer, grad_avg)."""
    defaults = {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.0, "centered": False}

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                         centered=centered)

    def _check(self, g):
        super()._check(g)
        # (written so that NaN fails every comparison: PyTorch refuses a NaN alpha, eps or momentum too)
        if not (0 <= g["alpha"] <= 1 and g["eps"] >= 0 and g["momentum"] >= 0 and g["weight_decay"] >= 0):
            raise ValueError(f"RMSprop: need 0 <= alpha <= 1 and eps, momentum, weight_decay >= 0, got alpha "
                             f"{g['alpha']}, eps {g['eps']}, momentum {g['momentum']}, weight_decay {g['weight_decay']}")

    def _update(self, p, g, group, state):
        lr, alpha, eps, wd, mom = group["lr"], group["alpha"], group["eps"], group["weight_decay"], group["momentum"]
        w = p.data
        xp = xp_of(w)
        if not state:
            state.update(step=0, square_avg=xp.zeros_like(w))
            if mom > 0:
                state["momentum_buffer"] = xp.zeros_like(w)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(w)
        state["step"] += 1
        if wd:
            g = g + wd * w
        v = state["square_avg"]
        v *= alpha
        v += (1 - alpha) * (g * g)
        if group["centered"]:
            m = state["grad_avg"]
            m += (1 - alpha) * (g - m)
            avg = xp.sqrt(v - m * m)
        else:
            avg = xp.sqrt(v)
        avg += eps
        if mom > 0:
            buf = state["momentum_buffer"]
            buf *= mom
            buf += g / avg
            w -= lr * buf
        else:
            avg = xp.divide(g, avg, out=avg)
            avg *= lr
            w -= avg


class Adagrad(Optimizer):
    """Adagrad with PyTorch's update: s += g^2, p -= lr / (1 + (step-1) lr_decay) * g / (sqrt(s) + eps),
    L2 weight_decay added to g. Its state (step, sum = initial_accumulator_value) exists from the start,
    as in PyTorch."""
    defaults = {"lr": 1e-2, "lr_decay": 0.0, "weight_decay": 0.0, "initial_accumulator_value": 0.0, "eps": 1e-10}

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
        super().__init__(params, lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                         initial_accumulator_value=initial_accumulator_value, eps=eps)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[id(p)] = {"step": 0, "sum": xp_of(p.data).full_like(
                    p.data, group["initial_accumulator_value"])}

    def _check(self, g):
        super()._check(g)
        # (not min(...) < 0, which lets NaN through: PyTorch refuses a NaN here)
        if not all(v >= 0 for v in (g["lr_decay"], g["weight_decay"], g["initial_accumulator_value"], g["eps"])):
            raise ValueError(f"Adagrad: lr_decay, weight_decay, initial_accumulator_value and eps must be >= 0, got "
                             f"{g['lr_decay']}, {g['weight_decay']}, {g['initial_accumulator_value']}, {g['eps']}")

    def _update(self, p, g, group, state):
        w = p.data
        xp = xp_of(w)
        if not state:                             # (a state dict that lacked this parameter)
            state.update(step=0, sum=xp.full_like(w, group["initial_accumulator_value"]))
        state["step"] += 1
        if group["weight_decay"]:
            g = g + group["weight_decay"] * w
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        s = state["sum"]
        s += g * g
        d = xp.sqrt(s)
        d += group["eps"]
        xp.divide(g, d, out=d)
        d *= clr
        w -= d


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


class _LRScheduler:
    """A schedule whose lr is a closed form of the step count and each group's initial lr (kept in the
    group as `initial_lr`, as PyTorch does): step() advances one step, step(n) jumps to step n, so a
    resumed run continues exactly."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        for g in optimizer.param_groups:
            g.setdefault("initial_lr", g["lr"])
        self.last_epoch = 0
        self._set()

    def lr_at(self, step, base_lr):
        raise NotImplementedError

    def _set(self):
        for g in self.optimizer.param_groups:
            g["lr"] = self.lr_at(self.last_epoch, g["initial_lr"])

    def step(self, epoch=None):
        self.last_epoch = self.last_epoch + 1 if epoch is None else int(epoch)
        self._set()

    def get_last_lr(self):
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self):
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state):
        self.__dict__.update(state)
        self._set()


class ExponentialLR(_LRScheduler):
    """lr = initial_lr * gamma ** epoch (PyTorch's ExponentialLR)."""

    def __init__(self, optimizer, gamma):
        self.gamma = gamma
        super().__init__(optimizer)

    def lr_at(self, step, base_lr):
        return base_lr * self.gamma ** step


class CosineAnnealingLR(_LRScheduler):
    """lr = eta_min + (initial_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2 (PyTorch's CosineAnnealingLR,
    whose recursive form equals this closed form; past T_max the cosine goes on, as in PyTorch)."""

    def __init__(self, optimizer, T_max, eta_min=0.0):
        if T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max must be a positive number of steps, got {T_max}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def lr_at(self, step, base_lr):
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * step / self.T_max)) / 2


class OneCycleLR(_LRScheduler):
    """The 1cycle policy (PyTorch's OneCycleLR), stepped once per batch: the lr rises from max_lr/div_factor
    to max_lr over the first pct_start of total_steps, then anneals to initial_lr/final_div_factor
    ('cos' or 'linear'; three_phase: back to the initial lr first); the momentum (SGD's momentum, Adam's
    beta1) cycles the other way between max_momentum and base_momentum when cycle_momentum."""

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
                 anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85, max_momentum=0.95, div_factor=25.0,
                 final_div_factor=1e4, three_phase=False):
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("OneCycleLR: give total_steps, or epochs and steps_per_epoch")
            total_steps = epochs * steps_per_epoch
        if total_steps < 1 or not 0 <= pct_start <= 1 or anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: need total_steps >= 1, 0 <= pct_start <= 1 and anneal_strategy 'cos' or "
                             f"'linear', got {total_steps}, {pct_start}, {anneal_strategy!r}")
        groups = optimizer.param_groups
        max_lrs = list(max_lr) if isinstance(max_lr, (list, tuple)) else [max_lr] * len(groups)
        self.total_steps, self.anneal_strategy, self.cycle_momentum = int(total_steps), anneal_strategy, cycle_momentum
        for g, m in zip(groups, max_lrs):
            g["initial_lr"] = m / div_factor
            g["max_lr"], g["min_lr"] = m, g["initial_lr"] / final_div_factor
        self.use_beta1 = "betas" in groups[0]
        if cycle_momentum:
            if "momentum" not in groups[0] and not self.use_beta1:
                raise ValueError("OneCycleLR: the optimizer has no momentum or beta1 to cycle; pass "
                                 "cycle_momentum=False")
            for g in groups:
                g["max_momentum"], g["base_momentum"] = max_momentum, base_momentum
        t = float(pct_start * self.total_steps)
        if three_phase:
            self.phases = [(t - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                           (2 * t - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                           (self.total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:
            self.phases = [(t - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                           (self.total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]
        super().__init__(optimizer)

    def _anneal(self, start, end, pct):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _at(self, step, g):
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: stepped {step} times, past total_steps={self.total_steps}")
        start = 0.0
        for i, (end, lr0, lr1, m0, m1) in enumerate(self.phases):
            if step <= end or i == len(self.phases) - 1:
                pct = (step - start) / (end - start)
                mom = self._anneal(g[m0], g[m1], pct) if self.cycle_momentum else None
                return self._anneal(g[lr0], g[lr1], pct), mom
            start = end

    def _set(self):
        for g in self.optimizer.param_groups:
            g["lr"], mom = self._at(self.last_epoch, g)
            if mom is not None:
                if self.use_beta1:
                    g["betas"] = (mom, *g["betas"][1:])
                else:
                    g["momentum"] = mom


lr_scheduler = SimpleNamespace(MultiStepLR=MultiStepLR, StepLR=StepLR, ExponentialLR=ExponentialLR,   # torch's spelling
                               CosineAnnealingLR=CosineAnnealingLR, OneCycleLR=OneCycleLR)
