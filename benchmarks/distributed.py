#!/usr/bin/env python
"""Data-parallel scaling of the flagship (784-1000-10 ReLU, Adam, global batch 64) on MNIST: 1 rank vs N ranks.

    python benchmarks/distributed.py                     # 1 and 2 ranks, one BLAS thread each, 3 repeats
    python benchmarks/distributed.py --ranks 1 2 --repeats 5 --json out.json
    python benchmarks/distributed.py --step-times        # per-step compute of every MNIST model (for the model)
    python benchmarks/distributed.py --model-table benchmarks/distributed_step_times.json   # the docs' tables

Each measurement is one `mpiexec -n N` job (N = 1 runs the same code in one process) that trains one
epoch of the global batch split over the ranks (tl.distributed.DistributedDataParallel and
tl.data.DistributedSampler), after a few warm-up steps. It reports the epoch's wall time (the slowest
rank's), the speedup over 1 rank, and the share of the epoch spent in the gradient all-reduce
(DistributedDataParallel.comm_seconds: time inside the reduction, which includes waiting for the
slower rank), plus a bare all-reduce of the same gradient bytes timed alone (the link's cost
without the waiting). Every process gets one BLAS thread (OMP/OPENBLAS/MKL_NUM_THREADS=1).
The load average at the start of each job is printed: on a shared machine, repeat and read medians.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MODELS = {   # name -> (per-rank batch of the recipe, optimizer), the tutorials' MNIST recipes
    "two_layer": (100, "sgd"), "mlp1000": (64, "adam"), "three_layer": (256, "adam"), "tiny_mlp": (64, "adam")}

# The links of the scaling model: (name, bandwidth in bytes/s, latency per message in s). Assumptions, not
# measurements: TCP over 10 GbE; RDMA (RoCE/InfiniBand-class) over 100 Gb/s; NVLink-class inside a node (NCCL).
LINKS = [("10 Gb/s Ethernet", 10e9 / 8, 25e-6), ("100 Gb/s Ethernet (RDMA)", 100e9 / 8, 5e-6),
         ("NVLink-class (300 GB/s)", 300e9, 3e-6)]
NS = [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]


def _env(threads=1):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[v] = str(threads)
    return env


def _mpiexec():
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.exists() else shutil.which("mpiexec")


def _data(args):
    import tinygrad_lite as tl
    root = args.data_dir or os.environ.get("TINYGRAD_LITE_DATA") or str(ROOT.parent / "shared" / "datasets")
    return tl.datasets.load_mnist(root=root, download=False)


# ---------------------------------------------------------------- one job (run under mpiexec)
def worker(args):
    import numpy as np

    import tinygrad_lite as tl
    import tinygrad_lite.nn.functional as F
    from tinygrad_lite import distributed as dist
    import tinygrad_lite.models as models

    dist.init()
    n, r = dist.world_size(), dist.rank()
    (X, y), _ = _data(args)
    if args.limit:
        X, y = X[:args.limit], y[:args.limit]
    recipe = models.RECIPES[args.model]
    tl.manual_seed(0)
    net = recipe.build(in_features=784, num_classes=10)
    opt = recipe.make_optimizer(net)
    model = dist.DistributedDataParallel(net)
    batch = recipe.batch_size
    sampler = tl.data.DistributedSampler((X, y), seed=0)
    loader = tl.data.DataLoader((X, y), batch_size=batch // n, sampler=sampler)

    phase = {"forward": 0.0, "backward": 0.0, "optimizer": 0.0}

    def step(xb, yb):
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(xb), yb)
        t1 = time.perf_counter()
        opt.zero_grad()
        loss.backward()                 # (the gradient reduction runs at its end: subtracted below)
        t2 = time.perf_counter()
        opt.step()
        phase["forward"] += t1 - t0
        phase["backward"] += t2 - t1
        phase["optimizer"] += time.perf_counter() - t2

    for i, (xb, yb) in enumerate(loader):           # warm-up
        step(xb, yb)
        if i == 10:
            break
    model.comm_seconds = model.allreduce_seconds = 0.0
    phase.update(forward=0.0, backward=0.0, optimizer=0.0)
    sampler.set_epoch(1)
    dist.barrier()
    t0 = time.perf_counter()
    steps = 0
    for xb, yb in loader:
        step(xb, yb)
        steps += 1
    mine = time.perf_counter() - t0
    comm, coll = model.comm_seconds, model.allreduce_seconds
    phases = {"forward": phase["forward"], "backward": phase["backward"] - comm, "bucket copies": comm - coll,
              "all-reduce": coll, "optimizer": phase["optimizer"]}
    phases["other"] = mine - sum(phases.values())           # data loading, the loop itself
    dist.barrier()
    wall = time.perf_counter() - t0
    # the same gradient bytes all-reduced alone, back to back: the link's cost without waiting for a slower rank
    grad = np.zeros(sum(p.data.size for p in net.parameters()), dtype=np.float32)
    bare = float("nan")
    if n > 1:
        for _ in range(5):
            dist.all_reduce(grad, check=False)
        dist.barrier()
        t1 = time.perf_counter()
        for _ in range(50):
            dist.all_reduce(grad, check=False)
        bare = (time.perf_counter() - t1) / 50
    rows = dist._w().comm.allgather((mine, comm, phases)) if n > 1 else [(mine, comm, phases)]
    if r == 0:
        out = {"ranks": n, "model": args.model, "steps": steps, "global_batch": batch, "epoch_seconds": wall,
               "rank_seconds": [a for a, _, _ in rows], "comm_seconds": [b for _, b, _ in rows],
               "phase_seconds": [c for _, _, c in rows],
               "grad_bytes": int(grad.nbytes), "bare_allreduce_seconds": bare, "load_at_start": args.load}
        print("RESULT " + json.dumps(out), flush=True)


def run_job(args, n):
    cmd = [_mpiexec(), "-n", str(n)] if n > 1 else []
    cmd += [sys.executable, str(Path(__file__).resolve()), "--worker", "--model", args.model,
            "--load", f"{os.getloadavg()[0]:.2f}"]
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    p = subprocess.run(cmd, capture_output=True, text=True, env=_env(1))
    line = next((ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if p.returncode != 0 or line is None:
        raise SystemExit(f"benchmark job with {n} ranks failed (exit {p.returncode}):\n{p.stdout}\n{p.stderr}")
    return json.loads(line[len("RESULT "):])


def scaling(args):
    if _mpiexec() is None:
        raise SystemExit('benchmarks/distributed.py needs mpiexec: pip install -e ".[mpi]"')
    runs = {n: [] for n in args.ranks}
    for rep in range(args.repeats):                  # interleaved, so a burst of load hits every N alike
        for n in args.ranks:
            res = run_job(args, n)
            runs[n].append(res)
            comm = statistics.mean(res["comm_seconds"])
            print(f"repeat {rep + 1}: {n} rank(s): epoch {res['epoch_seconds']:.2f} s ({res['steps']} steps), "
                  f"all-reduce {comm:.2f} s ({comm / res['epoch_seconds']:.0%}), load {res['load_at_start']}",
                  flush=True)
    base = statistics.median(r["epoch_seconds"] for r in runs[args.ranks[0]])
    print(f"\n{args.model}, global batch {runs[args.ranks[0]][0]['global_batch']}, one BLAS thread per rank, "
          f"median of {args.repeats}; {os.cpu_count()} cores:")
    print("| ranks | epoch s (median) | speedup | all-reduce share | bare all-reduce of the gradients |")
    print("|---|---|---|---|---|")
    summary = []
    for n in args.ranks:
        ep = statistics.median(r["epoch_seconds"] for r in runs[n])
        share = statistics.median(statistics.mean(r["comm_seconds"]) / r["epoch_seconds"] for r in runs[n])
        bare = statistics.median(r["bare_allreduce_seconds"] for r in runs[n]) if n > 1 else float("nan")
        bare_s = f"{bare * 1e3:.2f} ms ({runs[n][0]['grad_bytes'] / 1e6:.2f} MB)" if n > 1 else "-"
        print(f"| {n} | {ep:.2f} | {base / ep:.2f}x | {share:.0%} | {bare_s} |")
        summary.append({"ranks": n, "epoch_seconds": ep, "speedup": base / ep, "comm_share": share,
                        "bare_allreduce_seconds": bare, "all": runs[n]})
    names = list(runs[args.ranks[0]][0]["phase_seconds"][0])
    print(f"\nWhere a step's time goes (ms per step, rank 0, median over repeats; the all-reduce includes waiting "
          "for the slower rank):")
    print("| ranks | per-rank batch | " + " | ".join(names) + " | step |")
    print("|---|---|" + "---|" * (len(names) + 1))
    for n in args.ranks:
        med = {k: statistics.median(r["phase_seconds"][0][k] / r["steps"] for r in runs[n]) for k in names}
        print(f"| {n} | {runs[n][0]['global_batch'] // n} | " + " | ".join(f"{med[k] * 1e3:.2f}" for k in names)
              + f" | {sum(med.values()) * 1e3:.2f} |")
        summary[args.ranks.index(n)]["phase_ms_per_step"] = {k: v * 1e3 for k, v in med.items()}
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1))


# ---------------------------------------------------------------- per-step compute, for the model
def step_times(args):
    """CPU seconds per training step of each MNIST model, one process on one BLAS thread, at the recipe's batch
    and at batch/8 (a linear fit c0 + c1 * batch gives the compute of a rank that gets batch/N of it)."""
    import numpy as np

    import tinygrad_lite as tl
    import tinygrad_lite.nn.functional as F
    import tinygrad_lite.models as models

    (X, y), _ = _data(args)
    out = {}
    for name, (batch, _) in MODELS.items():
        recipe = models.RECIPES[name]
        tl.manual_seed(0)
        net = recipe.build(in_features=784, num_classes=10)
        opt = recipe.make_optimizer(net)
        per = {}
        for b in (batch, max(1, batch // 8)):
            xb, yb = tl.Tensor(X[:b]), tl.Tensor(y[:b])
            times, walls = [], []
            for rep in range(5):
                t0, c0 = time.perf_counter(), time.process_time()
                for _ in range(40):
                    loss = F.cross_entropy(net(xb), yb)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                times.append((time.process_time() - c0) / 40)
                walls.append((time.perf_counter() - t0) / 40)
            # CPU time of this one-thread process: the compute a step needs, which a busy machine's waiting
            # (wall time) does not inflate; the least of 5 runs
            per[b] = min(times)
            print(f"  {name} batch {b}: CPU {min(times) * 1e3:.3f} ms/step, wall {min(walls) * 1e3:.3f} ms/step",
                  flush=True)
        params = sum(p.data.size for p in net.parameters())
        out[name] = {"batch": batch, "step_seconds": per, "params": int(params), "grad_bytes": int(params * 4)}
        print(f"{name}: {params:,} parameters ({params * 4 / 1e6:.2f} MB of float32 gradients); "
              + ", ".join(f"batch {b}: {s * 1e3:.3f} ms/step" for b, s in per.items()), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return out


def ring_allreduce_seconds(n, nbytes, bandwidth, latency, buckets=1):
    """Ring all-reduce: 2(N-1) steps of nbytes/N each (reduce-scatter, then all-gather), per bucket."""
    if n == 1:
        return 0.0
    return 2 * (n - 1) / n * nbytes / bandwidth + buckets * 2 * (n - 1) * latency


def model_table(times):
    """Markdown: for each model and link, step time and efficiency as N grows (weak and strong scaling)."""
    lines = []
    for name, t in times.items():
        st = {int(k): v for k, v in t["step_seconds"].items()}
        (b1, s1), (b0, s0) = sorted(st.items(), reverse=True)[0], sorted(st.items())[0]
        c1 = (s1 - s0) / (b1 - b0)                     # seconds per example
        c0 = s0 - c1 * b0                              # per-step overhead that does not shrink with the batch
        B, S = t["batch"], t["grad_bytes"]
        lines.append(f"\n### {name}: {t['params']:,} parameters, {S / 1e6:.2f} MB of gradients, "
                     f"batch {B}: {s1 * 1e3:.2f} ms/step on one core ({c0 * 1e6:.0f} us fixed + "
                     f"{c1 * 1e6:.1f} us/example)\n")
        lines.append("Weak scaling (each rank keeps batch %d): efficiency = compute / (compute + all-reduce). "
                     "Strong scaling (global batch %d split; N <= %d): speedup over one rank.\n" % (B, B, B))
        lines.append("| link | " + " | ".join(f"N={n}" for n in NS) + " | stops paying |")
        lines.append("|---|" + "---|" * (len(NS) + 1))
        for link, bw, lat in LINKS:
            weak, strong, half, best = [], [], None, (1, s1)
            for n in NS:
                comm = ring_allreduce_seconds(n, S, bw, lat)
                eff = s1 / (s1 + comm)
                if half is None and eff < 0.5:
                    half = n
                cell = f"{eff:.0%}"
                if n <= B:
                    step = c0 + c1 * (B / n) + comm
                    cell += f" / {s1 / step:.1f}x"
                    if step < best[1]:
                        best = (n, step)
                weak.append(cell)
            stop = (f"weak: <50% at N={half}" if half else "weak: >=50% to N=1024") + \
                   f"; strong: fastest at N={best[0]} ({s1 / best[1]:.1f}x)"
            lines.append(f"| {link} | " + " | ".join(weak) + f" | {stop} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--model", default="mlp1000", choices=sorted(MODELS))
    p.add_argument("--limit", type=int, help="train on the first N examples (a quick look)")
    p.add_argument("--data-dir")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--step-times", action="store_true", help="per-step compute of each model (one process)")
    p.add_argument("--model-table", metavar="STEP_TIMES_JSON",
                   help="print the scaling model's tables from a --step-times --json file")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--load", default="?", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args)
    elif args.step_times:
        step_times(args)
    elif args.model_table:
        times = {k: v for k, v in json.loads(Path(args.model_table).read_text()).items() if not k.startswith("_")}
        print(model_table(times))
    else:
        scaling(args)


if __name__ == "__main__":
    main()
