#!/usr/bin/env python
"""SimpleConvNet training speed: tinygrad_lite vs a hand-written NumPy im2col reference vs PyTorch (CPU).

The book's chapter-7 network: conv(30 filters 5x5) -> ReLU -> max-pool 2x2 -> Linear(4320, 100) -> ReLU
-> Linear(100, 10), softmax cross-entropy, SGD lr 0.1, batch 100. The three implementations get the same
float32 images (N, 1, 28, 28) in [0, 1], the same initial weights (tl's init, copied), the same batch
order in every epoch (np.random.default_rng([seed, epoch]).permutation) and take turns of --chunk
steps within every epoch (tl, numpy, torch, tl, ...: a slow spell of a shared machine, seconds long,
falls on all three alike); an implementation's epoch time is the sum of its turns. The table shows
median seconds per epoch, the ratios of the medians, and the range of the per-epoch ratios to torch. Peak RSS of a batch-100 step is measured for each implementation in a fresh
subprocess on synthetic images: VmHWM after 20 steps, and (+) how much the steps added to the peak of the
process with its imports, data and model in place.

    python benchmarks/mnist_convnet.py                     # 3 epochs of 10,000 images, default threads
    python benchmarks/mnist_convnet.py --threads 1 --limit 60000 --epochs 3
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import tinygrad_lite as tl  # noqa: E402
from tinygrad_lite.nn import functional as F  # noqa: E402

SEED, LR, BATCH = 0, 0.1, 100


def load(limit):
    root = os.environ.get("TINYGRAD_LITE_DATA") or (REPO.parent / "shared" / "datasets")
    (X, y), _ = tl.datasets.load_mnist(root=root, download=False)
    return X[:limit].reshape(-1, 1, 28, 28), y[:limit]


def initial_weights():
    from tinygrad_lite.models.cnn_nets import SimpleConvNet
    tl.manual_seed(SEED)
    m = SimpleConvNet()
    return {k: v.numpy().copy() for k, v in m.state_dict().items()}


def batches(n, epoch):
    order = np.random.default_rng([SEED, epoch]).permutation(n)
    return [order[i:i + BATCH] for i in range(0, n - BATCH + 1, BATCH)]


# ---------------------------------------------------------------- the three implementations
class TL:
    name = "tl"

    def __init__(self, w):
        from tinygrad_lite.models.cnn_nets import SimpleConvNet
        self.model = SimpleConvNet()
        self.model.load_state_dict({k: np.ascontiguousarray(v) for k, v in w.items()})
        self.opt = tl.optim.SGD(self.model.parameters(), lr=LR)

    def step(self, xb, yb):
        self.opt.zero_grad()
        loss = F.cross_entropy(self.model(tl.Tensor(xb)), yb)
        loss.backward()
        self.opt.step()
        return loss


class NumPyRef:
    """The same math by hand: im2col with sliding windows, one GEMM per conv, max-pool by reshape."""
    name = "numpy"

    def __init__(self, w):
        self.W1 = w["1.weight"].reshape(30, 25).copy()
        self.b1, self.W2, self.b2 = w["1.bias"].copy(), w["5.weight"].copy(), w["5.bias"].copy()
        self.W3, self.b3 = w["7.weight"].copy(), w["7.bias"].copy()

    def step(self, xb, yb):
        n = len(xb)
        cols = np.lib.stride_tricks.sliding_window_view(xb[:, 0], (5, 5), axis=(1, 2)).reshape(n * 576, 25)
        a1 = cols @ self.W1.T                                  # (n*24*24, 30)
        a1 += self.b1
        np.maximum(a1, 0, out=a1)
        r = a1.reshape(n, 12, 2, 12, 2, 30)
        p = r.max(axis=(2, 4))                                 # (n, 12, 12, 30)
        mask = r == p[:, :, None, :, None, :]
        pf = p.transpose(0, 3, 1, 2).reshape(n, 4320)          # torch's flatten order (C, H, W)
        h = pf @ self.W2.T
        h += self.b2
        np.maximum(h, 0, out=h)
        z = h @ self.W3.T
        z += self.b3
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        loss = float(np.log(s[:, 0]).sum() - z[np.arange(n), yb].sum()) / n
        g = e / s
        g[np.arange(n), yb] -= 1
        g /= n
        gW3, gb3 = g.T @ h, g.sum(0)
        gh = g @ self.W3
        gh *= h > 0
        gW2, gb2 = gh.T @ pf, gh.sum(0)
        gp = (gh @ self.W2).reshape(n, 30, 12, 12).transpose(0, 2, 3, 1)
        ga = mask * gp[:, :, None, :, None, :]                 # (ties: every maximum; none in practice)
        ga = ga.reshape(n * 576, 30)
        ga *= a1 > 0
        gW1, gb1 = ga.T @ cols, ga.sum(0)
        for w_, g_ in ((self.W1, gW1), (self.b1, gb1), (self.W2, gW2), (self.b2, gb2), (self.W3, gW3), (self.b3, gb3)):
            w_ -= LR * g_
        return loss


class Torch:
    name = "torch"

    def __init__(self, w):
        import torch
        self.torch = torch
        self.model = torch.nn.Sequential(torch.nn.Conv2d(1, 30, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                         torch.nn.Flatten(), torch.nn.Linear(4320, 100), torch.nn.ReLU(),
                                         torch.nn.Linear(100, 10))
        self.model.load_state_dict({k.replace("1.", "0.", 1) if k.startswith("1.") else
                                    k.replace("5.", "4.", 1) if k.startswith("5.") else
                                    k.replace("7.", "6.", 1): torch.from_numpy(v.copy()) for k, v in w.items()})
        self.opt = torch.optim.SGD(self.model.parameters(), lr=LR)

    def step(self, xb, yb):
        t = self.torch
        self.opt.zero_grad()
        loss = t.nn.functional.cross_entropy(self.model(t.from_numpy(xb)), t.from_numpy(yb))
        loss.backward()
        self.opt.step()
        return loss


IMPLS = {"tl": TL, "numpy": NumPyRef, "torch": Torch}


def set_threads(n):
    if n is None:
        return "default"
    from threadpoolctl import threadpool_limits
    globals()["_limits"] = threadpool_limits(limits=n)
    try:
        import torch
        torch.set_num_threads(n)
    except ImportError:
        pass
    return str(n)


def vmhwm_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rss_child(impl, threads):
    """In a fresh process: 20 batch-100 steps of one implementation, then its peak RSS (MiB)."""
    set_threads(threads)
    rng = np.random.default_rng(0)                  # synthetic images: the peak is the steps', not the loader's
    X, y = rng.random((2000, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 2000)
    m = IMPLS[impl](initial_weights())
    base = vmhwm_mib()
    for idx in batches(len(X), 0)[:20]:
        m.step(X[idx], y[idx])
    print(json.dumps({"impl": impl, "peak_rss_mib": vmhwm_mib(), "before_steps_mib": base}))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--limit", type=int, default=10000, help="training images per epoch (default 10,000)")
    p.add_argument("--threads", type=int, help="BLAS / torch threads (default: the libraries' own)")
    p.add_argument("--chunk", type=int, default=10,
                   help="steps each implementation takes per turn (default 10): the three take turns within every "
                        "epoch, so a slow spell of a shared machine falls on all of them alike")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--rss-child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.rss_child:
        rss_child(args.rss_child, args.threads)
        return 0
    threads = set_threads(args.threads)
    X, y = load(args.limit)
    w = initial_weights()
    names = ["tl", "numpy"] + ([] if args.no_torch else ["torch"])
    impls = [IMPLS[n](w) for n in names]
    times = {n: [] for n in names}
    losses = {n: [] for n in names}
    for epoch in range(args.epochs):
        order = batches(len(X), epoch)
        spent, last = dict.fromkeys(names, 0.0), {}
        for i in range(0, len(order), args.chunk):      # turns of `chunk` steps: tl, numpy, torch, tl, ...
            for m in impls:
                t0 = time.perf_counter()
                for idx in order[i:i + args.chunk]:
                    last[m.name] = m.step(X[idx], y[idx])
                spent[m.name] += time.perf_counter() - t0
        for n in names:
            times[n].append(spent[n])
            losses[n].append(float(last[n].item() if hasattr(last[n], "item") else last[n]))
    rss = {}
    for n in names:
        cmd = [sys.executable, __file__, "--rss-child", n] + (["--threads", str(args.threads)] if args.threads else [])
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode == 0:
            r = json.loads(out.stdout.strip().splitlines()[-1])
            rss[n] = (r["peak_rss_mib"], r["peak_rss_mib"] - r["before_steps_mib"])
        else:
            rss[n] = None
    med = {n: statistics.median(t) for n, t in times.items()}
    print(f"SimpleConvNet, SGD lr {LR}, batch {BATCH}, {args.limit:,} images/epoch, {args.epochs} epochs in turns of {args.chunk} steps, "
          f"threads {threads}, load average {os.getloadavg()[0]:.1f}")
    print(f"malloc (the whole process, every implementation): {tl.backend.memory_kept()}")
    print(f"{'impl':<6} {'s/epoch (median)':>17} {'vs numpy':>9} {'vs torch':>9} {'last loss':>10} "
          f"{'peak RSS MiB (+steps)':>22}")
    for n in names:
        vs_t = f"{med[n] / med['torch']:.2f}x" if "torch" in med else "-"
        r = f"{rss[n][0]:.0f} (+{rss[n][1]:.0f})" if rss[n] else "-"
        print(f"{n:<6} {med[n]:>17.2f} {med[n] / med['numpy']:>8.2f}x {vs_t:>9} {losses[n][-1]:>10.4f} {r:>22}")
    if "torch" in times:
        per = {n: sorted(a / b for a, b in zip(times[n], times["torch"])) for n in names if n != "torch"}
        print("per-epoch ratio to torch (min / median / max): " + "; ".join(
            f"{n} {r[0]:.2f} / {statistics.median(r):.2f} / {r[-1]:.2f}" for n, r in per.items()))
    print("epochs (s): " + "; ".join(f"{n} " + ", ".join(f"{t:.2f}" for t in times[n]) for n in names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
