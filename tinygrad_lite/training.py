"""The training loop the examples and tests share: `fit` and `evaluate`.

    >>> from tinygrad_lite.training import fit, evaluate
    >>> history = fit(model, tl.optim.Adam(model.parameters()), loader, (X_test, y_test), epochs=5)
    >>> history[-1]["test_acc"]

The step is lean: forward, loss, zero_grad, backward, step. The running loss and the
count of right answers stay device arrays during an epoch and are read once at its end,
so a GPU epoch never waits on the host between steps.
"""
from __future__ import annotations

import math
import time

import numpy as np

from . import backend, distributed
from .function import no_grad
from .nn import functional as F
from .tensor import Tensor

__all__ = ["fit", "evaluate", "model_device", "count_correct", "NonFiniteLossError"]


class NonFiniteLossError(FloatingPointError):
    """fit() stopped: the training loss became nan or inf (the message names the epoch and step)."""

    def __init__(self, message, epoch, step, value):
        super().__init__(message)
        self.epoch, self.step, self.value = epoch, step, value


def _nonfinite(epoch, step, step_in_epoch, value, optimizer, checkpoint, start_epoch, clip):
    lrs = sorted({g.get("lr") for g in optimizer.param_groups}, key=str)
    lr = ", ".join(f"{x:g}" if isinstance(x, (int, float)) else str(x) for x in lrs)
    import os
    kept = (f"The checkpoint {checkpoint} still holds the last good epoch ({epoch - 1})"
            if checkpoint is not None and epoch - 1 > start_epoch else
            f"The checkpoint {checkpoint} was left as it was" if checkpoint is not None and os.path.exists(checkpoint)
            else "Nothing was saved after it")
    hint = "" if clip else ", or clip the gradients (tl.nn.utils.clip_grad_norm_; examples/mnist.py --clip-grad-norm)"
    return NonFiniteLossError(
        f"the training loss became {value} at epoch {epoch}, step {step} ({step_in_epoch} of the epoch); "
        f"training stopped. The weights are no longer trustworthy. Try a lower learning rate (now {lr}){hint}. "
        f"{kept}.", epoch, step, value)


def model_device(model):
    """The device of the model's first parameter ("cpu" for a model without parameters)."""
    for p in model.parameters():
        return p.device
    return "cpu"


def count_correct(out, target):
    """Number of right predictions in a batch, as a 0-d device array (no host sync).

    Several outputs per row (N, C) with C > 1: the argmax is the prediction, and the target
    holds labels (N,) or one-hot / probability rows (N, C). One output per row (N,) or (N, 1):
    a probability, predicted 1 where it is > 0.5, against 0/1 targets.
    """
    o = out.data if isinstance(out, Tensor) else out
    t = target.data if isinstance(target, Tensor) else target
    xp = backend.xp_of(o)
    if o.ndim == 2 and o.shape[1] > 1:
        pred = o.argmax(axis=1)
        if t.ndim == 2:
            t = t.argmax(axis=1)
        return xp.count_nonzero(pred == t)
    return xp.count_nonzero((o.reshape(-1) > 0.5) == (t.reshape(-1) > 0.5))


def _predict(o):
    if o.ndim == 2 and o.shape[1] > 1:
        return o.argmax(axis=1)
    return (o.reshape(-1) > 0.5).astype(np.int64)


def _as_array(a, device):
    a = a.data if isinstance(a, Tensor) else a
    if not backend.is_array(a):
        a = np.asarray(a)
    return a if backend.device_of(a) == device else backend.to_device(a, device)


def _distributed(model):
    """True when `model` is a tl.distributed.DistributedDataParallel in a job of several ranks."""
    return isinstance(model, distributed.DistributedDataParallel) and distributed.world_size() > 1


