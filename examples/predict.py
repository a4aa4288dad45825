#!/usr/bin/env python
"""Classify one image with a network trained by examples/mnist.py.

    python examples/predict.py --index 0                       # test-set example #0
    python examples/predict.py --image my_digit.png            # a 28x28 image file
    python examples/predict.py --checkpoint runs/mnist/ckpt.safetensors --index 42

Prints the softmax probability of every class and the prediction. The checkpoint is
mnist.py's final.ckpt (default runs/mnist/final.ckpt) or its --checkpoint file: it holds
the weights and the run's config (network, data set). An image must already be the
network's size (28x28 for MNIST, 8x8 for digits): it is converted to grayscale but never
resized; a dark digit on a light background is inverted to MNIST's white-on-black.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:                 # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import tinygrad_lite as tl  # noqa: E402

PROG = "predict.py"


class Fail(Exception):
    pass


def read_image(path, side):
    """A (side*side,) float32 vector in [0, 1], white digit on black, from an image file."""
    if not os.path.isfile(path):
        raise Fail(f"--image: {path} does not exist")
    try:
        try:
            from PIL import Image
        except ImportError:                       # matplotlib reads PNG on its own
            import matplotlib.image as mpimg
            img = np.asarray(mpimg.imread(path), dtype=np.float32)
            if img.dtype.kind != "f" or img.max() > 1.0:
                img = img / 255.0
            if img.ndim == 3:                     # RGB(A) -> luminance (alpha dropped)
                img = img[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
        else:
            with Image.open(path) as im:
                img = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
    except Fail:
        raise
    except Exception as e:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise Fail(f"--image: cannot read {path} as an image ({type(e).__name__}: {e})") from None
    if img.shape != (side, side):
        raise Fail(f"--image: {path} is {img.shape[1]}x{img.shape[0]} pixels; this network takes {side}x{side} "
                   f"images (resize it first, e.g. with PIL: Image.open(p).convert('L').resize(({side}, {side})))")
    note = ""
    if img.mean() > 0.5:                          # dark digit on light paper: MNIST is white on black
        img = 1.0 - img
        note = " (inverted: MNIST digits are light on a dark background)"
    return img.reshape(-1).astype(np.float32), note


def main(argv=None):
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default="runs/mnist/final.ckpt", help="default: %(default)s")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--index", type=int, help="classify this test-set example")
    which.add_argument("--image", help="classify this image file (PNG, or any format PIL reads)")
    p.add_argument("--data-dir", help="folder holding the MNIST files (for --index)")
    p.add_argument("--download", action=argparse.BooleanOptionalAction, default=True)
    args = p.parse_args(argv)
    try:
        run(args)
    except Fail as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    return 0


def run(args):
    import tinygrad_lite.models as models   # (a source checkout finds the repo's models/ too)
    if not os.path.isfile(args.checkpoint):
        raise Fail(f"the checkpoint {args.checkpoint} does not exist; train first: python examples/mnist.py "
                   f"(it writes runs/mnist/final.ckpt), or pass --checkpoint PATH")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from mnist import FASHION_CLASSES, config_problem, load_data

    def bad(why):
        return Fail(f"the checkpoint {args.checkpoint} cannot be used: {why}. It is damaged, or was not written "
                    f"by examples/mnist.py; pass --checkpoint with a run's final.ckpt (or its --checkpoint file), "
                    f"or train one: python examples/mnist.py")

    try:
        info = tl.load_checkpoint(args.checkpoint, rng=False)
    except (tl.CheckpointError, OSError) as e:
        raise bad(e) from None
    cfg = info["extra"].get("config")
    problem = config_problem(cfg, models, full=False)
    # the config must agree with the tensors in the file before the network is allocated
    shapes = [tuple(v.shape) for v in (info["model_state"] or {}).values()]
    if problem is None and not shapes:
        problem = "it holds no model weights"
    if problem is None and not any(len(s) == 2 and cfg["in_features"] in s for s in shapes):
        problem = f"config.in_features is {cfg['in_features']} but no weight matrix in the file has that size"
    if problem is None and not any(len(s) == 2 and cfg["num_classes"] in s for s in shapes):
        problem = f"config.num_classes is {cfg['num_classes']} but no weight matrix in the file has that size"
    if problem:
        raise bad(problem)
    recipe = models.RECIPES[cfg["model"]]
    model = recipe.build(in_features=cfg["in_features"], num_classes=cfg["num_classes"])
    try:
        model.load_state_dict(info["model_state"])
    except (KeyError, ValueError, TypeError) as e:
        raise bad(f"its weights do not fit {recipe.title}: {e}") from None
    side = int(round(math.sqrt(cfg["in_features"])))
    dataset = cfg.get("dataset", "mnist")

    classes = FASHION_CLASSES if dataset == "fashion-mnist" else [str(i) for i in range(cfg["num_classes"])]
    history = info["extra"].get("history") or []
    acc = history[-1].get("test_acc") if history else None
    print(f"checkpoint {args.checkpoint}: {recipe.title} on {dataset}, {len(history)} epochs"
          + (f", test accuracy {acc * 100:.2f}%" if acc is not None else ""))

    label = None
    if args.index is not None:
        ns = argparse.Namespace(dataset=dataset, data_dir=args.data_dir, download=args.download, limit=None)
        try:
            _, (X_test, y_test), _, _ = load_data(ns)
        except tl.datasets.DatasetError as e:
            raise Fail(f"cannot load the {dataset} test set: {e}") from None
        if not -len(X_test) <= args.index < len(X_test):
            raise Fail(f"--index {args.index} is outside the test set (0 .. {len(X_test) - 1})")
        x, label = X_test[args.index], int(y_test[args.index])
        print(f"test example #{args.index % len(X_test)} (label {classes[label]})")
    else:
        x, note = read_image(args.image, side)
        print(f"image {args.image}{note}")

    model.eval()
    with tl.no_grad():
        probs = model(tl.Tensor(x[None, :])).softmax(axis=-1).numpy()[0]
    pred = int(probs.argmax())
    width = max([5] + [len(c) for c in classes])
    print(f"{'class':>{width}}  probability")
    for c, prob in enumerate(probs):
        bar = "#" * int(round(prob * 40))
        mark = "  <- prediction" if c == pred else ""
        print(f"{classes[c]:>{width}}  {prob:10.6f}  {bar}{mark}")
    verdict = "" if label is None else ("  (correct)" if pred == label else f"  (wrong: the label is {classes[label]})")
    print(f"prediction: {classes[pred]} ({probs[pred] * 100:.2f}%){verdict}")
    return pred


if __name__ == "__main__":
    sys.exit(main())
