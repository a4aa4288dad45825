"""Tests written to kill mutants that survived scripts/mutation_test.sh in optim.py: the optimizers, the lr
schedulers and their state_dicts (split from tests/test_mutation_kills_api.py). Each test asserts behaviour a
PyTorch user relies on: values and defaults against torch where it is installed, both sides of every
validation boundary, and the exact text of error messages (which must name the op).
docs/testing.md lists which mutants each test kills."""
import re

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import nn, optim

from parity import TORCH_REASON, raises_whole as _raises, torch_or_skip as _torch

# =========================================================================== optim.py: Optimizer
def test_optimizer_repr_lists_the_hyperparameters():
    p = nn.Parameter(np.zeros(2, np.float32))
    assert repr(optim.SGD([p], lr=0.1)) == "SGD(lr=0.1, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0)"
    assert repr(optim.Adam([p])) == "Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0)"


# =========================================================================== optim.py: MultiStepLR / StepLR
def _sgd(lr=1.0):
    return optim.SGD([nn.Parameter(np.zeros(2, np.float32))], lr=lr)


def test_multisteplr_state_dict_and_resume():
    s = optim.MultiStepLR(_sgd(), milestones=[5, 2], gamma=0.5)
    for _ in range(4):
        s.step()
    state = s.state_dict()
    assert state == {"last_epoch": 4, "milestones": [2, 5], "gamma": 0.5}
    assert state["milestones"] is not s.milestones                      # a copy, not the scheduler's list
    o2 = _sgd()
    r = optim.MultiStepLR(o2, milestones=[100], gamma=0.9)
    r.load_state_dict({"last_epoch": 4, "milestones": [5, 2], "gamma": 0.5})
    assert (r.last_epoch, r.milestones, r.gamma) == (4, [2, 5], 0.5)
    assert o2.param_groups[0]["lr"] == 0.5
    r.step()
    assert r.get_last_lr() == [0.25]                                     # epoch 5: past both milestones


def test_steplr_state_dict_and_resume():
    s = optim.StepLR(_sgd(), step_size=3, gamma=0.1)
    for _ in range(4):
        s.step()
    state = s.state_dict()
    assert state == {"last_epoch": 4, "milestones": [], "gamma": 0.1, "step_size": 3}
    o2 = _sgd()
    r = optim.StepLR(o2, step_size=10, gamma=0.5)
    r.load_state_dict(state)
    assert (r.last_epoch, r.step_size, r.gamma) == (4, 3, 0.1)
    np.testing.assert_allclose(r.get_last_lr(), [0.1], rtol=1e-15)
    for _ in range(2):
        r.step()
    np.testing.assert_allclose(r.get_last_lr(), [0.01], rtol=1e-15)     # epoch 6: two decays of step_size 3


# =========================================================================== optim.py: _LRScheduler
@pytest.mark.parametrize("name,kw", [("ExponentialLR", dict(gamma=0.5)), ("CosineAnnealingLR", dict(T_max=8))])
def test_scheduler_step_to_an_epoch(name, kw):
    """step(epoch) jumps to that epoch (PyTorch's deprecated but supported form, which resume relies on)."""
    o = _sgd(0.8)
    s = getattr(optim.lr_scheduler, name)(o, **kw)
    s.step(5)
    assert s.last_epoch == 5
    assert o.param_groups[0]["lr"] == s.lr_at(5, 0.8)
    s.step(2)
    assert s.last_epoch == 2 and o.param_groups[0]["lr"] == s.lr_at(2, 0.8)
    s.step()
    assert s.last_epoch == 3


# =========================================================================== optim.py: CosineAnnealingLR
@pytest.mark.filterwarnings("ignore:Detected call of")
def test_cosine_annealing_t_max_one_matches_torch():
    torch = _torch()
    tp = torch.nn.Parameter(torch.zeros(2))
    to = torch.optim.SGD([tp], lr=0.5)
    ts = torch.optim.lr_scheduler.CosineAnnealingLR(to, T_max=1, eta_min=0.1)
    o = _sgd(0.5)
    s = optim.CosineAnnealingLR(o, T_max=1, eta_min=0.1)
    for step in range(4):
        np.testing.assert_allclose(o.param_groups[0]["lr"], to.param_groups[0]["lr"], rtol=1e-12,
                                   err_msg=f"step {step}")
        s.step()
        ts.step()


