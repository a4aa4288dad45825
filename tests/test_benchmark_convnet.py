"""benchmarks/mnist_convnet.py on synthetic images: tl, the hand-written NumPy im2col reference and PyTorch
start from the same weights and, fed the same batches, take the same steps (so the benchmark compares
like with like). Nothing is timed."""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import mnist_convnet as B  # noqa: E402


def test_the_implementations_take_the_same_steps():
    rng = np.random.default_rng(0)
    X = rng.random((300, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 300)
    w = B.initial_weights()
    impls = [B.TL(w), B.NumPyRef(w)]
    try:
        import torch  # noqa: F401
        impls.append(B.Torch(w))
    except ImportError:
        pass
    losses = []
    for m in impls:
        steps = [m.step(X[idx], y[idx]) for idx in B.batches(len(X), 0)]
        losses.append([float(s.item() if hasattr(s, "item") else s) for s in steps])
    for name, ls in zip([m.name for m in impls][1:], losses[1:]):
        np.testing.assert_allclose(ls, losses[0], rtol=2e-4, err_msg=f"{name} vs tl")
    assert losses[0][0] != losses[0][-1]                          # they did train
    np.testing.assert_allclose(impls[0].model[1].weight.numpy().reshape(30, 25), impls[1].W1, rtol=1e-3, atol=1e-5)


def test_batches_are_the_same_permutation_for_everyone():
    a, b = B.batches(1000, 3), B.batches(1000, 3)
    assert all(np.array_equal(x, z) for x, z in zip(a, b)) and len(a) == 10
    assert not np.array_equal(np.concatenate(a), np.concatenate(B.batches(1000, 4)))


def test_main_runs_every_step_of_every_epoch_in_turns(monkeypatch, capsys):
    """main() takes turns of --chunk steps (the last turn shorter) and still gives each implementation every batch
    of every epoch, once, in order; it prints the table and the per-epoch ratio range."""
    rng = np.random.default_rng(1)
    X, y = rng.random((500, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 500)
    monkeypatch.setattr(B, "load", lambda limit: (X[:limit], y[:limit]))
    monkeypatch.setattr(B.subprocess, "run", lambda *a, **k: type("R", (), {"returncode": 1})())   # no RSS children
    seen, calls = {}, []
    for cls in B.IMPLS.values():
        def step(self, xb, yb, _orig=cls.step):
            calls.append(self.name)
            seen.setdefault(self.name, []).append(int(np.flatnonzero((X == xb[0]).all(axis=(1, 2, 3)))[0]))
            return _orig(self, xb, yb)
        monkeypatch.setattr(cls, "step", step)
    try:
        import torch  # noqa: F401
        args = []
    except ImportError:
        args = ["--no-torch"]
    assert B.main(["--limit", "500", "--epochs", "2", "--chunk", "2"] + args) == 0
    out = capsys.readouterr().out
    expected = [int(idx[0]) for e in range(2) for idx in B.batches(500, e)]       # 5 batches an epoch: turns of 2, 2, 1
    assert len(seen) == (2 if args else 3)
    for name, firsts in seen.items():
        assert firsts == expected, name
    names = ["tl", "numpy"] + ([] if args else ["torch"])
    turn = [n for size in (2, 2, 1) for n in names for _ in range(size)]           # an epoch: turns of 2, 2, 1
    assert calls == turn * 2
    assert "in turns of 2 steps" in out and "tl " in out
    if not args:
        assert "per-epoch ratio to torch (min / median / max): tl " in out
