"""Seed 004's PyTorch program (tests/seed_torch_original.py) and its port (examples/seed_pytorch_port.py):
they differ only in their import lines; the port runs on a slice of MNIST with no warning but the .pth one,
and its TensorBoard event file holds what it printed; where torch is installed the original runs too
(with a stand-in for torchvision, which is not installed here) and saves the same state_dict names.

The slice: TL_SEED_TRAIN / TL_SEED_TEST examples (default 2000 / 500) of the real MNIST, written as IDX files
into the run's folder and found through $TINYGRAD_LITE_DATA, so the program itself runs as written (its 10
epochs are about 320 steps of a 784-25-15-10 MLP, a few seconds).
"""
import ast
import difflib
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lite as tl

from conftest import needs_mnist
from test_vision import write_idx

REPO_ROOT = Path(__file__).resolve().parents[1]
PORT = REPO_ROOT / "examples" / "seed_pytorch_port.py"
ORIGINAL = Path(__file__).resolve().parent / "seed_torch_original.py"
N_TRAIN = int(os.environ.get("TL_SEED_TRAIN", "2000"))
N_TEST = int(os.environ.get("TL_SEED_TEST", "500"))
EPOCHS = 10                                   # the program's own `epoch = 10`

TORCHVISION_STANDIN = '''"""A stand-in for torchvision (not installed here): MNIST and ToTensor as torchvision gives them."""
import numpy as np
import torch
from tinygrad_lite import datasets as _files


class transforms:
    class ToTensor:
        def __call__(self, img):               # uint8 HxW -> float32 1xHxW in [0, 1], as torchvision's
            return torch.from_numpy(np.asarray(img)).float().div(255)[None]


class datasets:
    class MNIST(torch.utils.data.Dataset):
        def __init__(self, root, train=True, transform=None, download=False):
            images, labels = _files.mnist(root=root, train=train, download=False, verify=False)
            self.data, self.targets = torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))
            self.transform = transform

        def __len__(self):
            return len(self.data)

        def __getitem__(self, i):
            img = self.data[i].numpy()
            return (self.transform(img) if self.transform else img), int(self.targets[i])
'''


def _body(path):
    """The program's lines after its shebang and module docstring (the port has both; the original neither)."""
    src = path.read_text()
    tree = ast.parse(src)
    first = tree.body[0]
    start = first.end_lineno if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) else 0
    return src.splitlines()[start:]


