"""Run under `mpiexec -n 2` by tests/test_distributed.py: many checks in one MPI job (mpiexec costs ~1 s).

    mpiexec -n 2 python tests/distributed_worker.py checks OUT.json   # collectives, DDP, evaluate, resume
    mpiexec -n 2 python tests/distributed_worker.py fault             # rank 1 raises mid-epoch

Every rank runs every check; rank 0 compares (with what it gathers from the others) and writes
{check name: "ok" or an error message} to OUT.json. A check that fails on one rank is reported,
not raised, so the other checks still run and no rank is left waiting in a collective.
"""
import json
import os
import sys
import tempfile
import traceback

import numpy as np

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite import distributed as dist
from tinygrad_lite import nn

dist.init()
R, W = dist.rank(), dist.world_size()
results = {}


CHECKS = []


def check(name):
    def wrap(fn):
        CHECKS.append((name, fn))
        return fn
    return wrap


def run_checks():
    for name, fn in CHECKS:
        try:
            fn()
            ok = "ok"
        except Exception:
            ok = f"rank {R}: " + traceback.format_exc()
        verdicts = dist._w().comm.allgather(ok)      # a failure on any rank fails the check
        bad = [v for v in verdicts if v != "ok"]
        results[name] = bad[0] if bad else "ok"


def inputs(r, shape=(3, 4), dtype=np.float32):
    return np.random.default_rng(100 + r).standard_normal(shape).astype(dtype)


def all_inputs(shape=(3, 4), dtype=np.float32):
    return np.stack([inputs(r, shape, dtype) for r in range(W)])


# ---------------------------------------------------------------- collectives vs NumPy
@check("all_reduce")
def _():
    ref = all_inputs()
    for op, fn in (("sum", np.sum), ("mean", np.mean), ("max", np.max), ("min", np.min)):
        t = tl.Tensor(inputs(R))
        assert dist.all_reduce(t, op) is t
        np.testing.assert_allclose(t.numpy(), fn(ref, axis=0), rtol=1e-6, err_msg=op)
        assert t.dtype == np.float32
    a = inputs(R, (4, 6)).T                               # not contiguous: still in place
    dist.all_reduce(a, dist.ReduceOp.SUM)
    np.testing.assert_allclose(a, all_inputs((4, 6)).sum(0).T, rtol=1e-6)
    z = np.array(float(R + 1))                            # 0-d
    dist.all_reduce(z)
    assert float(z) == sum(range(1, W + 1))
    i = np.arange(5, dtype=np.int64) * (R + 1)
    dist.all_reduce(i, "max")
    assert (i == np.arange(5) * W).all()
    x = tl.Tensor(inputs(R, (2,), np.float64), requires_grad=True)
    dist.all_reduce(x, "mean")
    np.testing.assert_allclose(x.numpy(), all_inputs((2,), np.float64).mean(0), rtol=1e-12)


@check("broadcast")
def _():
    for src in range(W):
        t = tl.Tensor(inputs(R))
        dist.broadcast(t, src=src)
        np.testing.assert_array_equal(t.numpy(), inputs(src))
    a = inputs(R, (4, 6)).T
    dist.broadcast(a, src=W - 1)
    np.testing.assert_array_equal(a, inputs(W - 1, (4, 6)).T)


@check("all_gather")
def _():
    parts = dist.all_gather(tl.Tensor(inputs(R)))
    assert len(parts) == W and all(isinstance(p, tl.Tensor) for p in parts)
    np.testing.assert_array_equal(np.stack([p.numpy() for p in parts]), all_inputs())
    out = [tl.zeros(3, 4) for _ in range(W)]
    dist.all_gather(out, tl.Tensor(inputs(R)))
    np.testing.assert_array_equal(np.stack([p.numpy() for p in out]), all_inputs())
    arrs = dist.all_gather(np.array([R, 10 * R], dtype=np.int32))
    assert [a.tolist() for a in arrs] == [[r, 10 * r] for r in range(W)]
    v = dist._all_gather_v(dist._w(), np.arange(R + 1, dtype=np.int64))     # ragged: evaluate's predictions
    assert v.tolist() == [i for r in range(W) for i in range(r + 1)]


@check("barrier_rank_size")
def _():
    dist.barrier()
    assert dist.world_size() == W == 2 and dist.rank() == R and dist.is_main() == (R == 0)
    assert dist.get_rank() == R and dist.get_world_size() == W and dist.local_rank() == R