@pytest.mark.parametrize("t_max", [0, -1])
def test_cosine_annealing_rejects_a_non_positive_t_max(t_max):
    with pytest.raises(ValueError, match=rf"^CosineAnnealingLR: T_max must be a positive number of steps, "
                                         rf"got {t_max}$"):
        optim.CosineAnnealingLR(_sgd(), T_max=t_max)


# =========================================================================== optim.py: OneCycleLR
def _one_cycle_pair(torch, opt="SGD", okw=None, n_groups=1, **kw):
    okw = dict(lr=0.1, momentum=0.9) if okw is None else okw
    ps = [nn.Parameter(np.zeros(2, np.float32)) for _ in range(n_groups)]
    tps = [torch.nn.Parameter(torch.zeros(2)) for _ in range(n_groups)]
    o = getattr(optim, opt)([{"params": [p]} for p in ps], **okw)
    to = getattr(torch.optim, opt)([{"params": [p]} for p in tps], **okw)
    return o, optim.OneCycleLR(o, **kw), to, torch.optim.lr_scheduler.OneCycleLR(to, **kw)


def _assert_same_schedule(o, s, to, ts, steps):
    for step in range(steps):
        for i, (g, tg) in enumerate(zip(o.param_groups, to.param_groups)):
            np.testing.assert_allclose(g["lr"], tg["lr"], rtol=1e-12, atol=1e-15, err_msg=f"lr, group {i}, step {step}")
            if "momentum" in tg:
                np.testing.assert_allclose(g["momentum"], tg["momentum"], rtol=1e-12, err_msg=f"momentum, step {step}")
        if step < steps - 1:
            s.step()
            ts.step()


@pytest.mark.filterwarnings("ignore:Detected call of")
@pytest.mark.parametrize("kw,steps", [(dict(max_lr=1.0, total_steps=1), 1),
                                      (dict(max_lr=1.0, total_steps=6, pct_start=0.0), 6),
                                      (dict(max_lr=1.0, total_steps=6, pct_start=1.0), 6),
                                      (dict(max_lr=1.0, total_steps=5, pct_start=1.0, anneal_strategy="linear"), 5)])
def test_one_cycle_boundary_arguments_match_torch(kw, steps):
    """total_steps=1 and pct_start at 0 and 1 are valid (as in PyTorch); pct_start=1 ends exactly at max_lr."""
    torch = _torch()
    _assert_same_schedule(*_one_cycle_pair(torch, **kw), steps)


@pytest.mark.filterwarnings("ignore:Detected call of")
def test_one_cycle_max_lr_per_group_matches_torch():
    torch = _torch()
    o, s, to, ts = _one_cycle_pair(torch, n_groups=2, max_lr=[1.0, 0.25], total_steps=7)
    assert [g["max_lr"] for g in o.param_groups] == [1.0, 0.25]
    _assert_same_schedule(o, s, to, ts, 7)


def test_one_cycle_errors():
    o = _sgd()
    msg = r"^OneCycleLR: give total_steps, or epochs and steps_per_epoch$"
    for kw in (dict(), dict(epochs=3), dict(steps_per_epoch=4)):
        with pytest.raises(ValueError, match=msg):
            optim.OneCycleLR(o, max_lr=1.0, **kw)
    for kw, got in ((dict(total_steps=0), "0, 0.3, 'cos'"), (dict(total_steps=10, pct_start=1.5), "10, 1.5, 'cos'"),
                    (dict(total_steps=10, pct_start=-0.1), "10, -0.1, 'cos'"),
                    (dict(total_steps=10, anneal_strategy="exp"), "10, 0.3, 'exp'")):
        with pytest.raises(ValueError, match=r"^OneCycleLR: need total_steps >= 1, 0 <= pct_start <= 1 and "
                                             r"anneal_strategy 'cos' or 'linear', got " + re.escape(got) + "$"):
            optim.OneCycleLR(o, max_lr=1.0, **kw)
    with pytest.raises(ValueError, match=r"^OneCycleLR: the optimizer has no momentum or beta1 to cycle; pass "
                                         r"cycle_momentum=False$"):
        optim.OneCycleLR(optim.Adagrad([nn.Parameter(np.zeros(2, np.float32))]), max_lr=1.0, total_steps=5)


