"""Checkpoints are validated whole before anything is applied: a crafted file raises a
CheckpointError naming the file and the field, and leaves the model, the optimizer and the
global RNG as they were. The example CLIs answer one with one clear paragraph (subprocesses)."""

import copy
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lite as tl
from conftest import MNIST_DIR, mnist_home
from tinygrad_lite import backend, nn, serialization as ser
from tinygrad_lite.serialization import CheckpointError

REPO = Path(__file__).resolve().parents[1]
# A folder holding mnist/, where tl.datasets (or the checkout's shared/datasets) finds MNIST (conftest).
DATA = mnist_home() if MNIST_DIR is not None else REPO.parent / "shared" / "datasets"


def craft(path, model=None, optimizer=None, rng=None, epoch=None, **extra):
    """Write a checkpoint from explicit sections (what save_checkpoint writes, any content)."""
    sections = {}
    if model is not None:
        sections["model"] = model
    if optimizer is not None:
        sections["optimizer"] = optimizer
    if rng is not None:
        sections["rng"] = rng
    sections["epoch"] = epoch
    sections["extra"] = extra
    spec, arrays = {}, {}
    for name, value in sections.items():
        spec[name], a = ser.flatten_tree(value, name)
        arrays.update(a)
    blob = json.dumps({"version": 1, "sections": spec})
    ser.write_safetensors(path, arrays, {"format": "tinygrad_lite.checkpoint", "tinygrad_lite.checkpoint": blob})


def _trained():
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = tl.optim.Adam(model.parameters(), lr=1e-2)
    x, y = tl.randn(5, 3), tl.Tensor(np.array([0, 1, 0, 1, 1]))
    tl.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    return model, opt


def _sections():
    model, opt = _trained()
    return {"model": dict(model.state_dict()), "optimizer": opt.state_dict(), "rng": backend.get_rng_state(),
            "epoch": 1, "history": [{"epoch": 1, "steps": 1, "train_loss": 0.5, "train_acc": 0.5,
                                     "test_loss": None, "test_acc": None, "seconds": 0.1}]}


def _mutations():
    def opt_group(key, value):
        def f(s):
            s["optimizer"]["param_groups"][0][key] = value
        return f

    def opt_state(key, value):
        def f(s):
            if value is KeyError:
                del s["optimizer"]["state"][0][key]
            else:
                s["optimizer"]["state"][0][key] = value
        return f

    def set_(key, value):
        def f(s):
            s[key] = value
        return f

    return {
        "lr nan": (opt_group("lr", float("nan")), "optimizer.param_groups.0", "learning rate"),
        "lr -1": (opt_group("lr", -1.0), "optimizer.param_groups.0", "Invalid learning rate: -1"),
        "eps -1": (opt_group("eps", -1.0), "optimizer.param_groups.0", "Invalid epsilon value"),
        "beta 1": (opt_group("betas", [1.0, 0.999]), "optimizer.param_groups.0", "beta parameter at index 0"),
        "wd inf": (opt_group("weight_decay", float("inf")), "optimizer.param_groups.0", "weight_decay"),
        "0-d exp_avg": (opt_state("exp_avg", np.float32(0.0)), "optimizer.state.0.exp_avg", "shape"),
        "missing exp_avg_sq": (opt_state("exp_avg_sq", KeyError), "optimizer.state.0", "exp_avg_sq"),
        "negative exp_avg_sq": (opt_state("exp_avg_sq", -np.ones((4, 3), np.float32)),
                                "optimizer.state.0.exp_avg_sq", "negative"),
        "nan exp_avg": (opt_state("exp_avg", np.full((4, 3), np.nan, np.float32)),
                        "optimizer.state.0.exp_avg", "non-finite"),
        "int exp_avg": (opt_state("exp_avg", np.zeros((4, 3), np.int32)), "optimizer.state.0.exp_avg", "dtype"),
        "step -1": (opt_state("step", -1), "optimizer.state.0.step", "non-negative"),
        "unknown state": (opt_state("bogus", 1), "optimizer.state.0", "unknown"),
        "param index": (lambda s: s["optimizer"]["param_groups"][0].update(params=[0, 1, 2, 7]),
                        "optimizer.param_groups", "indices"),
        "rng seed": (lambda s: s["rng"].update(seed=-5), "rng.seed", "integer"),
        "rng cpu": (lambda s: s["rng"]["cpu"].update(bit_generator="Nope"), "rng.cpu", "generator state"),
        "rng cpu state": (lambda s: s["rng"]["cpu"]["state"].update(state="x"), "rng.cpu", "generator state"),
        "model shape": (lambda s: s["model"].update({"0.weight": np.zeros((4, 4), np.float32)}),
                        "model.0.weight", "shape"),
        "model dtype": (lambda s: s["model"].update({"0.weight": np.zeros((4, 3), np.float64)}),
                        "model.0.weight", "dtype"),
        "model key": (lambda s: s["model"].pop("2.bias"), "model", "missing keys ['2.bias']"),
        "epoch str": (set_("epoch", "1"), "epoch", "integer"),
        "epoch -1": (set_("epoch", -1), "epoch", "integer"),
        "history row": (lambda s: s["history"][0].update(train_loss="x"), "history[0].train_loss", "number"),
        "history type": (set_("history", {"a": 1}), "history", "list"),
    }


