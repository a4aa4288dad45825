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


class Optimizer:
    defaults: dict = {}

    def __init__(self, params, **hyper):
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        self.param_groups = []
        for group in params:
            g = dict(self.defaults)
            g.update(hyper)
            g.update(group)
            g["params"] = list(g["params"])
            self._check(g)
            self.param_groups.append(g)
        seen = set()
        for p in self._params():
            if id(p) in seen:
                raise ValueError(f"{type(self).__name__}: a parameter appears twice")
            seen.add(id(p))
            if not p.requires_grad:
                raise ValueError(f"{type(self).__name__}: a parameter of shape {p.shape} does not require grad")
        self.state = {}     # id(param) -> dict of arrays / step count (what state_dict saves)
        self._scratch = {}  # id(param) -> reusable work buffers (never saved)

    def _check(self, g):
        if g.get("lr") is None or g["lr"] < 0:
            raise ValueError(f"{type(self).__name__}: invalid learning rate {g.get('lr')}")

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

    def load_state_dict(self, state_dict):
        params = self._params()
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(a["params"]) != len(b["params"]) for a, b in zip(groups, self.param_groups)):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the saved groups do not match this optimizer's")
        for g, saved in zip(self.param_groups, groups):
            for k, v in saved.items():
                if k != "params":
                    g[k] = tuple(v) if isinstance(v, list) else v
        self.state = {}
        for i, st in state_dict["state"].items():
            p = params[int(i)]
            new = {}
            for k, v in st.items():
                if hasattr(v, "shape") and getattr(v, "ndim", 0) > 0:
                    if tuple(v.shape) != p.shape:
                        raise ValueError(f"{type(self).__name__}.load_state_dict: state {k!r} of parameter {i} has "
                                         f"shape {tuple(v.shape)}, the parameter {p.shape}")
                    v = backend.to_device(v, p.device).astype(p.dtype, copy=True)
                elif hasattr(v, "item"):
                    v = v.item()
                new[k] = v
            self.state[id(p)] = new

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
    defaults = {"lr": None, "momentum": 0.0, "dampening": 0.0, "nesterov": False, "weight_decay": 0.0}

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening 0")
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
                         weight_decay=weight_decay)

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
        super().__init__(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)

    def _check(self, g):
        super()._check(g)
        b1, b2 = g["betas"]
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"{type(self).__name__}: betas must be in [0, 1), got {g['betas']}")

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