# =========================================================================== optim.py: state_dict validation
@pytest.mark.parametrize("sd,got", [({"state": {}}, "keys ['state']"), ({"param_groups": []}, "keys ['param_groups']"),
                                    ({}, "keys []"), (5, "int"), (["state", "param_groups"], "list")])
def test_optimizer_load_state_dict_needs_both_keys(sd, got):
    """A dict missing either key, or something that is not a dict at all, is refused whole (not a KeyError)."""
    o = _sgd()
    with pytest.raises(ValueError, match=r"^optimizer state: expected a dict with 'state' and 'param_groups', got "
                                         + re.escape(got) + "$"):
        o.load_state_dict(sd)
    assert o.param_groups[0]["lr"] == 1.0 and o.state == {}


# =========================================================================== optim.py: session 3 (issue 17)
def _adam_sd(n=1, shape=(2,)):
    ps = [nn.Parameter(np.zeros(shape, np.float32)) for _ in range(n)]
    o = optim.Adam(ps)
    return o, o.state_dict()["param_groups"]


def _entry(**kw):
    z = np.zeros(2, np.float32)
    st = {"step": 1, "exp_avg": z, "exp_avg_sq": z}
    st.update(kw)
    return st


def _refused(o, sd, msg, err=ValueError):
    before = ([dict(g) for g in o.param_groups], dict(o.state))
    with pytest.raises(err, match="^" + re.escape(msg) + "$"):
        o.load_state_dict(sd)
    assert ([dict(g) for g in o.param_groups], dict(o.state)) == before     # nothing changed


def test_optimizer_state_dict_puts_params_last_in_each_group_like_torch():
    torch = _torch()
    p = nn.Parameter(np.zeros(2, np.float32))
    keys = list(optim.SGD([p], lr=0.1).state_dict()["param_groups"][0])
    tkeys = list(torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1).state_dict()["param_groups"][0])
    assert keys[-1] == tkeys[-1] == "params"
    assert keys == ["lr", "momentum", "dampening", "nesterov", "weight_decay", "params"]
    # still last once a scheduler has added initial_lr to the group (after its params)
    o, to = optim.SGD([p], lr=0.1), torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
    optim.StepLR(o, step_size=2), torch.optim.lr_scheduler.StepLR(to, step_size=2)
    keys, tkeys = list(o.state_dict()["param_groups"][0]), list(to.state_dict()["param_groups"][0])
    assert keys[-1] == tkeys[-1] == "params" and "initial_lr" in keys and "initial_lr" in tkeys


def test_optimizer_load_state_dict_parameter_indices():
    o, g = _adam_sd()
    for bad in ([0.0], [False]):      # sort like [0] but are not ints
        g2 = [dict(g[0], params=bad)]
        _refused(o, {"state": {}, "param_groups": g2},
                 f"optimizer.param_groups: parameter indices must be 0..0 once each, got {bad}")
    o, g = _adam_sd(3)
    _refused(o, {"state": {}, "param_groups": [dict(g[0], params=[0, 0, 1])]},
             "optimizer.param_groups: parameter indices must be 0..2 once each, got [0, 0, 1]")
    o, g = _adam_sd(12)                # only the first 10 indices are shown
    _refused(o, {"state": {}, "param_groups": [dict(g[0], params=list(range(11)) + [3])]},
             "optimizer.param_groups: parameter indices must be 0..11 once each, got [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]")


