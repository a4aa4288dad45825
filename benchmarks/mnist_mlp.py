#!/usr/bin/env python
"""MNIST MLP training speed: tinygrad_lite vs a hand-written NumPy (CuPy) reference vs PyTorch.

Each config is trained for a few epochs by three implementations in one process:

  tl     tinygrad_lite's public API (nn.Sequential of nn.Linear + activations,
         F.cross_entropy, optim.SGD / optim.Adam, data.DataLoader(shuffle=True))
  numpy  the same math written by hand, as a careful tutorial author would:
         forward, backward by hand, in-place SGD/Adam with ufunc `out=`
         (CuPy instead of NumPy with --device gpu)
  torch  PyTorch (CUDA with --device gpu), when installed and not --no-torch

For a fair comparison all three get the same float32 data (MNIST normalized to
[0, 1], flattened to 784), the same initial weights (drawn once by
tl.nn.Linear's init and copied into the others), the same shuffling order in
every epoch (the DataLoader's permutation, np.random.default_rng([seed, epoch]),
reproduced for the others and checked), and the same hyperparameters. Epochs are
interleaved (tl, numpy, torch, tl, numpy, torch, ...) so that noise from a shared
machine hits all three alike; the table shows the median seconds per epoch.

    python benchmarks/mnist_mlp.py                       # all configs, 3 epochs, cpu
    python benchmarks/mnist_mlp.py --configs 2 --epochs 5 --json /tmp/r.json
    python benchmarks/mnist_mlp.py --device gpu

On a machine whose environment sets OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, unset
both for the benchmark command alone (see benchmarks/README.md):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/mnist_mlp.py
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:          # run from a checkout without installing
    sys.path.insert(0, str(REPO))

import tinygrad_lite as tl  # noqa: E402
from tinygrad_lite.nn import functional as F  # noqa: E402

SEED = 0

CONFIGS = {
    1: dict(name="784-50-10 sigmoid, SGD lr 0.1, batch 100", sizes=(784, 50, 10), act="sigmoid",
            opt="sgd", lr=0.1, weight_decay=0.0, batch=100),
    2: dict(name="784-1000-10 ReLU, Adam lr 1e-3, batch 64", sizes=(784, 1000, 10), act="relu",
            opt="adam", lr=1e-3, weight_decay=0.0, batch=64),
    3: dict(name="784-200-80-10 ReLU, SGD lr 0.1 wd 1e-3, batch 256", sizes=(784, 200, 80, 10), act="relu",
            opt="sgd", lr=0.1, weight_decay=1e-3, batch=256),
}
# targets from the issue: tl / numpy and tl / torch, per config
TARGET_VS_NUMPY = 1.15
TARGET_VS_TORCH = {1: 0.6, 2: 0.9, 3: 0.6}
ACC_TOLERANCE = 0.5   # percentage points of test accuracy between implementations


# ---------------------------------------------------------------------------- memory
def rss_mib() -> float:
    """Current resident set size (VmRSS) in MiB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def peak_rss_mib() -> float:
    """Peak resident set size of the process so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------- machine
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(device, torch) -> dict:
    info = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "tinygrad_lite": getattr(tl, "__version__", "?"),
        "env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                                                "OMP_NUM_THREADS", "MKL_NUM_THREADS")},
        "blas": [],
        "malloc": tl.backend.memory_kept(),
    }
    try:
        import threadpoolctl
        info["blas"] = [{k: d.get(k) for k in ("internal_api", "version", "architecture", "num_threads",
                                               "threading_layer", "filepath")}
                        for d in threadpoolctl.threadpool_info()]
    except ImportError:
        info["blas"] = "threadpoolctl not installed (pip install threadpoolctl to see the BLAS kernel)"
    if torch is not None:
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        found = re.findall(r"\b(BLAS_INFO|LAPACK_INFO|USE_MKLDNN|USE_OPENMP)=([^,\s]+)", torch.__config__.show())
        info["torch_blas"] = ", ".join(f"{k}={v}" for k, v in dict(found).items()) or "BLAS unknown"
    if device == "gpu":
        cp = tl.backend.cupy_module()
        props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
        name = props["name"]
        info["gpu"] = name.decode() if isinstance(name, bytes) else str(name)
        info["cupy"] = cp.__version__
        if torch is not None and torch.cuda.is_available():
            info["torch_cuda"] = torch.version.cuda
    return info


def print_machine(info):
    print(f"machine: {info['cpu']}, {info['cores']} cores ({info['cores_usable']} usable), "
          f"Python {info['python']}")
    if "gpu" in info:
        print(f"gpu: {info['gpu']}, CuPy {info['cupy']}"
              + (f", torch CUDA {info['torch_cuda']}" if "torch_cuda" in info else ""))
    print(f"numpy {info['numpy']}, tinygrad_lite {info['tinygrad_lite']}"
          + (f"; --threads {info['threads_option']}" if info.get("threads_option") else ""))
    if isinstance(info["blas"], str):
        print(f"  BLAS: {info['blas']}")
    else:
        for b in info["blas"]:
            print(f"  threadpoolctl: {b['internal_api']} {b['version']}, kernel {b['architecture']}, "
                  f"{b['num_threads']} threads ({b['threading_layer']}) {Path(b['filepath'] or '').name}")
    env = ", ".join(f"{k}={v}" for k, v in info["env"].items() if v is not None) or "none set"
    print(f"  BLAS/thread environment variables: {env}")
    print(f"  malloc (the whole process, every implementation): {info['malloc']}")
    if info["env"].get("OPENBLAS_CORETYPE") or info["env"].get("OPENBLAS_L2_SIZE"):
        print("  WARNING: OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set: numpy's OpenBLAS may run a slower kernel;"
              " run with `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE` (see benchmarks/README.md)")
    if "torch" in info:
        print(f"torch {info['torch']}, {info['torch_threads']} threads, {info['torch_blas']}")
    else:
        print("torch: not used")


# ---------------------------------------------------------------------------- data
def data_root():
    """$TINYGRAD_LITE_DATA/mnist, else <repo>/../shared/datasets/mnist."""
    env = os.environ.get("TINYGRAD_LITE_DATA")
    if env:
        return Path(env) / "mnist"
    return REPO.parent / "shared" / "datasets" / "mnist"


def load_data():
    (x_train, t_train), (x_test, t_test) = tl.datasets.load_mnist(root=data_root(), download=False)
    assert x_train.dtype == np.float32 and x_train.shape == (60000, 784), (x_train.dtype, x_train.shape)
    return x_train, t_train, x_test, t_test


def epoch_permutation(n, seed, epoch):
    """The order tl.data.DataLoader(shuffle=True, seed=seed) uses for `epoch`."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def initial_weights(cfg):
    """[(W (out, in), b (out,)), ...] float32, drawn by tl.nn.Linear's default init."""
    tl.manual_seed(SEED)
    sizes = cfg["sizes"]
    out = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        lin = tl.nn.Linear(fan_in, fan_out)
        out.append((lin.weight.numpy().copy(), lin.bias.numpy().copy()))
    return out


