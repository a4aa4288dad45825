"""Tests for tl.optim: SGD / Adam / AdamW against PyTorch's update rules step by step,
in-place updates that record no graph, state_dict round trips, parameter groups, errors."""
import copy

import numpy as np
import pytest

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite import nn, optim

TORCH_REASON = "PyTorch is not installed: the step-by-step comparisons with torch.optim are skipped"


def _torch():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    torch.set_num_threads(1)   # tiny tensors: torch's thread pool only costs time on a busy 2-core machine
    return torch


# (our class, torch class name, kwargs): several hyperparameter combinations of each optimizer
CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=1.0)),                                        # the lr == 1 fast path
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3)),
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.05)),
    ("SGD", dict(lr=0.1, weight_decay=0.1)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("AdamW", dict(lr=0.02, betas=(0.5, 0.9), eps=1e-5, weight_decay=0.0)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.003, alpha=0.9, eps=1e-6, weight_decay=0.05)),
    ("RMSprop", dict(lr=0.003, momentum=0.9)),
    ("RMSprop", dict(lr=0.003, momentum=0.5, centered=True, weight_decay=0.01)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.05, lr_decay=0.1, weight_decay=0.05, initial_accumulator_value=0.1, eps=1e-6)),
]
IDS = [f"{n}-" + "-".join(f"{k}={v}" for k, v in kw.items()) for n, kw in CONFIGS]


def _models(dtype, seed=0):
    """The same MLP in both frameworks (torch's init copied into ours)."""
    torch = _torch()
    torch.manual_seed(seed)
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    tm = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).to(tdtype)
    om = nn.Sequential(nn.Linear(5, 8, dtype=dtype), nn.Tanh(), nn.Linear(8, 3, dtype=dtype))
    om.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})
    return om, tm


def _data(dtype, n=16):
    rng = np.random.default_rng(7)
    return rng.standard_normal((n, 5)).astype(dtype), rng.integers(0, 3, size=n)


def _assert_same_weights(om, tm, rtol, atol, msg=""):
    tsd = tm.state_dict()
    for k, v in om.state_dict().items():
        np.testing.assert_allclose(v.numpy(), tsd[k].detach().numpy(), rtol=rtol, atol=atol, err_msg=f"{k} {msg}")


def _train_step(model, opt, x, y, torch=None):
    if torch is None:
        opt.zero_grad()
        F.cross_entropy(model(tl.Tensor(x)), y).backward()
    else:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y)).backward()
    opt.step()


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
@pytest.mark.parametrize("dtype,rtol,atol", [(np.float64, 1e-10, 1e-12), (np.float32, 2e-4, 2e-5)],
                         ids=["float64", "float32"])
def test_matches_torch_step_by_step(name, kwargs, dtype, rtol, atol):
    torch = _torch()
    om, tm = _models(dtype)
    oo = getattr(optim, name)(om.parameters(), **kwargs)
    to = getattr(torch.optim, name)(tm.parameters(), **kwargs)
    x, y = _data(dtype)
    for step in range(12):
        _train_step(om, oo, x, y)
        _train_step(tm, to, x, y, torch)
        _assert_same_weights(om, tm, rtol, atol, f"after step {step + 1}")


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_update_rule_matches_torch_given_identical_gradients(name, kwargs):
    """The optimizer alone: both receive the very same gradients, so even float32 agrees to rounding."""
    torch = _torch()
    rng = np.random.default_rng(3)
    shapes = [(4, 3), (3,), (2, 2, 2), (70001,)]          # the last spans several of Adam's CPU chunks
    init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    ours = [nn.Parameter(a.copy()) for a in init]
    theirs = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in init]
    oo = getattr(optim, name)(ours, **kwargs)
    to = getattr(torch.optim, name)(theirs, **kwargs)
    for _ in range(10):
        grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        for p, g in zip(ours, grads):
            p.grad = tl.Tensor(g.copy())
        for p, g in zip(theirs, grads):
            p.grad = torch.from_numpy(g.copy())
        oo.step()
        to.step()
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.05, momentum=0.9)), ("Adam", dict(lr=0.01)),
                                         ("AdamW", dict(lr=0.01, weight_decay=0.1)),
                                         ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True)),
                                         ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.2))])