def test_optimizer_load_state_dict_checks_the_saved_hyperparameters():
    o, g = _adam_sd()
    _refused(o, {"state": {}, "param_groups": [dict(g[0], lr=-1)]},
             "optimizer.param_groups.0: Invalid learning rate: -1")
    _refused(o, {"state": {}, "param_groups": [dict(g[0], lr="a")]},
             "optimizer.param_groups.0: Invalid learning rate: 'a' (expected a real number, got str)", TypeError)
    # a saved list is read as the tuple it becomes (the message shows the tuple)
    _refused(o, {"state": {}, "param_groups": [dict(g[0], betas=[0.9, 0.999, 0.5])]},
             "optimizer.param_groups.0: Adam: betas must be a pair (beta1, beta2), got (0.9, 0.999, 0.5)")
    o.load_state_dict({"state": {}, "param_groups": [dict(g[0], betas=[0.5, 0.6])]})
    assert o.param_groups[0]["betas"] == (0.5, 0.6)


def test_optimizer_load_state_dict_state_key_that_is_not_an_index():
    o, g = _adam_sd(2)
    _refused(o, {"state": {"x": {}}, "param_groups": g}, "optimizer.state.x: no parameter 'x' (this optimizer has 2)")
    _refused(o, {"state": {"1": 5}, "param_groups": g}, "optimizer.state.1: expected a dict, got int")


@pytest.mark.parametrize("step,shown", [(-1, "-1"), (float("inf"), "inf"), (float("nan"), "nan"), (-0.5, "-0.5"),
                                        ("3", "'3'"), (None, "None"), (np.array([3]), "array([3])"),
                                        (np.array([1, 2]), "array([1, 2])"), (np.float64(-1.0), "np.float64(-1.0)")])
def test_optimizer_load_state_dict_refuses_a_bad_step_count(step, shown):
    o, g = _adam_sd()
    if isinstance(step, np.floating) and repr(step) != shown:
        shown = repr(step)                        # NumPy < 2 writes -1.0
    _refused(o, {"state": {0: _entry(step=step)}, "param_groups": g},
             f"optimizer.state.0.step: expected a non-negative number, got {shown}")


@pytest.mark.parametrize("step", [0, 0.5, 3, np.int64(2), np.array(4.0, np.float32)])
def test_optimizer_load_state_dict_accepts_any_non_negative_step_count(step):
    o, g = _adam_sd()
    o.load_state_dict({"state": {0: _entry(step=step)}, "param_groups": g})
    got = o.state_dict()["state"][0]["step"]
    assert got == float(step) and not hasattr(got, "shape")


def test_optimizer_load_state_dict_refuses_bad_state_arrays():
    o, g = _adam_sd()
    z = np.zeros(2, np.float32)
    cases = [(_entry(exp_avg=[0.0, 0.0]), "optimizer.state.0.exp_avg: expected an array of shape (2,), got list"),
             (_entry(exp_avg=memoryview(z)),
              "optimizer.state.0.exp_avg: expected an array of shape (2,), got memoryview"),
             (_entry(exp_avg=np.zeros(3, np.float32)), "optimizer.state.0.exp_avg: has shape (3,), the parameter (2,)"),
             (_entry(exp_avg=np.zeros(2, np.int64)),
              "optimizer.state.0.exp_avg: has dtype int64, expected a floating dtype like the parameter's float32"),
             (_entry(exp_avg=np.array([0, np.nan], np.float32)),
              "optimizer.state.0.exp_avg: holds non-finite values (nan or inf)"),
             (_entry(exp_avg_sq=np.array([0, -1e-30], np.float32)),
              "optimizer.state.0.exp_avg_sq: holds negative values (it is a running mean of squares)")]
    for st, msg in cases:
        _refused(o, {"state": {0: st}, "param_groups": g}, msg)
    # exp_avg may be negative (only exp_avg_sq is a mean of squares), and zeros anywhere are fine
    o.load_state_dict({"state": {0: _entry(exp_avg=-z - 1, exp_avg_sq=z)}, "param_groups": g})
    np.testing.assert_array_equal(o.state_dict()["state"][0]["exp_avg_sq"], z)


