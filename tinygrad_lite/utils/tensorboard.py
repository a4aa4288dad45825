"""TensorBoard logging with torch.utils.tensorboard's names: `SummaryWriter`.

    from tinygrad_lite.utils.tensorboard import SummaryWriter
    with SummaryWriter("logs_train") as writer:          # then: tensorboard --logdir logs_train
        writer.add_scalar("train_loss", loss.item(), step)
        writer.add_histogram("fc1.weight", model.fc1.weight, epoch)

Event files are written as torch.utils.tensorboard writes them: tensorboard's EventFileWriter, with the
summaries built by tensorboardX (the `tensorboard` extra: pip install "tinygrad_lite[tensorboard]"); both are
imported only when a writer is made. Values may be Python numbers, NumPy scalars and arrays, CuPy arrays,
or Tensors on any device (moved to the host through the backend, detached); images are CHW by default,
floats in [0, 1] or uint8 in [0, 255], as in PyTorch.
"""
from __future__ import annotations

import os
import socket
import time
from datetime import datetime

import numpy as np

from .. import backend
from ..tensor import Tensor

INSTALL_HINT = ('pip install "tinygrad_lite[tensorboard]"  (or: pip install tensorboardX tensorboard; '
                'tensorboardX builds the summaries, tensorboard writes and shows them)')


def _libraries():
    """(tensorboardX.summary, tensorboard's EventFileWriter, its Event/SessionLog/Summary protos), or an
    ImportError saying what to install."""
    try:
        from tensorboard.compat.proto.event_pb2 import Event, SessionLog
        from tensorboard.compat.proto.summary_pb2 import Summary
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
        from tensorboardX import summary
    except ImportError as e:
        raise ImportError(f"SummaryWriter needs tensorboardX and tensorboard ({e}). Install them with: "
                          f"{INSTALL_HINT}") from None
    return summary, EventFileWriter, Event, SessionLog, Summary


class _EventFile:
    """One event file (tensorboard's EventFileWriter, as torch.utils.tensorboard uses): summaries built by
    tensorboardX go in as Events with a step and a wall time. flush() blocks until all is on disk."""

    def __init__(self, libs, log_dir, max_queue, flush_secs, filename_suffix):
        _, EventFileWriter, self._Event, _, self._Summary = libs
        self.writer = EventFileWriter(str(log_dir), max_queue, flush_secs, filename_suffix)

    def add_event(self, event, step=None, walltime=None):
        event.wall_time = time.time() if walltime is None else walltime
        if step is not None:
            event.step = int(step)
        self.writer.add_event(event)

    def add_summary(self, summary, step=None, walltime=None):
        self.add_event(self._Event(summary=self._Summary.FromString(summary.SerializeToString())), step, walltime)


def default_log_dir(comment=""):
    """PyTorch's default: runs/<Mon DD_HH-MM-SS>_<hostname><comment>."""
    return os.path.join("runs", datetime.now().strftime("%b%d_%H-%M-%S") + "_" + socket.gethostname() + comment)


def to_numpy(value, op="SummaryWriter", tag=None):
    """A logged value as a NumPy array: Tensors (any device, detached), CuPy/NumPy arrays, numbers, lists."""
    if isinstance(value, Tensor):
        return backend.to_numpy(value.data)
    if backend.is_array(value):
        return backend.to_numpy(value)
    if type(value).__module__.startswith("torch"):           # a torch tensor slipped in: accept it as torch does
        return value.detach().cpu().numpy()
    arr = np.asarray(value)
    if arr.dtype == object or arr.dtype.kind in "USV":
        where = f" for tag {tag!r}" if tag is not None else ""
        raise TypeError(f"{op}: expected a number, array or Tensor{where}, got {type(value).__name__} "
                        f"{value!r:.60}")
    return arr


def _scalar(value, op, tag):
    arr = to_numpy(value, op, tag)
    if arr.size != 1:
        raise ValueError(f"{op}: {tag!r} needs a single number (a Python number, NumPy scalar, or one-element "
                         f"Tensor), got shape {tuple(arr.shape)}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{op}: {tag!r} needs a real number, got dtype {arr.dtype}")
    return float(arr.reshape(()))


def _tensorflow_bins():
    """PyTorch's bins='tensorflow': edges at +-1e-12 * 1.1**k up to 1e20, and 0."""
    v, pos = 1e-12, []
    while v < 1e20:
        pos.append(v)
        v *= 1.1
    return [-x for x in reversed(pos)] + [0] + pos


def _step(global_step, op):
    if global_step is None:
        return None
    arr = to_numpy(global_step, op)
    if arr.size != 1 or arr.dtype.kind not in "biu":
        raise TypeError(f"{op}: global_step must be an integer, got {global_step!r}")
    return int(arr.reshape(()))


