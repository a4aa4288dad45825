"""tl.utils.tensorboard.SummaryWriter: event files read back with the tensorboard package's reader, checked
against what was logged, and against torch.utils.tensorboard writing the same calls (where torch is installed)."""
import os
import re
import socket
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_lite as tl

pytest.importorskip("tensorboardX", reason="tensorboardX not installed (pip install 'tinygrad_lite[tensorboard]')")
ea_mod = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator",
                             reason="the tensorboard package (its event reader) is not installed")
from tinygrad_lite.utils.tensorboard import SummaryWriter  # noqa: E402


def read(logdir):
    acc = ea_mod.EventAccumulator(str(logdir), size_guidance={"scalars": 0, "histograms": 0, "images": 0,
                                                              "tensors": 0})
    acc.Reload()
    return acc


def scalars(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def torch_writer():
    torch = pytest.importorskip("torch", reason="torch not installed: no comparison with PyTorch's writer")
    try:
        from torch.utils.tensorboard import SummaryWriter as TorchWriter
    except ImportError as e:                      # pragma: no cover
        pytest.skip(f"torch.utils.tensorboard unavailable: {e}")
    return torch, TorchWriter


def test_import_stays_light():
    code = ("import sys, tinygrad_lite as tl; import tinygrad_lite.utils.tensorboard, tinygrad_lite.utils.data; "
            "tl.utils.tensorboard; tl.vision.datasets; "
            "print([m for m in ('tensorboardX', 'tensorboard', 'torch', 'google.protobuf') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"importing tl.utils.tensorboard pulled in {out.strip()}"


def test_missing_tensorboardx_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)        # as if not installed
    with pytest.raises(ImportError, match=r"pip install \"tinygrad_lite\[tensorboard\]\""):
        SummaryWriter(tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_scalars_of_every_kind_read_back(tmp_path):
    values = [1, 2.5, np.float32(3.25), np.float64(-4.5), np.int64(7), True, tl.Tensor(0.125),
              tl.Tensor([6.5]), tl.Tensor(np.float64(1e-3)), tl.Tensor(3), tl.Tensor([[2.0]], requires_grad=True),
              np.array(9.75, dtype=np.float32)]
    with SummaryWriter(tmp_path) as w:
        for step, v in enumerate(values):
            w.add_scalar("loss", v, step)
        w.add_scalar("at_step", 5.0, np.int64(12))
        w.add_scalar("at_step", 6.0, tl.Tensor(13))
    acc = read(tmp_path)
    expected = [1, 2.5, 3.25, -4.5, 7, 1, 0.125, 6.5, 1e-3, 3, 2.0, 9.75]
    got = scalars(acc, "loss")
    assert [s for s, _ in got] == list(range(len(values)))
    np.testing.assert_allclose([v for _, v in got], expected, rtol=1e-7)
    assert scalars(acc, "at_step") == [(12, 5.0), (13, 6.0)]


def test_scalar_errors_name_the_tag_and_shape(tmp_path):
    with SummaryWriter(tmp_path) as w:
        with pytest.raises(ValueError, match=r"add_scalar: 'loss' needs a single number.*shape \(3,\)"):
            w.add_scalar("loss", tl.Tensor([1.0, 2.0, 3.0]), 0)
        with pytest.raises(TypeError, match="add_scalar: expected a number.*'loss'.*str"):
            w.add_scalar("loss", "0.5", 0)
        with pytest.raises(TypeError, match="global_step must be an integer"):
            w.add_scalar("loss", 1.0, 0.5)
    with pytest.raises(RuntimeError, match="closed"):
        w.add_scalar("loss", 1.0, 1)
    w.close()                                       # closing twice is fine


def test_flush_writes_before_close_and_with_closes(tmp_path):
    w = SummaryWriter(tmp_path, flush_secs=3600)
    w.add_scalar("a", 1.0, 0)
    w.flush()
    assert scalars(read(tmp_path), "a") == [(0, 1.0)]
    w.close()
    with SummaryWriter(tmp_path / "b") as w2:
        w2.add_scalar("b", 2.0, 1)
    assert w2._writer is None and scalars(read(tmp_path / "b"), "b") == [(1, 2.0)]
    assert w2.get_logdir() == w2.log_dir == str(tmp_path / "b")


def test_purge_step_hides_a_crashed_runs_later_events(tmp_path):
    with SummaryWriter(tmp_path) as w:
        for step in range(10):
            w.add_scalar("loss", float(step), step)
    with SummaryWriter(tmp_path, purge_step=5) as w:          # resumed from the checkpoint of step 5
        for step in range(5, 8):
            w.add_scalar("loss", 100.0 + step, step)
    assert scalars(read(tmp_path), "loss") == [(s, float(s)) for s in range(5)] + [(s, 100.0 + s) for s in (5, 6, 7)]


def test_default_log_dir_is_pytorchs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    w = SummaryWriter(comment="_lr0.1")
    w.close()
    host = re.escape(socket.gethostname())
    assert re.fullmatch(rf"runs{re.escape(os.sep)}[A-Z][a-z]{{2}}\d\d_\d\d-\d\d-\d\d_{host}_lr0\.1", w.log_dir), w.log_dir
    assert os.path.isdir(w.log_dir) and any(f.startswith("events.out.tfevents") for f in os.listdir(w.log_dir))
    try:
        from torch.utils.tensorboard import SummaryWriter as TorchWriter
    except ImportError:
        return                                      # no torch: the pattern above is PyTorch's
    tw = TorchWriter(comment="_lr0.1")
    tw.close()
    assert re.sub(r"\d", "0", tw.log_dir) == re.sub(r"\d", "0", w.log_dir)


def test_add_scalars_lays_runs_out_as_pytorch(tmp_path):
    with SummaryWriter(tmp_path / "tl") as w:
        for step in range(3):
            w.add_scalars("loss/split", {"train": 1.0 + step, "test": tl.Tensor(2.0 * step)}, step)
    for key, vals in (("train", [1, 2, 3]), ("test", [0, 2, 4])):
        acc = read(tmp_path / "tl" / f"loss_split_{key}")
        assert scalars(acc, "loss/split") == list(zip(range(3), map(float, vals)))
    try:
        _, TorchWriter = torch_writer()
    except pytest.skip.Exception:
        return
    with TorchWriter(tmp_path / "torch") as tw:
        tw.add_scalars("loss/split", {"train": 1.0, "test": 0.0}, 0)
    subdirs = lambda d: sorted(p.name for p in d.iterdir() if p.is_dir())  # noqa: E731
    assert subdirs(tmp_path / "torch") == subdirs(tmp_path / "tl") == ["loss_split_test", "loss_split_train"]


def test_histogram_of_weights_and_gradients(tmp_path):
    tl.manual_seed(0)
    lin = tl.nn.Linear(20, 30)
    lin(tl.randn(4, 20)).sum().backward()
    with SummaryWriter(tmp_path) as w:
        w.add_histogram("fc.weight", lin.weight, 0)
        w.add_histogram("fc.weight.grad", lin.weight.grad, 0)
        w.add_histogram("ints", np.arange(10), 1)
        with pytest.raises(ValueError, match="no values"):
            w.add_histogram("empty", np.zeros(0), 0)
    acc = read(tmp_path)
    for tag, arr in (("fc.weight", lin.weight.numpy()), ("fc.weight.grad", lin.weight.grad.numpy())):
        (ev,) = acc.Histograms(tag)
        h = ev.histogram_value
        assert ev.step == 0 and h.num == arr.size
        np.testing.assert_allclose([h.min, h.max, h.sum, h.sum_squares],
                                   [arr.min(), arr.max(), arr.astype(np.float64).sum(),
                                    (arr.astype(np.float64) ** 2).sum()], rtol=1e-6, atol=1e-9)
        assert sum(h.bucket) == arr.size
    try:
        torch, TorchWriter = torch_writer()
    except pytest.skip.Exception:
        return
    with TorchWriter(tmp_path / "torch") as tw:
        tw.add_histogram("fc.weight", torch.from_numpy(lin.weight.numpy()), 0)
    t = read(tmp_path / "torch").Histograms("fc.weight")[0].histogram_value
    h = acc.Histograms("fc.weight")[0].histogram_value
    assert list(t.bucket_limit) == pytest.approx(list(h.bucket_limit)) and list(t.bucket) == list(h.bucket)


def _decode(img_event):
    from io import BytesIO

    from PIL import Image
    return np.asarray(Image.open(BytesIO(img_event.encoded_image_string)))


def test_images_chw_and_hwc_like_pytorch(tmp_path):
    rng = np.random.default_rng(0)
    chw = rng.random((3, 5, 7)).astype(np.float32)
    gray = (rng.random((1, 6, 4)) * 255).astype(np.uint8)
    with SummaryWriter(tmp_path) as w:
        w.add_image("chw", tl.Tensor(chw), 0)
        w.add_image("hwc", chw.transpose(1, 2, 0), 0, dataformats="HWC")
        w.add_image("gray", gray, 2)
        w.add_image("hw", chw[0], 3, dataformats="HW")
        with pytest.raises(ValueError, match=r"'bad' has 5 channels \(shape \(5, 7, 3\), dataformats='CHW'\)"):
            w.add_image("bad", chw.transpose(1, 2, 0), 0)
    acc = read(tmp_path)
    a, b = acc.Images("chw")[0], acc.Images("hwc")[0]
    assert (a.width, a.height) == (7, 5) and a.encoded_image_string == b.encoded_image_string
    np.testing.assert_array_equal(_decode(a), (chw.transpose(1, 2, 0) * 255).clip(0, 255).astype(np.uint8))
    g = acc.Images("gray")[0]
    assert g.step == 2 and (g.width, g.height) == (4, 6)
    assert np.array_equal(np.asarray(_decode(g)).reshape(6, 4, -1)[..., 0], gray[0])
    try:
        torch, TorchWriter = torch_writer()
    except pytest.skip.Exception:
        return
    with TorchWriter(tmp_path / "torch") as tw:
        tw.add_image("chw", torch.from_numpy(chw), 0)
        tw.add_image("gray", torch.from_numpy(gray), 2)
    t = read(tmp_path / "torch")
    np.testing.assert_array_equal(_decode(t.Images("chw")[0]), _decode(a))
    np.testing.assert_array_equal(_decode(t.Images("gray")[0]), _decode(g))


def test_text_and_hparams(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_text("notes", "**lr** 0.001, batch 64", 4)
        w.add_hparams({"lr": 1e-3, "batch_size": 64, "optimizer": "adam", "wd": tl.Tensor(0.5)},
                      {"hparam/accuracy": tl.Tensor(0.95), "hparam/loss": np.float32(0.25)}, run_name="hp")
        with pytest.raises(TypeError, match="must be dicts"):
            w.add_hparams([("lr", 1)], {})
    acc = read(tmp_path)
    (ev,) = acc.Tensors("notes/text_summary")
    assert ev.step == 4 and ev.tensor_proto.string_val[0].decode() == "**lr** 0.001, batch 64"
    hp = read(tmp_path / "hp")
    assert scalars(hp, "hparam/accuracy") == [(0, pytest.approx(0.95))]
    assert scalars(hp, "hparam/loss") == [(0, 0.25)]
    from tensorboard.plugins.hparams import plugin_data_pb2
    hp_content = hp.PluginTagToContent("hparams")
    data = plugin_data_pb2.HParamsPluginData.FromString(hp_content["_hparams_/session_start_info"])
    got = {k: (v.number_value if v.HasField("number_value") else v.string_value)
           for k, v in data.session_start_info.hparams.items()}
    assert got == {"lr": 1e-3, "batch_size": 64, "optimizer": "adam", "wd": 0.5}


def test_cupy_tensor_values(tmp_path):
    if not tl.gpu_available():
        pytest.skip("no CuPy/GPU here: GPU tensors not checked")
    with SummaryWriter(tmp_path) as w:                 # pragma: no cover - needs a GPU
        w.add_scalar("g", tl.Tensor(1.5, device="gpu"), 0)
        w.add_histogram("h", tl.randn(50, device="gpu"), 0)
    assert scalars(read(tmp_path), "g") == [(0, 1.5)]


# ---------------------------------------------------------------- examples/mnist.py --tensorboard
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _mnist_py(*args, env=None):
    e = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MPLBACKEND="Agg", **(env or {}))
    e["PYTHONPATH"] = os.pathsep.join(p for p in (e.get("PYTHONPATH"), REPO) if p)
    return subprocess.run([sys.executable, os.path.join(REPO, "examples", "mnist.py"), *map(str, args)],
                          capture_output=True, text=True, env=e, timeout=300)


def test_mnist_example_logs_steps_epochs_histograms_and_misclassified(tmp_path):
    pytest.importorskip("sklearn", reason="scikit-learn not installed: no digits data set")
    tb = tmp_path / "tb"
    r = _mnist_py("--dataset", "digits", "--model", "tiny_mlp", "--epochs", 2, "--batch-size", 64, "--quiet",
                  "--no-plots", "--out", tmp_path / "out", "--tensorboard", tb)
    assert r.returncode == 0, r.stderr
    assert f"tensorboard --logdir {tb}" in r.stdout
    rows = [__import__("json").loads(line) for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    acc = read(tb)
    steps = rows[-1]["steps"]
    assert steps == 2 * -(-1437 // 64)
    assert [s for s, _ in scalars(acc, "step/train_loss")] == list(range(1, steps + 1))
    assert all(0 <= v <= 1 for _, v in scalars(acc, "step/train_acc"))
    for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
        got = scalars(acc, f"epoch/{key}")
        assert [s for s, _ in got] == [1, 2]
        np.testing.assert_allclose([v for _, v in got], [row[key] for row in rows], rtol=1e-6)
    assert [s for s, _ in scalars(acc, "step/test_acc")] == [row["steps"] for row in rows]
    # the per-step losses average to the epoch's (batches weighted by their size)
    first = [v for _, v in scalars(acc, "step/train_loss")][:steps // 2]
    sizes = [64] * (steps // 2 - 1) + [1437 - 64 * (steps // 2 - 1)]
    np.testing.assert_allclose(np.dot(first, sizes) / 1437, rows[0]["train_loss"], rtol=1e-5)
    assert scalars(acc, "epoch/lr") == [(1, pytest.approx(1e-3)), (2, pytest.approx(1e-3))]
    hist = acc.Tags()["histograms"]
    for name in ("0.weight", "0.bias", "2.weight", "4.weight", "4.bias"):
        assert f"weights/{name}" in hist and f"grads/{name}" in hist
        assert [e.step for e in acc.Histograms(f"weights/{name}")] == [1, 2]
    assert acc.Histograms("weights/0.weight")[0].histogram_value.num == 25 * 64
    (img,) = acc.Images("misclassified")
    assert img.step == 2 and img.width > 8 and img.height > 8
    (txt,) = acc.Tensors("misclassified/text_summary")
    assert "test examples wrong" in txt.tensor_proto.string_val[0].decode()


def test_mnist_example_without_tensorboardx_says_what_to_install(tmp_path):
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "tensorboardX.py").write_text("raise ImportError('No module named tensorboardX')\n")
    r = _mnist_py("--dataset", "digits", "--epochs", 1, "--quiet", "--no-plots", "--out", tmp_path / "out",
                  "--tensorboard", tmp_path / "tb", env={"PYTHONPATH": str(fake)})
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert "mnist.py: error: --tensorboard:" in r.stderr and 'pip install "tinygrad_lite[tensorboard]"' in r.stderr