def test_adam_state_of_a_0d_parameter_survives_a_checkpoint_like_torch():
    torch = _torch()
    tp = torch.nn.Parameter(torch.tensor(1.5))
    to = torch.optim.Adam([tp], lr=0.1)
    p = nn.Parameter(np.array(1.5, np.float32))
    o = optim.Adam([p], lr=0.1)
    for i, gv in enumerate([0.5, -2.0, 1.0]):
        tp.grad = torch.tensor(gv)
        to.step()
        p.grad = tl.Tensor(np.array(gv, np.float32))
        o.step()
        sd = o.state_dict()
        o = optim.Adam([p], lr=0.1)              # resume from the checkpoint each step
        o.load_state_dict(sd)
        st = o.state_dict()["state"][0]
        assert isinstance(st["exp_avg"], np.ndarray) and st["exp_avg"].shape == ()
        assert st["exp_avg"] is not sd["state"][0]["exp_avg"]
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(st["exp_avg_sq"], to.state_dict()["state"][0]["exp_avg_sq"].numpy(), rtol=1e-6)


def test_rmsprop_without_momentum_keeps_no_momentum_buffer_like_torch():
    torch = _torch()
    for kw in (dict(), dict(centered=True)):
        p, tp = nn.Parameter(np.ones(2, np.float32)), torch.nn.Parameter(torch.ones(2))
        o, to = optim.RMSprop([p], **kw), torch.optim.RMSprop([tp], **kw)
        p.grad, tp.grad = tl.ones(2), torch.ones(2)
        o.step()
        to.step()
        assert sorted(o.state_dict()["state"][0]) == sorted(to.state_dict()["state"][0])


def test_adagrad_state_exists_from_the_start_like_torch():
    torch = _torch()
    ps = [nn.Parameter(np.zeros(2, np.float32)), nn.Parameter(np.zeros(3, np.float32))]
    st = optim.Adagrad(ps, initial_accumulator_value=0.25).state_dict()["state"]
    tst = torch.optim.Adagrad([torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(3))],
                              initial_accumulator_value=0.25).state_dict()["state"]
    assert sorted(st) == sorted(tst) == [0, 1]
    for i in (0, 1):
        assert st[i]["step"] == tst[i]["step"].item() == 0
        np.testing.assert_array_equal(st[i]["sum"], tst[i]["sum"].numpy())


@pytest.mark.parametrize("arg", ["lr_decay", "weight_decay", "initial_accumulator_value", "eps"])
def test_adagrad_refuses_each_negative_hyperparameter(arg):
    kw = dict(lr_decay=0.5, weight_decay=0.25, initial_accumulator_value=0.125, eps=1e-6)
    kw[arg] = -1
    shown = ", ".join(str(kw[k]) for k in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"))
    msg = ("Invalid weight_decay value: -1" if arg == "weight_decay" else      # (the base check, as torch's)
           f"Adagrad: lr_decay, weight_decay, initial_accumulator_value and eps must be >= 0, got {shown}")
    with pytest.raises(ValueError, match="^" + re.escape(msg) + "$"):
        optim.Adagrad([nn.Parameter(np.zeros(2, np.float32))], **kw)


def test_adagrad_parameter_missing_from_a_loaded_state_starts_fresh_like_torch():
    """A state_dict without a parameter's entry (or with an empty one) gives it a fresh state: step 0 and
    sum = initial_accumulator_value, so its steps match a fresh torch Adagrad's."""
    torch = _torch()
    kw = dict(lr=0.1, lr_decay=0.5, initial_accumulator_value=0.25)
    for state in ({}, {0: {}}):
        p = nn.Parameter(np.array([1.0, -2.0], np.float32))
        o = optim.Adagrad([p], **kw)
        o.load_state_dict({"state": state, "param_groups": o.state_dict()["param_groups"]})
        tp = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
        to = torch.optim.Adagrad([tp], **kw)
        for gv in ([0.5, 1.0], [-1.0, 2.0]):
            p.grad, tp.grad = tl.Tensor(np.array(gv, np.float32)), torch.tensor(gv)
            o.step()
            to.step()
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-6)
        st = o.state_dict()["state"][0]
        assert st["step"] == 2
        np.testing.assert_allclose(st["sum"], to.state_dict()["state"][0]["sum"].numpy(), rtol=1e-6)


def _p2():
    return nn.Parameter(np.zeros(2, np.float32))


