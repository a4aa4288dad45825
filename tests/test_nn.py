"""Tests for tl.nn: Module (registration, traversal, state_dict, modes, devices, repr),
Linear (PyTorch's init and weight layout, both ways against torch) and the layers."""
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import nn
from tinygrad_lite.nn import functional as F

TORCH_REASON = "PyTorch is not installed: the comparisons with torch.nn are skipped"


def _torch():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    torch.set_num_threads(1)   # tiny tensors: torch's thread pool only costs time on a busy 2-core machine
    return torch


class MLP(nn.Module):
    """Parameters and children interleaved, to check declaration order."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(3, dtype=np.float32))
        self.fc1 = nn.Linear(4, 3)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(3, 2, bias=False)
        self.offset = nn.Parameter(np.zeros(2, dtype=np.float32))

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)) * self.scale) + self.offset


# --------------------------------------------------------------------------- Module: registration & traversal
def test_parameters_in_declaration_order_and_named():
    m = MLP()
    names = [n for n, _ in m.named_parameters()]
    # a module's own parameters first, then each child's, as PyTorch does
    assert names == ["scale", "offset", "fc1.weight", "fc1.bias", "fc2.weight"]
    params = m.parameters()
    assert [id(p) for p in params] == [id(p) for _, p in m.named_parameters()]
    assert params[2] is m.fc1.weight and params[3] is m.fc1.bias and params[4] is m.fc2.weight
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in params)
    # the order is the same every time (not a set)
    assert [id(p) for p in m.parameters()] == [id(p) for p in params]


def test_parameter_order_matches_torch():
    torch = _torch()

    class TMLP(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(3))
            self.fc1 = torch.nn.Linear(4, 3)
            self.act = torch.nn.ReLU()
            self.fc2 = torch.nn.Linear(3, 2, bias=False)
            self.offset = torch.nn.Parameter(torch.zeros(2))

    ours = [(n, p.shape) for n, p in MLP().named_parameters()]
    theirs = [(n, tuple(p.shape)) for n, p in TMLP().named_parameters()]
    assert ours == theirs
    seq_ours = [n for n, _ in nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)).named_parameters()]
    seq_theirs = [n for n, _ in torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(),
                                                    torch.nn.Linear(3, 1)).named_parameters()]
    assert seq_ours == seq_theirs == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_shared_parameter_listed_once():
    lin = nn.Linear(3, 3)
    m = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(m.parameters()) == 2
    assert [n for n, _ in m.named_parameters()] == ["0.weight", "0.bias"]


def test_children_and_modules():
    m = MLP()
    kids = list(m.children())
    assert kids == [m.fc1, m.act, m.fc2]
    assert [n for n, _ in m.named_children()] == ["fc1", "act", "fc2"]
    assert [n for n, _ in m.named_modules()] == ["", "fc1", "act", "fc2"]
    nested = nn.Sequential(nn.Sequential(nn.Linear(1, 1)), nn.Tanh())
    assert len(list(nested.children())) == 2          # direct children only
    assert len(list(nested.modules())) == 4


def test_reassign_and_delete_attribute_updates_registration():
    m = MLP()
    m.fc2 = nn.Identity()
    assert "fc2.weight" not in dict(m.named_parameters())
    del m.offset
    assert [n for n, _ in m.named_parameters()] == ["scale", "fc1.weight", "fc1.bias"]
    m.fc1.bias = None
    assert [n for n, _ in m.named_parameters()] == ["scale", "fc1.weight"]


def test_setattr_before_super_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="super"):
        Bad()


def test_call_dispatches_to_forward():
    class Twice(nn.Module):
        def forward(self, x, k=2):
            return x * k

    t = Twice()
    assert t(tl.Tensor([1.0, 2.0])).tolist() == [2.0, 4.0]
    assert t(tl.Tensor([1.0]), k=3).tolist() == [3.0]
    with pytest.raises(NotImplementedError):
        nn.Module()(tl.Tensor([1.0]))


# --------------------------------------------------------------------------- Module: state_dict
def test_state_dict_keys_values_and_detached():
    m = MLP()
    sd = m.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd) == [n for n, _ in m.named_parameters()]
    for (n, p), v in zip(m.named_parameters(), sd.values()):
        assert isinstance(v, tl.Tensor) and not v.requires_grad and v.is_leaf
        np.testing.assert_array_equal(v.numpy(), p.numpy())


def test_load_state_dict_round_trip_into_new_model(rng):
    a, b = MLP(), MLP()
    for p in a.parameters():
        p.data[...] = rng.standard_normal(p.shape).astype(np.float32)
    missing, unexpected = b.load_state_dict(a.state_dict())
    assert missing == [] and unexpected == []
    x = tl.Tensor(rng.standard_normal((5, 4)).astype(np.float32))
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())
    # the loaded values are copies: changing the source later does not reach b
    before = b.fc1.weight.numpy().copy()
    a.fc1.weight.data += 1
    np.testing.assert_array_equal(b.fc1.weight.numpy(), before)


def test_load_state_dict_from_numpy_arrays_copies():
    m = nn.Linear(2, 2)
    w = np.arange(4, dtype=np.float32).reshape(2, 2)
    m.load_state_dict({"weight": w, "bias": np.zeros(2, np.float32)})
    w[0, 0] = 100
    assert m.weight.numpy()[0, 0] == 0


def test_load_state_dict_missing_key_is_named():
    m = MLP()
    sd = m.state_dict()
    del sd["fc1.bias"]
    with pytest.raises(KeyError, match=r"fc1\.bias"):
        MLP().load_state_dict(sd)


def test_load_state_dict_unexpected_key_is_named():
    sd = MLP().state_dict()
    sd["fc3.weight"] = tl.zeros(2, 2)
    with pytest.raises(KeyError, match=r"fc3\.weight"):
        MLP().load_state_dict(sd)


def test_load_state_dict_non_strict_reports_missing_and_unexpected():
    src = MLP()
    sd = src.state_dict()
    del sd["offset"]
    sd["extra"] = tl.zeros(1)
    m = MLP()
    missing, unexpected = m.load_state_dict(sd, strict=False)
    assert missing == ["offset"] and unexpected == ["extra"]
    np.testing.assert_array_equal(m.fc1.weight.numpy(), src.fc1.weight.numpy())


def test_load_state_dict_shape_mismatch_is_named():
    sd = MLP().state_dict()
    sd["fc1.weight"] = tl.zeros(4, 3)     # transposed layout
    with pytest.raises(ValueError, match=r"fc1\.weight.*\(4, 3\).*\(3, 4\)"):
        MLP().load_state_dict(sd)


def test_load_state_dict_dtype_mismatch_is_named():
    sd = MLP().state_dict()
    sd["fc1.bias"] = tl.Tensor(np.zeros(3, dtype=np.float64))
    with pytest.raises(TypeError, match=r"fc1\.bias.*float64.*float32"):
        MLP().load_state_dict(sd)


def test_load_state_dict_clears_grads():
    m = nn.Linear(2, 1)
    m(tl.ones(1, 2)).sum().backward()
    assert m.weight.grad is not None
    m.load_state_dict(nn.Linear(2, 1).state_dict())
    assert m.weight.grad is None and m.bias.grad is None


# --------------------------------------------------------------------------- Module: modes, zero_grad, to
def test_train_eval_propagate_to_all_submodules():
    m = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(0.5), nn.ReLU()))
    assert all(x.training for x in m.modules())
    assert m.eval() is m
    assert not any(x.training for x in m.modules())
    assert m.train() is m
    assert all(x.training for x in m.modules())
    m.train(False)
    assert not m[1][0].training


def test_zero_grad_clears_every_parameter():
    m = MLP()
    m(tl.ones(2, 4)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_gradients_accumulate_until_zero_grad():
    m = nn.Linear(3, 1)
    x = tl.ones(2, 3)
    m(x).sum().backward()
    g1 = m.weight.grad.numpy().copy()
    m(x).sum().backward()
    np.testing.assert_allclose(m.weight.grad.numpy(), 2 * g1)


def test_to_device_moves_in_place(device):
    m = MLP()
    params = m.parameters()
    m(tl.ones(1, 4)).sum().backward()
    assert m.to(device) is m
    assert [id(p) for p in m.parameters()] == [id(p) for p in params]   # same Parameter objects
    assert all(p.device == device for p in m.parameters())
    assert all(p.grad.device == device for p in m.parameters())
    out = m(tl.ones(1, 4, device=device))
    assert out.device == device
    m.to("cpu")
    assert all(p.device == "cpu" for p in m.parameters())


def test_to_unknown_device_raises():
    with pytest.raises(ValueError, match="unknown device"):
        nn.Linear(1, 1).to("tpu")


# --------------------------------------------------------------------------- repr
def test_repr_matches_pytorch():
    torch = _torch()
    tnn = torch.nn
    ours = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Flatten(), nn.Softmax(dim=-1), nn.LogSoftmax(dim=1),
                         nn.Identity(), nn.Sequential(), nn.Tanh(), nn.Sigmoid(), nn.Linear(2, 1, bias=False),
                         nn.Sequential(nn.Linear(1, 1)))
    theirs = tnn.Sequential(tnn.Linear(3, 2), tnn.ReLU(), tnn.Flatten(), tnn.Softmax(dim=-1), tnn.LogSoftmax(dim=1),
                            tnn.Identity(), tnn.Sequential(), tnn.Tanh(), tnn.Sigmoid(), tnn.Linear(2, 1, bias=False),
                            tnn.Sequential(tnn.Linear(1, 1)))
    assert repr(ours) == repr(theirs)


def test_repr_of_custom_module():
    assert repr(MLP()) == ("MLP(\n"
                           "  (fc1): Linear(in_features=4, out_features=3, bias=True)\n"
                           "  (act): ReLU()\n"
                           "  (fc2): Linear(in_features=3, out_features=2, bias=False)\n"
                           ")")
    assert repr(nn.Dropout(0.25)).startswith("Dropout(p=0.25")
    assert repr(nn.Parameter(np.zeros(2, np.float32))).startswith("Parameter containing:\n")


# --------------------------------------------------------------------------- Linear
def test_linear_shapes_and_layout():
    lin = nn.Linear(5, 3)
    assert lin.weight.shape == (3, 5) and lin.bias.shape == (3,)
    assert lin.weight.dtype == np.float32 and lin.bias.dtype == np.float32
    assert lin(tl.ones(7, 5)).shape == (7, 3)
    assert lin(tl.ones(2, 4, 5)).shape == (2, 4, 3)    # leading batch dims, as torch
    assert nn.Linear(5, 3, bias=False).bias is None
    assert len(nn.Linear(5, 3, bias=False).parameters()) == 1
    assert nn.Linear(5, 3, dtype=np.float64).weight.dtype == np.float64


def test_linear_wrong_input_features_is_a_clear_error():
    with pytest.raises(ValueError, match=r"4 features.*expects 5"):
        nn.Linear(5, 3)(tl.ones(2, 4))


def test_linear_default_init_is_pytorchs():
    """U(-1/sqrt(in), 1/sqrt(in)) for weight and bias (kaiming_uniform(a=sqrt(5)) reduces to that)."""
    tl.manual_seed(0)
    fan_in = 400
    lin = nn.Linear(fan_in, 300)
    bound = 1 / np.sqrt(fan_in)
    w, b = lin.weight.numpy(), lin.bias.numpy()
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.99 * bound                         # the whole interval is used
    assert abs(w.mean()) < 0.01 * bound
    np.testing.assert_allclose(w.std(), bound / np.sqrt(3), rtol=0.01)
    assert len(np.unique(w)) > 0.99 * w.size                      # not constant, not a few values
    # bias bound also uses fan_in, not fan_out
    b_big = nn.Linear(4, 2000).bias.numpy()
    assert np.abs(b_big).max() <= 0.5 and np.abs(b_big).max() > 0.45


def test_linear_init_statistics_match_torch():
    torch = _torch()
    torch.manual_seed(0)
    tw = torch.nn.Linear(256, 512).weight.detach().numpy()
    tl.manual_seed(0)
    ow = nn.Linear(256, 512).weight.numpy()
    np.testing.assert_allclose(ow.std(), tw.std(), rtol=0.02)
    np.testing.assert_allclose(np.abs(ow).max(), np.abs(tw).max(), rtol=0.01)


def test_manual_seed_makes_init_reproducible():
    tl.manual_seed(42)
    a = nn.Linear(3, 4).weight.numpy().copy()
    tl.manual_seed(42)
    b = nn.Linear(3, 4).weight.numpy().copy()
    tl.manual_seed(43)
    c = nn.Linear(3, 4).weight.numpy().copy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_torch_weights_in_outputs_and_grads_match(bias, rng):
    torch = _torch()
    tlin = torch.nn.Linear(6, 4, bias=bias).double()
    ours = nn.Linear(6, 4, bias=bias, dtype=np.float64)
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in tlin.state_dict().items()})
    x = rng.standard_normal((5, 6))
    up = rng.standard_normal((5, 4))
    xt = torch.tensor(x, requires_grad=True)
    yt = tlin(xt)
    yt.backward(torch.tensor(up))
    xo = tl.Tensor(x, requires_grad=True)
    yo = ours(xo)
    yo.backward(tl.Tensor(up))
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad.numpy(), tlin.weight.grad.numpy(), rtol=1e-12, atol=1e-12)
    if bias:
        np.testing.assert_allclose(ours.bias.grad.numpy(), tlin.bias.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_mlp_weights_move_into_torch(rng):
    torch = _torch()
    tl.manual_seed(3)
    ours = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 4), nn.Sigmoid(), nn.Linear(4, 3))
    theirs = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 4),
                                 torch.nn.Sigmoid(), torch.nn.Linear(4, 3))
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    x = rng.standard_normal((10, 8)).astype(np.float32)
    np.testing.assert_allclose(ours(tl.Tensor(x)).numpy(), theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    # and back again: torch's init into ours
    back = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 4), nn.Sigmoid(), nn.Linear(4, 3))
    torch.manual_seed(0)
    fresh = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 4),
                                torch.nn.Sigmoid(), torch.nn.Linear(4, 3))
    back.load_state_dict({k: v.numpy().copy() for k, v in fresh.state_dict().items()})
    np.testing.assert_allclose(back(tl.Tensor(x)).numpy(), fresh(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- Sequential
def test_sequential_forward_indexing_and_len():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    s = nn.Sequential(a, b, c)
    assert len(s) == 3 and s[0] is a and s[-1] is c and list(s) == [a, b, c]
    x = tl.Tensor([[1.0, -2.0]])
    np.testing.assert_array_equal(s(x).numpy(), c(b(a(x))).numpy())
    sub = s[1:]
    assert isinstance(sub, nn.Sequential) and list(sub) == [b, c]
    s.append(nn.Sigmoid())
    assert len(s) == 4 and [n for n, _ in s.named_children()] == ["0", "1", "2", "3"]


def test_sequential_from_ordered_dict():
    s = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert [n for n, _ in s.named_parameters()] == ["fc.weight", "fc.bias"]
    assert repr(s).splitlines()[1] == "  (fc): Linear(in_features=2, out_features=2, bias=True)"


def test_sequential_rejects_non_module():
    with pytest.raises(TypeError, match="layer 1"):
        nn.Sequential(nn.ReLU(), lambda x: x)


# --------------------------------------------------------------------------- activation layers vs torch
@pytest.mark.parametrize("name,kwargs", [("ReLU", {}), ("Sigmoid", {}), ("Tanh", {}), ("Softmax", {"dim": 1}),
                                         ("Softmax", {"dim": 0}), ("LogSoftmax", {"dim": 1}),
                                         ("LogSoftmax", {"dim": -1}), ("Identity", {}), ("Flatten", {}),
                                         ("Flatten", {"start_dim": 0, "end_dim": 1})])
def test_layers_match_torch_values_and_grads(name, kwargs, rng):
    torch = _torch()
    x = rng.standard_normal((3, 4, 2)) * 3
    if name in ("Softmax", "LogSoftmax"):
        x = x[:, :, 0]
    up_shape = getattr(torch.nn, name)(**kwargs)(torch.tensor(x)).shape
    up = rng.standard_normal(tuple(up_shape))
    xt = torch.tensor(x, requires_grad=True)
    yt = getattr(torch.nn, name)(**kwargs)(xt)
    yt.backward(torch.tensor(up))
    xo = tl.Tensor(x, requires_grad=True)
    yo = getattr(nn, name)(**kwargs)(xo)
    assert yo.shape == tuple(yt.shape) and yo.dtype == np.float64
    yo.backward(tl.Tensor(up))
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_softmax_layer_rows_sum_to_one():
    y = nn.Softmax(dim=1)(tl.Tensor([[1000.0, 0.0, -1000.0], [1.0, 1.0, 1.0]]))
    np.testing.assert_allclose(y.numpy().sum(axis=1), 1.0, rtol=1e-6)
    assert np.isfinite(y.numpy()).all()


def test_flatten_layer_default_keeps_batch():
    assert nn.Flatten()(tl.ones(2, 3, 4, 5)).shape == (2, 60)
    assert nn.Flatten(1, 2)(tl.ones(2, 3, 4, 5)).shape == (2, 12, 5)


# --------------------------------------------------------------------------- Dropout
def test_dropout_eval_is_identity():
    d = nn.Dropout(0.5).eval()
    x = tl.Tensor(np.arange(10, dtype=np.float32))
    np.testing.assert_array_equal(d(x).numpy(), x.numpy())


def test_dropout_train_zeroes_and_scales():
    tl.manual_seed(0)
    p = 0.3
    d = nn.Dropout(p)
    x = tl.ones(200, 500)
    y = d(x).numpy()
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / (1 - p), rtol=1e-6)   # inverted dropout: survivors scaled
    assert abs((~kept).mean() - p) < 0.01                           # 100k draws: std ~0.0015
    assert y.dtype == np.float32


def test_dropout_expectation_is_preserved(rng):
    tl.manual_seed(1)
    x = tl.Tensor(rng.uniform(1, 2, size=(400, 250)).astype(np.float32))
    for p in (0.1, 0.5, 0.8):
        y = nn.Dropout(p)(x).numpy()
        np.testing.assert_allclose(y.mean(), x.numpy().mean(), rtol=0.02)


def test_dropout_gradient_uses_the_same_mask():
    tl.manual_seed(2)
    x = tl.Tensor(np.full((50, 40), 2.0, np.float32), requires_grad=True)
    y = nn.Dropout(0.5)(x)
    y.sum().backward()
    mask = y.numpy() != 0
    np.testing.assert_allclose(x.grad.numpy(), mask * 2.0)          # 1/(1-p) where kept, 0 elsewhere


def test_dropout_masks_differ_between_calls_and_follow_the_seed():
    x = tl.ones(1000)
    tl.manual_seed(5)
    a, b = nn.Dropout(0.5)(x).numpy(), nn.Dropout(0.5)(x).numpy()
    tl.manual_seed(5)
    a2 = nn.Dropout(0.5)(x).numpy()
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, a2)


def test_dropout_p_zero_and_invalid_p():
    x = tl.ones(10)
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).numpy(), x.numpy())
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="p must be"):
            nn.Dropout(bad)


def test_dropout_float64_keeps_dtype():
    y = nn.Dropout(0.5)(tl.Tensor(np.ones(100)))
    assert y.dtype == np.float64


def test_loss_modules_match_functionals():
    rng = np.random.default_rng(0)
    logits = tl.Tensor(rng.standard_normal((4, 3)).astype(np.float32))
    labels = np.array([0, 2, 1, 2])
    assert nn.CrossEntropyLoss()(logits, labels).item() == F.cross_entropy(logits, labels).item()
    assert nn.CrossEntropyLoss(label_smoothing=0.1)(logits, labels).item() == \
        F.cross_entropy(logits, labels, label_smoothing=0.1).item()
    np.testing.assert_array_equal(nn.CrossEntropyLoss(reduction="none")(logits, labels).numpy(),
                                  F.cross_entropy(logits, labels, reduction="none").numpy())
    assert nn.NLLLoss()(logits.log_softmax(1), labels).item() == F.nll_loss(logits.log_softmax(1), labels).item()
    p = logits.sigmoid()
    t = (rng.random((4, 3)) > 0.5).astype(np.float32)
    assert nn.MSELoss(reduction="sum")(p, t).item() == F.mse_loss(p, t, reduction="sum").item()
    assert nn.BCELoss()(p, t).item() == F.binary_cross_entropy(p, t).item()
    assert nn.BCEWithLogitsLoss()(logits, t).item() == F.binary_cross_entropy_with_logits(logits, t).item()
    assert "reduction='sum'" in repr(nn.MSELoss(reduction="sum"))


# --------------------------------------------------------------------------- nn.init and Module helpers
def test_init_statistics_match_their_formulas():
    """He and Glorot init as the tutorials define them: std sqrt(2 / fan_in), bound sqrt(6 / (fan_in + fan_out))."""
    w = nn.Parameter(np.zeros((400, 300), dtype=np.float32))
    tl.manual_seed(0)
    nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert w.dtype == np.float32
    assert abs(float(w.numpy().std()) / np.sqrt(2 / 300) - 1) < 0.02
    nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(float(w.numpy().std()) / np.sqrt(2 / 400) - 1) < 0.02
    bound = np.sqrt(6 / 700)
    nn.init.xavier_uniform_(w)
    a = w.numpy()
    assert a.max() <= bound and a.min() >= -bound and a.max() > 0.99 * bound
    nn.init.xavier_normal_(w, gain=nn.init.calculate_gain("tanh"))
    assert abs(float(w.numpy().std()) / (5 / 3 * np.sqrt(2 / 700)) - 1) < 0.02
    nn.init.kaiming_uniform_(w, a=np.sqrt(5))                    # PyTorch's Linear default: bound 1/sqrt(fan_in)
    assert abs(float(np.abs(w.numpy()).max()) * np.sqrt(300) - 1) < 0.01
    nn.init.normal_(w, mean=2.0, std=0.5)
    assert abs(float(w.numpy().mean()) - 2) < 0.01 and abs(float(w.numpy().std()) - 0.5) < 0.01
    nn.init.uniform_(w, -3, -1)
    assert -3 <= w.numpy().min() and w.numpy().max() <= -1
    assert float(nn.init.ones_(w).numpy().min()) == 1.0 and float(nn.init.zeros_(w).numpy().max()) == 0.0
    assert float(nn.init.constant_(w, 0.25).numpy().mean()) == 0.25


def test_init_is_seeded_in_place_and_keeps_the_layout(device):
    def draw():
        tl.manual_seed(7)
        lin = nn.Linear(5, 4, device=device)
        opt = tl.optim.SGD(lin.parameters(), lr=0.1)
        w = lin.weight
        out = nn.init.xavier_normal_(lin.weight)
        assert out is w and lin.weight is w and opt.param_groups[0]["params"][0] is w   # same Parameter, in place
        return lin
    a, b = draw(), draw()
    np.testing.assert_array_equal(np.asarray(a.weight.numpy()), np.asarray(b.weight.numpy()))
    if device == "cpu":
        assert a.weight.data.flags["F_CONTIGUOUS"]               # Linear's column-major weight stays so


def test_init_errors_name_the_function():
    with pytest.raises(ValueError, match="xavier_uniform_: fan_in and fan_out need a tensor with at least 2 dim"):
        nn.init.xavier_uniform_(nn.Parameter(np.zeros(3, dtype=np.float32)))
    with pytest.raises(ValueError, match="kaiming_normal_: mode must be 'fan_in' or 'fan_out'"):
        nn.init.kaiming_normal_(nn.Parameter(np.zeros((2, 2), dtype=np.float32)), mode="fan")
    with pytest.raises(ValueError, match="calculate_gain: unsupported nonlinearity 'swish'"):
        nn.init.calculate_gain("swish")
    with pytest.raises(TypeError, match="normal_: expected a Tensor"):
        nn.init.normal_(np.zeros(3))
    empty = nn.Parameter(np.zeros((0, 3), dtype=np.float32))
    assert nn.init.kaiming_uniform_(empty) is empty               # nothing to fill, as in PyTorch


def test_module_apply_requires_grad_and_casts():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Sequential(nn.Linear(3, 2)))
    order = []
    assert model.apply(lambda m: order.append(type(m).__name__)) is model
    assert order == ["Linear", "ReLU", "Linear", "Sequential", "Sequential"]   # children first, as PyTorch
    model.apply(lambda m: nn.init.zeros_(m.bias) if isinstance(m, nn.Linear) else None)
    assert all(float(np.abs(m.bias.numpy()).max()) == 0 for m in (model[0], model[2][0]))
    assert model.requires_grad_(False) is model
    assert not any(p.requires_grad for p in model.parameters())
    model.requires_grad_()
    x = tl.Tensor(np.ones((2, 4), dtype=np.float32))
    model(x).sum().backward()
    assert model.double() is model
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in model.parameters())
    assert model[0].weight.data.flags["F_CONTIGUOUS"]
    assert model(tl.Tensor(np.ones((2, 4)))).dtype == np.float64
    assert model.float().cpu() is model and model[0].weight.dtype == np.float32