def evaluate(model, X, y, batch_size=1000, loss_fn=F.cross_entropy, distributed_eval=None):
    """Loss and accuracy of `model` on (X, y), in batches, under no_grad and in eval mode.

    X and y are arrays or Tensors (moved to the model's device once). Returns a dict:
    `loss` (mean over the examples; the loss_fn's batch mean weighted by batch size),
    `accuracy` (fraction right, see `count_correct`) and `predictions` (NumPy int64 (N,)).
    The model's train/eval mode is restored afterwards.

    Across ranks (`distributed_eval`; by default when `model` is a `tl.distributed.DistributedDataParallel`
    in a job of several ranks): every rank passes the same full (X, y), evaluates its contiguous 1/R
    of it, and the sums are all-reduced and the predictions gathered, so every rank returns the
    metrics of the whole set, as one process would (up to float summation order).
    """
    if batch_size < 1:
        raise ValueError(f"evaluate: batch_size must be positive, got {batch_size}")
    dev = model_device(model)
    X, y = _as_array(X, dev), _as_array(y, dev)
    n = len(X)
    if len(y) != n:
        raise ValueError(f"evaluate: X has {n} examples but y has {len(y)}")
    if distributed_eval is None:
        distributed_eval = _distributed(model)
    if distributed_eval and distributed.world_size() > 1:
        r, size = distributed.rank(), distributed.world_size()
        lo, hi = n * r // size, n * (r + 1) // size
        part = evaluate(model, X[lo:hi], y[lo:hi], batch_size, loss_fn, distributed_eval=False)
        sums = np.array([part["loss"] * (hi - lo) if hi > lo else 0.0,
                         round(part["accuracy"] * (hi - lo)) if hi > lo else 0.0], dtype=np.float64)
        distributed.all_reduce(sums, "sum", check=False)
        predictions = distributed._all_gather_v(distributed._w(), part["predictions"])
        if n == 0:
            return {"loss": float("nan"), "accuracy": float("nan"), "predictions": predictions}
        return {"loss": float(sums[0]) / n, "accuracy": int(sums[1]) / n, "predictions": predictions}
    was_training = model.training
    model.eval()
    xp = backend.xp_of(X)
    loss_sum, correct, preds = xp.zeros((), dtype=np.float64), xp.zeros((), dtype=np.int64), []
    try:
        with no_grad():
            for s in range(0, n, batch_size):
                xb = Tensor._make(X[s:s + batch_size], False, None)
                yb = Tensor._make(y[s:s + batch_size], False, None)
                out = model(xb)
                loss_sum += loss_fn(out, yb).data * len(xb)
                correct += count_correct(out, yb)
                preds.append(_predict(out.data))
    finally:
        model.train(was_training)
    if n == 0:
        return {"loss": float("nan"), "accuracy": float("nan"), "predictions": np.zeros(0, dtype=np.int64)}
    predictions = backend.to_numpy(xp.concatenate(preds)).astype(np.int64, copy=False)
    return {"loss": float(loss_sum) / n, "accuracy": int(correct) / n, "predictions": predictions}


