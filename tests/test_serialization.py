"""Tests for tinygrad_lite.serialization: safetensors codec, atomic writes, corrupt-file
errors, nested-structure flatten/unflatten and training checkpoints."""

import io
import json
import math
import os
import pickle
import struct
import tempfile
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lite as tl
from tinygrad_lite import backend, serialization as ser
from tinygrad_lite.serialization import CheckpointError

DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]
SHAPES = [(), (0,), (1,), (5,), (2, 3), (2, 0, 4), (1, 1, 1, 3)]


def _random_array(dtype, shape, rng):
    dt = np.dtype(dtype)
    n = int(np.prod(shape))
    if dt.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    # random bit patterns: covers nan payloads, infs, -0.0, subnormals, extremes
    raw = rng.integers(0, 256, size=n * dt.itemsize, dtype=np.uint8)
    return raw.view(dt).reshape(shape)


def _same(a, b):
    """Deep, type-exact, bit-exact equality (nan == nan, -0.0 != 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, np.generic):
        if a.dtype != b.dtype:
            return False
        if a.dtype.kind == "f" and np.isnan(a):
            return bool(np.isnan(b))
        return a.tobytes() == b.tobytes()
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, dict):
        return len(a) == len(b) and all(
            _same(ka, kb) and _same(va, vb) for (ka, va), (kb, vb) in zip(a.items(), b.items())
        )
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, tl.Tensor):
        return (a.device == b.device and a.requires_grad == b.requires_grad
                and _same(np.asarray(a.numpy()), np.asarray(b.numpy())))
    return a == b


def _tmp_files(directory):
    return sorted(p.name for p in Path(directory).iterdir() if p.name.endswith(".tmp"))


# ----------------------------------------------------------------------------- codec


@pytest.mark.parametrize("dtype", DTYPES)
def test_roundtrip_every_dtype_and_shape_bit_exact(tmp_path, dtype):
    rng = np.random.default_rng(DTYPES.index(dtype))
    arrays = {f"t{i}": _random_array(dtype, shape, rng) for i, shape in enumerate(SHAPES)}
    path = tmp_path / "a.safetensors"
    ser.write_safetensors(path, arrays)
    back, meta = ser.read_safetensors(path)
    assert meta == {}
    assert list(back) == list(arrays)
    for k in arrays:
        assert _same(arrays[k], back[k]), k


def test_save_load_tensors_preserve_dtype_values_and_order(tmp_path):
    rng = np.random.default_rng(0)
    sd = OrderedDict()
    for i, dtype in enumerate(DTYPES):
        sd[f"z{i}.{dtype}"] = tl.Tensor(_random_array(dtype, (2, 3), rng))
    sd["scalar"] = tl.Tensor(np.array(3.5, dtype=np.float32))
    sd["empty"] = np.zeros((0, 4), dtype=np.float32)  # numpy arrays are accepted too
    path = tmp_path / "m.safetensors"
    ser.save(sd, path)
    out = ser.load(path)
    assert list(out) == list(sd)
    for k, v in sd.items():
        want = np.asarray(v.numpy()) if isinstance(v, tl.Tensor) else v
        assert isinstance(out[k], tl.Tensor)
        assert out[k].device == "cpu"
        assert _same(np.asarray(out[k].numpy()), want), k
    out = ser.load(str(path), device="cpu")
    assert list(out) == list(sd)
    with pytest.raises(Exception):
        ser.load(path, device="tpu")


def test_noncontiguous_bigendian_and_scalar_inputs(tmp_path):
    a = np.arange(24, dtype=np.float64).reshape(4, 6)[:, ::2]  # non-contiguous
    b = np.arange(6, dtype=">i4").reshape(2, 3)  # big-endian
    c = np.asfortranarray(np.arange(6, dtype=np.int16).reshape(2, 3))
    d = np.float32(2.5)  # numpy scalar -> 0-d tensor
    path = tmp_path / "x.safetensors"
    ser.save({"a": a, "b": b, "c": c, "d": d}, path)
    out, _ = ser.read_safetensors(path)
    np.testing.assert_array_equal(out["a"], a)
    assert out["b"].dtype == np.dtype("int32") and out["b"].dtype.isnative
    np.testing.assert_array_equal(out["b"], b)
    np.testing.assert_array_equal(out["c"], c)
    assert out["d"].shape == () and out["d"].dtype == np.float32 and out["d"] == 2.5


def test_header_layout_and_metadata(tmp_path):
    path = tmp_path / "h.safetensors"
    ser.save({"w": np.ones((2, 2), np.float32), "b": np.zeros(3, np.int8)}, path,
             metadata={"format": "np", "note": "héllo"})
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    assert (8 + n) % 8 == 0
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    assert header["__metadata__"] == {"format": "np", "note": "héllo"}
    assert header["w"] == {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}
    assert header["b"] == {"dtype": "I8", "shape": [3], "data_offsets": [16, 19]}
    assert len(raw) == 8 + n + 19
    _, meta = ser.read_safetensors(path)
    assert meta == {"format": "np", "note": "héllo"}


def test_empty_state_dict(tmp_path):
    path = tmp_path / "e.safetensors"
    ser.save({}, path)
    assert ser.read_safetensors(path) == ({}, {})


@pytest.mark.parametrize("value", [
    np.zeros(3, np.complex64), np.zeros(3, np.uint32), np.array(["a"]), np.array([object()]),
    [1.0, 2.0], "text",
])
def test_save_rejects_unsupported_values_without_touching_disk(tmp_path, value):
    path = tmp_path / "u.safetensors"
    with pytest.raises(TypeError, match="'bad'"):
        ser.save({"ok": np.zeros(2, np.float32), "bad": value}, path)
    assert list(tmp_path.iterdir()) == []


def test_save_rejects_bad_names_and_non_mappings(tmp_path):
    path = tmp_path / "n.safetensors"
    with pytest.raises(TypeError):
        ser.save({1: np.zeros(1)}, path)
    with pytest.raises(ValueError, match="reserved"):
        ser.save({"__metadata__": np.zeros(1)}, path)
    with pytest.raises(TypeError, match="state_dict"):
        ser.save(type("M", (), {"state_dict": lambda self: {}})(), path)
    with pytest.raises(TypeError, match="str -> str"):
        ser.save({"a": np.zeros(1)}, path, metadata={"k": 1})
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------- safetensors package


def test_compat_with_safetensors_package_both_ways(tmp_path):
    stnp = pytest.importorskip("safetensors.numpy", reason="safetensors package not installed")
    from safetensors import safe_open

    rng = np.random.default_rng(1)
    arrays = {f"{dt}_{i}": _random_array(dt, shape, rng)
              for dt in DTYPES for i, shape in enumerate([(), (0,), (3, 2)])}

    ours = tmp_path / "ours.safetensors"
    ser.save(arrays, ours, metadata={"who": "tinygrad_lite"})
    theirs_view = stnp.load_file(str(ours))
    assert set(theirs_view) == set(arrays)
    for k, v in arrays.items():
        assert _same(np.asarray(theirs_view[k]), v), k
    with safe_open(str(ours), framework="numpy") as f:
        assert f.metadata() == {"who": "tinygrad_lite"}

    theirs = tmp_path / "theirs.safetensors"
    stnp.save_file(arrays, str(theirs), metadata={"who": "safetensors"})
    back, meta = ser.read_safetensors(theirs)
    assert meta == {"who": "safetensors"}
    assert set(back) == set(arrays)
    for k, v in arrays.items():
        assert _same(back[k], v), k
    loaded = ser.load(theirs)
    assert list(loaded) == list(back)  # file (offset) order


# ----------------------------------------------------------------------- atomicity


@pytest.fixture
def existing(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    ser.save({"old": np.arange(4, dtype=np.float32)}, path)
    return path, path.read_bytes()


def _assert_untouched(path, before):
    assert path.read_bytes() == before
    assert _tmp_files(path.parent) == []
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_atomic_when_replace_fails(existing, monkeypatch):
    path, before = existing

    def boom(*a, **k):
        raise OSError("simulated rename failure")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="simulated"):
        ser.save({"new": np.ones(1000, np.float64)}, path)
    monkeypatch.undo()
    _assert_untouched(path, before)


def test_atomic_when_fsync_fails(existing, monkeypatch):
    path, before = existing
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        ser.save({"new": np.ones(10, np.float32)}, path)
    monkeypatch.undo()
    _assert_untouched(path, before)


def test_atomic_when_writer_dies_midway(existing, monkeypatch):
    path, before = existing
    real_fdopen = os.fdopen

    class Dying:
        def __init__(self, f):
            self.f, self.calls = f, 0

        def write(self, b):
            self.calls += 1
            if self.calls == 3:  # after length + header, during the data
                raise KeyboardInterrupt
            return self.f.write(b)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: Dying(real_fdopen(fd, mode)))
    with pytest.raises(KeyboardInterrupt):
        ser.save({"a": np.ones(10, np.float32), "b": np.ones(10, np.float32)}, path)
    monkeypatch.undo()
    _assert_untouched(path, before)


def test_overwrite_pathlike_and_symlink(existing, tmp_path):
    path, _ = existing
    ser.save({"new": np.ones(2, np.int64)}, path)
    assert list(ser.read_safetensors(path)[0]) == ["new"]
    assert _tmp_files(tmp_path) == []
    link = tmp_path / "latest.safetensors"
    link.symlink_to(path.name)
    ser.save({"via_link": np.ones(1, np.uint8)}, link)
    assert link.is_symlink()  # written through the link, not replacing it
    assert list(ser.read_safetensors(path)[0]) == ["via_link"]


def test_missing_file_names_it(tmp_path):
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        ser.load(missing)
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        ser.load_checkpoint(missing)


# -------------------------------------------------------------------- corrupt files


def _raw_file(path, header, data=b"", length=None):
    head = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(head) if length is None else length) + head + data)
    return path


def _expect_corrupt(path, match=None):
    with pytest.raises(CheckpointError) as info:
        ser.load(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)
    if match:
        assert match in str(info.value), str(info.value)
    with pytest.raises(CheckpointError):
        ser.load_checkpoint(path)
    return info.value


def test_truncated_files(tmp_path):
    good = tmp_path / "good.safetensors"
    ser.save({"a": np.arange(10, dtype=np.float32), "b": np.ones((3, 3), np.int64)}, good)
    raw = good.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    for cut in sorted({0, 1, 7, 8, 9, 8 + n // 2, 8 + n - 1, 8 + n, 8 + n + 1, 8 + n + 40, len(raw) - 1}):
        bad = tmp_path / f"cut{cut}.safetensors"
        bad.write_bytes(raw[:cut])
        _expect_corrupt(bad)
    bad.write_bytes(raw + b"\0")  # trailing garbage is not allowed either
    _expect_corrupt(bad, "trailing")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_foreign_files(tmp_path):
    p = tmp_path / "pickle.pt"
    p.write_bytes(pickle.dumps({"w": _Evil()}, protocol=4))
    _expect_corrupt(p, "pickle")

    p = tmp_path / "zip.pt"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"w": 1}))
    p.write_bytes(buf.getvalue())
    _expect_corrupt(p, "zip")

    p = tmp_path / "arr.npy"
    np.save(p, np.zeros(3))
    _expect_corrupt(p)

    rng = np.random.default_rng(0)
    for i, size in enumerate([3, 8, 16, 100, 5000]):
        p = tmp_path / f"random{i}.bin"
        p.write_bytes(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
        _expect_corrupt(p)

    p = _raw_file(tmp_path / "huge.safetensors", b"{}      ", length=2**63)
    _expect_corrupt(p, "exceeds")


GOOD = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}


@pytest.mark.parametrize("header, data, match", [
    (b"{not json", b"", "not valid JSON"),
    (b'{"a": 1', b"", "not valid JSON"),
    (b"[1, 2, 3]", b"", "start with"),
    (b"\xff\xfe{}", b"", "UTF-8"),
    (b'{"a": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}, '
     b'"a": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}}', b"", "duplicate"),
    ({"a": {**GOOD, "dtype": "BF16"}}, bytes(8), "unsupported dtype 'BF16'"),
    ({"a": {**GOOD, "dtype": "XYZ"}}, bytes(8), "unsupported dtype"),
    ({"a": {**GOOD, "dtype": 3}}, bytes(8), "unsupported dtype"),
    ({"a": {**GOOD, "shape": [-2]}}, bytes(8), "shape"),
    ({"a": {**GOOD, "shape": [2.0]}}, bytes(8), "shape"),
    ({"a": {**GOOD, "shape": [True, 2]}}, bytes(8), "shape"),
    ({"a": {**GOOD, "shape": "2"}}, bytes(8), "shape"),
    ({"a": {**GOOD, "data_offsets": [0]}}, bytes(8), "data_offsets"),
    ({"a": {**GOOD, "data_offsets": [8, 0]}}, bytes(8), "data_offsets"),
    ({"a": {**GOOD, "data_offsets": [0, 12]}}, bytes(12), "needs 8"),
    ({"a": {**GOOD, "data_offsets": [8, 16]}}, bytes(8), "past the end"),
    ({"a": {**GOOD, "data_offsets": [4, 12]}}, bytes(12), "gap"),
    ({"a": GOOD, "b": {**GOOD, "data_offsets": [4, 12]}}, bytes(12), "overlap"),
    ({"a": GOOD, "b": GOOD}, bytes(16), "overlap"),
    ({"a": GOOD}, bytes(12), "trailing"),
    ({"a": {**GOOD, "extra": 1}}, bytes(8), "exactly the keys"),
    ({"a": [1, 2]}, b"", "exactly the keys"),
    ({"__metadata__": {"k": 1}}, b"", "__metadata__"),
    ({"__metadata__": [1]}, b"", "__metadata__"),
    ({"a": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}}, b"\x01\x02", "BOOL"),
    ({"a": {"dtype": "F32", "shape": [2**62, 2**62], "data_offsets": [0, 8]}}, bytes(8), "needs"),
])
def test_invalid_headers(tmp_path, header, data, match):
    _expect_corrupt(_raw_file(tmp_path / "bad.safetensors", header, data), match)


def test_hand_written_valid_file_with_padding_and_empty_tensors(tmp_path):
    head = json.dumps({"e": {"dtype": "I64", "shape": [0, 3], "data_offsets": [0, 0]},
                       "x": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
                       "__metadata__": None}).encode() + b"   "
    out, meta = ser.read_safetensors(_raw_file(tmp_path / "ok.safetensors", head, b"\x07\x09"))
    assert meta == {} and out["e"].shape == (0, 3) and out["x"].tolist() == [7, 9]


# --------------------------------------------------------------- flatten / unflatten

_keys = st.one_of(st.text(max_size=6), st.integers(-3, 1000), st.none(), st.booleans(),
                  st.floats(allow_nan=False))
_np_scalars = st.sampled_from([np.float32(1.5), np.float16(-0.0), np.float64(np.inf),
                               np.int64(-(2**63)), np.uint64(2**64 - 1), np.uint8(7),
                               np.bool_(True), np.int8(-1), np.float32(np.nan)])
_arrays = hnp.arrays(
    dtype=st.sampled_from([np.float16, np.float32, np.float64, np.int8, np.int16, np.int32,
                           np.int64, np.uint8, np.bool_, np.uint16, np.uint32, np.uint64]),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3),
)
_leaves = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(),
                    st.text(max_size=8), _np_scalars, _arrays)
_trees = st.recursive(
    _leaves,
    lambda kids: st.one_of(
        st.lists(kids, max_size=4),
        st.lists(kids, max_size=4).map(tuple),
        st.dictionaries(_keys, kids, max_size=4),
        st.dictionaries(st.text(max_size=3), kids, max_size=3).map(OrderedDict),
    ),
    max_leaves=12,
)


@settings(max_examples=80, deadline=None)
@given(_trees)
def test_flatten_unflatten_roundtrip_property(tree):
    spec, arrays = ser.flatten_tree(tree, "p")
    assert all(k.startswith("p") for k in arrays)
    spec = json.loads(json.dumps(spec))  # the spec really is JSON
    assert _same(ser.unflatten_tree(spec, arrays), tree)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_trees)
def test_flatten_roundtrip_through_file_property(tree):
    spec, arrays = ser.flatten_tree(tree, "p")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "t.safetensors")
        ser.write_safetensors(path, arrays, {"spec": json.dumps(spec)})
        back, meta = ser.read_safetensors(path)
    assert _same(ser.unflatten_tree(json.loads(meta["spec"]), back), tree)


def test_flatten_key_names_and_collisions():
    a, b = np.zeros(1, np.float32), np.ones(1, np.float32)
    tree = {"state": {0: {"exp_avg": a}}, "a.b": a, "a": {"b": b}, "l": [a, (b,)]}
    spec, arrays = ser.flatten_tree(tree, "optimizer")
    assert "optimizer.state.0.exp_avg" in arrays
    assert {"optimizer.a.b", "optimizer.a.b~1", "optimizer.l.0", "optimizer.l.1.0"} <= set(arrays)
    assert _same(ser.unflatten_tree(spec, arrays), tree)


def test_flatten_rejects_non_data_objects():
    with pytest.raises(TypeError, match="x.fn"):
        ser.flatten_tree({"fn": print}, "x")
    with pytest.raises(TypeError, match="key"):
        ser.flatten_tree({(1, 2): 3})
    with pytest.raises(TypeError, match="dtype"):
        ser.flatten_tree({"c": np.zeros(2, np.complex128)})


@pytest.mark.parametrize("spec", [
    {"t": "nope"}, {"x": 1}, {"t": "list"}, {"t": "dict", "items": [[1]]},
    {"t": "ndarray", "key": "missing"}, {"t": "scalar", "dtype": "complex64", "value": 1},
    {"t": "ndarray", "key": "k", "dtype": "uint8"}, [1, 2],
])
def test_unflatten_rejects_malformed_specs(spec):
    with pytest.raises(CheckpointError):
        ser.unflatten_tree(spec, {"k": np.zeros(2, np.int32)})


# ---------------------------------------------------------------------- checkpoints


class StandInModule:
    """Minimal object with the Module state_dict protocol."""

    def __init__(self, sd):
        self.sd = OrderedDict(sd)
        self.loaded = None

    def state_dict(self):
        return OrderedDict(self.sd)

    def load_state_dict(self, sd):
        missing = [k for k in self.sd if k not in sd]
        if missing:
            raise KeyError(f"missing keys in state_dict: {missing}")
        self.loaded = sd


class StandInOptimizer(StandInModule):
    def state_dict(self):
        return self.sd["full"]


def _optim_state(rng):
    return {
        "state": {
            0: {"step": 3, "exp_avg": rng.standard_normal((3, 2)).astype(np.float32),
                "exp_avg_sq": rng.random((3, 2)).astype(np.float32)},
            1: {"step": 3, "exp_avg": np.zeros(2, np.float32), "exp_avg_sq": np.zeros(2, np.float32)},
        },
        "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0,
                          "amsgrad": False, "params": [0, 1]}],
    }


@pytest.fixture
def fake_rng(monkeypatch):
    state = {"cpu": {"bit_generator": "MT19937", "key": np.arange(624, dtype=np.uint32) * 7919,
                     "pos": 17, "big": 2**100 + 1}, "gpu": None}
    restored = []
    monkeypatch.setattr(backend, "get_rng_state", lambda: state)
    monkeypatch.setattr(backend, "set_rng_state", restored.append)
    monkeypatch.setattr(backend, "validate_rng_state", lambda s: None)  # a stand-in state
    return state, restored


def test_checkpoint_roundtrip_with_stand_ins(tmp_path, fake_rng):
    state, restored = fake_rng
    rng = np.random.default_rng(0)
    model_sd = OrderedDict([("fc1.weight", tl.Tensor(rng.standard_normal((3, 2)).astype(np.float32))),
                            ("fc1.bias", tl.Tensor(np.zeros(2, np.float32)))])
    osd = _optim_state(rng)
    model, opt = StandInModule(model_sd), StandInOptimizer({"full": osd})
    history = [{"epoch": 0, "loss": 1.25, "acc": float("nan")}, {"epoch": 1, "loss": 0.5, "acc": 0.75}]
    config = {"lr": 1e-3, "layers": (784, 128, 10), "name": "mlp", "extra_arr": np.arange(3)}
    path = tmp_path / "run.ckpt"
    ser.save_checkpoint(path, model=model, optimizer=opt, epoch=2, history=history, config=config)

    # one plain safetensors file with readable tensor names
    names, meta = ser.read_safetensors(path)
    assert {"model.fc1.weight", "model.fc1.bias", "optimizer.state.0.exp_avg",
            "optimizer.state.1.exp_avg_sq", "rng.cpu.key"} <= set(names)
    assert meta["epoch"] == "2"

    model2 = StandInModule(OrderedDict((k, None) for k in model_sd))
    opt2 = StandInOptimizer({})
    info = ser.load_checkpoint(path, model=model2, optimizer=opt2)
    assert info["epoch"] == 2
    assert _same(info["extra"], {"history": history, "config": config})
    assert list(model2.loaded) == ["fc1.weight", "fc1.bias"]
    for k, v in model_sd.items():
        assert isinstance(model2.loaded[k], tl.Tensor)
        assert _same(np.asarray(model2.loaded[k].numpy()), np.asarray(v.numpy()))
    assert _same(opt2.loaded, osd)  # int keys, tuples, floats, arrays: all exact
    assert len(restored) == 1 and _same(restored[0], state)
    assert _same(info["rng_state"], state) and info["optimizer_state"] is opt2.loaded


def test_checkpoint_partial_and_errors(tmp_path, fake_rng):
    state, restored = fake_rng
    path = tmp_path / "c.safetensors"
    ser.save_checkpoint(path, epoch=None, rng=False, note="just extras")
    info = ser.load_checkpoint(path)
    assert info["epoch"] is None and info["extra"] == {"note": "just extras"}
    assert info["model_state"] is None and info["rng_state"] is None and restored == []
    with pytest.raises(CheckpointError, match="no model state"):
        ser.load_checkpoint(path, model=StandInModule({}))
    with pytest.raises(CheckpointError, match="no optimizer state"):
        ser.load_checkpoint(path, optimizer=StandInOptimizer({}))

    # errors from load_state_dict propagate unchanged
    ser.save_checkpoint(path, model=StandInModule({"a": np.zeros(1)}), epoch=1)
    with pytest.raises(KeyError, match="missing keys"):
        ser.load_checkpoint(path, model=StandInModule({"a": None, "b": None}))
    ser.load_checkpoint(path, model=StandInModule({"a": None}), rng=False)
    assert restored == []

    # a plain state_dict file is not a checkpoint
    plain = tmp_path / "plain.safetensors"
    ser.save({"w": np.zeros(1)}, plain)
    with pytest.raises(CheckpointError, match="not a tinygrad_lite checkpoint"):
        ser.load_checkpoint(plain)

    # non-JSON-able extras fail before anything is written
    before = path.read_bytes()
    with pytest.raises(TypeError, match="extra.cb"):
        ser.save_checkpoint(path, epoch=3, cb=lambda: 0)
    assert path.read_bytes() == before and _tmp_files(tmp_path) == []


def test_checkpoint_tampered_metadata(tmp_path, fake_rng):
    path = tmp_path / "t.safetensors"
    ser.save_checkpoint(path, model=StandInModule({"a": np.zeros(1)}), epoch=1)
    arrays, meta = ser.read_safetensors(path)
    key = "tinygrad_lite.checkpoint"

    def rewrite(arrays, meta):
        ser.write_safetensors(path, arrays, meta)
        with pytest.raises(CheckpointError) as info:
            ser.load_checkpoint(path)
        assert str(path) in str(info.value)

    rewrite(arrays, {**meta, key: "{oops"})
    rewrite(arrays, {**meta, key: json.dumps({"version": 99, "sections": {}})})
    rewrite({**arrays, "stray": np.zeros(1)}, meta)
    rewrite({k: v for k, v in arrays.items() if k != "model.a"}, meta)
    blob = json.loads(meta[key])
    blob["sections"]["model"] = {"t": "bogus"}
    rewrite(arrays, {**meta, key: json.dumps(blob)})


def test_checkpoint_with_real_rng_state(tmp_path):
    before = backend.get_rng_state()
    path = tmp_path / "r.safetensors"
    ser.save_checkpoint(path, epoch=0)
    info = ser.load_checkpoint(path)
    assert _same(info["rng_state"], before)
    assert _same(backend.get_rng_state(), before)


@pytest.mark.gpu
def test_gpu_load_and_checkpoint(tmp_path):
    try:
        import cupy  # noqa: F401
        backend.canonical_device("gpu")
        t = tl.Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), device="gpu")
    except Exception as e:  # pragma: no cover - depends on the machine
        pytest.skip(f"no usable GPU: {e}")
    path = tmp_path / "g.safetensors"
    ser.save({"t": t, "c": cupy.arange(3, dtype=cupy.int32)}, path)
    out = ser.load(path, device="gpu")
    assert out["t"].device == "gpu"
    np.testing.assert_array_equal(out["t"].numpy(), t.numpy())
    ser.save_checkpoint(path, model=StandInModule({"w": t}), rng=False, buf=cupy.ones(2))
    info = ser.load_checkpoint(path, model=StandInModule({"w": t}))  # device follows the model
    assert info["model_state"]["w"].device == "gpu"
    assert type(info["extra"]["buf"]).__module__.startswith("cupy")
    info = ser.load_checkpoint(path, device="cpu")
    assert info["model_state"]["w"].device == "cpu" and isinstance(info["extra"]["buf"], np.ndarray)


class _FakeBitGenerator:
    def __init__(self, size):
        self._state = np.arange(size, dtype=np.int8)      # as CuPy's: the cuRAND states as a byte array

    def state(self):                                       # CuPy's `state` is a method returning a pointer
        return 12345


class _FakeGpuGenerator:
    def __init__(self, size=48):
        self.bit_generator = _FakeBitGenerator(size)


def test_gpu_generator_state_is_saved_as_bytes_and_restored(tmp_path, monkeypatch):
    """The checkpoint holds a copy of the GPU generator's cuRAND state bytes (CuPy has no public state API: its
    `state` is a method, which a checkpoint cannot store) and puts them back into a fresh generator.
    CuPy itself is faked here; tests/test_resume.py does the real thing on a GPU (dropout after resuming)."""
    fresh = []

    def fake_rng(device):
        if device == "cpu":
            return real_rng("cpu")
        if "gpu" not in backend._rngs:
            fresh.append(_FakeGpuGenerator())
            fresh[-1].bit_generator._state[:] = 0          # a new generator: other states
            backend._rngs["gpu"] = fresh[-1]
        return backend._rngs["gpu"]

    real_rng = backend.rng
    saved_rngs = dict(backend._rngs)
    monkeypatch.setattr(backend, "rng", fake_rng)
    monkeypatch.setattr(backend, "gpu_available", lambda: True)
    monkeypatch.setattr(backend, "to_device", lambda a, device: a)
    try:
        backend._rngs["gpu"] = used = _FakeGpuGenerator()
        path = tmp_path / "g.safetensors"
        ser.save_checkpoint(path, epoch=1)                 # before the fix: "cannot store a method"
        used.bit_generator._state[:] = -1                  # the run goes on drawing
        ser.load_checkpoint(path)
        restored = backend._rngs["gpu"]
        assert restored is fresh[-1] and restored is not used
        np.testing.assert_array_equal(restored.bit_generator._state, np.arange(48, dtype=np.int8))
        # saved on another GPU model (a different number of states): re-seeded, with a warning saying so
        state = backend.get_rng_state()
        state["gpu"] = np.zeros(96, dtype=np.int8)
        with pytest.warns(RuntimeWarning, match="GPU generator's state could not be restored"):
            backend.set_rng_state(state)
    finally:
        backend._rngs.clear()
        backend._rngs.update(saved_rngs)
