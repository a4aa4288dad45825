"""The examples run end to end as subprocesses, on small settings, and fail cleanly.

Data: found as tl.datasets finds it, or in the shared/datasets folder beside the checkout
(conftest.MNIST_DIR), and passed on to the subprocesses through $TINYGRAD_LITE_DATA. Nothing is downloaded: --no-download everywhere.
"""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lite as tl
from conftest import MNIST_DIR, mnist_home, needs_mnist

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run(script, *args, env=None, cwd=None, timeout=300):
    e = dict(os.environ)
    if MNIST_DIR is not None:
        e["TINYGRAD_LITE_DATA"] = str(mnist_home())
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        e.setdefault(var, "1")     # small matmuls: one BLAS thread is as fast, and steady on a busy CI box
    e.update(env or {})
    p = subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True, text=True,
                       env=e, cwd=cwd or REPO, timeout=timeout)
    return p


def run_without(modules, script, *args, **kw):
    """run() with `modules` unimportable (as after `pip install -e ".[tools]"`, which brings none of them)."""
    code = ("import runpy, sys\n"
            f"for m in {list(modules)!r}: sys.modules[m] = None\n"
            "sys.argv = sys.argv[1:]\n"
            "sys.exit(runpy.run_path(sys.argv[0], run_name='__main__'))")
    return run("-c", code, script, *args, **kw)


def ok(p):
    assert p.returncode == 0, f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    assert "Traceback" not in p.stderr
    return p.stdout


def clean_error(p, *needles, code=None):
    assert p.returncode != 0, p.stdout
    if code is not None:
        assert p.returncode == code, (p.returncode, p.stderr)
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout, p.stderr
    for n in needles:
        assert n in p.stderr, f"{n!r} not in:\n{p.stderr}"
    return p.stderr


def assert_png(path):
    path = Path(path)
    assert path.is_file(), path
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    import matplotlib.image as mpimg
    img = mpimg.imread(path)
    assert img.ndim == 3 and min(img.shape[:2]) >= 200 and img.std() > 0.01


def metrics(out):
    rows = [json.loads(l) for l in (Path(out) / "metrics.jsonl").read_text().splitlines()]
    with open(Path(out) / "metrics.csv", newline="") as f:
        csv_rows = list(csv.DictReader(f))
    assert len(csv_rows) == len(rows)
    for c, j in zip(csv_rows, rows):
        assert float(c["test_acc"]) == j["test_acc"] and int(c["epoch"]) == j["epoch"]
    return rows


