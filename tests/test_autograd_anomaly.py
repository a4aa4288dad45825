"""tl.autograd.detect_anomaly / set_detect_anomaly, tl.nn.utils.clip_grad_norm_ / clip_grad_value_
(compared with PyTorch), and fit()/mnist.py stopping at the first non-finite loss."""

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lite as tl
from conftest import MNIST_DIR, mnist_home
from tinygrad_lite import function, nn
from tinygrad_lite.autograd import AnomalyError

REPO = Path(__file__).resolve().parents[1]
# A folder holding mnist/, where tl.datasets (or the checkout's shared/datasets) finds MNIST (conftest).
DATA = mnist_home() if MNIST_DIR is not None else REPO.parent / "shared" / "datasets"


def _torch():
    return pytest.importorskip("torch", reason="PyTorch is not installed: the comparison is skipped")


# ---------------------------------------------------------------- anomaly mode
def test_detect_anomaly_names_the_op_and_where_its_forward_was_called():
    x = tl.Tensor([1.0, 0.0, 4.0], requires_grad=True)
    with tl.autograd.detect_anomaly():
        y = x.sqrt()                                   # d sqrt / dx at 0 is inf
        loss = (y * 3).sum()
        with pytest.raises(AnomalyError) as e, np.errstate(divide="ignore"):
            loss.backward()
    msg = str(e.value)
    assert "Sqrt" in msg and "inf" in msg and "input 0" in msg and "(3,)" in msg
    assert __file__ in msg and "y = x.sqrt()" in msg         # the user's line, not the library's
    assert "tinygrad_lite" + os.sep + "tensor.py" not in msg
    assert x.grad is None or np.isfinite(x.grad.numpy()).all() is not None
    assert not tl.autograd.is_anomaly_enabled()


def test_nan_from_a_backward_is_caught_at_that_op():
    x = tl.Tensor([-1.0, 2.0], requires_grad=True)
    with tl.autograd.detect_anomaly(), np.errstate(all="ignore"):
        z = (x * 0.0).log()                            # log(0) = -inf forward, 1/0 backward
        w = (z * 0.0).sum()                            # 0 * -inf = nan forward; grad of z is 0
        with pytest.raises(AnomalyError, match=r"Log.*(nan|inf)"):
            w.backward()


def test_off_by_default_and_set_detect_anomaly_as_call_and_context():
    assert tl.autograd.is_anomaly_enabled() is False
    x = tl.Tensor([0.0], requires_grad=True)
    with np.errstate(divide="ignore"):
        x.sqrt().sum().backward()                      # no error without anomaly mode: inf gradient, as torch
    assert math.isinf(float(x.grad.numpy()[0]))
    tl.autograd.set_detect_anomaly(True)
    try:
        assert tl.autograd.is_anomaly_enabled()
        x = tl.Tensor([0.0], requires_grad=True)
        with pytest.raises(AnomalyError), np.errstate(divide="ignore"):
            x.sqrt().sum().backward()
    finally:
        tl.autograd.set_detect_anomaly(False)
    assert not tl.autograd.is_anomaly_enabled()
    with tl.autograd.set_detect_anomaly(True):
        assert tl.autograd.is_anomaly_enabled()
    assert not tl.autograd.is_anomaly_enabled()
    with pytest.raises(TypeError):
        tl.autograd.set_detect_anomaly("yes")


def test_forward_outside_anomaly_mode_still_names_the_op():
    x = tl.Tensor([0.0], requires_grad=True)
    y = x.sqrt().sum()
    with tl.autograd.detect_anomaly(), pytest.raises(AnomalyError, match="(?s)Sqrt.*not recorded"), \
            np.errstate(divide="ignore"):
        y.backward()


def test_finite_backward_unchanged_and_no_trace_recorded_when_off():
    x = tl.Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    assert not hasattr(y._ctx, "_anomaly_trace")
    with tl.autograd.detect_anomaly():
        z = (x * x).sum()
        assert hasattr(z._ctx, "_anomaly_trace")
        z.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])
    assert function._anomaly is False