@pytest.mark.parametrize("name", ["SGD", "Adagrad"])
def test_optimizer_constructor_errors_name_the_optimizer(name):
    """Every refusal of Optimizer.__init__, whole message, with the optimizer's class name."""
    cls, p = getattr(optim, name), _p2()
    it = "params argument given to the optimizer should be an iterable of Tensors or dicts, but got"
    for bad, shown in ((p, "Parameter"), ({"params": [p]}, "dict"), (3, "int"), ("ab", "str"), (b"ab", "bytes")):
        _raises(TypeError, f"{name}: {it} {shown}", cls, bad, lr=0.1)
    _raises(ValueError, f"{name}: optimizer got an empty parameter list", cls, [], lr=0.1)
    _raises(ValueError, f"{name}: optimizer got an empty parameter list", cls, iter([]), lr=0.1)
    _raises(TypeError, f"{name}: params must be all Tensors or all param-group dicts, got a Parameter among dicts",
            cls, [{"params": [p]}, _p2()], lr=0.1)
    _raises(ValueError, f"{name}: a param group needs a 'params' entry, got keys ['lr', 'momentum']", cls,
            [{"momentum": 0.5, "lr": 0.1}], lr=0.1)
    grp = "a param group's 'params' must be a Tensor or an iterable of Tensors, got"
    for bad, shown in ((3, "int"), ({"a": p}, "dict"), ("ab", "str"), (None, "NoneType")):
        _raises(TypeError, f"{name}: {grp} {shown}", cls, [{"params": bad}], lr=0.1)
    _raises(TypeError, f"{name}: optimizer can only optimize Tensors, but one of the params is float", cls,
            [p, 1.0], lr=0.1)
    _raises(ValueError, f"{name}: a parameter appears twice", cls, [p, _p2(), p], lr=0.1)
    _raises(ValueError, f"{name}: a parameter appears twice", cls, [{"params": [p]}, {"params": p}], lr=0.1)
    _raises(ValueError, f"{name}: a parameter of shape (3, 1) does not require grad", cls,
            [p, tl.Tensor(np.zeros((3, 1), np.float32))], lr=0.1)
    # and what is accepted: a group's params as one Tensor, a generator, two groups of distinct parameters
    q = _p2()
    o = cls((t for t in (p, q)), lr=0.1)
    assert o.param_groups[0]["params"] == [p, q] and o.state_dict()["param_groups"][0]["params"] == [0, 1]
    o = cls([{"params": p}, {"params": [q], "lr": 0.5}], lr=0.1)
    assert [g["lr"] for g in o.param_groups] == [0.1, 0.5]
    assert [g["params"] for g in o.param_groups] == [[p], [q]]


def test_optimizer_learning_rate_checks():
    p = _p2()
    _raises(TypeError, "SGD: missing the required argument lr (the learning rate)", optim.SGD, [p], lr=None)
    _raises(TypeError, "Adam: missing the required argument lr (the learning rate)", optim.Adam, [p], lr=None)
    _raises(ValueError, "Invalid learning rate: -1", optim.SGD, [p], lr=-1)
    _raises(ValueError, "Invalid learning rate: -0.5", optim.Adam, [{"params": [p], "lr": -0.5}])
    _raises(TypeError, "Invalid learning rate: 'a' (expected a real number, got str)", optim.SGD, [p], lr="a")
    _raises(TypeError, "Invalid learning rate: True (expected a real number, got bool)", optim.SGD, [p], lr=True)
    _raises(ValueError, "Invalid weight_decay value: -0.25", optim.SGD, [p], lr=0.1, weight_decay=-0.25)
    _raises(TypeError, "Invalid weight_decay value: [0.1] (expected a real number, got list)", optim.SGD, [p],
            lr=0.1, weight_decay=[0.1])
    _raises(ValueError, "Invalid initial_lr: -1", optim.SGD, [{"params": [p], "initial_lr": -1}], lr=0.1)
    _raises(ValueError, "Invalid initial_lr: inf", optim.SGD, [{"params": [p], "initial_lr": float("inf")}], lr=0.1)
    # the lower bounds themselves are accepted, as in torch; numpy numbers are numbers
    o = optim.SGD([{"params": [p], "initial_lr": 0.0}], lr=0.0, weight_decay=0.0)
    assert o.param_groups[0]["lr"] == 0.0
    optim.SGD([p], lr=np.float32(0.5), weight_decay=np.int64(0))


