"""tl.TinyJit: eager on the CPU, CUDA-graph replay on the GPU; replay must equal eager steps."""
import numpy as np
import pytest

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite import nn, optim


def _setup(device, opt_name):
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 5)).to(device)
    opt = optim.Adam(model.parameters(), lr=1e-2) if opt_name == "adam" else optim.SGD(
        model.parameters(), lr=0.1, momentum=0.9)

    def step(x, y):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return model, step


def _batches(device, sizes):
    rng = np.random.default_rng(1)
    for n in sizes:
        x = rng.standard_normal((n, 20)).astype(np.float32)
        y = rng.integers(0, 5, n)
        yield tl.Tensor(x, device=device), tl.Tensor(y, device=device)


@pytest.mark.parametrize("opt_name", ["adam", "sgd"])
def test_jit_equals_eager(device, opt_name):
    """Replayed steps (GPU) or the eager fallback (CPU) give the same weights and losses as eager steps,
    and a batch of another shape (the last, smaller one) is never served by a graph for other shapes."""
    sizes = [16] * 6 + [7, 16, 7, 16]
    m_eager, eager_step = _setup(device, opt_name)
    m_jit, jit_fn = _setup(device, opt_name)
    jitted = tl.TinyJit(jit_fn)
    for (x, y) in _batches(device, sizes):
        le = eager_step(x, y)
        lj = jitted(x, y)
        np.testing.assert_allclose(lj.numpy(), le.numpy(), rtol=1e-5, atol=1e-6)
    for pe, pj in zip(m_eager.parameters(), m_jit.parameters()):
        np.testing.assert_allclose(pj.numpy(), pe.numpy(), rtol=1e-5, atol=1e-6)
    if device == "gpu":
        assert len(jitted._graphs) == 2, "one graph per input signature (16 and 7 rows)"


def test_jit_outputs_are_copies(device):
    jitted = tl.jit(lambda x: (x * 2).sum())
    outs = [jitted(tl.Tensor(np.full(4, float(i), dtype=np.float32), device=device)) for i in range(4)]
    assert [o.item() for o in outs] == [0.0, 8.0, 16.0, 24.0]


def test_fit_with_jit_equals_eager(device):
    """fit(jit=True) (a captured step on the GPU, the eager step on the CPU) trains to the same weights,
    across an lr change from a scheduler (a new capture) and a short last batch (another signature)."""
    from tinygrad_lite.training import fit
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 20)).astype(np.float32)
    y = rng.integers(0, 5, 200)
    runs = []
    for jit in (False, True):
        model, _ = _setup(device, "adam")
        opt = optim.Adam(model.parameters(), lr=1e-2)
        sched = optim.MultiStepLR(opt, milestones=[2], gamma=0.1)
        loader = tl.data.DataLoader((X, y), batch_size=64, shuffle=True, seed=0, device=device)
        hist = fit(model, opt, loader, (X, y), epochs=4, progress=False, scheduler=sched, jit=jit)
        runs.append((hist, [p.numpy() for p in model.parameters()]))
    (h0, w0), (h1, w1) = runs
    for a, b in zip(w0, w1):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert [r["train_acc"] for r in h0] == pytest.approx([r["train_acc"] for r in h1], abs=1e-9)


def test_jit_needs_a_warmup_call():
    """With no eager warmup the capture would record the optimizer's first-use state creation
    (zeroed Adam moments), and every replay would re-create it."""
    with pytest.raises(ValueError, match="warmup must be >= 1"):
        tl.TinyJit(lambda x: x, warmup=0)


def test_gpu_adam_kernel_rejects_half_precision_before_compiling():
    w = np.zeros(3, dtype=np.float16)
    with pytest.raises(TypeError, match="Adam on the GPU updates float32 or float64 parameters, got float16"):
        tl.backend.adam_update_gpu(w, w, w, w, np.float32(1), 0.9, 0.999, 1e-3, 1e-8)
