#!/usr/bin/env python
"""Train a tutorial network on MNIST (or Fashion-MNIST, or scikit-learn's 8x8 digits).

    python examples/mnist.py                          # 784-1000-10 ReLU, Adam lr 1e-3, batch 64
    python examples/mnist.py --model two_layer        # "Deep Learning from Scratch" ch. 4
    python examples/mnist.py --device gpu --epochs 10
    python examples/mnist.py --checkpoint runs/mnist/ckpt.safetensors            # save every epoch
    python examples/mnist.py --checkpoint runs/mnist/ckpt.safetensors --resume --epochs 10
    python examples/mnist.py --limit 2000 --epochs 1 --quiet                      # a quick look
    python examples/mnist.py --tensorboard runs/tb && tensorboard --logdir runs/tb  # watch it in TensorBoard
    python examples/mnist.py --threads 2              # BLAS threads (default: the idle cores, 1 to 4)
    mpiexec -n 2 python examples/mnist.py --distributed     # data-parallel over 2 processes (the mpi extra)

Each recipe's defaults (optimizer, lr, batch size, epochs, L2) come from tl.models.RECIPES;
any flag overrides them. Writes to --out (default runs/mnist): metrics.csv, metrics.jsonl,
curves.png, misclassified.png, confusion.png (unless --no-plots) and final.ckpt (for
examples/predict.py).
The data are looked up as tl.datasets explains ($TINYGRAD_LITE_DATA/mnist, the cache, ...).
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:                 # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

if "--distributed" in sys.argv[1:]:           # before NumPy loads: each rank gets its share of the cores for BLAS
    _ranks = int(os.environ.get("MPI_LOCALNRANKS") or os.environ.get("OMPI_COMM_WORLD_LOCAL_SIZE") or 1)
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, str(max(1, (os.cpu_count() or 1) // _ranks)))

import numpy as np  # noqa: E402

import tinygrad_lite as tl  # noqa: E402
from tinygrad_lite import plots  # noqa: E402
from tinygrad_lite.training import evaluate, fit  # noqa: E402

PROG = "mnist.py"
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]
COLUMNS = ["epoch", "steps", "train_loss", "train_acc", "test_loss", "test_acc", "seconds"]


class Fail(Exception):
    """An error the user can fix: printed as `mnist.py: error: ...` with exit status 1."""


def positive(kind):
    def parse(text):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None
        if not v > 0 or (kind is float and not math.isfinite(v)):
            raise argparse.ArgumentTypeError(f"must be a positive {'integer' if kind is int else 'number'}, "
                                             f"got {text}")
        return v
    return parse


def non_negative_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
    if not (v >= 0 and math.isfinite(v)):
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return v


def build_parser(models):
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=["cpu", "gpu"], default="cpu", help="cpu (NumPy) or gpu (CuPy)")
    p.add_argument("--model", choices=models.MNIST_RECIPES, default=models.DEFAULT_MNIST_RECIPE,
                   help="the network and its recipe (default: %(default)s)")
    p.add_argument("--dataset", choices=["mnist", "fashion-mnist", "digits"], default="mnist")
    p.add_argument("--epochs", type=positive(int), help="epochs in all (default: the recipe's)")
    p.add_argument("--batch-size", type=positive(int), help="default: the recipe's")
    p.add_argument("--lr", type=positive(float), help="learning rate (default: the recipe's)")
    p.add_argument("--optimizer", choices=models.recipes.OPTIMIZERS, help="default: the recipe's")
    p.add_argument("--weight-decay", type=non_negative_float,
                   help="L2 on the weight matrices (AdamW: decoupled); default: the recipe's")
    p.add_argument("--seed", type=int, default=0, help="seeds the weights and the shuffling (default 0)")
    p.add_argument("--data-dir", help="folder holding the MNIST files (or a folder containing mnist/)")
    p.add_argument("--download", action=argparse.BooleanOptionalAction, default=True,
                   help="download MNIST when it is not found (default: yes)")
    p.add_argument("--checkpoint", metavar="PATH", help="save a training checkpoint here after every epoch")
    p.add_argument("--resume", action="store_true", help="continue the run saved in --checkpoint")
    p.add_argument("--out", default="runs/mnist", help="output folder (default: %(default)s)")
    p.add_argument("--limit", type=positive(int), metavar="N", help="train on the first N examples only")
    p.add_argument("--clip-grad-norm", type=positive(float), metavar="MAX",
                   help="scale the gradients to this total 2-norm before each step (tl.nn.utils.clip_grad_norm_)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--jit", action="store_true",
                   help="capture the training step as a CUDA graph and replay it (tl.TinyJit; GPU only)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNGs (matplotlib is then not needed)")
    p.add_argument("--tensorboard", metavar="DIR", help="also log to TensorBoard event files in DIR: losses, "
                   "accuracies, lr, histograms, misclassified digits (view: tensorboard --logdir DIR)")
    tl.threads.add_argument(p)
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel over the processes of `mpiexec -n N` (tl.distributed): each rank takes "
                        "1/N of every batch; rank 0 prints and writes the outputs")
    return p


# ---------------------------------------------------------------- data
def checkout_data_dir():
    """A `shared/datasets` folder beside the checkout (this project's machines keep MNIST there), unless
    $TINYGRAD_LITE_DATA says otherwise (set and not empty, as tl.datasets reads it); None elsewhere (then the
    usual search and download)."""
    beside = ROOT.parent / "shared" / "datasets"
    return str(beside) if not os.environ.get("TINYGRAD_LITE_DATA") and beside.is_dir() else None


def load_data(args):
    """((X_train, y_train), (X_test, y_test), side, classes) as float32 (N, side*side) / int64."""
    if args.dataset == "digits":
        X, y = tl.datasets.digits()
        order = np.random.default_rng(0).permutation(len(X))      # a fixed 80/20 split
        cut = int(0.8 * len(X))
        train, test = (X[order[:cut]], y[order[:cut]]), (X[order[cut:]], y[order[cut:]])
        side, classes = 8, [str(i) for i in range(10)]
    else:
        train, test = tl.datasets.load_mnist(root=args.data_dir or checkout_data_dir(), name=args.dataset,
                                             download=args.download)
        side = 28
        classes = FASHION_CLASSES if args.dataset == "fashion-mnist" else [str(i) for i in range(10)]
    if args.limit is not None:
        train = (train[0][:args.limit], train[1][:args.limit])
    return train, test, side, classes


# ---------------------------------------------------------------- outputs
def fmt_row(row):
    test = (f"{row['test_loss']:>10.4f}  {row['test_acc'] * 100:>8.2f}%" if row.get("test_acc") is not None
            else f"{'-':>10}  {'-':>9}")
    return (f"{row['epoch']:>5}  {row['train_loss']:>10.4f}  {row['train_acc'] * 100:>8.2f}%  {test}  "
            f"{row['seconds']:>7.2f}")


HEADER = f"{'epoch':>5}  {'train_loss':>10}  {'train_acc':>9}  {'test_loss':>10}  {'test_acc':>9}  {'seconds':>7}"


def write_metrics(history, out):
    with open(out / "metrics.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        w.writerows(history)
    with open(out / "metrics.jsonl", "w") as f:
        for row in history:
            f.write(json.dumps(row) + "\n")


def open_tensorboard(log_dir, model, optimizer):
    """A tl.utils.tensorboard.FitLogger writing to log_dir, or Fail saying what to install."""
    from tinygrad_lite.utils.tensorboard import FitLogger, SummaryWriter
    try:
        return FitLogger(SummaryWriter(log_dir), model, optimizer)
    except ImportError as e:
        raise Fail(f"--tensorboard: {e}") from None


# ---------------------------------------------------------------- main
def config_of(args, recipe, in_features, n_train):
    return {"model": recipe.name, "dataset": args.dataset, "in_features": in_features, "num_classes": 10,
            "optimizer": args.optimizer, "lr": args.lr, "weight_decay": args.weight_decay,
            "batch_size": args.batch_size, "seed": args.seed, "limit": args.limit, "n_train": n_train,
            "clip_grad_norm": args.clip_grad_norm}


def _real(x):
    return type(x) in (int, float) and math.isfinite(x)


def config_problem(cfg, models, full=True):
    """What is wrong with a checkpoint's config (None when nothing): the network and data set it
    names, their sizes, and (full) the training flags a resumed run compares with its own."""
    if not isinstance(cfg, dict):
        return "it holds no config naming its network"
    checks = [
        ("model", lambda v: type(v) is str and v in models.RECIPES, f"one of {sorted(models.RECIPES)}"),
        ("dataset", lambda v: v in ("mnist", "fashion-mnist", "digits"), "mnist, fashion-mnist or digits"),
        ("in_features", lambda v: type(v) is int and v == (64 if cfg.get("dataset") == "digits" else 784),
         "784 (64 for digits)"),
        ("num_classes", lambda v: type(v) is int and v == 10, "10"),
    ]
    if full:
        checks += [
            ("optimizer", lambda v: v in models.recipes.OPTIMIZERS, f"one of {list(models.recipes.OPTIMIZERS)}"),
            ("lr", lambda v: _real(v) and v > 0, "a positive number"),
            ("weight_decay", lambda v: _real(v) and v >= 0, "a number >= 0"),
            ("batch_size", lambda v: type(v) is int and v > 0, "a positive integer"),
            ("seed", lambda v: type(v) is int, "an integer"),
            ("limit", lambda v: v is None or (type(v) is int and v > 0), "none or a positive integer"),
        ]
    for key, ok, want in checks:
        v = cfg.get(key)
        try:
            good = ok(v)
        except TypeError:                          # e.g. an unhashable value
            good = False
        if not good:
            return f"config.{key} is {v!r}, expected {want}"
    return None


def history_problem(history, epoch):
    """What is wrong with the saved per-epoch rows (None when nothing)."""
    if not isinstance(history, list):
        return "it holds no history of its epochs"
    if len(history) != epoch:
        return f"it holds {len(history)} history rows for {epoch} epochs"
    for i, row in enumerate(history):
        if not isinstance(row, dict) or set(COLUMNS) - set(row):
            return f"history[{i}] lacks the fields {sorted(set(COLUMNS) - set(row or {}))}" if isinstance(row, dict) \
                else f"history[{i}] is not a row"
        if row["epoch"] != i + 1 or not all(_real(row[k]) for k in ("steps", "train_loss", "train_acc", "seconds")) \
                or not all(row[k] is None or _real(row[k]) for k in ("test_loss", "test_acc")):
            return f"history[{i}] is not a valid row of epoch {i + 1}: {row!r}"[:300]
    return None


def bad_checkpoint(path, why, what="--resume"):
    return Fail(f"{what}: the checkpoint {path} cannot be used: {why}. It is damaged, or was not written by "
                f"{PROG}; nothing was loaded. Pass the --checkpoint of a run of {PROG}, or train a new one"
                f"{' without --resume' if what == '--resume' else ''}.")


def read_resume(path, models):
    if not os.path.exists(path):
        raise Fail(f"--resume: the checkpoint {path} does not exist (train with --checkpoint {path} first, "
                   "or drop --resume)")
    try:
        info = tl.load_checkpoint(path, rng=False)
    except (tl.CheckpointError, OSError) as e:
        raise bad_checkpoint(path, e) from None
    cfg = info["extra"].get("config")
    if info["epoch"] is None:
        raise bad_checkpoint(path, "it holds no epoch count")
    problem = config_problem(cfg, models) or history_problem(info["extra"].get("history"), info["epoch"])
    if problem:
        raise bad_checkpoint(path, problem)
    return info, cfg


def distribute(args, model, X, y, device):
    """--distributed: the model as a DistributedDataParallel (rank 0's weights everywhere) and a loader of
    this rank's shard, batch_size / N rows a step, so N ranks together take the recipe's batch."""
    dist = tl.distributed
    try:
        n = dist.world_size()
    except dist.DistributedError as e:
        raise Fail(f"--distributed: {e}") from None
    if args.batch_size % n:
        raise Fail(f"--distributed: the batch of {args.batch_size} does not split over {n} ranks; pass a "
                   f"--batch-size divisible by {n}")
    sampler = tl.data.DistributedSampler((X, y), shuffle=True, seed=args.seed)
    loader = tl.data.DataLoader((X, y), batch_size=args.batch_size // n, sampler=sampler, device=device)
    return dist.DistributedDataParallel(model), loader


def run(args, models):
    try:
        device = tl.backend.canonical_device(args.device)
    except tl.DeviceError as e:
        raise Fail(f"--device {args.device}: {e}") from None
    try:
        threads = tl.threads.configure(args.threads)
    except ImportError as e:
        raise Fail(f"--threads: {e}") from None

    info = saved = None
    if args.resume:
        info, saved = read_resume(args.checkpoint, models)
        if saved["model"] != args.model or saved["dataset"] != args.dataset:
            raise Fail(f"--resume: {args.checkpoint} holds --model {saved['model']} on --dataset {saved['dataset']}; "
                       f"pass the same flags to continue it (got --model {args.model} --dataset {args.dataset})")
    recipe = models.RECIPES[args.model]
    args.optimizer = args.optimizer or recipe.optimizer
    args.lr = args.lr if args.lr is not None else recipe.lr
    args.weight_decay = args.weight_decay if args.weight_decay is not None else recipe.weight_decay
    args.batch_size = args.batch_size or recipe.batch_size
    if saved is not None:
        for key in ("optimizer", "lr", "weight_decay", "batch_size", "seed", "limit", "clip_grad_norm"):
            if saved.get(key) != getattr(args, key):
                flag = "--" + key.replace("_", "-")
                raise Fail(f"--resume: {args.checkpoint} was trained with {flag} {saved.get(key)}, this run has "
                           f"{flag} {getattr(args, key)}; pass the same value to continue it")

    if info is not None:                          # the whole file against this network, before the data load
        try:
            scratch = recipe.build(in_features=saved["in_features"], num_classes=10)
            tl.load_checkpoint(args.checkpoint, scratch, recipe.make_optimizer(
                scratch, optimizer=args.optimizer, lr=args.lr, weight_decay=args.weight_decay), rng=False)
        except (tl.CheckpointError, OSError, KeyError, ValueError, TypeError) as e:
            raise bad_checkpoint(args.checkpoint, f"it does not fit this model/optimizer: {e}") from None
        del scratch

    try:
        (X, y), (X_test, y_test), side, classes = load_data(args)
    except tl.datasets.DatasetError as e:
        hint = ("" if args.dataset == "digits" else
                "\n(with this script: --data-dir DIR, or TINYGRAD_LITE_DATA=DIR where DIR contains "
                f"{args.dataset}/)")
        raise Fail(f"cannot load --dataset {args.dataset}: {e}{hint}") from None
    in_features = X.shape[1]

    tl.manual_seed(args.seed)
    model = recipe.build(in_features=in_features, num_classes=10, device=device)
    optimizer = recipe.make_optimizer(model, optimizer=args.optimizer, lr=args.lr, weight_decay=args.weight_decay)
    scheduler = recipe.make_scheduler(optimizer)
    if args.distributed:                          # the global batch split over the ranks
        model, loader = distribute(args, model, X, y, device)
    else:
        loader = tl.data.DataLoader((X, y), batch_size=args.batch_size, shuffle=True, seed=args.seed,
                                    device=device)

    max_steps = None
    if args.epochs is not None:
        epochs = args.epochs
    elif recipe.iterations:                       # a recipe given in iterations (two_layer: 10,000)
        max_steps = recipe.iterations
        epochs = math.ceil(max_steps / len(loader))
    else:
        epochs = recipe.epochs

    history, start_epoch = [], 0
    if info is not None:
        try:                                  # validated whole before anything is applied
            tl.load_checkpoint(args.checkpoint, getattr(model, "module", model), optimizer, rng=True)
            rank_states = info["extra"].get("rank_rng_states")       # a --distributed run's, one per rank
            if args.distributed and isinstance(rank_states, list) and len(rank_states) == tl.distributed.world_size():
                tl.backend.validate_rng_state(rank_states[tl.distributed.rank()])
                tl.backend.set_rng_state(rank_states[tl.distributed.rank()])
        except (tl.CheckpointError, OSError, KeyError, ValueError, TypeError) as e:
            raise bad_checkpoint(args.checkpoint, f"it does not fit this model/optimizer: {e}") from None
        history, start_epoch = list(info["extra"]["history"]), int(info["epoch"])

    out = Path(args.out)
    main_rank = not args.distributed or tl.distributed.is_main()
    if main_rank:
        out.mkdir(parents=True, exist_ok=True)
        if args.checkpoint:
            Path(args.checkpoint).parent.mkdir(parents=True, exist_ok=True)
    else:                                         # only rank 0 prints and writes
        sys.stdout = open(os.devnull, "w")
    tl.summary(getattr(model, "module", model), (in_features,))
    what = f"{args.dataset}: {len(X):,} training / {len(X_test):,} test examples"
    title = recipe.title.replace("784-", f"{in_features}-", 1)    # 64- for the 8x8 digits
    print(f"{title} on {what}, device {device}")
    print(f"recipe: {recipe.describe()} ({recipe.source}; reported {recipe.reported_note})")
    opt_name = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}[args.optimizer]
    budget = f"{max_steps:,} iterations" if max_steps else f"{epochs} epochs"
    print(f"this run: {opt_name} lr {args.lr:g}, batch {args.batch_size}, L2 {args.weight_decay:g}, {budget}, "
          f"seed {args.seed}")
    print(threads)
    if args.distributed:
        n = tl.distributed.world_size()
        print(f"data-parallel: {n} ranks x batch {args.batch_size // n} (global batch {args.batch_size})")
    if start_epoch:
        print(f"resuming {args.checkpoint} after epoch {start_epoch}")
    print(HEADER)
    for row in history:
        print(fmt_row(row))

    rows = list(history)
    tb = (open_tensorboard(args.tensorboard, getattr(model, "module", model), optimizer)
          if args.tensorboard and main_rank else None)

    def on_epoch_end(row):                 # a line and the metrics files, as each epoch ends
        rows.append(row)
        print(fmt_row(row), flush=True)
        if main_rank:
            write_metrics(rows, out)
        if tb is not None:
            tb.epoch(row)

    if start_epoch >= epochs:
        print(f"the checkpoint already holds {start_epoch} epochs (--epochs {epochs}): nothing to train")
    else:
        extra = {"config": config_of(args, recipe, in_features, len(X))}
        try:
            history = fit(model, optimizer, loader, (X_test, y_test), epochs=epochs, progress=not args.quiet,
                          on_epoch_end=on_epoch_end, checkpoint=args.checkpoint, start_epoch=start_epoch,
                          history=history, max_steps=max_steps, checkpoint_extra=extra, scheduler=scheduler,
                          jit=args.jit, on_step=tb.step if tb is not None else None,
                          clip_grad_norm=args.clip_grad_norm)
        except tl.training.NonFiniteLossError as e:   # never write NaN weights as final.ckpt
            if tb is not None:
                tb.writer.close()                     # the events up to the last good step stay readable
            raise Fail(f"{e} No final.ckpt was written.") from None
    ev = evaluate(model, X_test, y_test)          # (--distributed: each rank half the test set, reduced)
    if not main_rank:
        return ev
    write_metrics(history, out)
    tl.save_checkpoint(out / "final.ckpt", getattr(model, "module", model), optimizer, epoch=len(history),
                       config=config_of(args, recipe, in_features, len(X)), history=history)
    written = ["metrics.csv", "metrics.jsonl", "final.ckpt"]
    if not args.no_plots and history:
        try:
            plots.plot_history(history, out / "curves.png", title=f"{title} on {args.dataset}")
            plots.plot_misclassified(X_test, y_test, ev["predictions"], out / "misclassified.png",
                                     classes=classes if args.dataset == "fashion-mnist" else None)
            plots.plot_confusion(y_test, ev["predictions"], out / "confusion.png", classes=classes)
            written += ["curves.png", "misclassified.png", "confusion.png"]
        except ImportError as e:
            print(f"{PROG}: no plots: {e}", file=sys.stderr)
    if tb is not None:
        tb.misclassified(X_test, y_test, ev["predictions"], side=side, global_step=len(history),
                         classes=classes if args.dataset == "fashion-mnist" else None)
        tb.writer.close()
        written.append(f"TensorBoard events in {args.tensorboard}/ (tensorboard --logdir {args.tensorboard})")
    total = sum(r["seconds"] for r in history)
    print(f"final test accuracy: {ev['accuracy'] * 100:.2f}% (test loss {ev['loss']:.4f}, "
          f"{total:.1f} s training)")
    print(f"wrote {out}/: {', '.join(written)}")
    return ev


def main(argv=None):
    import tinygrad_lite.models as models   # (a source checkout finds the repo's models/ too)
    parser = build_parser(models)
    args = parser.parse_args(argv)
    if args.resume and not args.checkpoint:
        parser.error("--resume needs --checkpoint PATH (the file to continue from)")
    try:
        run(args, models)
    except Fail as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:                       # e.g. --out or --checkpoint not writable, disk full
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        hint = f"; continue with --resume --checkpoint {args.checkpoint}" if args.checkpoint else ""
        print(f"\n{PROG}: interrupted{hint}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