MUTATIONS = _mutations()


@pytest.mark.parametrize("case", sorted(MUTATIONS))
def test_crafted_checkpoint_is_refused_and_nothing_changes(tmp_path, case):
    mutate, field, needle = MUTATIONS[case]
    s = _sections()
    mutate(s)
    path = tmp_path / "crafted.ckpt"
    craft(path, s["model"], s["optimizer"], s["rng"], s["epoch"], history=s["history"])

    model, opt = _trained()
    tl.manual_seed(123)
    rng_before = backend.get_rng_state()
    weights = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    opt_before = opt.state_dict()
    with pytest.raises(CheckpointError) as e:
        tl.load_checkpoint(path, model, opt)
    msg = str(e.value)
    assert str(path) in msg and field in msg and needle in msg, msg
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), weights[k])
    after = opt.state_dict()
    assert after["param_groups"] == opt_before["param_groups"]
    for i, st in opt_before["state"].items():
        for k, v in st.items():
            np.testing.assert_array_equal(np.asarray(after["state"][i][k]), np.asarray(v))
    assert backend.get_rng_state()["seed"] == 123
    assert tl.rand(3).numpy().tolist() == (tl.manual_seed(123), tl.rand(3))[1].numpy().tolist()
    del rng_before


def test_genuine_checkpoint_still_loads(tmp_path):
    s = _sections()
    path = tmp_path / "good.ckpt"
    craft(path, s["model"], s["optimizer"], s["rng"], s["epoch"], history=s["history"])
    model, opt = _trained()
    info = tl.load_checkpoint(path, model, opt)
    assert info["epoch"] == 1


def test_optimizer_load_state_dict_is_atomic():
    model, opt = _trained()
    sd = opt.state_dict()
    sd["state"][1]["exp_avg"] = np.zeros(7, np.float32)          # the second entry is bad
    before = {k: np.asarray(v).copy() for k, v in opt.state_dict()["state"][0].items()}
    sd["param_groups"][0]["lr"] = 0.5
    with pytest.raises(ValueError, match=r"optimizer.state.1.exp_avg.*shape"):
        opt.load_state_dict(sd)
    assert opt.param_groups[0]["lr"] == 1e-2
    for k, v in opt.state_dict()["state"][0].items():
        np.testing.assert_array_equal(np.asarray(v), before[k])


