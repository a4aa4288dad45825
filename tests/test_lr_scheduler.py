"""Tests for the lr schedules in tl.optim (ExponentialLR, CosineAnnealingLR, OneCycleLR; MultiStepLR and
StepLR are in test_optim.py): the lr (and OneCycle's momentum) against torch.optim.lr_scheduler step by
step, resuming from state_dict, the torch spelling tl.optim.lr_scheduler.X, errors."""
import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import nn, optim


def _torch():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: no reference schedule")
    return torch


CASES = [
    ("ExponentialLR", "SGD", dict(lr=0.5), dict(gamma=0.9), 12),
    ("CosineAnnealingLR", "SGD", dict(lr=0.5), dict(T_max=5), 14),                   # past T_max: the cosine goes on
    ("CosineAnnealingLR", "Adam", dict(lr=0.01), dict(T_max=7, eta_min=1e-4), 10),
    ("OneCycleLR", "SGD", dict(lr=0.1, momentum=0.9), dict(max_lr=1.0, total_steps=20), 19),
    ("OneCycleLR", "Adam", dict(lr=0.001), dict(max_lr=0.01, epochs=3, steps_per_epoch=4, pct_start=0.25), 11),
    ("OneCycleLR", "SGD", dict(lr=0.1, momentum=0.9),
     dict(max_lr=0.5, total_steps=15, anneal_strategy="linear", three_phase=True, div_factor=10), 14),
    ("OneCycleLR", "RMSprop", dict(lr=0.01, momentum=0.5), dict(max_lr=0.1, total_steps=9), 8),
    ("OneCycleLR", "Adagrad", dict(lr=0.01), dict(max_lr=0.1, total_steps=9, cycle_momentum=False), 8),
]


@pytest.mark.filterwarnings("ignore:Detected call of")   # torch: scheduler stepped without optimizer steps
@pytest.mark.parametrize("sched,opt,okw,skw,steps", CASES, ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_schedule_matches_torch_step_by_step(sched, opt, okw, skw, steps):
    torch = _torch()
    p = nn.Parameter(np.zeros(2, np.float32))
    tp = torch.nn.Parameter(torch.zeros(2))
    oo, to = getattr(optim, opt)([p], **okw), getattr(torch.optim, opt)([tp], **okw)
    os_, ts = getattr(optim.lr_scheduler, sched)(oo, **skw), getattr(torch.optim.lr_scheduler, sched)(to, **skw)
    for step in range(steps + 1):
        og, tg = oo.param_groups[0], to.param_groups[0]
        np.testing.assert_allclose(og["lr"], tg["lr"], rtol=1e-9, atol=1e-15, err_msg=f"lr at step {step}")
        assert os_.get_last_lr() == [og["lr"]]
        for key in ("momentum", "betas"):
            if key in og:
                np.testing.assert_allclose(np.atleast_1d(og[key]), np.atleast_1d(tg[key]), rtol=1e-9,
                                           err_msg=f"{key} at step {step}")
        if step < steps:
            os_.step()
            ts.step()


def test_schedules_resume_from_state_dict():
    for make in (lambda o: optim.CosineAnnealingLR(o, T_max=10, eta_min=0.01),
                 lambda o: optim.ExponentialLR(o, gamma=0.5),
                 lambda o: optim.OneCycleLR(o, max_lr=1.0, total_steps=10)):
        p = nn.Parameter(np.zeros(1, np.float32))
        o1 = optim.SGD([p], lr=0.3, momentum=0.9)
        s1 = make(o1)
        for _ in range(4):
            s1.step()
        o2 = optim.SGD([p], lr=0.3, momentum=0.9)
        s2 = make(o2)
        s2.load_state_dict(s1.state_dict())
        for _ in range(3):
            s1.step()
            s2.step()
            assert s1.get_last_lr() == s2.get_last_lr()
            assert o1.param_groups[0]["momentum"] == o2.param_groups[0]["momentum"]


def test_one_cycle_errors():
    p = nn.Parameter(np.zeros(1, np.float32))
    with pytest.raises(ValueError, match="total_steps"):
        optim.OneCycleLR(optim.SGD([p], lr=0.1), max_lr=1.0)
    with pytest.raises(ValueError, match="no momentum or beta1"):
        optim.OneCycleLR(optim.Adagrad([p]), max_lr=1.0, total_steps=5)
    s = optim.OneCycleLR(optim.SGD([p], lr=0.1), max_lr=1.0, total_steps=2)
    s.step()
    s.step()
    with pytest.raises(ValueError, match="past total_steps=2"):
        s.step()
    with pytest.raises(ValueError, match="T_max"):
        optim.CosineAnnealingLR(optim.SGD([p], lr=0.1), T_max=0)


def test_optimizers_train_a_small_net():
    """RMSprop and Adagrad bring a loss down on a small problem (their rules are checked against torch in
    test_optim.py)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    for make in (lambda ps: optim.RMSprop(ps, lr=0.01), lambda ps: optim.Adagrad(ps, lr=0.1)):
        tl.manual_seed(0)
        m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        opt = make(m.parameters())
        losses = []
        for _ in range(50):
            opt.zero_grad()
            loss = tl.nn.functional.cross_entropy(m(tl.Tensor(X)), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert losses[-1] < 0.5 * losses[0]