class SummaryWriter:
    """Writes TensorBoard event files into `log_dir` (torch.utils.tensorboard.SummaryWriter's names and arguments).

    log_dir: default runs/<datetime>_<hostname><comment>, as PyTorch. `flush_secs`: how often pending events are
    written (also on `flush()`, `close()` and leaving a `with` block). `purge_step`, `max_queue`,
    `filename_suffix`: as PyTorch.
    """

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10, flush_secs=120, filename_suffix=""):
        self._libs = _libraries()
        self._summary = self._libs[0]
        if not log_dir:
            log_dir = default_log_dir(comment)
        self.log_dir = str(log_dir)
        self.purge_step = purge_step
        self._max_queue, self._flush_secs, self._filename_suffix = max_queue, flush_secs, filename_suffix
        self._sub_writers = {}                    # add_scalars' runs, one per key
        self._writer = self._event_file(self.log_dir)
        if purge_step is not None:                # as PyTorch: hide this run's events from purge_step on
            Event, SessionLog = self._libs[2], self._libs[3]
            self._writer.add_event(Event(step=purge_step, file_version="brain.Event:2"))
            self._writer.add_event(Event(step=purge_step, session_log=SessionLog(status=SessionLog.START)))

    def _event_file(self, log_dir):
        return _EventFile(self._libs, log_dir, self._max_queue, self._flush_secs, self._filename_suffix)

    def get_logdir(self):
        return self.log_dir

    def _open(self, op):
        if self._writer is None:
            raise RuntimeError(f"SummaryWriter.{op}: the writer for {self.log_dir} is closed")
        return self._writer

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False,
                   double_precision=False):
        """Log one number (Python/NumPy number or one-element Tensor) under `tag` at `global_step`."""
        w = self._open("add_scalar")
        value = _scalar(scalar_value, "SummaryWriter.add_scalar", tag)
        w.add_summary(self._summary.scalar(tag, value), _step(global_step, "SummaryWriter.add_scalar"), walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Several numbers on one chart, as PyTorch lays them out: each key k is a run of its own,
        `<log_dir>/<main_tag>_<k>` ('/' in main_tag becomes '_'), holding the tag `main_tag`."""
        self._open("add_scalars")
        if not isinstance(tag_scalar_dict, dict):
            raise TypeError(f"SummaryWriter.add_scalars: tag_scalar_dict must be a dict of name -> number, "
                            f"got {type(tag_scalar_dict).__name__}")
        step = _step(global_step, "SummaryWriter.add_scalars")
        walltime = time.time() if walltime is None else walltime
        for k, v in tag_scalar_dict.items():
            value = _scalar(v, "SummaryWriter.add_scalars", f"{main_tag}/{k}")
            sub = os.path.join(self.log_dir, main_tag.replace("/", "_") + "_" + str(k))
            fw = self._sub_writers.get(sub)
            if fw is None:
                fw = self._sub_writers[sub] = self._event_file(sub)
            fw.add_summary(self._summary.scalar(main_tag, value), step, walltime)

    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None, max_bins=None):
        """A histogram of `values` (e.g. a layer's weights or their gradients)."""
        w = self._open("add_histogram")
        arr = to_numpy(values, "SummaryWriter.add_histogram", tag)
        if arr.size == 0:
            raise ValueError(f"SummaryWriter.add_histogram: {tag!r} has no values (shape {tuple(arr.shape)})")
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"SummaryWriter.add_histogram: {tag!r} needs real numbers, got dtype {arr.dtype}")
        if isinstance(bins, str) and bins == "tensorflow":
            bins = _tensorflow_bins()
        summary = self._summary.histogram(tag, arr.astype(np.float64, copy=False), bins, max_bins=max_bins)
        w.add_summary(summary, _step(global_step, "SummaryWriter.add_histogram"), walltime)

    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        """One image: CHW by default (also HWC, HW, ...), float in [0, 1] or uint8 in [0, 255], as PyTorch."""
        w = self._open("add_image")
        arr = to_numpy(img_tensor, "SummaryWriter.add_image", tag)
        fmt = str(dataformats).upper()
        if sorted(fmt) not in (sorted("CHW"), sorted("HW")) or arr.ndim != len(fmt):
            raise ValueError(f"SummaryWriter.add_image: {tag!r} has shape {tuple(arr.shape)}, which does not fit "
                             f"dataformats={dataformats!r} (CHW, HWC or HW: one letter per dimension)")
        if "C" in fmt and arr.shape[fmt.index("C")] not in (1, 3, 4):
            raise ValueError(f"SummaryWriter.add_image: {tag!r} has {arr.shape[fmt.index('C')]} channels "
                             f"(shape {tuple(arr.shape)}, dataformats={dataformats!r}); expected 1, 3 or 4")
        if arr.dtype.kind == "b":
            arr = arr.astype(np.uint8) * 255
        w.add_summary(self._summary.image(tag, arr, dataformats=fmt), _step(global_step, "SummaryWriter.add_image"),
                      walltime)

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        """Text (Markdown) shown in TensorBoard's Text tab."""
        w = self._open("add_text")
        if not isinstance(text_string, str):
            raise TypeError(f"SummaryWriter.add_text: {tag!r} needs a str, got {type(text_string).__name__}")
        w.add_summary(self._summary.text(tag, text_string), _step(global_step, "SummaryWriter.add_text"), walltime)

    def add_hparams(self, hparam_dict, metric_dict, hparam_domain_discrete=None, run_name=None, global_step=None):
        """A run's hyperparameters and final metrics for the HParams tab, written as PyTorch does: into
        `<log_dir>/<run_name>` (default: the current time), with each metric also logged as a scalar there."""
        self._open("add_hparams")
        if type(hparam_dict) is not dict or type(metric_dict) is not dict:
            raise TypeError("SummaryWriter.add_hparams: hparam_dict and metric_dict must be dicts")
        if hparam_domain_discrete is not None:
            raise NotImplementedError("SummaryWriter.add_hparams: hparam_domain_discrete is not supported here "
                                      "(the HParams tab infers each domain from the values logged)")
        hp = {}
        for k, v in hparam_dict.items():
            if isinstance(v, (bool, str, int, float)) or v is None:
                hp[k] = v
            else:
                hp[k] = _scalar(v, "SummaryWriter.add_hparams", k)
        metrics = {k: _scalar(v, "SummaryWriter.add_hparams", k) for k, v in metric_dict.items()}
        exp, ssi, sei = self._summary.hparams(hp, metrics)
        run_dir = os.path.join(self.log_dir, run_name or str(time.time()))
        fw = self._event_file(run_dir)
        try:
            for s in (exp, ssi, sei):
                fw.add_summary(s)
            for k, v in metrics.items():
                fw.add_summary(self._summary.scalar(k, v), _step(global_step, "SummaryWriter.add_hparams"))
        finally:
            fw.writer.close()

    def flush(self):
        """Write pending events to disk now."""
        if self._writer is not None:
            for fw in (self._writer, *self._sub_writers.values()):
                fw.writer.flush()

    def close(self):
        """Flush and close the event files; closing twice is allowed."""
        if self._writer is not None:
            for fw in (self._writer, *self._sub_writers.values()):
                fw.writer.close()
            self._writer, self._sub_writers = None, {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"SummaryWriter(log_dir={self.log_dir!r}{', closed' if self._writer is None else ''})"


class FitLogger:
    """Hooks for `tl.training.fit` that log a run to a SummaryWriter:

        log = FitLogger(writer, model, optimizer)
        fit(model, optimizer, loader, test, epochs=5, on_step=log.step, on_epoch_end=log.epoch)
        log.misclassified(X_test, y_test, predictions, side=28)

    Per step (x: optimizer step): step/train_loss, step/train_acc, and step/test_loss, step/test_acc, step/lr where
    an epoch ends (the lr is the one the epoch trained with). Per epoch (x: epoch): epoch/train_loss, epoch/train_acc, epoch/test_loss, epoch/test_acc,
    epoch/lr, and histograms weights/<name> and grads/<name> of every parameter.
    """

    def __init__(self, writer, model, optimizer):
        self.writer, self.model, self.optimizer = writer, model, optimizer
        self._trained_lr = None                   # the lr of the last step taken

    def lr(self):
        return float(self.optimizer.param_groups[0]["lr"])

    def step(self, step, loss, n_right, n):
        self._trained_lr = self.lr()
        self.writer.add_scalar("step/train_loss", loss, step)
        self.writer.add_scalar("step/train_acc", int(backend.to_numpy(n_right)) / n, step)

    def epoch(self, row):
        """`row`: fit's history row (epoch, steps, train_loss, train_acc, test_loss, test_acc)."""
        w, e, s = self.writer, row["epoch"], row["steps"]
        w.add_scalar("epoch/train_loss", row["train_loss"], e)
        w.add_scalar("epoch/train_acc", row["train_acc"], e)
        if row.get("test_loss") is not None:
            for key in ("test_loss", "test_acc"):
                w.add_scalar(f"epoch/{key}", row[key], e)
                w.add_scalar(f"step/{key}", row[key], s)
        lr = self._trained_lr if self._trained_lr is not None else self.lr()   # fit has stepped the scheduler
        w.add_scalar("epoch/lr", lr, e)
        w.add_scalar("step/lr", lr, s)
        for name, p in self.model.named_parameters():
            w.add_histogram(f"weights/{name}", p, e)
            if p.grad is not None:
                w.add_histogram(f"grads/{name}", p.grad, e)
        w.flush()

    def misclassified(self, X, y, predictions, side=28, limit=64, global_step=None, classes=None):
        """The first `limit` wrong test predictions as one image grid, and their labels as text."""
        from ..vision.utils import make_grid
        X, y, predictions = to_numpy(X), to_numpy(y), to_numpy(predictions)
        wrong = np.flatnonzero(predictions != y)[:limit]
        if wrong.size == 0:
            self.writer.add_text("misclassified", "no test example is misclassified", global_step)
            return 0
        images = X[wrong].reshape(len(wrong), 1, side, side)
        self.writer.add_image("misclassified", make_grid(images, nrow=8, normalize=True), global_step)
        name = (lambda k: classes[k]) if classes else str
        rows = " | ".join(f"{name(int(y[i]))} -> {name(int(predictions[i]))}" for i in wrong)
        self.writer.add_text("misclassified", f"{int((predictions != y).sum())} of {len(y)} test examples wrong; "
                             f"the first {len(wrong)} (true -> predicted, row by row): {rows}", global_step)
        return len(wrong)