def test_state_matches_torch_state(name, kwargs):
    """state_dict() has PyTorch's layout and the same buffer values after the same steps."""
    torch = _torch()
    om, tm = _models(np.float64)
    oo = getattr(optim, name)(om.parameters(), **kwargs)
    to = getattr(torch.optim, name)(tm.parameters(), **kwargs)
    x, y = _data(np.float64)
    for _ in range(3):
        _train_step(om, oo, x, y)
        _train_step(tm, to, x, y, torch)
    osd, tsd = oo.state_dict(), to.state_dict()
    assert set(osd) == {"state", "param_groups"}
    assert sorted(osd["state"]) == sorted(tsd["state"]) == [0, 1, 2, 3]
    assert [g["params"] for g in osd["param_groups"]] == [g["params"] for g in tsd["param_groups"]]
    for key in ("lr", "weight_decay"):
        assert osd["param_groups"][0][key] == tsd["param_groups"][0][key]
    for i in range(4):
        ours, theirs = osd["state"][i], tsd["state"][i]
        for k, v in ours.items():
            assert k in theirs, f"state key {k!r} is not PyTorch's"
            tv = theirs[k]
            if k == "step":
                assert int(v) == int(tv) == 3
            else:
                np.testing.assert_allclose(np.asarray(v), tv.numpy(), rtol=1e-10, atol=1e-13)


def test_param_groups_with_different_lr_match_torch():
    torch = _torch()
    om, tm = _models(np.float64)
    oo = optim.SGD([{"params": om[0].parameters(), "lr": 0.2},
                    {"params": om[2].parameters()}], lr=0.01, momentum=0.9)
    to = torch.optim.SGD([{"params": tm[0].parameters(), "lr": 0.2},
                          {"params": tm[2].parameters()}], lr=0.01, momentum=0.9)
    assert [g["lr"] for g in oo.param_groups] == [0.2, 0.01]
    x, y = _data(np.float64)
    for step in range(6):
        _train_step(om, oo, x, y)
        _train_step(tm, to, x, y, torch)
        _assert_same_weights(om, tm, 1e-10, 1e-12, f"after step {step + 1}")


def test_adam_param_groups_with_own_hyperparameters_match_torch():
    torch = _torch()
    om, tm = _models(np.float64)
    oo = optim.AdamW([{"params": om[0].parameters(), "lr": 0.03, "weight_decay": 0.0},
                      {"params": om[2].parameters(), "betas": (0.7, 0.95)}], lr=0.01)
    to = torch.optim.AdamW([{"params": tm[0].parameters(), "lr": 0.03, "weight_decay": 0.0},
                            {"params": tm[2].parameters(), "betas": (0.7, 0.95)}], lr=0.01)
    x, y = _data(np.float64)
    for step in range(6):
        _train_step(om, oo, x, y)
        _train_step(tm, to, x, y, torch)
        _assert_same_weights(om, tm, 1e-10, 1e-12, f"after step {step + 1}")


def test_changing_lr_between_steps_matches_torch():
    torch = _torch()
    om, tm = _models(np.float64)
    oo, to = optim.Adam(om.parameters(), lr=0.01), torch.optim.Adam(tm.parameters(), lr=0.01)
    x, y = _data(np.float64)
    for step in range(6):
        for g in oo.param_groups:
            g["lr"] = 0.01 * 0.5 ** step
        for g in to.param_groups:
            g["lr"] = 0.01 * 0.5 ** step
        _train_step(om, oo, x, y)
        _train_step(tm, to, x, y, torch)
    _assert_same_weights(om, tm, 1e-10, 1e-12)


# --------------------------------------------------------------------------- in place, no graph
OPTS = [("SGD", dict(lr=0.1)), ("SGD", dict(lr=1.0, momentum=0.9, nesterov=True, weight_decay=0.1)),
        ("Adam", dict(lr=0.01, weight_decay=0.1)), ("AdamW", dict(lr=0.01))]


