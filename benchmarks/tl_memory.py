#!/usr/bin/env python
"""Memory of tinygrad_lite alone over many epochs: does resident memory stop growing after the first?

Trains each MNIST config of mnist_mlp.py with tinygrad_lite only (no NumPy or torch run in
the process to move the allocator's high-water mark) and prints, after each epoch, the
process's VmRSS and the NumPy memory tracemalloc still holds, and the peak one step allocates.

    python benchmarks/tl_memory.py                 # configs 1,2,3, 10 epochs each
    python benchmarks/tl_memory.py --configs 3 --epochs 20
"""
from __future__ import annotations

import argparse
import gc
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mnist_mlp as B  # noqa: E402  (the same configs, data and tl training loop)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default="1,2,3")
    ap.add_argument("--epochs", type=int, default=10)
    args = ap.parse_args(argv)
    data = B.load_data()
    n = data[0].shape[0]
    print(f"data: MNIST from {B.data_root()}; VmRSS {B.rss_mib():.0f} MiB before any model")
    for k in (int(c) for c in args.configs.split(",")):
        cfg = B.CONFIGS[k]
        run = B.TinygradLite(cfg, B.initial_weights(cfg), data, "cpu")
        rss, traced = [], []
        tracemalloc.start()
        try:
            for epoch in range(args.epochs):
                run.train_epoch(epoch, B.epoch_permutation(n, B.SEED, epoch))
                gc.collect()
                rss.append(B.rss_mib())
                traced.append(tracemalloc.get_traced_memory()[0] / 2 ** 20)
        finally:
            tracemalloc.stop()
        peak = run.step_peak_mib()
        print(f"config {k}: {cfg['name']}, {args.epochs} epochs")
        print("  VmRSS (MiB):  " + ", ".join(f"{x:.1f}" for x in rss)
              + f"   after epoch 1: {max(rss[1:], default=rss[0]) - rss[0]:+.1f} MiB at most")
        print("  traced (MiB): " + ", ".join(f"{x:.2f}" for x in traced)
              + f"   after epoch 1: {max(traced[1:], default=traced[0]) - traced[0]:+.3f} MiB at most")
        print(f"  one step allocates at most {peak:.2f} MiB at once")
        del run
        gc.collect()


if __name__ == "__main__":
    main()