# ---------------------------------------------------------------- the example CLIs, in subprocesses
def _run(script, *args, limit_as=None, timeout=180):
    env = dict(os.environ, TINYGRAD_LITE_DATA=str(DATA), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")

    def limits():
        if limit_as:
            import resource
            resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as))

    return subprocess.run([sys.executable, str(REPO / "examples" / script), *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=timeout,
                          preexec_fn=limits if os.name == "posix" else None)


def _clean_paragraph(p, *needles):
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr + p.stdout, p.stderr
    lines = [l for l in p.stderr.strip().splitlines() if l.strip()]
    assert len(lines) == 1, p.stderr                      # one paragraph
    for n in needles:
        assert n in p.stderr, (n, p.stderr)


@pytest.fixture(scope="module")
def example_ckpt(tmp_path_factory):
    """A genuine mnist.py checkpoint (tiny_mlp, a few examples, one epoch)."""
    if not (DATA / "mnist").is_dir():
        pytest.skip(f"MNIST not found in {DATA / 'mnist'} (set TINYGRAD_LITE_DATA)")
    tmp = tmp_path_factory.mktemp("ex")
    ck = tmp / "ck.safetensors"
    p = _run("mnist.py", "--model", "tiny_mlp", "--limit", 256, "--epochs", 1, "--quiet", "--no-download",
             "--no-plots", "--out", tmp / "out", "--checkpoint", ck)
    assert p.returncode == 0, p.stderr
    info = tl.load_checkpoint(ck, rng=False)
    return ck, info


def _recraft(example_ckpt, path, change):
    ck, info = example_ckpt
    s = copy.deepcopy({"optimizer": info["optimizer_state"], "rng": info["rng_state"], "epoch": info["epoch"],
                       "extra": info["extra"]})
    s["model"] = dict(info["model_state"])               # entries are replaced, never changed in place
    change(s)
    craft(path, s["model"], s["optimizer"], s["rng"], s["epoch"], **s["extra"])
    return path


RESUME_CASES = {
    "history row": (lambda s: s["extra"]["history"][0].pop("train_loss"), "history[0]"),
    "epoch str": (lambda s: s.update(epoch="1"), "epoch"),
    "opt lr": (lambda s: s["optimizer"]["param_groups"][0].update(lr=float("nan")), "learning rate"),
    "0-d exp_avg": (lambda s: s["optimizer"]["state"][0].update(exp_avg=np.float32(0)), "exp_avg"),
    "rng": (lambda s: s["rng"].update(seed="x"), "rng.seed"),
}


@pytest.mark.parametrize("case", sorted(RESUME_CASES))
def test_mnist_resume_refuses_crafted_checkpoint(example_ckpt, tmp_path, case):
    change, needle = RESUME_CASES[case]
    path = _recraft(example_ckpt, tmp_path / "crafted.ckpt", change)
    p = _run("mnist.py", "--model", "tiny_mlp", "--limit", 256, "--epochs", 2, "--quiet", "--no-download",
             "--no-plots", "--out", tmp_path / "out", "--checkpoint", path, "--resume")
    _clean_paragraph(p, "mnist.py: error: --resume", str(path), needle, "cannot be used")


PREDICT_CASES = {
    "in_features 1e8": (lambda s: s["extra"]["config"].update(in_features=100_000_000), "config.in_features"),
    "model name": (lambda s: s["extra"]["config"].update(model=["x"]), "config.model"),
    "weights": (lambda s: s["model"].update({"fc1.weight": np.zeros((2, 2), np.float32)}), "do not fit"),
}


@pytest.mark.parametrize("case", sorted(PREDICT_CASES))
def test_predict_refuses_crafted_checkpoint_before_allocating(example_ckpt, tmp_path, case):
    change, needle = PREDICT_CASES[case]
    if case == "weights":
        name = [k for k, v in example_ckpt[1]["model_state"].items() if v.ndim == 2][1]  # a hidden layer
        change = lambda s: s["model"].update({name: np.zeros((2, 2), np.float32)})  # noqa: E731
    path = _recraft(example_ckpt, tmp_path / "crafted.ckpt", change)
    p = _run("predict.py", "--checkpoint", path, "--index", 0, "--no-download", limit_as=2 << 30)
    _clean_paragraph(p, "predict.py: error:", str(path), needle)