def no_seconds(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


# ---------------------------------------------------------------- mnist.py and predict.py
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short mnist.py run shared by the tests that look at its outputs."""
    needs_mnist()
    tmp = tmp_path_factory.mktemp("mnist")
    out, ck = tmp / "out", tmp / "ck.safetensors"
    p = run(EXAMPLES / "mnist.py", "--limit", 2000, "--epochs", 1, "--quiet", "--no-download",
            "--out", out, "--checkpoint", ck, cwd=tmp)
    return ok(p), out, ck


def test_mnist_end_to_end(trained):
    stdout, out, ck = trained
    assert "Total params: 795,010" in stdout                     # the summary of the default net
    assert "2,000 training / 10,000 test" in stdout
    assert "recipe: Adam lr 0.001, batch 64" in stdout
    assert "threads: 1 (BLAS; set by OPENBLAS_NUM_THREADS=1" in stdout        # the header says what run() set
    rows = metrics(out)
    assert len(rows) == 1 and rows[0]["epoch"] == 1 and rows[0]["steps"] == 32
    r = rows[0]
    assert 0.75 < r["test_acc"] <= 1 and 0.5 < r["train_acc"] <= 1
    assert 0 < r["test_loss"] < 1.5 and 0 < r["train_loss"] < 2.3 and r["seconds"] > 0
    assert f"final test accuracy: {r['test_acc'] * 100:.2f}%" in stdout
    for name in ("curves.png", "misclassified.png", "confusion.png"):
        assert_png(out / name)
    assert ck.is_file() and (out / "final.ckpt").is_file()
    info = tl.load_checkpoint(ck, rng=False)
    assert info["epoch"] == 1 and info["extra"]["config"]["model"] == "mlp1000"
    assert no_seconds(info["extra"]["history"]) == no_seconds(rows)


def test_predict_index_and_image(trained, tmp_path):
    _, out, _ = trained
    p = run(EXAMPLES / "predict.py", "--checkpoint", out / "final.ckpt", "--index", 0, "--no-download")
    stdout = ok(p)
    assert "test example #0 (label 7)" in stdout and "prediction: " in stdout
    probs = [float(l.split()[1]) for l in stdout.splitlines() if l[:5].strip().isdigit() and len(l.split()) >= 2]
    assert len(probs) == 10 and abs(sum(probs) - 1) < 1e-3

    from PIL import Image
    (_, _), (X_test, y_test) = tl.datasets.load_mnist(root=MNIST_DIR, download=False)
    digit = (X_test[0].reshape(28, 28) * 255).astype(np.uint8)
    Image.fromarray(255 - digit).save(tmp_path / "seven.png")    # black on white, as drawn on paper
    stdout = ok(run(EXAMPLES / "predict.py", "--checkpoint", out / "final.ckpt", "--image", tmp_path / "seven.png"))
    assert "inverted" in stdout and "prediction: 7" in stdout

    Image.fromarray(digit).resize((32, 32)).save(tmp_path / "big.png")
    clean_error(run(EXAMPLES / "predict.py", "--checkpoint", out / "final.ckpt", "--image", tmp_path / "big.png"),
                "32x32", "28x28", code=1)
    clean_error(run(EXAMPLES / "predict.py", "--checkpoint", tmp_path / "none.ckpt", "--index", 1),
                "does not exist", code=1)
    clean_error(run(EXAMPLES / "predict.py", "--checkpoint", out / "final.ckpt"), "--index", code=2)


def test_mnist_resume_equals_uninterrupted(tmp_path):
    needs_mnist()
    common = ["--limit", 1000, "--quiet", "--no-download", "--model", "tiny_mlp", "--no-plots"]
    ok(run(EXAMPLES / "mnist.py", *common, "--epochs", 2, "--out", tmp_path / "a",
           "--checkpoint", tmp_path / "a.ckpt"))
    ok(run(EXAMPLES / "mnist.py", *common, "--epochs", 1, "--out", tmp_path / "b",
           "--checkpoint", tmp_path / "b.ckpt"))
    stdout = ok(run(EXAMPLES / "mnist.py", *common, "--epochs", 2, "--out", tmp_path / "b",
                    "--checkpoint", tmp_path / "b.ckpt", "--resume"))
    assert "resuming" in stdout
    assert not (tmp_path / "b" / "curves.png").exists()             # --no-plots
    a, b = metrics(tmp_path / "a"), metrics(tmp_path / "b")
    assert len(a) == len(b) == 2
    assert no_seconds(a) == no_seconds(b)                          # bit-identical losses and accuracies
    wa = tl.load_checkpoint(tmp_path / "a" / "final.ckpt", rng=False)
    wb = tl.load_checkpoint(tmp_path / "b" / "final.ckpt", rng=False)
    assert list(wa["model_state"]) == list(wb["model_state"])
    for k in wa["model_state"]:
        assert np.array_equal(wa["model_state"][k].numpy(), wb["model_state"][k].numpy()), k
    for k, v in wa["optimizer_state"]["state"].items():
        assert np.array_equal(tl.backend.to_numpy(v["exp_avg"]), tl.backend.to_numpy(
            wb["optimizer_state"]["state"][k]["exp_avg"]))
    # resuming with a different recipe setting is refused with a message, not a traceback
    clean_error(run(EXAMPLES / "mnist.py", *common, "--epochs", 3, "--lr", 0.5, "--out", tmp_path / "b",
                    "--checkpoint", tmp_path / "b.ckpt", "--resume"), "--lr", code=1)


def test_mnist_digits_dataset(tmp_path):
    pytest.importorskip("sklearn")
    stdout = ok(run(EXAMPLES / "mnist.py", "--dataset", "digits", "--epochs", 3, "--batch-size", 32, "--quiet",
                    "--model", "three_layer", "--out", tmp_path / "d"))
    assert "(None, 64)" in stdout and "1,437 training / 360 test" in stdout
    assert metrics(tmp_path / "d")[-1]["test_acc"] > 0.85
    assert_png(tmp_path / "d" / "misclassified.png")


def test_mnist_digits_without_sklearn_says_what_to_install(tmp_path):
    clean_error(run_without(["sklearn"], EXAMPLES / "mnist.py", "--dataset", "digits", "--out", tmp_path),
                "--dataset digits", "pip install scikit-learn", code=1)


BAD_FLAGS = [
    (["--epochs", "-1"], "--epochs"),
    (["--epochs", "0"], "--epochs"),
    (["--lr", "-0.1"], "--lr"),
    (["--lr", "nan"], "--lr"),
    (["--batch-size", "0"], "--batch-size"),
    (["--batch-size", "2.5"], "--batch-size"),
    (["--weight-decay", "-1"], "--weight-decay"),
    (["--limit", "-5"], "--limit"),
    (["--model", "resnet"], "--model"),
    (["--device", "tpu"], "--device"),
    (["--resume"], "--checkpoint"),
]


@pytest.mark.parametrize("args,needle", BAD_FLAGS, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_mnist_bad_flags(args, needle, tmp_path):
    clean_error(run(EXAMPLES / "mnist.py", *args, "--out", tmp_path), needle, "usage:", code=2)


def test_mnist_gpu_without_gpu(tmp_path):
    if tl.gpu_available():
        pytest.skip("a GPU is available here")
    err = clean_error(run(EXAMPLES / "mnist.py", "--device", "gpu", "--out", tmp_path), "mnist.py: error:",
                      "--device gpu", code=1)
    assert "CuPy" in err and "cpu" in err


def test_mnist_missing_data(tmp_path):
    p = run(EXAMPLES / "mnist.py", "--no-download", "--out", tmp_path / "o",
            env={"TINYGRAD_LITE_DATA": str(tmp_path / "nowhere"), "XDG_CACHE_HOME": str(tmp_path / "cache")})
    err = clean_error(p, "mnist.py: error:", "could not find", "--data-dir", code=1)
    assert str(tmp_path / "nowhere") in err


def test_mnist_resume_missing_or_corrupt_checkpoint(tmp_path):
    clean_error(run(EXAMPLES / "mnist.py", "--resume", "--checkpoint", tmp_path / "none.ckpt", "--out", tmp_path),
                "does not exist", code=1)
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"\x80\x04garbage, not a checkpoint")
    clean_error(run(EXAMPLES / "mnist.py", "--resume", "--checkpoint", bad, "--out", tmp_path),
                "cannot be used", code=1)
    tl.save({"w": tl.zeros(2)}, tmp_path / "plain.safetensors")       # valid file, not a checkpoint
    clean_error(run(EXAMPLES / "mnist.py", "--resume", "--checkpoint", tmp_path / "plain.safetensors",
                    "--out", tmp_path), "--resume", code=1)


# ---------------------------------------------------------------- gates.py, iris.py, reproduce.py
def test_gates():
    stdout = ok(run(EXAMPLES / "gates.py"))
    assert "all four gates learned" in stdout
    for gate in ("AND", "OR", "NOT", "XOR"):
        assert f"{gate}: " in stdout
    assert stdout.count("accuracy 100%") == 4 and "WRONG" not in stdout
    assert stdout.count(" ok") == 4 + 4 + 2 + 4                        # every truth-table row


def test_iris():
    """Iris ships with the package: the example needs no scikit-learn."""
    stdout = ok(run_without(["sklearn"], EXAMPLES / "iris.py", "--quiet"))
    line = next(l for l in stdout.splitlines() if l.startswith("test accuracy:"))
    assert float(line.split()[2].rstrip("%")) >= 96.0
    assert "Total params: 583" in stdout


def test_reproduce_quick(tmp_path):
    pytest.importorskip("sklearn")
    needs_mnist()
    md = tmp_path / "repro.md"
    stdout = ok(run(REPO / "scripts" / "reproduce.py", "--quick", "--only", "xor", "iris", "tiny_mlp",
                    "--out", md))
    text = md.read_text()
    assert "| Network | Recipe | Tutorial reports | Accuracy here | Target | Seconds |" in text
    assert "XORNet" in text and "IrisNet" in text and "TinyMLP" in text and "93.27%" in text
    assert "Quick sanity run" in text and "Device: **cpu**" in text
    assert "wrote" in stdout


@pytest.mark.skipif(not (REPO.parent / "shared" / "datasets" / "mnist").is_dir(),
                    reason="no shared/datasets/mnist beside the checkout (this project's machines and CI have one)")
def test_an_empty_data_variable_counts_as_unset(tmp_path):
    """TINYGRAD_LITE_DATA= (empty) is read as unset, as tl.datasets reads it: the example still finds the
    shared/datasets folder beside the checkout instead of failing to find MNIST."""
    ok(run(EXAMPLES / "mnist.py", "--limit", 600, "--epochs", 1, "--quiet", "--no-plots", "--no-download",
           "--model", "tiny_mlp", "--out", tmp_path / "run", env={"TINYGRAD_LITE_DATA": ""}))
    assert (tmp_path / "run" / "metrics.jsonl").exists()


def test_reproduce_only_writes_beside_and_leaves_the_docs_table_alone(tmp_path):
    """A subset run (--only, no --out) writes runs/reproduction-NAMES.md where it runs, never the whole
    table in docs/reproduction.md."""
    doc = REPO / "docs" / "reproduction.md"
    before = doc.read_bytes()
    stdout = ok(run(REPO / "scripts" / "reproduce.py", "--only", "xor", "and", "--threads", "1", cwd=tmp_path))
    out = tmp_path / "runs" / "reproduction-xor-and.md"
    assert out.exists() and "XORNet" in out.read_text() and "wrote" in stdout
    assert doc.read_bytes() == before


@pytest.mark.gpu
def test_mnist_on_gpu_matches_cpu(tmp_path):
    if not tl.gpu_available():
        pytest.skip("no GPU (CuPy missing or no device visible)")
    needs_mnist()
    common = ["--limit", 2000, "--epochs", 2, "--quiet", "--no-download", "--no-plots", "--model", "tiny_mlp"]
    ok(run(EXAMPLES / "mnist.py", *common, "--device", "gpu", "--out", tmp_path / "gpu"))
    ok(run(EXAMPLES / "mnist.py", *common, "--device", "cpu", "--out", tmp_path / "cpu"))
    g, c = metrics(tmp_path / "gpu"), metrics(tmp_path / "cpu")
    for a, b in zip(g, c):                    # same weights and batches; float sums differ in the last bits
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-3)
        assert abs(a["test_acc"] - b["test_acc"]) <= 0.005