# ---------------------------------------------------------------- gradient clipping, against torch
def _grads(seed, scale):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) * scale for s in [(3, 4), (5,), (2, 2, 2)]]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0, 0.5])
@pytest.mark.parametrize("max_norm,scale", [(1.0, 5.0), (100.0, 0.1), (0.5, 1.0)])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, scale):
    torch = _torch()
    grads = _grads(0, scale)
    ps = [tl.Tensor(np.zeros_like(g), requires_grad=True) for g in grads]
    tps = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for p, tp, g in zip(ps, tps, grads):
        p.grad, tp.grad = tl.Tensor(g.copy()), torch.tensor(g.copy())
    total = nn.utils.clip_grad_norm_(ps, max_norm, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tps, max_norm, norm_type=norm_type)
    assert isinstance(total, tl.Tensor) and total.shape == () and total.dtype == np.float32
    np.testing.assert_allclose(total.numpy(), ttotal.numpy(), rtol=1e-5)
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_edge_cases():
    torch = _torch()
    p = tl.Tensor(np.zeros(3, np.float32), requires_grad=True)
    assert nn.utils.clip_grad_norm_([p], 1.0).numpy() == 0.0          # no gradients: 0, as torch
    assert torch.nn.utils.clip_grad_norm_([torch.zeros(3, requires_grad=True)], 1.0).item() == 0.0
    p.grad = tl.Tensor(np.array([3.0, 4.0, 0.0], np.float32))
    g_before = p.grad
    assert nn.utils.clip_grad_norm_(p, 1.0).item() == pytest.approx(5.0)   # a bare Tensor is fine here
    assert p.grad is g_before                                               # same Tensor, new values
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8, 0.0], rtol=1e-5)
    p.grad = tl.Tensor(np.array([np.nan, 1.0, 0.0], np.float32))
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    tp = torch.tensor([0.0, 0.0, 0.0], requires_grad=True)
    tp.grad = torch.tensor([np.nan, 1.0, 0.0])
    tn = torch.nn.utils.clip_grad_norm_([tp], 1.0)
    n = nn.utils.clip_grad_norm_([p], 1.0)
    assert math.isnan(n.item()) and math.isnan(tn.item())
    np.testing.assert_array_equal(np.isnan(p.grad.numpy()), np.isnan(tp.grad.numpy()))
    with pytest.raises(TypeError, match="clip_grad_norm_"):
        nn.utils.clip_grad_norm_([p], "1")
    with pytest.raises(TypeError, match="clip_grad_norm_"):
        nn.utils.clip_grad_norm_([1.0], 1.0)


def test_shared_gradient_is_scaled_once():
    a = tl.Tensor(np.ones(2, np.float32), requires_grad=True)
    b = tl.Tensor(np.ones(2, np.float32), requires_grad=True)
    (a + b).sum().backward()
    nn.utils.clip_grad_norm_([a, b], 1.0)
    np.testing.assert_allclose(np.concatenate([a.grad.numpy(), b.grad.numpy()]), 0.5, rtol=1e-5)
    nn.utils.clip_grad_value_([a, b], 0.1)
    np.testing.assert_allclose(np.concatenate([a.grad.numpy(), b.grad.numpy()]), 0.1, rtol=1e-6)


def test_clip_grad_value_matches_torch():
    torch = _torch()
    grads = _grads(1, 3.0)
    grads[0][0, 0] = np.nan
    ps = [tl.Tensor(np.zeros_like(g), requires_grad=True) for g in grads]
    tps = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for p, tp, g in zip(ps, tps, grads):
        p.grad, tp.grad = tl.Tensor(g.copy()), torch.tensor(g.copy())
    assert nn.utils.clip_grad_value_(ps, 1.5) is None
    torch.nn.utils.clip_grad_value_(tps, 1.5)
    for p, tp in zip(ps, tps):
        np.testing.assert_array_equal(p.grad.numpy(), tp.grad.numpy())
        assert p.grad.dtype == np.float32


