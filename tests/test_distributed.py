"""tl.distributed and tl.data.DistributedSampler.

The MPI checks run as real jobs of two processes (`mpiexec -n 2`, the MPICH wheel of the `mpi`
extra): tests/distributed_worker.py runs all of them in one job (mpiexec costs about a second)
and each check is reported here as its own test. They skip, saying why, where mpi4py or mpiexec
is missing. The single-process behaviour (world size 1, no mpi4py) and the sampler run in-process.
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lite as tl
from conftest import MNIST_DIR, MNIST_SKIP_REASON
import tinygrad_lite.nn.functional as F
from tinygrad_lite import distributed as dist
from tinygrad_lite import nn

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "distributed_worker.py"
DATA = str(MNIST_DIR)            # the folder tl.datasets (or the checkout's shared/datasets) finds MNIST in


def _mpiexec():
    beside = Path(sys.executable).parent / "mpiexec"       # the MPICH wheel's, next to this Python
    return str(beside) if beside.exists() else shutil.which("mpiexec")


def _mpi_skip_reason():
    if importlib.util.find_spec("mpi4py") is None:
        return 'mpi4py is not installed (pip install -e ".[mpi]" brings mpi4py and the MPICH wheel)'
    if _mpiexec() is None:
        return 'no mpiexec on PATH (pip install -e ".[mpi]" brings the MPICH wheel\'s)'
    return None


needs_mpi = pytest.mark.skipif(_mpi_skip_reason() is not None, reason=str(_mpi_skip_reason()))


def _env():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg")
    return env


def _mpirun(args, timeout=240):
    return subprocess.run([_mpiexec(), "-n", "2", sys.executable, *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=_env(), cwd=ROOT)


# ---------------------------------------------------------------- two ranks (mpiexec)
CHECKS = ["all_reduce", "broadcast", "all_gather", "barrier_rank_size", "shape_mismatch_error",
          "ddp_model_mismatch_error", "broadcast_at_construction",
          "ddp_equals_single_sgd_accum1", "ddp_equals_single_sgd_accum3",
          "ddp_equals_single_adam_accum1", "ddp_equals_single_adam_accum3",
          "ddp_unused_parameter_keeps_none", "ddp_gradients_are_the_leafs_own_and_never_shared",
          "ddp_buffers_follow_rank0", "evaluate_across_ranks",
          "fit_resume_equals_uninterrupted"]


@pytest.fixture(scope="module")
def two_rank_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("mpi") / "results.json"
    p = _mpirun([WORKER, "checks", out])
    if p.returncode != 0 or not out.exists():
        pytest.fail(f"the 2-rank job failed (exit {p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return json.loads(out.read_text())


@needs_mpi
@pytest.mark.parametrize("name", CHECKS)
def test_two_ranks(two_rank_results, name):
    """Collectives vs NumPy; DDP with 2 ranks at batch B/2 == one process at batch B (SGD, Adam, with and
    without no_sync accumulation); errors on mismatched ranks; evaluate and a resumed fit across ranks."""
    assert name in two_rank_results, f"the worker did not run {name}"
    assert two_rank_results[name] == "ok", two_rank_results[name]


@needs_mpi
def test_an_exception_on_one_rank_aborts_the_job():
    t0 = time.perf_counter()
    p = _mpirun([WORKER, "fault"], timeout=120)      # without the abort, rank 0 would wait forever
    seconds = time.perf_counter() - t0
    assert p.returncode != 0, p.stdout + p.stderr
    assert ("tl.distributed: rank 1 of 2 raised ValueError: rank 1 fails on purpose at step 3; aborting all ranks"
            in p.stderr), p.stderr                    # the error itself on the first line, then the traceback
    assert "no rank failed" not in p.stdout
    print(f"aborted in {seconds:.1f} s")


@needs_mpi
@pytest.mark.skipif(MNIST_DIR is None, reason=MNIST_SKIP_REASON)
def test_mnist_example_distributed_equals_one_process(tmp_path):
    """`mpiexec -n 2 examples/mnist.py --distributed`: rank 0 alone prints and writes; 2 ranks x batch 32
    take the same global batches as one process at batch 64, so the numbers agree (to float rounding)."""
    args = ["--limit", "1200", "--epochs", "1", "--quiet", "--no-plots", "--no-download", "--data-dir", DATA]
    p = _mpirun([ROOT / "examples" / "mnist.py", "--distributed", *args, "--out", tmp_path / "two"])
    assert p.returncode == 0, p.stdout + p.stderr
    one = subprocess.run([sys.executable, ROOT / "examples" / "mnist.py", *args, "--out", tmp_path / "one"],
                         capture_output=True, text=True, timeout=240, env=_env(), cwd=ROOT)
    assert one.returncode == 0, one.stdout + one.stderr
    assert p.stdout.count("train_loss") == 1 and p.stdout.count("final test accuracy") == 1, p.stdout
    assert "data-parallel: 2 ranks x batch 32 (global batch 64)" in p.stdout
    rows = [json.loads((tmp_path / k / "metrics.jsonl").read_text().splitlines()[-1]) for k in ("one", "two")]
    for key in ("train_loss", "test_loss", "train_acc", "test_acc"):
        assert rows[1][key] == pytest.approx(rows[0][key], rel=1e-4, abs=1e-4), key
    a, b = (tl.load_checkpoint(tmp_path / k / "final.ckpt", rng=False)["model_state"] for k in ("one", "two"))
    assert list(a) == list(b)                        # saved as the module itself, without "module."
    for k in a:
        np.testing.assert_allclose(b[k].numpy(), a[k].numpy(), rtol=1e-3, atol=1e-5)


@needs_mpi
@pytest.mark.skipif(MNIST_DIR is None, reason=MNIST_SKIP_REASON)
def test_scaling_benchmark_reports_where_each_steps_time_goes(tmp_path):
    """benchmarks/distributed.py (1 and 2 ranks) on a few batches: epoch times, the all-reduce share, and each
    rank's step split into phases whose sum is the rank's measured time."""
    out = tmp_path / "scaling.json"
    p = subprocess.run([sys.executable, ROOT / "benchmarks" / "distributed.py", "--repeats", "1", "--limit", "640",
                        "--data-dir", DATA, "--json", out], capture_output=True, text=True, timeout=240, env=_env(),
                       cwd=ROOT)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "| ranks | per-rank batch | forward | backward | bucket copies | all-reduce | optimizer |" in p.stdout
    rows = {r["ranks"]: r for r in json.loads(out.read_text())}
    assert set(rows) == {1, 2}
    for n, r in rows.items():
        run = r["all"][0]
        assert run["steps"] == 640 // 64
        for rank_seconds, phases in zip(run["rank_seconds"], run["phase_seconds"]):
            assert all(v >= 0 for k, v in phases.items() if k != "other"), phases
            assert sum(phases.values()) == pytest.approx(rank_seconds, rel=1e-9)
        assert (run["phase_seconds"][0]["all-reduce"] > 0) == (n > 1)


# ---------------------------------------------------------------- one process, no MPI
def test_import_does_not_load_mpi4py():
    code = ("import sys, tinygrad_lite as tl; tl.distributed; import tinygrad_lite.training; "
            "assert tl.distributed.world_size() == 1; print(sorted(m for m in sys.modules if 'mpi4py' in m))")
    env = {k: v for k, v in _env().items() if k not in dist._LAUNCHER_VARS}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]"


def test_under_mpiexec_without_mpi4py_the_error_names_the_extra():
    code = ("import sys; sys.modules['mpi4py'] = None\n"         # as if it were not installed
            "import tinygrad_lite as tl\n"
            "try:\n    tl.distributed.init()\n"
            "except tl.distributed.DistributedError as e:\n    print(e)\n")
    env = dict(_env(), PMI_SIZE="2", PMI_RANK="0")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "mpi4py" in p.stdout and '.[mpi]' in p.stdout and "PMI_SIZE=2" in p.stdout, p.stdout


def test_single_process_world():
    assert dist.world_size() == 1 and dist.rank() == 0 and dist.is_main() and dist.local_rank() == 0
    dist.barrier()
    t = tl.Tensor([1.0, 2.0])
    assert dist.all_reduce(t, "mean") is t and t.tolist() == [1.0, 2.0]
    assert dist.broadcast(t) is t
    [g] = dist.all_gather(t)
    assert g.tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="op must be one of"):
        dist.all_reduce(t, "prod")
    with pytest.raises(TypeError, match="floating dtype"):
        dist.all_reduce(np.arange(3), "mean")
    with pytest.raises(ValueError, match="src 1 is not a rank"):
        dist.broadcast(t, src=1)
    with pytest.raises(TypeError, match="expected a Tensor or an array"):
        dist.all_reduce([1.0, 2.0])


def test_ddp_in_one_process_is_the_model():
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3))
    ddp = dist.DistributedDataParallel(model)
    x, y = tl.randn(5, 4), tl.Tensor(np.array([0, 1, 2, 0, 1]))
    F.cross_entropy(ddp(x), y).backward()
    g = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    for a, p in zip(g, model.parameters()):
        np.testing.assert_array_equal(a, p.grad.numpy())
    assert list(ddp.state_dict()) == ["module.0.weight", "module.0.bias"]
    with pytest.raises(TypeError, match="expected a tl.nn.Module"):
        dist.DistributedDataParallel(lambda x: x)


def test_ddp_hook_goes_away_with_the_wrapper():
    import gc
    from tinygrad_lite.tensor import _post_backward_hooks
    before = len(_post_backward_hooks)
    ddp = dist.DistributedDataParallel(nn.Linear(2, 2))
    assert len(_post_backward_hooks) == before + 1
    del ddp
    gc.collect()
    assert len(_post_backward_hooks) == before


def test_ddp_rejects_a_model_on_two_devices():
    class Fake:                                  # a parameter whose array is not NumPy's: on the GPU, without one
        requires_grad, data = True, object()
    model = nn.Linear(2, 2)
    real = model.named_parameters
    model.named_parameters = lambda prefix="": list(real(prefix)) + [("x", Fake())]
    with pytest.raises(tl.DeviceError, match="several devices"):
        dist.DistributedDataParallel(model)


def test_bucket_plan_groups_by_dtype_and_caps_size():
    ps = [tl.zeros(1000, requires_grad=True) for _ in range(5)] + [tl.zeros(10, dtype="float64", requires_grad=True)]
    buckets = dist._plan_buckets(ps, cap_mb=8000 / 2 ** 20)           # 8000 bytes: two float32 params a bucket
    assert [b[0] for b in buckets] == [[0, 1], [2, 3], [4], [5]]
    assert [b[3] for b in buckets] == [2000, 2000, 1000, 10]
    assert len(dist._plan_buckets(ps, 25)) == 2                          # one per dtype


@pytest.mark.gpu
def test_gpu_nccl_two_ranks(tmp_path):
    """NCCL collectives and DDP on CuPy arrays, one GPU per rank (NCCL refuses two ranks on one GPU)."""
    from conftest import gpu_skip_reason
    reason = gpu_skip_reason()
    if reason is not None:
        pytest.skip(f"the NCCL path needs GPUs: {reason}")
    if _mpi_skip_reason() is not None:
        pytest.skip(_mpi_skip_reason())
    import cupy
    if cupy.cuda.runtime.getDeviceCount() < 2:
        pytest.skip("the NCCL path needs 2 GPUs (one per rank; NCCL refuses two ranks on one GPU); this machine has 1")
    out = tmp_path / "gpu.json"
    p = _mpirun([WORKER, "gpu", out])
    assert p.returncode == 0 and out.exists(), p.stdout + p.stderr
    results = json.loads(out.read_text())
    assert results and all(v == "ok" for v in results.values()), results


# ---------------------------------------------------------------- DistributedSampler
def _shards(n, R, **kw):
    return [list(tl.data.DistributedSampler(n, num_replicas=R, rank=r, **kw)) for r in range(R)]


@pytest.mark.parametrize("n", [0, 1, 7, 10, 11, 64])
@pytest.mark.parametrize("R", [1, 2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_shards_are_disjoint_and_cover(n, R, drop_last):
    shards = _shards(n, R, drop_last=drop_last, shuffle=True, seed=3)
    sizes = {len(s) for s in shards}
    assert len(sizes) == 1                                    # every rank the same number of steps
    flat = [i for s in shards for i in s]
    assert all(0 <= i < n for i in flat)
    if drop_last:
        assert len(flat) == len(set(flat)) == n - n % R       # disjoint, only the remainder dropped
    else:
        assert set(flat) == set(range(n))                     # covering
        assert len(flat) == -(-n // R) * R if n else not flat  # padded by repeats: len(flat) - n of them


def test_sampler_epochs_and_seed():
    s = tl.data.DistributedSampler(100, num_replicas=2, rank=1, seed=5)
    e0 = list(s)
    assert list(s) == e0                                      # no set_epoch: the same shuffle
    s.set_epoch(1)
    assert list(s) != e0 and sorted(list(s)) != list(s)
    s.set_epoch(0)
    assert list(s) == e0
    assert list(tl.data.DistributedSampler(100, num_replicas=2, rank=1, seed=6)) != e0
    assert list(tl.data.DistributedSampler(100, num_replicas=2, rank=1, shuffle=False)) == list(range(1, 100, 2))


def test_sampler_errors():
    with pytest.raises(ValueError, match="invalid rank 2"):
        tl.data.DistributedSampler(10, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas"):
        tl.data.DistributedSampler(10, num_replicas=0, rank=0)
    s = tl.data.DistributedSampler(10, num_replicas=2, rank=0)
    with pytest.raises(ValueError, match="mutually exclusive"):
        tl.data.DataLoader(np.zeros(10), sampler=s, shuffle=True)
    with pytest.raises(ValueError, match="made for 10 examples, the dataset has 12"):
        tl.data.DataLoader(np.zeros(12), sampler=s)


def test_sampler_defaults_to_this_process():
    s = tl.data.DistributedSampler(np.zeros((5, 2)))
    assert (s.num_replicas, s.rank, len(s)) == (1, 0, 5)
    assert sorted(s) == list(range(5))


def test_dataloader_takes_the_sampler_order():
    X, y = np.arange(22, dtype=np.float32).reshape(11, 2), np.arange(11)
    s = tl.data.DistributedSampler((X, y), num_replicas=3, rank=2, seed=1)
    loader = tl.data.DataLoader((X, y), batch_size=2, sampler=s)
    assert len(loader) == 2                                   # 4 indices a rank, 2 a batch
    loader.set_epoch(4)
    assert s.epoch == 4
    got = [int(i) for _, yb in loader for i in yb.numpy()]
    assert got == list(s)
    plain = [int(i) for yb in tl.data.DataLoader([int(v) for v in y], batch_size=3, sampler=s) for i in yb.numpy()]
    assert plain == list(s)                                   # a list dataset goes by the sampler too


def test_fit_sets_the_sampler_epoch_each_epoch():
    from tinygrad_lite.training import fit
    X, y = np.random.default_rng(0).standard_normal((20, 3)).astype(np.float32), np.zeros(20, dtype=np.int64)
    s = tl.data.DistributedSampler((X, y), num_replicas=1, rank=0)
    seen = []
    real = s.indices
    s.indices = lambda: (seen.append(s.epoch), real())[1]
    model = nn.Linear(3, 2)
    fit(model, tl.optim.SGD(model.parameters(), lr=0.1), tl.data.DataLoader((X, y), batch_size=5, sampler=s),
        epochs=4, start_epoch=1, progress=False)
    assert seen == [1, 2, 3]


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("n,R", [(10, 3), (11, 2), (7, 4), (2, 5), (64, 4)])
def test_sampler_equals_torch(n, R, shuffle, drop_last, monkeypatch):
    """PyTorch's own DistributedSampler, its shuffle replaced by ours (torch.randperm draws from torch's
    generator), gives the same indices: the padding, cutting and dealing rules are PyTorch's."""
    torch = pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as TorchSampler
    ours = [tl.data.DistributedSampler(n, num_replicas=R, rank=r, shuffle=shuffle, seed=9, drop_last=drop_last)
            for r in range(R)]
    for s in ours:
        s.set_epoch(2)
    perm = np.random.default_rng([9, 2]).permutation(n)
    monkeypatch.setattr(torch, "randperm", lambda k, generator=None: torch.as_tensor(perm[:k]))
    for r in range(R):
        t = TorchSampler(range(n), num_replicas=R, rank=r, shuffle=shuffle, seed=9, drop_last=drop_last)
        t.set_epoch(2)
        assert list(ours[r]) == list(t), (r, list(ours[r]), list(t))
        assert len(ours[r]) == len(t)


def test_rank_exchange_encoding_is_json_with_arrays_and_no_pickle():
    """What tl.distributed exchanges between ranks (layouts, RNG states with big ints and a GPU state array) goes
    as JSON bytes, arrays as dtype/shape/hex: it round-trips exactly, and anything else is refused."""
    import json
    from tinygrad_lite import distributed as D
    state = {"seed": None, "cpu": tl.backend.get_rng_state()["cpu"],
             "gpu": np.arange(-5, 7, dtype=np.int8).reshape(3, 4)}
    back = json.loads(json.dumps(state, default=D._json_array), object_hook=D._json_hook)
    assert back["cpu"] == state["cpu"] and back["seed"] is None
    assert back["gpu"].dtype == np.int8 and np.array_equal(back["gpu"], state["gpu"])
    with pytest.raises(TypeError, match="cannot exchange a object"):
        json.dumps({"x": object()}, default=D._json_array)
