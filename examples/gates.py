#!/usr/bin/env python
"""Logic gates: one neuron (LogisticRegression) learns AND, OR and NOT; XOR needs a hidden layer (XORNet).

    python examples/gates.py
    python examples/gates.py --device gpu

Prints each gate's truth table with the network's output; exits 1 unless every gate is 100% right.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:                 # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

import tinygrad_lite as tl  # noqa: E402


def truth_table(name, X, y, probs, preds):
    n_in = X.shape[1]
    heads = ["x1", "x2"][:n_in] if n_in > 1 else ["x"]
    lines = [" ".join(f"{h:>2}" for h in heads) + " | target | p(1)   | output"]
    for xi, t, p, o in zip(X, y, probs, preds):
        ok = "ok" if o == t else "WRONG"
        lines.append(" ".join(f"{int(v):>2}" for v in xi) + f" |   {int(t)}    | {p:.4f} |   {int(o)}    {ok}")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(prog="gates.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    p.add_argument("--seed", type=int, default=0)
    tl.threads.add_argument(p)
    args = p.parse_args(argv)
    try:
        tl.backend.canonical_device(args.device)
    except tl.DeviceError as e:
        print(f"gates.py: error: --device {args.device}: {e}", file=sys.stderr)
        return 1
    try:
        print(tl.threads.configure(args.threads) + "\n")
    except ImportError as e:
        print(f"gates.py: error: --threads: {e}", file=sys.stderr)
        return 1
    import tinygrad_lite.models as models   # (a source checkout finds the repo's models/ too)
    all_ok = True
    for name in ("and", "or", "not", "xor"):
        recipe = models.RECIPES[name]
        result = models.train_recipe(name, device=args.device, seed=args.seed)
        X, y = models.GATES[name]
        model = result["model"]
        model.eval()
        with tl.no_grad():
            out = model(tl.Tensor(X, device=args.device))
            probs = (out.softmax(axis=-1)[:, 1] if out.shape[1] > 1 else out[:, 0]).numpy()
        preds = result["predictions"]
        acc = result["accuracy"]
        all_ok &= acc == 1.0
        print(f"{name.upper()}: {recipe.title.split(',')[0]}, {recipe.describe()} ({result['seconds']:.2f} s)")
        print(truth_table(name, X, y, probs, preds))
        print(f"accuracy {acc * 100:.0f}%\n")
    print("all four gates learned" if all_ok else "some gate was not learned")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
