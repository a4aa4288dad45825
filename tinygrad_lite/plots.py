"""PNG plots of a training run: learning curves, misclassified examples, confusion matrix.

matplotlib is imported inside each function and drawn with its Agg canvas (no pyplot, no
window, no change to the global backend), so importing this module costs nothing and it
works on a headless machine. Each function writes `path` and returns it.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

__all__ = ["plot_history", "plot_misclassified", "plot_confusion"]


def _figure(figsize):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError("plotting needs matplotlib: pip install matplotlib "
                          "(or pip install tinygrad_lite[tools])") from e
    fig = Figure(figsize=figsize, dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def _column(history, key):
    xs, ys = [], []
    for row in history:
        v = row.get(key)
        if v is not None and not (isinstance(v, float) and math.isnan(v)):
            xs.append(row["epoch"])
            ys.append(v)
    return xs, ys


def plot_history(history, path, title=None):
    """Loss (left) and accuracy (right) per epoch, train vs test, from `fit`'s history rows."""
    if not history:
        raise ValueError("plot_history: the history is empty (train at least one epoch)")
    fig = _figure((10, 4))
    ax_loss, ax_acc = fig.subplots(1, 2)
    for key, ax, scale in (("loss", ax_loss, 1.0), ("acc", ax_acc, 100.0)):
        for split, style in (("train", "o-"), ("test", "s--")):
            xs, ys = _column(history, f"{split}_{key}")
            if xs:
                ax.plot(xs, [y * scale for y in ys], style, label=split, markersize=4)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss" if key == "loss" else "accuracy (%)")
        ax.set_title("loss" if key == "loss" else "accuracy")
        ax.grid(True, alpha=0.3)
        ax.legend()
        if len(history) < 12:
            ax.set_xticks([row["epoch"] for row in history])
    xs, ys = _column(history, "test_acc")
    if ys:
        ax_acc.annotate(f"{ys[-1] * 100:.2f}%", (xs[-1], ys[-1] * 100), textcoords="offset points",
                        xytext=(-10, -14), ha="right", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def _as_images(images):
    images = np.asarray(images)
    if images.ndim == 2:                       # (N, H*W): square images
        side = int(round(math.sqrt(images.shape[1])))
        if side * side != images.shape[1]:
            raise ValueError(f"plot_misclassified: rows of {images.shape[1]} values are not square images")
        images = images.reshape(-1, side, side)
    elif images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(f"plot_misclassified: images must be (N, H, W), (N, 1, H, W) or (N, H*W), "
                         f"got shape {images.shape}")
    return images


def plot_misclassified(images, labels, preds, path, n=25, classes=None):
    """A grid of (up to) the first `n` examples where preds != labels, titled label/prediction."""
    images = _as_images(images)
    labels, preds = np.asarray(labels).reshape(-1), np.asarray(preds).reshape(-1)
    if not len(images) == len(labels) == len(preds):
        raise ValueError(f"plot_misclassified: {len(images)} images, {len(labels)} labels and "
                         f"{len(preds)} predictions: they must match")
    wrong = np.flatnonzero(labels != preds)[:n]
    name = (lambda c: str(classes[int(c)])) if classes is not None else (lambda c: str(int(c)))
    cols = max(1, min(5, len(wrong)))
    rows = max(1, math.ceil(len(wrong) / cols))
    fig = _figure((1.9 * cols, 2.1 * rows + 0.5))
    axes = np.atleast_1d(fig.subplots(rows, cols)).reshape(-1)
    for ax in axes:
        ax.axis("off")
    if len(wrong) == 0:
        axes[0].text(0.5, 0.5, "no misclassified examples", ha="center", va="center")
    for ax, i in zip(axes, wrong):
        ax.imshow(images[i], cmap="gray_r", interpolation="nearest")
        ax.set_title(f"#{i}: label {name(labels[i])}\npred {name(preds[i])}", fontsize=8, color="firebrick")
    total = int(np.count_nonzero(labels != preds))
    fig.suptitle(f"misclassified: {total} of {len(labels)} (first {len(wrong)} shown)", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def confusion_matrix(labels, preds, num_classes=None):
    """(C, C) int64 counts: row = true label, column = prediction."""
    labels, preds = np.asarray(labels, np.int64).reshape(-1), np.asarray(preds, np.int64).reshape(-1)
    c = num_classes or int(max(labels.max(initial=-1), preds.max(initial=-1)) + 1)
    m = np.zeros((c, c), dtype=np.int64)
    np.add.at(m, (labels, preds), 1)
    return m


def plot_confusion(labels, preds, path, classes=None):
    """The confusion matrix as a heat map with the counts written in; `classes` names the rows."""
    if classes is None:
        classes = [str(i) for i in range(int(max(np.max(labels), np.max(preds))) + 1)]
    classes = [str(c) for c in classes]
    m = confusion_matrix(labels, preds, len(classes))
    size = max(5.0, 0.55 * len(classes) + 2.5)
    fig = _figure((size + 1, size))
    ax = fig.subplots()
    im = ax.imshow(m, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(len(classes)))
    ax.set_xticklabels(classes, rotation=45 if max(map(len, classes)) > 2 else 0, ha="right"
                       if max(map(len, classes)) > 2 else "center")
    ax.set_yticks(range(len(classes)))
    ax.set_yticklabels(classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true label")
    acc = np.trace(m) / max(1, m.sum())
    ax.set_title(f"confusion matrix (accuracy {acc * 100:.2f}%)")
    hi = m.max() / 2 if m.size else 0
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if m[i, j]:
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if m[i, j] > hi else "black")
    fig.tight_layout()
    return _save(fig, path)
