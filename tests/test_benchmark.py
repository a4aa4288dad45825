"""benchmarks/mnist_mlp.py on small synthetic data: its implementations train the same model on the
same batches, the GEMM floor is timed beside them, and the report says where a target lies below it.

Nothing here is timed against a threshold: the assertions are about what the script computes
and reports, not about how fast anything ran."""
import argparse
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import mnist_mlp as B  # noqa: E402


def _data(n=600, n_test=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 784), dtype=np.float32)
    x[x < 0.8] = 0                                   # mostly zeros, as MNIST's pixels
    w = rng.standard_normal((784, 10)).astype(np.float32)
    xt = rng.random((n_test, 784), dtype=np.float32)
    xt[xt < 0.8] = 0
    return x, (x @ w).argmax(1).astype(np.int64), xt, (xt @ w).argmax(1).astype(np.int64)


def _args(**kw):
    return argparse.Namespace(**{"device": "cpu", "epochs": 2, "jit": False, **kw})


@pytest.mark.parametrize("k", [1, 3])
def test_run_config_trains_the_same_model_three_ways_and_times_the_floor(k):
    data = _data()
    torch = None
    try:
        import torch
    except ImportError:
        pass
    r = B.run_config(k, B.CONFIGS[k], data, _args(), torch)
    s = r["seconds_per_epoch"]
    expected = {"tl", "numpy", "gemm"} | ({"torch"} if torch is not None else set())
    assert set(s) == expected
    assert all(v > 0 for v in s.values())
    assert r["steps_per_epoch"] == -(-600 // B.CONFIGS[k]["batch"])
    # same init, same batches, same math: the same predictions (the floor trains nothing and predicts nothing)
    assert "gemm" not in r["test_accuracy"]
    assert r["prediction_agreement_with_ref"]["tl"] >= 99.0
    if torch is not None:
        assert r["prediction_agreement_with_ref"]["torch"] >= 99.0
        assert r["torch_target_seconds"] == pytest.approx(B.TARGET_VS_TORCH[k] * s["torch"])
        assert r["torch_target_over_gemm"] == pytest.approx(r["torch_target_seconds"] / s["gemm"])
    assert r["tl_over_gemm"] == pytest.approx(s["tl"] / s["gemm"])
    assert r["ref_over_gemm"] == pytest.approx(s["numpy"] / s["gemm"])
    line = B.floor_line(r, "numpy")
    assert line.startswith(f"config {k}: ")


def test_gemm_floor_runs_the_configs_products_with_the_short_last_batch():
    cfg = B.CONFIGS[3]                               # batch 256: 600 rows = 256 + 256 + 88
    floor = B.GemmFloor(cfg, "cpu", 600)
    assert sorted(floor.x) == [88, 256]
    assert [w.shape for w in floor.W] == [(784, 200), (200, 80), (80, 10)]
    assert all(w.dtype == np.float32 for w in floor.W)
    floor.train_epoch(0, None)                       # runs: every product's shapes fit


def _result(floor, torch, tl=1.0, ref=0.9, k=3):
    r = {"config": k, "batch": 256, "steps_per_epoch": 235,
         "seconds_per_epoch": {"tl": tl, "numpy": ref, "torch": torch, "gemm": floor},
         "tl_over_gemm": tl / floor, "ref_over_gemm": ref / floor, "torch_over_gemm": torch / floor}
    r["torch_target_seconds"] = B.TARGET_VS_TORCH[k] * torch
    r["torch_target_over_gemm"] = r["torch_target_seconds"] / floor
    return r


def test_floor_line_says_when_a_target_is_below_the_floor():
    line = B.floor_line(_result(floor=0.45, torch=0.65), "numpy")     # 0.6 * 0.65 = 0.39 < 0.45
    assert "below the floor" in line
    assert "0.87x the floor" in line


def test_floor_line_gives_the_time_a_reachable_target_leaves_per_step():
    line = B.floor_line(_result(floor=0.2, torch=1.0, ref=0.3), "numpy")   # target 0.6 s
    assert "below the floor" not in line
    assert f"{(0.6 - 0.2) / 235 * 1e6:.0f} us per step" in line
    assert f"numpy spends {(0.3 - 0.2) / 235 * 1e6:.0f} us" in line


def test_markdown_table_has_the_floor_column_and_a_floor_line_per_config():
    info = {"cpu": "Test CPU", "cores_usable": 2, "numpy": np.__version__, "torch": "x",
            "blas": [{"internal_api": "openmp", "version": None, "architecture": None},
                     {"internal_api": "openblas", "version": "0.3", "architecture": "Haswell"}],
            "loadavg_start": (0.5, 0.5, 0.5)}
    r = _result(floor=0.45, torch=0.65)
    r.update(name=B.CONFIGS[3]["name"], test_accuracy={"tl": 90.0, "numpy": 90.0, "torch": 90.0},
             tl_over_ref=1.1, tl_over_ref_cpu=1.1, tl_over_torch=1.5)
    md = B.markdown_table([r], "numpy", True, info, argparse.Namespace(threads=1, epochs=3))
    header = next(line for line in md.splitlines() if line.startswith("| config"))
    assert "GEMM floor" in header
    row = next(line for line in md.splitlines() if line.startswith("| 3:"))
    assert row.count("|") == header.count("|")
    assert "| 0.450 |" in row
    assert "openblas 0.3 Haswell" in md                # NumPy's BLAS named, not torch's OpenMP
    assert "- config 3: " in md and "below the floor" in md