def fit(model, optimizer, train_loader, test_data=None, epochs=1, loss_fn=F.cross_entropy, progress=True,
        on_epoch_end=None, checkpoint=None, start_epoch=0, history=None, max_steps=None,
        eval_batch_size=1000, checkpoint_extra=None, scheduler=None, jit=False, on_step=None,
        clip_grad_norm=None):
    """Train `model` for epochs start_epoch .. epochs-1 and return the history.

    - `train_loader`: a `tl.data.DataLoader` yielding (x, y) batches on the model's device.
    - `test_data`: (X, y) arrays/Tensors evaluated after each epoch (or None).
    - `epochs`: the total number of epochs; training starts at `start_epoch` (0 for a fresh
      run; the epoch stored in a checkpoint to resume), and the loader is `set_epoch`'d to
      it, so a resumed run sees the same batches as an uninterrupted one.
    - `progress`: a tqdm bar per epoch (tqdm imported only then); False for tests/logs.
    - `on_epoch_end(row)`: called with each epoch's history row; returning True stops training.
    - `checkpoint`: a path; after each epoch `tl.save_checkpoint(path, model, optimizer,
      epoch=<epochs done>, history=<history so far>, **checkpoint_extra)` is written.
    - `history`: the rows of the epochs already done (when resuming); new rows are appended.
    - `jit`: run the step through `tl.TinyJit` (on the GPU a captured CUDA graph replayed each
      step; the same eager step on the CPU). The learning rates are part of its key, so a
      scheduler's new lr captures a new graph.
    - `scheduler`: an epoch scheduler (e.g. `tl.optim.MultiStepLR`), stepped after each epoch
      and set to `start_epoch` when resuming.
    - `on_step(step, loss, n_right, n)`: called after each optimizer step (step counted from 1 over the
      whole run) with the batch's loss Tensor and count of right answers (a 0-d device array); reading
      them waits for the GPU, so a hook that logs every step costs a sync a step there.
    - `max_steps`: stop after this many optimizer steps in all (counting the
      start_epoch * len(train_loader) steps before start_epoch), e.g. a recipe given in iterations.
    - `clip_grad_norm`: scale the gradients to this total 2-norm before each step
      (`tl.nn.utils.clip_grad_norm_`).

    The first non-finite (nan or inf) training loss stops training: `NonFiniteLossError`
    (a FloatingPointError) names the epoch and the step and suggests a lower learning rate.
    Nothing is saved after that step, so `checkpoint` keeps the last good epoch. (On the
    CPU every step is checked at once; on the GPU a device flag records the first bad step
    and is read where the progress bar reads the loss, so no step waits on the host.)

    Each history row is a dict: epoch (1-based), steps (total so far), train_loss and
    train_acc (averaged over the epoch's batches as trained), test_loss, test_acc (None
    without test_data) and seconds (training time of the epoch, evaluation excluded).
    """
    if epochs < 0 or start_epoch < 0:
        raise ValueError(f"fit: epochs and start_epoch must be >= 0, got {epochs} and {start_epoch}")
    history = list(history) if history is not None else []
    dev = model_device(model)
    if test_data is not None:
        X_test, y_test = _as_array(test_data[0], dev), _as_array(test_data[1], dev)
    xp = backend.xp_for(dev)
    steps_per_epoch = len(train_loader)
    step = start_epoch * steps_per_epoch
    if hasattr(train_loader, "set_epoch"):
        train_loader.set_epoch(start_epoch)
    if scheduler is not None:
        scheduler.step(start_epoch)
    dist = _distributed(model)
    if dist and not distributed.is_main():
        progress = False                          # one progress bar: rank 0's
    tqdm = None
    if progress:
        try:
            from tqdm.auto import tqdm
        except ImportError:   # tqdm is optional: train without a bar
            tqdm = None
    if clip_grad_norm is not None:
        from .nn.utils import clip_grad_norm_
        params = [p for g in optimizer.param_groups for p in g["params"]]

    def train_step(xb, yb, lrs=None):        # lrs: part of TinyJit's key, so a new lr is a new capture
        out = model(xb)
        loss = loss_fn(out, yb)
        optimizer.zero_grad()
        loss.backward()
        if clip_grad_norm is not None:
            clip_grad_norm_(params, clip_grad_norm)
        optimizer.step()
        return loss, count_correct(out, yb)

    on_cpu = dev == "cpu"

    def check_bad(bad, epoch, i0):           # the GPU's device flag: the first bad step, or -1
        first = int(bad)
        if first >= 0:
            raise _nonfinite(epoch + 1, first + 1, first + 1 - i0, "nan or inf", optimizer, checkpoint,
                             start_epoch, clip_grad_norm)

    if jit:
        from .capture import TinyJit
        step_fn = TinyJit(train_step)
    for epoch in range(start_epoch, epochs):
        if max_steps is not None and step >= max_steps:
            break
        if epoch > start_epoch and hasattr(train_loader, "set_epoch"):
            train_loader.set_epoch(epoch)         # a DistributedSampler reshuffles only when told the epoch
        model.train()
        loss_sum = xp.zeros((), dtype=np.float64)
        correct = xp.zeros((), dtype=np.int64)
        seen = 0
        n_batches = steps_per_epoch if max_steps is None else min(steps_per_epoch, max_steps - step)
        bar = tqdm(total=n_batches, desc=f"epoch {epoch + 1}/{epochs}", leave=False, unit="batch",
                   dynamic_ncols=True) if tqdm is not None else None
        report_every = max(1, n_batches // 20)
        backend.synchronize(dev)
        t0 = time.perf_counter()
        lrs = tuple(g["lr"] for g in optimizer.param_groups)
        bad, i0 = (None if on_cpu else xp.full((), -1, dtype=np.int64)), step
        for i, (xb, yb) in enumerate(train_loader):
            loss, right = step_fn(xb, yb, lrs) if jit else train_step(xb, yb)
            if on_cpu:                            # a host read is free here: stop at the bad step itself
                value = float(loss.data)
                if not math.isfinite(value):
                    if bar is not None:
                        bar.close()
                    raise _nonfinite(epoch + 1, step + 1, i + 1, value, optimizer, checkpoint, start_epoch,
                                     clip_grad_norm)
            else:
                bad = xp.where((bad < 0) & ~xp.isfinite(loss.data), step, bad)
            n = len(xb)
            loss_sum += loss.data * n
            correct += right
            seen += n
            step += 1
            if on_step is not None:
                on_step(step, loss, right, n)
            if bar is not None:
                bar.update(1)
                if (i + 1) % report_every == 0:   # one host read per 5% of the epoch
                    if bad is not None:
                        check_bad(bad, epoch, i0)
                    bar.set_postfix(loss=f"{float(loss_sum) / seen:.4f}", refresh=False)
            if max_steps is not None and step >= max_steps:
                break
        backend.synchronize(dev)
        if bad is not None:
            if bar is not None:
                bar.close()
            check_bad(bad, epoch, i0)
        seconds = time.perf_counter() - t0
        if bar is not None:
            bar.close()
        if dist:                                  # the epoch's numbers over every rank's examples
            sums = np.array([float(loss_sum), int(correct), seen], dtype=np.float64)
            distributed.all_reduce(sums, "sum", check=False)
            loss_sum, correct, seen = sums[0], int(sums[1]), int(sums[2])
        row = {"epoch": epoch + 1, "steps": step,
               "train_loss": float(loss_sum) / seen if seen else float("nan"),
               "train_acc": int(correct) / seen if seen else float("nan"),
               "test_loss": None, "test_acc": None, "seconds": seconds}
        if test_data is not None:
            ev = evaluate(model, X_test, y_test, eval_batch_size, loss_fn)
            row["test_loss"], row["test_acc"] = ev["loss"], ev["accuracy"]
        history.append(row)
        if scheduler is not None:
            scheduler.step()
        if checkpoint is not None:
            if isinstance(model, distributed.DistributedDataParallel):   # rank 0 writes the module and
                from .distributed import save_checkpoint                  # every rank's RNG state
            else:
                from .serialization import save_checkpoint
            save_checkpoint(checkpoint, model, optimizer, epoch=epoch + 1, history=history,
                            **(checkpoint_extra or {}))
        if on_epoch_end is not None and on_epoch_end(row):
            break
    return history
