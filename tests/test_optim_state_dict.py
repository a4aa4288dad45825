"""Optimizer.load_state_dict's conversions and messages, and the schedulers' defaults (PyTorch's).

Written to kill mutants that survived the mutation run (docs/testing.md)."""
import numpy as np
import pytest

import tinygrad_lite as tl


def _params():
    return [tl.Tensor(np.array([1.0, -2.0]), requires_grad=True), tl.Tensor(np.array([[0.5]]), requires_grad=True)]


def _step(opt, params):
    for p in params:
        p.grad = tl.Tensor(np.ones(p.shape))
    opt.step()


def test_load_state_dict_turns_lists_into_tuples_and_0d_arrays_into_numbers():
    ps = _params()
    opt = tl.optim.Adam(ps, lr=0.1)
    _step(opt, ps)
    sd = opt.state_dict()
    sd["param_groups"][0]["betas"] = [0.8, 0.99]               # as a JSON/YAML round trip gives them
    for st in sd["state"].values():
        st["step"] = np.array(st["step"])                      # a 0-d array, as some serializers give it
    fresh = _params()
    opt2 = tl.optim.Adam(fresh, lr=0.1)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["betas"] == (0.8, 0.99) and isinstance(opt2.param_groups[0]["betas"], tuple)
    steps = [st["step"] for st in opt2.state.values()]
    assert all(isinstance(s, (int, float)) and not isinstance(s, np.ndarray) and s == 1 for s in steps), steps
    _step(opt2, fresh)                                          # and it keeps stepping from there
    assert all(st["step"] == 2 for st in opt2.state.values())
    for k in ("exp_avg", "exp_avg_sq"):
        for st, p in zip(opt2.state.values(), fresh):
            assert st[k].shape == p.shape


def test_load_state_dict_errors_name_the_optimizer_class():
    ps = _params()
    opt = tl.optim.SGD(ps, lr=0.1, momentum=0.9)
    _step(opt, ps)
    sd = opt.state_dict()
    with pytest.raises(ValueError, match=r"^SGD\.load_state_dict: the saved groups do not match"):
        tl.optim.SGD(ps[:1], lr=0.1).load_state_dict(sd)
    bad = opt.state_dict()
    first = next(iter(bad["state"].values()))
    key = next(k for k, v in first.items() if hasattr(v, "shape"))
    first[key] = np.zeros(5)
    with pytest.raises(ValueError, match=rf"state.*0.*{key}.*has shape \(5,\), the parameter \(2,\)"):
        tl.optim.SGD(_params(), lr=0.1, momentum=0.9).load_state_dict(bad)


@pytest.mark.parametrize("make", [lambda o: tl.optim.StepLR(o, step_size=2),
                                  lambda o: tl.optim.MultiStepLR(o, milestones=[2])])
def test_scheduler_default_gamma_is_a_tenth(make):
    opt = tl.optim.SGD(_params(), lr=1.0)
    sched = make(opt)
    for _ in range(2):
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)     # PyTorch's default gamma=0.1