def test_sgd_momentum_dampening_and_nesterov_checks():
    p = _p2()
    _raises(ValueError, "Invalid momentum value: -0.5", optim.SGD, [p], lr=0.1, momentum=-0.5)
    _raises(TypeError, "Invalid momentum value: '0.9' (expected a real number, got str)", optim.SGD, [p], lr=0.1,
            momentum="0.9")
    _raises(ValueError, "Invalid dampening value: nan", optim.SGD, [p], lr=0.1, dampening=float("nan"))
    _raises(TypeError, "Invalid dampening value: None (expected a real number, got NoneType)", optim.SGD, [p],
            lr=0.1, dampening=None)
    msg = ("SGD: Nesterov momentum requires a momentum and zero dampening (Nesterov momentum needs momentum > 0 and "
           "dampening 0)")
    for kw in (dict(momentum=0.0), dict(momentum=0.9, dampening=0.5), dict(momentum=0.9, dampening=-0.1)):
        _raises(ValueError, msg, optim.SGD, [p], lr=0.1, nesterov=True, **kw)
    optim.SGD([p], lr=0.1, nesterov=True, momentum=1.5)          # any positive momentum, as torch
    optim.SGD([p], lr=0.1, nesterov=False, momentum=0.0, dampening=0.5)


def test_adam_beta_and_epsilon_checks():
    p = _p2()
    for name in ("Adam", "AdamW"):
        cls = getattr(optim, name)
        _raises(ValueError, f"{name}: betas must be a pair (beta1, beta2), got (0.9,)", cls, [p], betas=(0.9,))
        _raises(ValueError, f"{name}: betas must be a pair (beta1, beta2), got 0.9", cls, [p], betas=0.9)
        _raises(ValueError, f"Invalid beta parameter at index 0: 1.0 ({name}: betas must be in [0, 1), got (1.0, 0.5))",
                cls, [p], betas=(1.0, 0.5))
        _raises(ValueError, f"Invalid beta parameter at index 1: -0.1 ({name}: betas must be in [0, 1), got "
                "(0.5, -0.1))", cls, [p], betas=[0.5, -0.1])
        _raises(TypeError, "Invalid beta parameter at index 0: 'a' (expected a real number, got str)", cls, [p],
                betas=("a", 0.5))
        _raises(ValueError, "Invalid epsilon value: -1e-08", cls, [p], eps=-1e-8)
    o = optim.Adam([p], betas=(0.0, 0.999999), eps=0.0)               # both lower bounds, just under 1
    assert o.param_groups[0]["betas"] == (0.0, 0.999999)


@pytest.mark.parametrize("kw", [dict(alpha=-0.1), dict(alpha=1.5), dict(eps=-1e-3), dict(momentum=-0.5)])
def test_rmsprop_refuses_each_out_of_range_hyperparameter(kw):
    g = dict(alpha=0.99, eps=1e-08, momentum=0.0, weight_decay=0.0)
    g.update(kw)
    _raises(ValueError, f"RMSprop: need 0 <= alpha <= 1 and eps, momentum, weight_decay >= 0, got alpha {g['alpha']}, "
            f"eps {g['eps']}, momentum {g['momentum']}, weight_decay {g['weight_decay']}", optim.RMSprop, [_p2()],
            **kw)


def test_rmsprop_boundary_hyperparameters_match_torch():
    torch = _torch()
    for kw in (dict(alpha=0.0), dict(alpha=1.0, eps=0.1), dict(eps=0.0, momentum=0.0)):
        p, tp = nn.Parameter(np.ones(3, np.float32)), torch.nn.Parameter(torch.ones(3))
        o, to = optim.RMSprop([p], lr=0.01, **kw), torch.optim.RMSprop([tp], lr=0.01, **kw)
        for gv in ([1.0, -2.0, 0.5], [0.5, 0.5, -1.0]):
            p.grad, tp.grad = tl.Tensor(np.array(gv, np.float32)), torch.tensor(gv)
            o.step()
            to.step()
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.1)), ("SGD", dict(lr=0.1, weight_decay=0.5)),
                                     ("Adam", dict(lr=0.1))])