# ---------------------------------------------------------------- fit stops at the first non-finite loss
class _Loader:
    """Batches of a fixed data set; from `poison_epoch` on, batch `poison_batch` is scaled by 1e38."""

    def __init__(self, poison_epoch, poison_batch=2):
        rng = np.random.default_rng(0)
        self.x = rng.standard_normal((64, 4)).astype(np.float32)
        self.y = rng.integers(0, 3, 64)
        self.epoch, self.poison = 0, (poison_epoch, poison_batch)

    def set_epoch(self, e):
        self.epoch = e

    def __len__(self):
        return 4

    def __iter__(self):
        for i in range(4):
            xb = self.x[i * 16:(i + 1) * 16]
            if (self.epoch + 1, i + 1) == self.poison:
                xb = xb * np.float32(1e38) * np.float32(1e38)
            yield tl.Tensor(xb), tl.Tensor(self.y[i * 16:(i + 1) * 16])
        self.epoch += 1


def test_fit_stops_at_the_first_non_finite_loss_and_keeps_the_last_good_checkpoint(tmp_path):
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    opt = tl.optim.SGD(model.parameters(), lr=0.1)
    ck = tmp_path / "ck.safetensors"
    rows = []
    with pytest.raises(tl.training.NonFiniteLossError) as e, np.errstate(all="ignore"):
        tl.training.fit(model, opt, _Loader(poison_epoch=2), epochs=3, progress=False, checkpoint=ck,
                        on_epoch_end=rows.append)
    msg = str(e.value)
    assert "epoch 2, step 6 (2 of the epoch)" in msg and "lower learning rate" in msg and "0.1" in msg
    assert "last good epoch (1)" in msg
    assert e.value.epoch == 2 and e.value.step == 6 and isinstance(e.value, FloatingPointError)
    assert len(rows) == 1
    info = tl.load_checkpoint(ck, rng=False)
    assert info["epoch"] == 1
    assert all(np.isfinite(v.numpy()).all() for v in info["model_state"].values())


def test_fit_clip_grad_norm_is_applied():
    tl.manual_seed(0)
    model = nn.Linear(4, 3)
    opt = tl.optim.SGD(model.parameters(), lr=1.0)
    before = model.weight.numpy().copy(), model.bias.numpy().copy()
    tl.training.fit(model, opt, [(tl.randn(16, 4) * 100, tl.Tensor(np.zeros(16, np.int64)))], epochs=1,
                    progress=False, clip_grad_norm=0.01)
    step = np.sqrt(((model.weight.numpy() - before[0]) ** 2).sum() + ((model.bias.numpy() - before[1]) ** 2).sum())
    assert step == pytest.approx(0.01, rel=1e-3)        # lr 1 times a gradient of norm 0.01


def test_mnist_example_stops_on_nan_and_writes_no_final_checkpoint(tmp_path):
    if not (DATA / "mnist").is_dir():
        pytest.skip(f"MNIST not found in {DATA / 'mnist'} (set TINYGRAD_LITE_DATA)")
    env = dict(os.environ, TINYGRAD_LITE_DATA=str(DATA), OPENBLAS_NUM_THREADS="1")
    p = subprocess.run([sys.executable, str(REPO / "examples" / "mnist.py"), "--model", "tiny_mlp", "--limit", "512",
                        "--epochs", "2", "--quiet", "--no-download", "--no-plots", "--optimizer", "sgd",
                        "--lr", "1e6", "--out", str(tmp_path / "out"), "--checkpoint", str(tmp_path / "ck")],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    assert "mnist.py: error: the training loss became nan at epoch 1, step" in p.stderr
    assert "lower learning rate" in p.stderr and "--clip-grad-norm" in p.stderr
    assert not (tmp_path / "out" / "final.ckpt").exists()
    assert "nan" not in p.stdout.lower()