def test_port_differs_from_the_original_only_in_imports():
    port, orig = _body(PORT), _body(ORIGINAL)
    changed = [line for line in difflib.unified_diff(orig, port, lineterm="", n=0)
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert changed, "the port should change the torch imports"
    others = [line for line in changed if not re.match(r"[+-](import|from) \S+", line)]
    assert not others, f"the port changes lines other than imports: {others}"
    assert all("tinygrad_lite" in line for line in changed if line.startswith("+"))
    assert all("torch" in line for line in changed if line.startswith("-"))
    # and the code itself is the same: the same statements once the imports are set aside
    strip = lambda p: [ast.dump(s) for s in ast.parse("\n".join(_body(p))).body  # noqa: E731
                       if not isinstance(s, (ast.Import, ast.ImportFrom))]
    assert strip(PORT) == strip(ORIGINAL)


@pytest.fixture(scope="module")
def mnist_slice(tmp_path_factory):
    """The first N_TRAIN / N_TEST real MNIST examples as IDX files in <tmp>/mnist."""
    (xtr, ytr), (xte, yte) = (tl.datasets.mnist(root=needs_mnist(), train=t, download=False) for t in (True, False))
    root = tmp_path_factory.mktemp("mnist_slice")
    (root / "mnist").mkdir()
    for prefix, x, y, n in (("train", xtr, ytr, N_TRAIN), ("t10k", xte, yte, N_TEST)):
        write_idx(root / "mnist" / f"{prefix}-images-idx3-ubyte.gz", x[:n])
        write_idx(root / "mnist" / f"{prefix}-labels-idx1-ubyte.gz", y[:n])
    return root


def _run(program, cwd, data_root, extra_path=()):
    env = dict(os.environ, TINYGRAD_LITE_DATA=str(data_root), MPLBACKEND="Agg", OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([*map(str, extra_path), str(REPO_ROOT)]))
    env.pop("PYTHONWARNINGS", None)
    return subprocess.run([sys.executable, "-W", "default", str(program)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def _events(logdir):
    ea = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator",
                             reason="the tensorboard package (its event reader) is not installed")
    acc = ea.EventAccumulator(str(logdir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def _printed(stdout, label):
    return [float(m) for m in re.findall(rf"{label}: (?:tensor\()?([-0-9.e]+)", stdout)]


def _missing_pieces(tmp_path):
    """What the program needs from tinygrad_lite that is not there yet (PyTorch fidelity, issue 10)."""
    import warnings
    missing = [name for name in ("device", "cuda") if not hasattr(tl, name)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tl.save({"w": tl.zeros(1)}, tmp_path / "probe.pth")
    if not any("safetensors" in str(w.message) for w in caught):
        missing.append("the warning of tl.save that a .pth file holds safetensors")
    if "{}".format(tl.Tensor(0.5)) != "0.5":
        missing.append('"{}".format(0-d Tensor) giving the number, as torch')
    return missing


@pytest.fixture(scope="module")
def port_run(mnist_slice, tmp_path_factory):
    missing = _missing_pieces(tmp_path_factory.mktemp("probe"))
    if missing:
        pytest.skip(f"the seed program needs {', '.join(missing)} (issue 10, not landed yet)")
    pytest.importorskip("tensorboardX", reason="tensorboardX not installed (pip install 'tinygrad_lite[tensorboard]')")
    pytest.importorskip("tensorboard", reason="tensorboard not installed (pip install 'tinygrad_lite[tensorboard]')")
    cwd = tmp_path_factory.mktemp("port")
    return cwd, _run(PORT, cwd, mnist_slice)


def test_port_runs_with_only_the_pth_warning(port_run):
    cwd, r = port_run
    assert r.returncode == 0, r.stderr[-3000:]
    # a warning is two lines: "file:line: Category: message" and the source line it points at
    lines = r.stderr.splitlines()
    warnings = [i for i, line in enumerate(lines) if re.search(r":\d+: \w*Warning: ", line)]
    assert len(warnings) >= 1, f"expected the .pth/safetensors warning, stderr: {r.stderr[-2000:]}"
    for i in warnings:
        assert "safetensors" in lines[i] and ".pth" in lines[i], lines[i]
    rest = [line for i, line in enumerate(lines) if i not in warnings and i - 1 not in warnings]
    assert rest == [], f"stderr holds more than the .pth warning: {rest[:20]}"
    assert f"Training set length: {N_TRAIN}" in r.stdout and f"Test set length: {N_TEST}" in r.stdout
    assert sorted(p.name for p in cwd.glob("model_dict*.pth")) == sorted(f"model_dict{i}.pth"
                                                                         for i in range(1, EPOCHS + 1))


def test_port_event_file_holds_what_it_printed(port_run):
    cwd, r = port_run
    assert r.returncode == 0, r.stderr[-3000:]
    ev = _events(cwd / "logs_train")
    assert set(ev) == {"train_loss", "test_loss", "test_accuracy"}
    steps_per_epoch = -(-N_TRAIN // 64)
    assert [s for s, _ in ev["train_loss"]] == list(range(100, steps_per_epoch * EPOCHS + 1, 100))
    assert [s for s, _ in ev["test_loss"]] == [s for s, _ in ev["test_accuracy"]] == list(range(EPOCHS))
    np.testing.assert_allclose([v for _, v in ev["train_loss"]], _printed(r.stdout, "Loss"), rtol=1e-6)
    np.testing.assert_allclose([v for _, v in ev["test_loss"]], _printed(r.stdout, "Loss on the whole test set"),
                               rtol=1e-6)
    acc = [v for _, v in ev["test_accuracy"]]
    np.testing.assert_allclose(acc, _printed(r.stdout, "Accuracy on the whole test set"), atol=5e-5)
    counts = np.asarray(acc) * N_TEST                       # accuracy = correct / test_data_size
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-3)
    assert acc[-1] > 0.75, f"a 784-25-15-10 MLP after {EPOCHS} epochs on {N_TRAIN} digits: {acc}"
    # the saved state_dict reads back as the network's
    sd = tl.load(cwd / f"model_dict{EPOCHS}.pth")
    assert {k: tuple(v.shape) for k, v in sd.items()} == {
        "model.1.weight": (25, 784), "model.1.bias": (25,), "model.3.weight": (15, 25), "model.3.bias": (15,),
        "model.5.weight": (10, 15), "model.5.bias": (10,)}


def test_the_original_runs_on_torch_and_logs_the_same_tags(mnist_slice, port_run, tmp_path):
    torch = pytest.importorskip("torch", reason="torch not installed: the PyTorch original is not run")
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError as e:
        pytest.skip(f"torch.utils.tensorboard unavailable: {e}")
    standin = tmp_path / "standin"
    standin.mkdir()
    (standin / "torchvision.py").write_text(TORCHVISION_STANDIN)
    cwd = tmp_path / "run"
    cwd.mkdir()
    r = _run(ORIGINAL, cwd, mnist_slice, extra_path=[standin])
    assert r.returncode == 0, r.stderr[-3000:]
    theirs, ours = _events(cwd / "logs_train"), _events(port_run[0] / "logs_train")
    assert {t: [s for s, _ in v] for t, v in theirs.items()} == {t: [s for s, _ in v] for t, v in ours.items()}
    assert theirs["test_accuracy"][-1][1] > 0.75
    sd_torch = torch.load(cwd / f"model_dict{EPOCHS}.pth")
    sd_tl = tl.load(port_run[0] / f"model_dict{EPOCHS}.pth")
    assert {k: tuple(v.shape) for k, v in sd_torch.items()} == {k: tuple(v.shape) for k, v in sd_tl.items()}
    # "{}".format(0-d tensor) formats the number (Tensor.__format__), so both print the same kind of line
    printed = [line.split(": ", 1)[1] for line in r.stdout.splitlines() if line.startswith("Accuracy")]
    ours = [line.split(": ", 1)[1] for line in port_run[1].stdout.splitlines() if line.startswith("Accuracy")]
    assert len(printed) == len(ours) == EPOCHS
    for a, b in zip(printed, ours):
        float(a), float(b)                                   # plain numbers, not "tensor(...)"


@pytest.mark.parametrize("value", [0.8379999995231628, 3, True, -1.5e-7])
@pytest.mark.parametrize("spec", ["", ".4f", ">10", "e"])
def test_format_of_a_0d_tensor_is_its_numbers_as_torch(value, spec):
    """The program prints "{}".format(total_accuracy / test_data_size): PyTorch formats a 0-d tensor as its item."""
    if spec and isinstance(value, bool) and spec == "e":
        spec = ""
    got = format(tl.tensor(value), spec)
    assert got == format(tl.tensor(value).item(), spec)
    torch = pytest.importorskip("torch", reason="torch not installed: not compared with torch")
    assert got == format(torch.tensor(value), spec)


def test_format_of_other_tensors():
    assert format(tl.Tensor([1.0, 2.0])) == repr(tl.Tensor([1.0, 2.0]))
    with pytest.raises(TypeError):
        format(tl.Tensor([1.0]), ".2f")