def test_optimizer_step_after_the_parameter_data_is_replaced_matches_torch(name, kw):
    """p.data = a new array of another shape (as torch allows with p.data = ...): the next steps update the new
    data like torch's optimizer (a fresh optimizer for torch, whose state would not fit either)."""
    torch = _torch()
    p = nn.Parameter(np.zeros((2, 3), np.float32))
    o = getattr(optim, name)([p], **kw)
    p.grad = tl.ones(2, 3)
    o.step()
    if name == "Adam":
        o.state = {}                                 # its moments were shaped like the old data
    a = np.arange(12, dtype=np.float32).reshape(4, 3) / 10
    p.data = a.copy()
    tp = torch.nn.Parameter(torch.tensor(a))
    to = getattr(torch.optim, name)([tp], **kw)
    for gv in (np.linspace(-1, 1, 12), np.linspace(2, 0, 12)):
        g = gv.reshape(4, 3).astype(np.float32)
        p.grad, tp.grad = tl.Tensor(g), torch.tensor(g)
        o.step()
        to.step()
    np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-6, atol=1e-7)


def test_optimizer_step_stamps_the_parameter_so_a_stale_graph_refuses_backward():
    """A graph recorded before a step reads the old weights: its backward raises (as PyTorch's version
    counter does), after every step and also after p.data was replaced by a new array."""
    x = tl.Tensor(np.ones(3, np.float32))
    p = nn.Parameter(np.ones(3, np.float32))
    o = optim.SGD([p], lr=0.1)
    msg = r"^one of the variables needed for gradient computation has been modified by an inplace operation: .* " \
          r"was changed by optimizer\.step after"
    for replace in (False, False, True):
        if replace:
            p.data = np.full(3, 2.0, np.float32)
        p.grad = tl.ones(3)
        o.step()                                     # (the first step: before any graph)
        y = (p * x).sum()                            # recorded with the current weights
        p.grad = tl.ones(3)
        o.step()
        with pytest.raises(RuntimeError, match=msg):
            y.backward()
    y = (p * x).sum()                                # recorded after the last step: fine
    p.grad = None
    y.backward()
    np.testing.assert_array_equal(p.grad.numpy(), x.numpy())


def test_sgd_dampening_matches_torch():
    """dampening=1: after the first step the momentum buffer only decays (buf = momentum * buf + 0 * g); a
    negative dampening is accepted and applied as torch does."""
    torch = _torch()
    for damp in (1.0, 0.0, 0.25, -0.5):
        p, tp = nn.Parameter(np.ones(3, np.float32)), torch.nn.Parameter(torch.ones(3))
        o = optim.SGD([p], lr=0.1, momentum=0.9, dampening=damp)
        to = torch.optim.SGD([tp], lr=0.1, momentum=0.9, dampening=damp)
        for gv in ([1.0, -2.0, 0.5], [0.5, 0.5, -1.0], [2.0, 0.0, 1.0]):
            p.grad, tp.grad = tl.Tensor(np.array(gv, np.float32)), torch.tensor(gv)
            o.step()
            to.step()
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-6)


def test_adam_keeps_betas_given_as_a_list_as_a_tuple_like_torch():
    """torch.optim.Adam stores betas as a tuple whatever sequence it was given (param_groups, state_dict)."""
    p = tl.zeros(2, requires_grad=True)
    for opt in (optim.Adam, optim.AdamW):
        betas = opt([p], betas=[0.8, 0.99]).param_groups[0]["betas"]
        assert type(betas) is tuple and betas == (0.8, 0.99)


def test_adam_keeps_betas_given_as_an_array_as_a_tuple_like_torch():
    p = tl.zeros(2, requires_grad=True)
    betas = optim.Adam([p], betas=np.array([0.8, 0.99])).param_groups[0]["betas"]
    assert type(betas) is tuple and betas == (0.8, 0.99)
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    tb = torch.optim.Adam([torch.zeros(2, requires_grad=True)], betas=np.array([0.8, 0.99])).param_groups[0]["betas"]
    assert type(tb) is tuple and tuple(float(b) for b in tb) == betas
