"""Tests for tinygrad_lite/nn/conv.py and nn/normalization.py: Conv2d / pooling / Dropout2d / BatchNorm1d/2d
against PyTorch's layers (values, gradients, running statistics, state_dict keys and round trips through
safetensors both ways), Module.register_buffer, BatchNorm gradients under hypothesis, errors."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite import nn

TORCH_REASON = "PyTorch is not installed: the comparisons with torch.nn are skipped"


def _torch():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    torch.set_num_threads(1)
    return torch


def _load_from_torch(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})


# --------------------------------------------------------------------------- Conv2d and pooling layers
def test_conv2d_default_init_and_state_dict_keys():
    tl.manual_seed(0)
    m = nn.Conv2d(3, 8, 5)
    assert m.weight.shape == (8, 3, 5, 5) and m.bias.shape == (8,)
    assert m.weight.dtype == m.bias.dtype == np.float32
    bound = 1 / np.sqrt(3 * 25)
    for p in (m.weight, m.bias):
        assert np.abs(p.numpy()).max() <= bound and np.abs(p.numpy()).max() > 0.8 * bound
    assert list(m.state_dict()) == ["weight", "bias"]
    assert nn.Conv2d(3, 8, 3, bias=False).bias is None
    assert "Conv2d(3, 8, kernel_size=(5, 5), stride=(1, 1))" in repr(m)


def test_layers_match_torch_layers(rng):
    torch = _torch()
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                             torch.nn.MaxPool2d(2), torch.nn.Conv2d(4, 3, (2, 3), stride=(1, 2), dilation=(2, 1)),
                             torch.nn.AvgPool2d(2, 1), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()).double()
    om = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                       nn.Conv2d(4, 3, (2, 3), stride=(1, 2), dilation=(2, 1)), nn.AvgPool2d(2, 1),
                       nn.AdaptiveAvgPool2d(1), nn.Flatten()).double()
    assert list(om.state_dict()) == list(tm.state_dict())
    _load_from_torch(om, tm)
    for step in range(3):
        x = rng.standard_normal((4, 2, 12, 12))
        tx, ox = torch.tensor(x, requires_grad=True), tl.Tensor(x, requires_grad=True)
        ty, oy = tm(tx), om(ox)
        np.testing.assert_allclose(oy.numpy(), ty.detach().numpy(), rtol=1e-9, atol=1e-12)
        up = rng.standard_normal(oy.shape)
        ty.backward(torch.tensor(up))
        oy.backward(tl.Tensor(up))
        np.testing.assert_allclose(ox.grad.numpy(), tx.grad.numpy(), rtol=1e-8, atol=1e-12)
        tsd = dict(tm.named_parameters())
        for k, p in om.named_parameters():
            np.testing.assert_allclose(p.grad.numpy(), tsd[k].grad.numpy(), rtol=1e-8, atol=1e-12, err_msg=k)
            p.grad = None
            tsd[k].grad = None
    tsd = tm.state_dict()
    for k, v in om.state_dict().items():
        np.testing.assert_allclose(v.numpy(), tsd[k].numpy(), rtol=1e-10, err_msg=k)
    om.eval()
    tm.eval()
    x = rng.standard_normal((2, 2, 12, 12))
    np.testing.assert_allclose(om(tl.Tensor(x)).numpy(), tm(torch.tensor(x)).detach().numpy(), rtol=1e-9)


def test_safetensors_round_trip_with_torch_both_ways(tmp_path, rng):
    torch = _torch()
    st_torch = pytest.importorskip("safetensors.torch", reason="safetensors not installed")
    torch.manual_seed(1)
    tm = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.BatchNorm2d(3), torch.nn.Flatten(),
                             torch.nn.Linear(3 * 4 * 4, 2), torch.nn.BatchNorm1d(2))
    tm.train()
    tm(torch.randn(5, 1, 6, 6))                 # running stats move away from their init
    st_torch.save_file(tm.state_dict(), str(tmp_path / "torch.safetensors"))
    om = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.Flatten(), nn.Linear(3 * 4 * 4, 2), nn.BatchNorm1d(2))
    om.load_state_dict(tl.load(tmp_path / "torch.safetensors"))
    om.eval()
    tm.eval()
    x = rng.standard_normal((3, 1, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(om(tl.Tensor(x)).numpy(), tm(torch.from_numpy(x)).detach().numpy(), rtol=1e-4,
                               atol=1e-5)
    assert int(om[1].num_batches_tracked.item()) == 1
    om.train()
    om(tl.Tensor(x))                              # ours moves on; back to torch
    tl.save(om.state_dict(), tmp_path / "ours.safetensors")
    back = st_torch.load_file(str(tmp_path / "ours.safetensors"))
    assert set(back) == set(tm.state_dict())
    assert back["1.num_batches_tracked"].dtype == torch.int64 and int(back["1.num_batches_tracked"]) == 2
    tm.load_state_dict(back)
    for k, v in om.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), tm.state_dict()[k].numpy())


def test_dropout2d_layer_train_and_eval():
    tl.manual_seed(0)
    m = nn.Dropout2d(0.5)
    x = tl.ones(4, 8, 2, 2)
    y = m(x).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0}
    m.eval()
    assert m(x) is x


def test_layer_constructor_errors():
    with pytest.raises(NotImplementedError, match="groups=2"):
        nn.Conv2d(4, 4, 3, groups=2)
    with pytest.raises(NotImplementedError, match="padding_mode"):
        nn.Conv2d(4, 4, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match=r"Dropout2d: p must be in \[0, 1\]"):
        nn.Dropout2d(1.5)
    with pytest.raises(ValueError, match="conv2d: the input has 1 channels"):
        nn.Conv2d(3, 4, 3)(tl.ones(1, 1, 5, 5))


# --------------------------------------------------------------------------- BatchNorm
BN_CASES = [dict(), dict(momentum=None), dict(affine=False), dict(momentum=0.3, eps=1e-3),
            dict(track_running_stats=False)]


@pytest.mark.parametrize("kw", BN_CASES, ids=[str(k) for k in BN_CASES])
@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (6, 3)), ("BatchNorm1d", (4, 3, 5)),
                                       ("BatchNorm2d", (4, 3, 5, 2))])
def test_batchnorm_matches_torch_in_train_and_eval(cls, shape, kw, rng):
    torch = _torch()
    tm = getattr(torch.nn, cls)(3, **kw).double()
    om = getattr(nn, cls)(3, **kw).double()
    if kw.get("affine", True):
        w, b = rng.standard_normal(3), rng.standard_normal(3)
        tm.weight.data, tm.bias.data = torch.tensor(w), torch.tensor(b)
        om.weight.data[...], om.bias.data[...] = w, b
    assert list(om.state_dict()) == list(tm.state_dict())
    for step in range(3):
        x = rng.standard_normal(shape) * 2 + 1
        tx, ox = torch.tensor(x, requires_grad=True), tl.Tensor(x, requires_grad=True)
        ty, oy = tm(tx), om(ox)
        np.testing.assert_allclose(oy.numpy(), ty.detach().numpy(), rtol=1e-9, atol=1e-12)
        up = rng.standard_normal(shape)
        ty.backward(torch.tensor(up))
        oy.backward(tl.Tensor(up))
        np.testing.assert_allclose(ox.grad.numpy(), tx.grad.numpy(), rtol=1e-8, atol=1e-11)
        if om.weight is not None:
            np.testing.assert_allclose(om.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-8)
            np.testing.assert_allclose(om.bias.grad.numpy(), tm.bias.grad.numpy(), rtol=1e-8)
            om.weight.grad = om.bias.grad = tm.weight.grad = tm.bias.grad = None
    for k, v in tm.state_dict().items():
        np.testing.assert_allclose(om.state_dict()[k].numpy(), v.numpy(), rtol=1e-10, err_msg=k)
    om.eval()
    tm.eval()
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(om(tl.Tensor(x)).numpy(), tm(torch.tensor(x)).detach().numpy(), rtol=1e-9)


def test_batchnorm_buffers_are_state_not_parameters(device):
    m = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    assert [n for n, _ in m.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    assert [n for n, _ in m.named_buffers()] == ["1.running_mean", "1.running_var", "1.num_batches_tracked"]
    assert list(m.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                                    "1.running_var", "1.num_batches_tracked"]
    bn = m[1]
    assert bn.num_batches_tracked.dtype == np.int64 and not bn.running_mean.requires_grad
    m.to(device)
    assert all(b.device == device for b in m.buffers())
    m(tl.randn(5, 4, device=device))
    assert int(bn.num_batches_tracked.item()) == 1
    m.double()
    assert bn.running_var.dtype == np.float64 and bn.num_batches_tracked.dtype == np.int64
    m.to("cpu")
    assert all(b.device == "cpu" for b in m.buffers())


def test_register_buffer_rules():
    m = nn.Module()
    m.register_buffer("a", tl.zeros(2))
    m.register_buffer("scratch", tl.ones(1), persistent=False)
    m.register_buffer("later", None)
    assert list(m.state_dict()) == ["a"]
    assert [n for n, _ in m.named_buffers()] == ["a", "scratch"]
    m.a = tl.ones(2)                           # assigning a Tensor replaces the buffer
    assert m.state_dict()["a"].numpy().tolist() == [1.0, 1.0]
    with pytest.raises(TypeError, match="buffer 'a'"):
        m.a = 3
    with pytest.raises(KeyError, match="'.'"):
        m.register_buffer("x.y", tl.zeros(1))
    with pytest.raises(TypeError, match="Tensor or None"):
        m.register_buffer("b", np.zeros(2))
    m.load_state_dict({"a": np.full(2, 5.0, np.float32)})
    assert m.a.numpy().tolist() == [5.0, 5.0]
    with pytest.raises(KeyError, match="missing keys"):
        m.load_state_dict({})


def test_batchnorm_checkpoint_round_trip(tmp_path):
    tl.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    opt = tl.optim.SGD(m.parameters(), lr=0.1)
    for _ in range(2):
        opt.zero_grad()
        m(tl.randn(3, 1, 5, 5)).sum().backward()
        opt.step()
    tl.save_checkpoint(tmp_path / "c.ckpt", m, opt, epoch=1)
    m2 = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    tl.load_checkpoint(tmp_path / "c.ckpt", m2, tl.optim.SGD(m2.parameters(), lr=0.1))
    for (k, a), b in zip(m.state_dict().items(), m2.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)


@given(st.integers(2, 4), st.integers(1, 3), st.sampled_from([(), (3,), (2, 3)]), st.integers(0, 2**16))
def test_batchnorm_training_gradients_match_finite_differences(n, c, rest, seed):
    r = np.random.default_rng(seed)
    x = tl.Tensor(r.standard_normal((n, c) + rest) * 3, requires_grad=True)
    w = tl.Tensor(r.standard_normal(c), requires_grad=True)
    b = tl.Tensor(r.standard_normal(c), requires_grad=True)
    assert tl.gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), x, w, b, seed=seed)


def test_batchnorm_errors():
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected a 4-D input, got shape \(2, 3\)"):
        nn.BatchNorm2d(3)(tl.ones(2, 3))
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected a 2-D or 3-D input"):
        nn.BatchNorm1d(3)(tl.ones(2, 3, 1, 1))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(4\): the input has 3 channels"):
        nn.BatchNorm1d(4)(tl.ones(2, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(tl.ones(1, 3))
    with pytest.raises(ValueError, match="momentum"):
        nn.BatchNorm1d(3, momentum=2.0)
    m = nn.BatchNorm1d(3).eval()
    assert m(tl.ones(1, 3)).shape == (1, 3)          # eval: one example is fine


def test_a_batchnorm_cnn_training_step_on_device_matches_cpu(device):
    """One training step of a CNN with every layer of conv.py and BatchNorm2d/1d in it (conv -> BN -> ReLU -> max-pool
    -> conv -> BN -> ReLU -> avg-pool -> flatten -> Linear -> BN1d -> ReLU -> dropout off -> Linear), big enough for
    ReLU's chunked CPU path (65,536+ elements), on the device and on the CPU from the same weights: the loss, every
    parameter's gradient, the BatchNorm running statistics and the updated weights agree. (On the CPU-only run the
    device is the CPU: the step must still be deterministic.)"""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((16, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, 16)
    results = {}
    for dev in ("cpu", device):
        tl.manual_seed(0)
        m = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                          nn.Linear(8 * 8 * 8, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10)).to(dev)
        opt = tl.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
        loss = F.cross_entropy(m(tl.Tensor(x, device=dev)), tl.Tensor(y, device=dev))
        opt.zero_grad()
        loss.backward()
        grads = [p.grad.numpy() for p in m.parameters()]
        opt.step()
        results[dev] = (loss.item(), grads, [b.numpy() for b in m.buffers()], [p.numpy() for p in m.parameters()])
    (l0, g0, b0, p0), (l1, g1, b1, p1) = results["cpu"], results[device]
    assert abs(l0 - l1) < 1e-5 * max(1.0, abs(l0))
    for a, b in zip(g0 + b0 + p0, g1 + b1 + p1):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