@check("shape_mismatch_error")
def _():
    for fn in (dist.all_reduce, dist.broadcast, dist.all_gather):
        try:
            fn(np.zeros(3 + R, dtype=np.float32))
        except dist.DistributedError as e:
            msg = str(e)
            assert "rank 0: shape (3,)" in msg and "rank 1: shape (4,)" in msg, msg
        else:
            raise AssertionError(f"{fn.__name__}: no error for shapes (3,) and (4,)")
    try:
        dist.all_reduce(np.zeros(3, dtype=np.float32 if R == 0 else np.float64))
    except dist.DistributedError as e:
        assert "dtype float32" in str(e) and "dtype float64" in str(e), str(e)
    else:
        raise AssertionError("no error for float32 against float64")


@check("ddp_model_mismatch_error")
def _():
    try:
        dist.DistributedDataParallel(nn.Sequential(nn.Linear(4, 3 + R)))
    except dist.DistributedError as e:
        assert "differs" in str(e) and "(3, 4)" in str(e) and "(4, 4)" in str(e), str(e)
    else:
        raise AssertionError("DDP accepted different models")


# ---------------------------------------------------------------- data parallelism
def make_model(seed):
    tl.manual_seed(seed)
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 3))


def flat(model):
    return np.concatenate([p.numpy().ravel() for p in model.parameters()])


@check("broadcast_at_construction")
def _():
    rank0 = flat(make_model(0))
    model = make_model(R)                                # a different init on each rank
    ddp = dist.DistributedDataParallel(model)
    everyone = dist.all_gather(flat(model))
    for r in range(W):
        np.testing.assert_array_equal(everyone[r], rank0)
    assert list(ddp.state_dict()) == ["module." + k for k in model.state_dict()]
    assert [id(p) for p in ddp.parameters()] == [id(p) for p in model.parameters()]