@pytest.mark.parametrize("name,kwargs", OPTS)
@pytest.mark.parametrize("under_no_grad", [False, True])
def test_step_updates_in_place_and_records_no_graph(name, kwargs, under_no_grad):
    tl.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))
    params = m.parameters()
    ids = [(id(p), id(p.data)) for p in params]
    before = [p.numpy().copy() for p in params]
    opt = getattr(optim, name)(params, **kwargs)
    x = tl.Tensor(np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32))
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(m(x), np.arange(8) % 2).backward()
        if under_no_grad:
            with tl.no_grad():
                opt.step()
        else:
            opt.step()
    after = m.parameters()
    assert [(id(p), id(p.data)) for p in after] == ids       # same Parameter objects, same arrays
    for p, b in zip(after, before):
        assert p._ctx is None and p.is_leaf and p.grad_fn is None
        assert p.requires_grad and isinstance(p, nn.Parameter)
        assert p.dtype == np.float32                           # no float64 creeping in
        assert not np.array_equal(p.numpy(), b)
    assert tl.is_grad_enabled()


@pytest.mark.parametrize("name,kwargs", OPTS)
def test_step_on_device_matches_cpu(device, name, kwargs):
    """The same update on every device (the GPU's Adam is a fused kernel, the CPU's chunked ufuncs)."""
    rng = np.random.default_rng(0)
    init = [rng.standard_normal(s).astype(np.float32) for s in [(5, 4), (4,), (70000,)]]
    runs = {}
    for dev in ("cpu", device):
        params = [nn.Parameter(a.copy()) for a in init]
        for p in params:
            p.data = tl.Tensor(p.data, device=dev).data
        opt = getattr(optim, name)(params, **kwargs)
        grng = np.random.default_rng(1)
        for _ in range(4):
            for p, a in zip(params, init):
                p.grad = tl.Tensor(grng.standard_normal(a.shape).astype(np.float32), device=dev)
            opt.step()
        assert all(p.device == dev for p in params)
        assert all(st_v.__class__ is params[0].data.__class__
                   for st in opt.state.values() for st_v in st.values() if hasattr(st_v, "shape"))
        runs[dev] = [p.numpy() for p in params]
    for a, b in zip(runs["cpu"], runs[device]):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_step_skips_parameters_without_grad():
    a, b = nn.Parameter(np.ones(3, np.float32)), nn.Parameter(np.ones(3, np.float32))
    for opt in (optim.SGD([a, b], lr=0.1, momentum=0.9), optim.Adam([a, b], lr=0.1)):
        a.grad = tl.Tensor(np.ones(3, np.float32))
        b.grad = None
        opt.step()
        np.testing.assert_array_equal(b.numpy(), np.ones(3))
        assert id(b) not in opt.state or not opt.state[id(b)]


def test_zero_grad_clears_all_groups():
    m = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    opt = optim.SGD([{"params": m[0].parameters()}, {"params": m[1].parameters(), "lr": 1.0}], lr=0.1)
    m(tl.ones(1, 2)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    opt.zero_grad()
    assert all(p.grad is None for p in m.parameters())


# --------------------------------------------------------------------------- state_dict round trips
def _clone_model(src):
    dst = nn.Sequential(nn.Linear(5, 8, dtype=np.float32), nn.Tanh(), nn.Linear(8, 3, dtype=np.float32))
    dst.load_state_dict(src.state_dict())
    return dst


@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
                                         ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True)),
                                         ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
                                         ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.2, weight_decay=0.01)),
                                         ("Adam", dict(lr=0.01, weight_decay=0.01)), ("AdamW", dict(lr=0.01))])
def test_state_dict_round_trip_continues_identically(name, kwargs):
    tl.manual_seed(0)
    m = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
    opt = getattr(optim, name)(m.parameters(), **kwargs)
    x, y = _data(np.float32)
    for _ in range(4):
        _train_step(m, opt, x, y)
    saved = copy.deepcopy(opt.state_dict())
    m2 = _clone_model(m)
    opt2 = getattr(optim, name)(m2.parameters(), lr=123.0)    # hyperparameters come from the state dict
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == kwargs["lr"]
    snapshot = copy.deepcopy(saved)
    for _ in range(5):
        _train_step(m, opt, x, y)
        _train_step(m2, opt2, x, y)
    for a, b in zip(m.parameters(), m2.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())          # bit-identical
    # loading copied the arrays: stepping opt2 did not write into the dict it was given
    for i, st in saved["state"].items():
        for k, v in st.items():
            np.testing.assert_array_equal(np.asarray(v), np.asarray(snapshot["state"][i][k]))


def test_state_dict_of_fresh_optimizer_loads():
    m = nn.Linear(2, 2)
    opt = optim.Adam(m.parameters())
    sd = opt.state_dict()
    assert sd["state"] == {}
    optim.Adam(m.parameters()).load_state_dict(sd)


