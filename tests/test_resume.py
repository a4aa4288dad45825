"""Resuming from a checkpoint equals training straight through, bit for bit; checkpoints
survive a crash mid-save, refuse truncated files, and state_dict files interoperate with
safetensors / PyTorch."""
import os

import numpy as np
import pytest

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite import nn
from tinygrad_lite import serialization as ser

TORCH_REASON = "PyTorch is not installed: the safetensors-to-torch interoperability test is skipped"


def _data(n=192, d=20, classes=4):
    """A synthetic classification problem (a random linear teacher, a little label noise)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)).astype(np.float32)
    y = (X @ rng.standard_normal((d, classes))).argmax(axis=1)
    flip = rng.random(n) < 0.1
    y[flip] = rng.integers(0, classes, size=flip.sum())
    return X, y.astype(np.int64)


def _model(seed):
    tl.manual_seed(seed)
    return nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 16), nn.Tanh(),
                         nn.Dropout(0.1), nn.Linear(16, 4))


OPTIMIZERS = {
    "adam": lambda params: tl.optim.Adam(params, lr=3e-3, weight_decay=1e-4),
    "sgd_momentum": lambda params: tl.optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4),
    "adamw": lambda params: tl.optim.AdamW(params, lr=3e-3),
}


def _loader(X, y, device=None, seed=1234):
    return tl.data.DataLoader((X, y), batch_size=32, shuffle=True, seed=seed, device=device)


def _train(model, opt, loader, epochs):
    model.train()
    for _ in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()


def _weights(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def _straight_through(name, X, y, epochs=4, device="cpu", loader_seed=1234):
    model = _model(seed=0).to(device)
    opt = OPTIMIZERS[name](model.parameters())
    _train(model, opt, _loader(X, y, device, loader_seed), epochs)
    return _weights(model)


def _interrupted(name, X, y, path, restore_rng=True, device="cpu", loader_seed=1234):
    model = _model(seed=0).to(device)
    opt = OPTIMIZERS[name](model.parameters())
    loader = _loader(X, y, device, loader_seed)
    _train(model, opt, loader, 2)
    tl.save_checkpoint(path, model=model, optimizer=opt, epoch=2)
    at_save = _weights(model)
    del model, opt, loader
    # a new process, as it were: fresh objects, a different init and a disturbed RNG
    model = _model(seed=99).to(device)
    tl.rand(1000)
    opt = OPTIMIZERS[name](model.parameters())
    info = tl.load_checkpoint(path, model=model, optimizer=opt, rng=restore_rng)
    assert info["epoch"] == 2
    assert all(p.device == device for p in model.parameters())
    for k, v in _weights(model).items():
        np.testing.assert_array_equal(v, at_save[k])
    loader = _loader(X, y, device, loader_seed)
    loader.set_epoch(info["epoch"])
    _train(model, opt, loader, 2)
    return _weights(model)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_resume_equals_uninterrupted_bit_for_bit(name, tmp_path):
    X, y = _data()
    straight = _straight_through(name, X, y)
    resumed = _interrupted(name, X, y, tmp_path / "ckpt.safetensors")
    assert list(resumed) == list(straight)
    for k in straight:
        np.testing.assert_array_equal(resumed[k], straight[k], err_msg=f"{k} differs after resuming")
    # the run actually learned something (the comparison is not between two untouched models)
    assert any(not np.array_equal(straight[k], v) for k, v in _weights(_model(seed=0)).items())


@pytest.mark.parametrize("name", ["adam", "sgd_momentum"])
def test_resume_on_device_equals_uninterrupted(device, name, tmp_path):
    """The same on every device: Dropout then draws from that device's generator."""
    X, y = _data()
    straight = _straight_through(name, X, y, device=device)
    resumed = _interrupted(name, X, y, tmp_path / "ckpt.safetensors", device=device)
    for k in straight:
        np.testing.assert_array_equal(resumed[k], straight[k], err_msg=f"{k} differs after resuming on {device}")