def train(world, optim_name, steps, accum, B):
    """k steps; world=1 on the full batch B in one process, world=2: rank r on rows r::2 ... of each batch."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((steps * accum * B, 10)).astype(np.float32)
    y = rng.integers(0, 3, steps * accum * B)
    model = make_model(R + 1 if world > 1 else 1)        # DDP must replace rank 1's init with rank 0's
    net = dist.DistributedDataParallel(model) if world > 1 else model
    opt = (tl.optim.SGD(net.parameters(), lr=0.1, momentum=0.9) if optim_name == "sgd"
           else tl.optim.Adam(net.parameters(), lr=0.01))
    for s in range(steps):
        opt.zero_grad()
        for a in range(accum):
            lo = (s * accum + a) * B
            xb, yb = X[lo:lo + B], y[lo:lo + B]
            if world > 1:
                half = B // world
                xb, yb = xb[R * half:(R + 1) * half], yb[R * half:(R + 1) * half]
            ctx = net.no_sync() if world > 1 and a < accum - 1 else _nullcontext()
            with ctx:
                F.cross_entropy(net(tl.Tensor(xb)), tl.Tensor(yb)).backward()
        opt.step()
    return flat(model), net


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def equivalence(optim_name, accum):
    @check(f"ddp_equals_single_{optim_name}_accum{accum}")
    def _():
        ref, _ = train(1, optim_name, steps=4, accum=accum, B=16)
        got, net = train(2, optim_name, steps=4, accum=accum, B=16)
        assert net.reductions == 4, f"{net.reductions} gradient reductions for 4 steps"
        everyone = dist.all_gather(got)
        np.testing.assert_array_equal(everyone[0], everyone[1])     # replicas identical
        np.testing.assert_allclose(got, ref, rtol=2e-5, atol=2e-6)  # == one process at batch B
        assert np.abs(got - flat(make_model(1))).max() > 1e-3       # (and training did move them)


for _optim in ("sgd", "adam"):
    for _accum in (1, 3):
        equivalence(_optim, _accum)


@check("ddp_unused_parameter_keeps_none")
def _():
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(2, 2), nn.Linear(2, 2)

        def forward(self, x, use_b):
            return self.b(x) if use_b else self.a(x)

    tl.manual_seed(0)
    ddp = dist.DistributedDataParallel(Two())
    x = tl.Tensor(inputs(R, (4, 2)))
    ddp(x, use_b=False).sum().backward()               # b unused on every rank
    assert ddp.module.b.weight.grad is None and ddp.module.a.weight.grad is not None
    ddp.zero_grad()
    ddp(x, use_b=(R == 1)).sum().backward()            # b used on rank 1 only: both get the average
    for p in ddp.parameters():
        assert p.grad is not None
    g = dist.all_gather(ddp.module.b.weight.grad.numpy())
    np.testing.assert_array_equal(g[0], g[1])


@check("ddp_gradients_are_the_leafs_own_and_never_shared")
def _():
    tl.manual_seed(0)
    ddp = dist.DistributedDataParallel(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)))
    x = tl.Tensor(inputs(R, (5, 3)))
    ddp(x).sum().backward()
    old = {n: (p.grad, p.grad.numpy().copy()) for n, p in ddp.module.named_parameters()}
    want = dist.all_gather(np.concatenate([g.reshape(-1) for _, g in old.values()]))
    np.testing.assert_allclose(np.concatenate([g.reshape(-1) for _, g in old.values()]), (want[0] + want[1]) / 2,
                               rtol=1e-6)                # reduced: the mean of the ranks' gradients
    ddp.zero_grad()
    ddp(tl.Tensor(inputs(R + 7, (5, 3)))).sum().backward()    # a second step: new gradients, other values
    for n, p in ddp.module.named_parameters():
        g, values = old[n]
        assert p.grad is not g and not np.shares_memory(p.grad.numpy(), g.numpy()), n
        np.testing.assert_array_equal(g.numpy(), values)     # the first step's gradient, held, is unchanged
    a, b = (m.weight.grad.numpy() for m in (ddp.module[0], ddp.module[2]))
    assert not np.shares_memory(a, b)


@check("ddp_buffers_follow_rank0")
def _():
    tl.manual_seed(R)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    with tl.no_grad():
        model[1].running_mean.data[...] = R + 1.0           # different buffers on each rank
    ddp = dist.DistributedDataParallel(model)
    mean = lambda: dist.all_gather(model[1].running_mean.numpy().copy())
    m = mean()
    np.testing.assert_array_equal(m[0], m[1])
    assert (m[0] == 1.0).all()
    ddp(tl.Tensor(inputs(R, (8, 4)))).sum().backward()      # different data: the running stats drift apart
    m = mean()
    assert np.abs(m[0] - m[1]).max() > 0
    ddp(tl.Tensor(inputs(0, (8, 4)))).sum().backward()      # same data: rank 0's stats first, then equal
    m = mean()
    np.testing.assert_allclose(m[0], m[1], rtol=1e-6)


@check("evaluate_across_ranks")
def _():
    from tinygrad_lite.training import evaluate
    rng = np.random.default_rng(3)
    X = rng.standard_normal((101, 10)).astype(np.float32)           # not divisible by 2
    y = rng.integers(0, 3, 101)
    model = make_model(0)
    ref = evaluate(model, X, y, batch_size=7)
    rows = []

    class Counting(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            rows.append(len(x))
            return self.inner(x)

    got = evaluate(dist.DistributedDataParallel(Counting(model)), X, y, batch_size=7)
    assert sum(rows) == (50, 51)[R], f"rank {R} evaluated {sum(rows)} of the 101 rows, not its half"
    np.testing.assert_allclose(got["loss"], ref["loss"], rtol=1e-6)
    assert got["accuracy"] == ref["accuracy"]
    np.testing.assert_array_equal(got["predictions"], ref["predictions"])


@check("fit_resume_equals_uninterrupted")
def _():
    from tinygrad_lite import serialization
    from tinygrad_lite.training import fit
    rng = np.random.default_rng(5)
    X = rng.standard_normal((90, 10)).astype(np.float32)
    y = rng.integers(0, 3, 90)
    folder = dist.all_gather(np.frombuffer(tempfile.mkdtemp().encode().ljust(200), dtype=np.uint8))[0]
    folder = folder.tobytes().decode().strip()                      # rank 0's temp folder, on every rank
    path = os.path.join(folder, "ckpt.safetensors")
    writes = []
    real = serialization.save_checkpoint

    def counting(*a, **k):
        writes.append(a[0])
        return real(*a, **k)

    def run(epochs, resume=False):
        model = make_model(R + 10)
        ddp = dist.DistributedDataParallel(model)
        opt = tl.optim.Adam(ddp.parameters(), lr=0.01)
        sampler = tl.data.DistributedSampler((X, y), shuffle=True, seed=4)
        loader = tl.data.DataLoader((X, y), batch_size=8, sampler=sampler)
        start, history = 0, None
        if resume:
            info = dist.load_checkpoint(path, ddp, opt)
            start, history = info["epoch"], info["extra"]["history"]
        tl.manual_seed(1000 + R)                                     # RNG states differ per rank
        if resume:
            tl.backend.set_rng_state(info["rng_state"])
        hist = fit(ddp, opt, loader, (X, y), epochs=epochs, progress=False, checkpoint=path,
                   start_epoch=start, history=history)
        return flat(model), hist, tl.backend.rng("cpu").random()

    serialization.save_checkpoint = counting
    try:
        full, hist_full, rand_full = run(3)
        n_full = len(writes)
        run(2)
        part, hist, rand_part = run(3, resume=True)
    finally:
        serialization.save_checkpoint = real
    np.testing.assert_array_equal(part, full)
    assert [h["test_acc"] for h in hist] == [h["test_acc"] for h in hist_full]
    assert rand_part == rand_full, "this rank's RNG state was not restored"
    counts = dist._w().comm.allgather((n_full, len(writes)))
    assert counts == [(3, 3 + 2 + 1)] + [(0, 0)] * (W - 1), f"checkpoint writes per rank (full, all): {counts}"
    # the epoch's train metrics are over every rank's examples: the same row on every rank
    assert dist._w().comm.allgather(hist_full[-1]["train_loss"]) == [hist_full[-1]["train_loss"]] * W
    dist.barrier()
    if R == 0:
        import shutil
        shutil.rmtree(folder)


GPU_CHECKS = []


def gpu_check(name):
    def wrap(fn):
        GPU_CHECKS.append((name, fn))
        return fn
    return wrap


@gpu_check("nccl_collectives")
def _():
    import cupy as cp
    ref = all_inputs()
    for op, fn in (("sum", np.sum), ("mean", np.mean), ("max", np.max), ("min", np.min)):
        t = tl.Tensor(inputs(R), device="gpu")
        dist.all_reduce(t, op)
        assert isinstance(t.data, cp.ndarray)
        np.testing.assert_allclose(t.numpy(), fn(ref, axis=0), rtol=1e-6, err_msg=op)
    t = tl.Tensor(inputs(R), device="gpu")
    dist.broadcast(t, src=1)
    np.testing.assert_array_equal(t.numpy(), inputs(1))
    parts = dist.all_gather(tl.Tensor(inputs(R), device="gpu"))
    np.testing.assert_array_equal(np.stack([p.numpy() for p in parts]), all_inputs())
    try:
        dist.all_reduce(tl.Tensor(inputs(R), device="gpu" if R == 0 else "cpu"))
    except tl.DeviceError as e:
        assert "different devices" in str(e), str(e)
    else:
        raise AssertionError("no error for a tensor on the GPU on rank 0 and the CPU on rank 1")


@gpu_check("nccl_ddp_equals_single")
def _():
    rng = np.random.default_rng(7)
    X, y = rng.standard_normal((64, 10)).astype(np.float32), rng.integers(0, 3, 64)
    ref = make_model(1).to("gpu")
    opt = tl.optim.SGD(ref.parameters(), lr=0.1)
    for s in range(4):
        opt.zero_grad()
        F.cross_entropy(ref(tl.Tensor(X[16 * s:16 * s + 16], device="gpu")),
                        tl.Tensor(y[16 * s:16 * s + 16], device="gpu")).backward()
        opt.step()
    model = make_model(R + 1).to("gpu")
    ddp = dist.DistributedDataParallel(model)
    opt = tl.optim.SGD(ddp.parameters(), lr=0.1)
    for s in range(4):
        lo = 16 * s + 8 * R
        opt.zero_grad()
        F.cross_entropy(ddp(tl.Tensor(X[lo:lo + 8], device="gpu")), tl.Tensor(y[lo:lo + 8], device="gpu")).backward()
        opt.step()
    np.testing.assert_allclose(flat(model), flat(ref), rtol=2e-5, atol=2e-6)


def fault():
    """Rank 1 raises mid-epoch while rank 0 waits in the gradient all-reduce: the job must abort."""
    model = dist.DistributedDataParallel(make_model(0))
    opt = tl.optim.SGD(model.parameters(), lr=0.1)
    X = np.random.default_rng(0).standard_normal((64, 10)).astype(np.float32)
    y = np.zeros(64, dtype=np.int64)
    for step in range(1000):
        if R == 1 and step == 3:
            raise ValueError("rank 1 fails on purpose at step 3")
        F.cross_entropy(model(tl.Tensor(X)), tl.Tensor(y)).backward()
        opt.step()
        opt.zero_grad()
    print("fault: no rank failed?!", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "fault":
        fault()
    else:
        if sys.argv[1] == "gpu":
            CHECKS[:] = GPU_CHECKS
        run_checks()
        if R == 0:
            with open(sys.argv[2], "w") as f:
                json.dump(results, f, indent=1)