def test_load_state_dict_into_mismatched_optimizer_raises():
    tl.manual_seed(0)
    m = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
    opt = optim.Adam(m.parameters(), lr=0.01)
    x, y = _data(np.float32)
    _train_step(m, opt, x, y)
    sd = opt.state_dict()
    # fewer parameters
    with pytest.raises(ValueError, match="groups"):
        optim.Adam(m[0].parameters()).load_state_dict(sd)
    # a different number of groups
    with pytest.raises(ValueError, match="groups"):
        optim.Adam([{"params": m[0].parameters()}, {"params": m[2].parameters()}]).load_state_dict(sd)
    # same count, different shapes
    other = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 4))
    with pytest.raises(ValueError, match=r"shape \(3, 8\).*\(4, 8\)"):
        optim.Adam(other.parameters()).load_state_dict(sd)


# --------------------------------------------------------------------------- constructor errors
def test_constructor_errors():
    p = nn.Parameter(np.ones(2, np.float32))
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD([p], lr=-1.0)
    with pytest.raises(ValueError, match="twice"):
        optim.Adam([p, p])
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([p], betas=(1.0, 0.999))
    with pytest.raises(ValueError, match="require grad"):
        optim.SGD([tl.ones(2)], lr=0.1)
    opt = optim.SGD((q for q in [p]), lr=0.1)          # a generator, as model.parameters() in torch
    assert opt.param_groups[0]["params"] == [p]


def test_defaults_match_torch():
    torch = _torch()
    p = nn.Parameter(np.ones(2, np.float32))
    tp = torch.nn.Parameter(torch.ones(2))
    for name, keys in [("Adam", ("lr", "betas", "eps", "weight_decay")), ("AdamW", ("lr", "betas", "eps", "weight_decay")),
                       ("RMSprop", ("lr", "alpha", "eps", "weight_decay", "momentum", "centered")),
                       ("Adagrad", ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"))]:
        ours = getattr(optim, name)([p]).param_groups[0]
        theirs = getattr(torch.optim, name)([tp]).param_groups[0]
        for key in keys:
            assert tuple(np.atleast_1d(ours[key])) == tuple(np.atleast_1d(theirs[key])), f"{name}.{key}"
    ours = optim.SGD([p], lr=0.1).param_groups[0]
    theirs = torch.optim.SGD([tp], lr=0.1).param_groups[0]
    for key in ("momentum", "dampening", "nesterov", "weight_decay"):
        assert ours[key] == theirs[key], f"SGD.{key}"


@pytest.mark.filterwarnings("ignore:Detected call of")   # torch: scheduler stepped without optimizer steps
def test_multistep_lr_matches_torch_and_resumes():
    torch = pytest.importorskip("torch", reason="PyTorch not installed: no reference schedule")
    p = tl.nn.Parameter(np.zeros(3, dtype=np.float32))
    opt = tl.optim.Adam([p], lr=0.5)
    sched = tl.optim.MultiStepLR(opt, milestones=[2, 5], gamma=0.1)
    tp = torch.nn.Parameter(torch.zeros(3))
    topt = torch.optim.Adam([tp], lr=0.5)
    tsched = torch.optim.lr_scheduler.MultiStepLR(topt, milestones=[2, 5], gamma=0.1)
    lrs, tlrs = [], []
    for _ in range(7):
        lrs.append(sched.get_last_lr()[0])
        tlrs.append(tsched.get_last_lr()[0])
        sched.step()
        tsched.step()
    np.testing.assert_allclose(lrs, tlrs)
    # resuming: a fresh optimizer + scheduler loaded from the saved optimizer state lands on the same lr
    opt2 = tl.optim.Adam([p], lr=0.5)
    sched2 = tl.optim.MultiStepLR(opt2, milestones=[2, 5], gamma=0.1)
    opt2.load_state_dict(opt.state_dict())
    sched2.step(7)
    assert sched2.get_last_lr() == sched.get_last_lr()


def test_step_lr():
    p = tl.nn.Parameter(np.zeros(1, dtype=np.float32))
    sched = tl.optim.StepLR(tl.optim.SGD([p], lr=1.0), step_size=3, gamma=0.5)
    seen = []
    for _ in range(7):
        seen.append(sched.get_last_lr()[0])
        sched.step()
    assert seen == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]