def test_resume_with_an_unseeded_loader_equals_uninterrupted(tmp_path):
    """Without a seed the loader shuffles from tl's generator (as PyTorch's does from torch's), whose
    state the checkpoint holds: resuming in a process seeded differently still replays the same batches."""
    X, y = _data()
    straight = _straight_through("adam", X, y, loader_seed=None)
    resumed = _interrupted("adam", X, y, tmp_path / "ckpt.safetensors", loader_seed=None)
    for k in straight:
        np.testing.assert_array_equal(resumed[k], straight[k], err_msg=f"{k} differs after resuming")
    # and the order really came from the generator: without its state the run diverges
    diverged = _interrupted("adam", X, y, tmp_path / "ckpt2.safetensors", restore_rng=False, loader_seed=None)
    assert any(not np.array_equal(diverged[k], straight[k]) for k in straight)


def test_resume_without_the_rng_state_diverges(tmp_path):
    """The check above really exercises Dropout's RNG: not restoring it changes the result."""
    X, y = _data()
    straight = _straight_through("adam", X, y)
    resumed = _interrupted("adam", X, y, tmp_path / "ckpt.safetensors", restore_rng=False)
    assert any(not np.array_equal(resumed[k], straight[k]) for k in straight)


def test_resume_without_set_epoch_diverges(tmp_path):
    """And the loader's epoch matters: resuming at epoch 0's shuffle gives different batches."""
    X, y = _data()
    straight = _straight_through("sgd_momentum", X, y)
    model = _model(seed=0)
    opt = OPTIMIZERS["sgd_momentum"](model.parameters())
    _train(model, opt, _loader(X, y), 2)
    path = tmp_path / "ckpt.safetensors"
    tl.save_checkpoint(path, model=model, optimizer=opt, epoch=2)
    model = _model(seed=5)
    opt = OPTIMIZERS["sgd_momentum"](model.parameters())
    tl.load_checkpoint(path, model=model, optimizer=opt)
    _train(model, opt, _loader(X, y), 2)                      # no set_epoch
    assert any(not np.array_equal(_weights(model)[k], straight[k]) for k in straight)