# ---------------------------------------------------------------------------- tinygrad_lite
class TinygradLite:
    name = "tl"

    def __init__(self, cfg, init, data, device):
        x_train, t_train, x_test, t_test = data
        self.device = device
        layers = []
        for i, (w, b) in enumerate(init):
            lin = tl.nn.Linear(w.shape[1], w.shape[0], device=device)
            lin.load_state_dict({"weight": w, "bias": b})
            layers.append(lin)
            if i < len(init) - 1:
                layers.append(tl.nn.Sigmoid() if cfg["act"] == "sigmoid" else tl.nn.ReLU())
        self.model = tl.nn.Sequential(*layers)
        if cfg["opt"] == "sgd":
            self.opt = tl.optim.SGD(self.model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
        else:
            self.opt = tl.optim.Adam(self.model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
        self.loader = tl.data.DataLoader((x_train, t_train), batch_size=cfg["batch"], shuffle=True,
                                         seed=SEED, device=device)
        self.x_test = tl.Tensor(x_test, device=device)
        self.t_test = t_test
        self.rss = []          # VmRSS after each epoch (MiB)

    def first_batch(self):
        """The loader's first batch of epoch 0 (to check its shuffle against epoch_permutation)."""
        self.loader.set_epoch(0)
        xb, yb = next(iter(self.loader))
        self.loader.set_epoch(0)
        return xb.numpy(), yb.numpy()

    def train_epoch(self, epoch, perm):
        self.loader.set_epoch(epoch)
        model, opt = self.model, self.opt
        for xb, yb in self.loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        tl.synchronize(self.device)

    def after_epoch(self):
        self.rss.append(rss_mib())

    def step_peak_mib(self):
        """Peak bytes a single training step allocates (tracemalloc sees NumPy's buffers; CPU only)."""
        import tracemalloc
        xb, yb = next(iter(self.loader))
        gc.collect()
        tracemalloc.start()
        loss = F.cross_entropy(self.model(xb), yb)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak / 2 ** 20

    def predict(self):
        with tl.no_grad():
            return self.model(self.x_test).argmax(axis=1).numpy()


class TinygradLiteJit(TinygradLite):
    """The same training step through tl.TinyJit: a CUDA graph replayed per step on the GPU
    (on the CPU the eager step, so its figures there only check the plumbing)."""
    name = "tl-jit"

    def __init__(self, cfg, init, data, device):
        super().__init__(cfg, init, data, device)
        model, opt = self.model, self.opt

        def step(xb, yb):
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        self.step = tl.TinyJit(step)

    def train_epoch(self, epoch, perm):
        self.loader.set_epoch(epoch)
        for xb, yb in self.loader:
            self.step(xb, yb)
        tl.synchronize(self.device)


# ---------------------------------------------------------------------------- hand-written NumPy / CuPy
class Reference:
    """The same MLP by hand: weights stored (in, out) as in the tutorial, y = x @ W + b."""
    name = "numpy"

    def __init__(self, cfg, init, data, device):
        xp = np if device == "cpu" else tl.backend.cupy_module()
        self.xp, self.device, self.cfg = xp, device, cfg
        if device == "gpu":
            self.name = "cupy"
        x_train, t_train, x_test, t_test = data
        self.x_train, self.t_train = xp.asarray(x_train), xp.asarray(t_train)
        self.x_test, self.t_test = xp.asarray(x_test), t_test
        self.W = [xp.asarray(np.ascontiguousarray(w.T)) for w, _ in init]
        self.b = [xp.asarray(b.copy()) for _, b in init]
        self.params = [p for pair in zip(self.W, self.b) for p in pair]
        self.sigmoid = cfg["act"] == "sigmoid"
        self.lr, self.wd, self.bs = cfg["lr"], cfg["weight_decay"], cfg["batch"]
        if cfg["opt"] == "adam":
            self.b1, self.b2, self.eps, self.t = 0.9, 0.999, 1e-8, 0
            self.m = [xp.zeros_like(p) for p in self.params]
            self.v = [xp.zeros_like(p) for p in self.params]
            self.tmp = [xp.empty_like(p) for p in self.params]

    def forward(self, x):
        """Activations [x, h1, ..., logits]."""
        xp, acts, h = self.xp, [x], x
        last = len(self.W) - 1
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            a = h @ W
            a += b
            if i < last:
                if self.sigmoid:            # 1 / (1 + e^-a) = 0.5 + 0.5 tanh(a / 2), no overflow
                    a *= 0.5
                    xp.tanh(a, out=a)
                    a *= 0.5
                    a += 0.5
                else:
                    xp.maximum(a, 0, out=a)
            acts.append(a)
            h = a
        return acts

    def train_step(self, x, t):
        xp = self.xp
        acts = self.forward(x)
        n = x.shape[0]
        # softmax cross-entropy (mean over the batch): loss and d loss / d logits
        z = acts.pop()
        z -= z.max(axis=1, keepdims=True)
        rows = xp.arange(n)
        z_t = z[rows, t]                        # shifted logit of the true class
        xp.exp(z, out=z)
        s = z.sum(axis=1, keepdims=True)
        loss = (xp.log(s[:, 0]) - z_t).mean()   # noqa: F841  (computed, as the others do)
        z /= s                                  # softmax
        z[rows, t] -= 1
        z *= 1.0 / n                            # d loss / d logits
        # backward, layer by layer
        grads = [None] * len(self.params)
        d = z
        for i in range(len(self.W) - 1, -1, -1):
            h = acts[i]
            grads[2 * i] = h.T @ d
            grads[2 * i + 1] = d.sum(axis=0)
            if i > 0:
                d = d @ self.W[i].T
                if self.sigmoid:                # sigmoid' = y (1 - y)
                    d *= h
                    d *= 1 - h
                else:                           # relu' = (y > 0)
                    d *= h > 0
        self.update(grads)

    def update(self, grads):
        xp = self.xp
        if self.cfg["opt"] == "sgd":
            for p, g in zip(self.params, grads):
                if self.wd:
                    g += self.wd * p            # L2 weight decay, as torch.optim.SGD(weight_decay=)
                g *= self.lr
                p -= g
            return
        self.t += 1                             # Adam, PyTorch's form of the bias correction
        b1, b2 = self.b1, self.b2
        step_size = self.lr / (1 - b1 ** self.t)
        inv_bc2 = 1.0 / (1 - b2 ** self.t) ** 0.5
        for p, g, m, v, tmp in zip(self.params, grads, self.m, self.v, self.tmp):
            if self.wd:
                g += self.wd * p
            m *= b1
            xp.multiply(g, 1 - b1, out=tmp)
            m += tmp                            # m = b1 m + (1 - b1) g
            v *= b2
            xp.multiply(g, g, out=tmp)
            tmp *= 1 - b2
            v += tmp                            # v = b2 v + (1 - b2) g^2
            xp.sqrt(v, out=tmp)
            tmp *= inv_bc2
            tmp += self.eps                     # sqrt(v / bc2) + eps
            xp.divide(m, tmp, out=tmp)
            tmp *= step_size
            p -= tmp                            # p -= lr / bc1 * m / (sqrt(v / bc2) + eps)

    def train_epoch(self, epoch, perm):
        idx_all = self.xp.asarray(perm)
        n, bs = len(perm), self.bs
        for s in range(0, n, bs):
            idx = idx_all[s:s + bs]
            self.train_step(self.x_train[idx], self.t_train[idx])
        if self.device == "gpu":
            self.xp.cuda.get_current_stream().synchronize()

    def predict(self):
        p = self.forward(self.x_test)[-1].argmax(axis=1)
        return p if self.xp is np else self.xp.asnumpy(p)


# ---------------------------------------------------------------------------- the GEMM floor
class GemmFloor:
    """Only the matrix products of an epoch, on the reference's BLAS (cuBLAS with --device gpu).

    The same shapes and the same number of steps as training: per step x @ W for each layer,
    h.T @ d for each weight gradient and d @ W.T for each layer but the first (its input needs
    no gradient). Fixed arrays, no data gather, no elementwise work, no optimizer: what no
    implementation of this math with dense float32 GEMMs can go below on this machine. It
    shows how much of each epoch is left to the framework at all, and which targets sit below
    the floor."""
    name = "gemm"

    def __init__(self, cfg, device, n):
        xp = np if device == "cpu" else tl.backend.cupy_module()
        self.xp, self.device, self.n, self.bs = xp, device, n, cfg["batch"]
        rng = np.random.default_rng(SEED)
        sizes = cfg["sizes"]
        self.W = [xp.asarray(rng.standard_normal((a, b), dtype=np.float32) * 0.01)
                  for a, b in zip(sizes[:-1], sizes[1:])]
        self.x = {m: xp.asarray(rng.random((m, sizes[0]), dtype=np.float32))
                  for m in {self.bs, n % self.bs or self.bs}}

    def train_epoch(self, epoch, perm):
        last = len(self.W) - 1
        for s in range(0, self.n, self.bs):
            h = self.x[min(self.bs, self.n - s)]
            acts = [h]
            for W in self.W:
                h = h @ W
                acts.append(h)
            d = h
            for i in range(last, -1, -1):
                acts[i].T @ d
                if i > 0:
                    d = d @ self.W[i].T
        if self.device == "gpu":
            self.xp.cuda.get_current_stream().synchronize()


# ---------------------------------------------------------------------------- PyTorch
class Torch:
    name = "torch"

    def __init__(self, cfg, init, data, device, torch):
        self.torch = torch
        self.dev = torch.device("cpu" if device == "cpu" else "cuda")
        nn = torch.nn
        x_train, t_train, x_test, t_test = data
        layers = []
        for i, (w, b) in enumerate(init):
            lin = nn.Linear(w.shape[1], w.shape[0])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w))
                lin.bias.copy_(torch.from_numpy(b))
            layers.append(lin)
            if i < len(init) - 1:
                layers.append(nn.Sigmoid() if cfg["act"] == "sigmoid" else nn.ReLU())
        self.model = nn.Sequential(*layers).to(self.dev)
        if cfg["opt"] == "sgd":
            self.opt = torch.optim.SGD(self.model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
        else:
            self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
        self.x_train = torch.from_numpy(x_train).to(self.dev)
        self.t_train = torch.from_numpy(t_train).to(self.dev)
        self.x_test = torch.from_numpy(x_test).to(self.dev)
        self.bs = cfg["batch"]

    def train_epoch(self, epoch, perm):
        torch, F_ = self.torch, self.torch.nn.functional
        idx_all = torch.from_numpy(perm).to(self.dev)
        model, opt, n, bs = self.model, self.opt, len(perm), self.bs
        for s in range(0, n, bs):
            idx = idx_all[s:s + bs]
            loss = F_.cross_entropy(model(self.x_train[idx]), self.t_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        if self.dev.type == "cuda":
            torch.cuda.synchronize()

    def predict(self):
        with self.torch.no_grad():
            return self.model(self.x_test).argmax(dim=1).cpu().numpy()


# ---------------------------------------------------------------------------- the run
def run_config(k, cfg, data, args, torch):
    init = initial_weights(cfg)
    n = data[0].shape[0]
    impls = [TinygradLite(cfg, init, data, args.device), Reference(cfg, init, data, args.device)]
    if torch is not None:
        impls.append(Torch(cfg, init, data, args.device, torch))
    if args.jit:
        impls.append(TinygradLiteJit(cfg, init, data, args.device))
    # the shuffles match: the loader's first batch is x_train[perm[:batch]]
    xb, yb = impls[0].first_batch()
    p0 = epoch_permutation(n, SEED, 0)[:cfg["batch"]]
    if not (np.array_equal(xb, data[0][p0]) and np.array_equal(yb, data[1][p0])):
        raise AssertionError("tl.data.DataLoader's shuffle differs from default_rng([seed, epoch]).permutation")
    floor = GemmFloor(cfg, args.device, n)   # timed beside the others, trains nothing
    timed = impls + [floor]
    times = {im.name: [] for im in timed}
    cpu_times = {im.name: [] for im in timed}   # process CPU time: what descheduling on a shared machine can't inflate
    print(f"\nconfig {k}: {cfg['name']}  ({-(-n // cfg['batch'])} steps/epoch)", flush=True)
    for epoch in range(args.epochs):
        perm = epoch_permutation(n, SEED, epoch)
        line = []
        for im in timed:                      # interleaved: tl, numpy, torch, gemm, tl, numpy, ...
            gc.collect()
            t0, c0 = time.perf_counter(), time.process_time()
            im.train_epoch(epoch, perm)
            dt = time.perf_counter() - t0
            times[im.name].append(dt)
            cpu_times[im.name].append(time.process_time() - c0)
            if hasattr(im, "after_epoch"):
                im.after_epoch()
            line.append(f"{im.name} {dt:6.2f}s")
        print(f"  epoch {epoch + 1}: " + "  ".join(line) + f"   tl VmRSS {impls[0].rss[-1]:.0f} MiB", flush=True)
    t_test = data[3]
    preds = {im.name: im.predict() for im in impls}
    ref = impls[1].name
    res = {"config": k, "name": cfg["name"], "epochs": args.epochs, "batch": cfg["batch"],
           "steps_per_epoch": -(-n // cfg["batch"]),
           "seconds_per_epoch": {name: statistics.median(v) for name, v in times.items()},
           "cpu_seconds_per_epoch": {name: statistics.median(v) for name, v in cpu_times.items()},
           "epoch_seconds": times,
           "test_accuracy": {name: float((p == t_test).mean() * 100) for name, p in preds.items()},
           "prediction_agreement_with_ref": {name: float((p == preds[ref]).mean() * 100)
                                             for name, p in preds.items()},
           "tl_rss_mib_per_epoch": impls[0].rss,
           "tl_step_peak_mib": impls[0].step_peak_mib() if args.device == "cpu" else None}
    med = res["seconds_per_epoch"]
    res["tl_over_ref"] = med["tl"] / med[ref]
    cpu = res["cpu_seconds_per_epoch"]
    res["tl_over_ref_cpu"] = cpu["tl"] / cpu[ref]
    res["tl_over_gemm"] = med["tl"] / med["gemm"]
    res["ref_over_gemm"] = med[ref] / med["gemm"]
    if "torch" in med:
        res["tl_over_torch"] = med["tl"] / med["torch"]
        res["torch_over_gemm"] = med["torch"] / med["gemm"]
        # the torch target as a time, and as a multiple of the GEMM floor: below 1.0 it is unreachable
        res["torch_target_seconds"] = TARGET_VS_TORCH[k] * med["torch"]
        res["torch_target_over_gemm"] = res["torch_target_seconds"] / med["gemm"]
    if "tl-jit" in med:
        res["tl_jit_over_ref"] = med["tl-jit"] / med[ref]
        if "torch" in med:
            res["tl_jit_over_torch"] = med["tl-jit"] / med["torch"]
    return res


def print_table(results, ref, have_torch):
    print("\nseconds per epoch (median), ratios and final test accuracy (%)")
    head = f"{'cfg':>3}  {'tl':>7} {ref:>7}"
    if have_torch:
        head += f" {'torch':>7}"
    head += f"  {'tl/' + ref:>11} {'(cpu)':>6}"
    if have_torch:
        head += f" {'tl/torch':>13}"
    head += f"  {'acc tl':>6} {'acc ' + ref:>9}"
    if have_torch:
        head += f" {'acc torch':>9}"
    head += f"  {'same pred':>9}  acc"
    print(head)
    for r in results:
        s, a = r["seconds_per_epoch"], r["test_accuracy"]
        ok_ref = "ok" if r["tl_over_ref"] <= TARGET_VS_NUMPY else "MISS"
        line = f"{r['config']:>3}  {s['tl']:7.2f} {s[ref]:7.2f}"
        if have_torch:
            line += f" {s['torch']:7.2f}"
        line += f"  {r['tl_over_ref']:5.2f}x {ok_ref:<4} {r['tl_over_ref_cpu']:5.2f}x"
        if have_torch:
            tgt = TARGET_VS_TORCH[r["config"]]
            ok_t = "ok" if r["tl_over_torch"] <= tgt else "MISS"
            line += f" {r['tl_over_torch']:5.2f}x {ok_t:<4}({tgt})"
        line += f"  {a['tl']:6.2f} {a[ref]:9.2f}"
        if have_torch:
            line += f" {a['torch']:9.2f}"
        line += f"  {r['prediction_agreement_with_ref']['tl']:8.2f}%"
        spread = max(a.values()) - min(a.values())
        line += "  ok" if spread <= ACC_TOLERANCE else f"  DIFF ({spread:.2f} pp)"
        print(line)
    print("GEMM floor (the matrix products alone, same shapes and steps, on the reference's BLAS):")
    for r in results:
        print("  " + floor_line(r, ref))
    for r in results:
        if "tl_jit_over_ref" in r:
            print(f"  config {r['config']} with tl.TinyJit: {r['seconds_per_epoch']['tl-jit']:.3f} s/epoch, "
                  f"{r['tl_jit_over_ref']:.2f}x {ref}"
                  + (f", {r['tl_jit_over_torch']:.2f}x torch" if "tl_jit_over_torch" in r else "")
                  + f", test accuracy {r['test_accuracy']['tl-jit']:.2f}%")
    print(f"targets: tl/{ref} <= {TARGET_VS_NUMPY}x on every config; tl/torch <= "
          + ", ".join(f"{v}x (config {k})" for k, v in TARGET_VS_TORCH.items())
          + f"; accuracies within {ACC_TOLERANCE} pp. 'same pred': test predictions equal to {ref}'s.")
    print("tl VmRSS after each epoch (MiB):")
    for r in results:
        rss = r["tl_rss_mib_per_epoch"]
        growth = rss[-1] - rss[0] if rss else 0.0
        last = rss[-1] - rss[-2] if len(rss) > 1 else 0.0
        print(f"  config {r['config']}: " + ", ".join(f"{x:.0f}" for x in rss)
              + f"  (from epoch 1 to the end: {growth:+.1f} MiB; in the last epoch: {last:+.1f} MiB)"
              + (f"; one step allocates at most {r['tl_step_peak_mib']:.2f} MiB at once"
                 if r.get("tl_step_peak_mib") is not None else ""))


def floor_line(r, ref):
    """One config's GEMM floor, how far above it each implementation is, and what the torch target leaves."""
    s = r["seconds_per_epoch"]
    steps = r["steps_per_epoch"]
    line = (f"config {r['config']}: {s['gemm']:.3f} s/epoch; tl {r['tl_over_gemm']:.2f}x, "
            f"{ref} {r['ref_over_gemm']:.2f}x")
    if "torch_target_seconds" in r:
        line += f", torch {r['torch_over_gemm']:.2f}x of it"
        spare = (r["torch_target_seconds"] - s["gemm"]) / steps * 1e6
        ref_spare = (s[ref] - s["gemm"]) / steps * 1e6
        line += (f"; tl/torch <= {TARGET_VS_TORCH[r['config']]}x means tl <= {r['torch_target_seconds']:.3f} s, "
                 f"{r['torch_target_over_gemm']:.2f}x the floor")
        if spare <= 0:
            line += " (below the floor: out of reach with these GEMMs)"
        else:
            line += (f", {spare:.0f} us per step beside the GEMMs ({ref} spends {ref_spare:.0f} us "
                     f"on the same non-GEMM work)")
    return line


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default="1,2,3", help="comma-separated config numbers (1,2,3)")
    ap.add_argument("--epochs", type=int, default=3, help="epochs per config (median reported), default 3")
    ap.add_argument("--device", default="cpu", choices=("cpu", "gpu"))
    ap.add_argument("--json", metavar="PATH", help="write the results and machine info as JSON")
    ap.add_argument("--no-torch", action="store_true", help="skip PyTorch even when it is installed")
    ap.add_argument("--threads", type=int, metavar="N",
                    help="limit NumPy's BLAS (threadpoolctl) and torch to N threads each (default: the libraries' "
                         "own defaults, i.e. all cores); 1 gives steadier numbers on a busy shared machine")
    ap.add_argument("--jit", action="store_true",
                    help="also time tinygrad_lite's step through tl.TinyJit (CUDA-graph replay on the GPU)")
    ap.add_argument("--readme", action="store_true",
                    help="write the table and the machine into README.md's generated 'benchmark' block")
    args = ap.parse_args(argv)
    try:
        configs = [int(c) for c in args.configs.split(",") if c.strip()]
    except ValueError:
        ap.error(f"--configs: expected numbers like 1,2,3, got {args.configs!r}")
    bad = [c for c in configs if c not in CONFIGS]
    if bad or not configs:
        ap.error(f"--configs: unknown config(s) {bad}; choose from {sorted(CONFIGS)}")
    if args.epochs < 1:
        ap.error("--epochs must be >= 1")
    if args.device == "gpu" and not tl.gpu_available():
        try:
            tl.backend.cupy_module()        # raises DeviceError saying what is missing
        except tl.DeviceError as e:
            ap.error(str(e))

    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("torch is not installed: comparing with the NumPy reference only")
        if torch is not None and args.device == "gpu" and not torch.cuda.is_available():
            print("torch has no CUDA: comparing with the CuPy reference only")
            torch = None

    if args.threads is not None:
        if args.threads < 1:
            ap.error("--threads must be >= 1")
        try:
            import threadpoolctl
        except ImportError:
            ap.error("--threads needs threadpoolctl (pip install threadpoolctl)")
        _limits = threadpoolctl.threadpool_limits(args.threads)  # noqa: F841  (kept for the whole run)
        if torch is not None:
            torch.set_num_threads(args.threads)
    info = machine_info(args.device, torch)
    info["threads_option"] = args.threads
    info["loadavg_start"] = os.getloadavg()
    print_machine(info)
    data = load_data()
    print(f"data: MNIST from {data_root()}, train {data[0].shape} {data[0].dtype}, test {data[2].shape}; "
          f"device {args.device}; {args.epochs} epochs per config, interleaved; VmRSS {rss_mib():.0f} MiB")

    results = [run_config(k, CONFIGS[k], data, args, torch) for k in configs]
    ref = "numpy" if args.device == "cpu" else "cupy"
    print_table(results, ref, torch is not None)
    peak = peak_rss_mib()
    print(f"peak RSS of the process: {peak:.0f} MiB")
    info["loadavg_end"] = os.getloadavg()
    print("load average (1, 5, 15 min) at start {:.2f} {:.2f} {:.2f}, at end {:.2f} {:.2f} {:.2f}"
          .format(*info["loadavg_start"], *info["loadavg_end"])
          + f" on {info['cores_usable']} usable cores (above that, other processes were competing for the CPU)")
    if args.json:
        out = {"machine": info, "device": args.device, "epochs": args.epochs, "seed": SEED,
               "results": results, "peak_rss_mib": peak}
        Path(args.json).write_text(json.dumps(out, indent=2))
        print(f"wrote {args.json}")
    if args.readme:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
        from docblock import replace_block
        block = f"benchmark-{args.device}" + ("" if args.threads == 1 or args.device == "gpu" else
                                              f"-threads-{args.threads or 'default'}")
        if replace_block(block, markdown_table(results, ref, torch is not None, info, args)):
            print(f"updated the {block} block of README.md")
    return results


def markdown_table(results, ref, have_torch, info, args):
    """The results as the README shows them: the command, the machine, a row per config."""
    libs = info["blas"] if isinstance(info["blas"], list) else []
    blas = next((d for d in libs if d.get("internal_api") != "openmp"), {})   # NumPy's BLAS, not torch's OpenMP
    threads = f"--threads {args.threads}" if args.threads else "default threads"
    cmd = "python benchmarks/mnist_mlp.py " + " ".join(a for a in (sys.argv[1:]) if a != "--readme")
    lines = [f"`{cmd.strip()}` on {time.strftime('%Y-%m-%d')}: {info.get('gpu') or info['cpu']}, "
             f"{info['cores_usable']} cores, NumPy {info['numpy']} ({blas.get('internal_api', 'BLAS')} "
             f"{blas.get('version', '')} {blas.get('architecture', '')}), "
             + (f"torch {info['torch']}, " if have_torch else "") + f"{threads}; seconds per epoch, "
             f"median of {args.epochs} epochs, load average {info['loadavg_start'][0]:.2f} at start.", "",
             f"| config | tinygrad_lite | {ref} | " + ("torch | " if have_torch else "") + "GEMM floor | "
             + f"tl / {ref} | tl / {ref} (CPU time) | " + ("tl / torch | " if have_torch else "")
             + "test accuracy tl / ref |",
             "|---|---|---|" + ("---|" if have_torch else "") + "---|---|---|" + ("---|" if have_torch else "")
             + "---|"]
    for r in results:
        s, a, c = r["seconds_per_epoch"], r["test_accuracy"], CONFIGS[r["config"]]
        row = f"| {r['config']}: {c['name']} | {s['tl']:.3f} | {s[ref]:.3f} | "
        if have_torch:
            row += f"{s['torch']:.3f} | "
        row += f"{s['gemm']:.3f} | "
        row += f"{r['tl_over_ref']:.2f}x | {r['tl_over_ref_cpu']:.2f}x | "
        if have_torch:
            row += f"{r['tl_over_torch']:.2f}x | "
        row += f"{a['tl']:.2f}% / {a[ref]:.2f}% |"
        lines.append(row)
    lines += ["", "GEMM floor: the same matrix products alone (same shapes, same number of steps, no data "
              "gather, no elementwise work, no optimizer), timed beside the others on the reference's BLAS."]
    lines += ["- " + floor_line(r, ref) for r in results]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