# --------------------------------------------------------------------------- crash safety, corrupt files
class _FailingFile:
    """Wraps the checkpoint's temporary file: the second write stores half its bytes, then the disk is full."""

    def __init__(self, f):
        self.f, self.writes = f, 0

    def write(self, chunk):
        self.writes += 1
        if self.writes >= 2:
            data = bytes(chunk)
            self.f.write(data[:len(data) // 2])
            self.f.flush()
            raise OSError(28, "No space left on device")
        return self.f.write(chunk)

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self.f.__exit__(*exc)


def test_crash_mid_save_leaves_previous_checkpoint_loadable(tmp_path, monkeypatch):
    X, y = _data()
    path = tmp_path / "ckpt.safetensors"
    model = _model(seed=0)
    opt = OPTIMIZERS["adam"](model.parameters())
    loader = _loader(X, y)
    _train(model, opt, loader, 1)
    tl.save_checkpoint(path, model=model, optimizer=opt, epoch=1)
    good_bytes = path.read_bytes()
    saved = _weights(model)
    _train(model, opt, loader, 1)

    real_fdopen = os.fdopen
    calls = []

    def failing_fdopen(fd, *args, **kwargs):
        calls.append(fd)
        return _FailingFile(real_fdopen(fd, *args, **kwargs))

    monkeypatch.setattr(ser.os, "fdopen", failing_fdopen)
    with pytest.raises(OSError, match="No space left"):
        tl.save_checkpoint(path, model=model, optimizer=opt, epoch=2)
    monkeypatch.undo()
    assert calls, "the checkpoint was not written through os.fdopen: the crash was not simulated"

    assert path.read_bytes() == good_bytes                     # the old file is untouched
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]        # and no temporary file is left behind
    fresh = _model(seed=7)
    fresh_opt = OPTIMIZERS["adam"](fresh.parameters())
    info = tl.load_checkpoint(path, model=fresh, optimizer=fresh_opt)
    assert info["epoch"] == 1
    for k, v in _weights(fresh).items():
        np.testing.assert_array_equal(v, saved[k])


@pytest.mark.parametrize("keep", ["4 bytes", "header only", "half", "all but one byte"])
def test_truncated_checkpoint_raises_checkpoint_error_naming_the_file(tmp_path, keep):
    model = _model(seed=0)
    opt = OPTIMIZERS["adam"](model.parameters())
    X, y = _data(n=64)
    _train(model, opt, _loader(X, y), 1)
    path = tmp_path / "truncated_ckpt.safetensors"
    tl.save_checkpoint(path, model=model, optimizer=opt, epoch=1)
    data = path.read_bytes()
    header_end = 8 + int.from_bytes(data[:8], "little")
    n = {"4 bytes": 4, "header only": header_end, "half": len(data) // 2, "all but one byte": len(data) - 1}[keep]
    path.write_bytes(data[:n])
    fresh = _model(seed=1)
    before = _weights(fresh)
    with pytest.raises(tl.CheckpointError, match="truncated_ckpt.safetensors"):
        tl.load_checkpoint(path, model=fresh, optimizer=OPTIMIZERS["adam"](fresh.parameters()))
    for k, v in _weights(fresh).items():                       # nothing half-loaded
        np.testing.assert_array_equal(v, before[k])
    with pytest.raises(tl.CheckpointError, match="truncated_ckpt.safetensors"):
        tl.load(path)


def test_checkpoint_error_is_a_value_error():
    assert issubclass(tl.CheckpointError, ValueError)


# --------------------------------------------------------------------------- state_dict files
def test_save_load_state_dict_round_trip_gives_identical_outputs(tmp_path):
    X, y = _data(n=64)
    model = _model(seed=0)
    _train(model, OPTIMIZERS["adam"](model.parameters()), _loader(X, y), 1)
    path = tmp_path / "model.safetensors"
    tl.save(model.state_dict(), path)
    loaded = tl.load(path)
    assert list(loaded) == list(model.state_dict())
    assert all(isinstance(v, tl.Tensor) and v.dtype == np.float32 for v in loaded.values())
    other = _model(seed=3)
    other.load_state_dict(loaded)
    model.eval()
    other.eval()
    np.testing.assert_array_equal(other(tl.Tensor(X)).numpy(), model(tl.Tensor(X)).numpy())


def test_saved_state_dict_is_read_by_safetensors_numpy(tmp_path):
    stnp = pytest.importorskip("safetensors.numpy", reason="the safetensors package is not installed")
    model = _model(seed=0)
    path = tmp_path / "model.safetensors"
    tl.save(model.state_dict(), path)
    arrays = stnp.load_file(str(path))
    assert set(arrays) == set(model.state_dict())
    for k, v in model.state_dict().items():
        assert arrays[k].dtype == np.float32
        np.testing.assert_array_equal(arrays[k], v.numpy())


def test_saved_state_dict_loads_into_an_equivalent_torch_model(tmp_path):
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    st_torch = pytest.importorskip("safetensors.torch", reason="the safetensors package is not installed")
    X, y = _data(n=64)
    model = _model(seed=0)
    _train(model, OPTIMIZERS["adam"](model.parameters()), _loader(X, y), 1)
    path = tmp_path / "model.safetensors"
    tl.save(model.state_dict(), path)

    tnn = torch.nn
    theirs = tnn.Sequential(tnn.Linear(20, 32), tnn.ReLU(), tnn.Dropout(0.3), tnn.Linear(32, 16), tnn.Tanh(),
                            tnn.Dropout(0.1), tnn.Linear(16, 4))
    result = theirs.load_state_dict(st_torch.load_file(str(path)))      # strict: same names, shapes
    assert not result.missing_keys and not result.unexpected_keys
    theirs.eval()
    model.eval()
    with torch.no_grad():
        expected = theirs(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(model(tl.Tensor(X)).numpy(), expected, rtol=1e-5, atol=1e-6)

    # and the other way: a file written by safetensors.torch loads into our model
    back = tmp_path / "from_torch.safetensors"
    st_torch.save_file(theirs.state_dict(), str(back))
    ours = _model(seed=42)
    ours.load_state_dict(tl.load(back))
    ours.eval()
    np.testing.assert_array_equal(ours(tl.Tensor(X)).numpy(), model(tl.Tensor(X)).numpy())
