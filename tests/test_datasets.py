"""Tests for tinygrad_lite.datasets (no network: downloads use a fake urlopen)."""

import ast
import gzip
import hashlib
import io
import os
import struct
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from tinygrad_lite import datasets as ds
from tinygrad_lite.datasets import DatasetError
from conftest import MNIST_DIR, MNIST_SKIP_REASON

REPO_ROOT = Path(__file__).resolve().parents[1]
# Located before any test touches the environment, as the library looks (conftest.MNIST_DIR).
REAL_MNIST = MNIST_DIR
MNIST_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


needs_real_mnist = pytest.mark.skipif(MNIST_DIR is None, reason=MNIST_SKIP_REASON)

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


class FailingUrlopen:
    """Default network stand-in: every request fails (and is recorded)."""

    def __init__(self):
        self.calls = []

    def __call__(self, url, timeout=None):
        self.calls.append(url)
        raise urllib.error.URLError("no network in tests")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Every test gets its own HOME/cache, no env var, no system folder, no network."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("TINYGRAD_LITE_DATA", raising=False)
    monkeypatch.setattr(ds, "SYSTEM_DATA_DIR", tmp_path / "system")
    monkeypatch.setattr(ds, "MNIST_MIRRORS", ["https://mirror-a.invalid/mnist/",
                                              "https://mirror-b.invalid/mnist/"])
    monkeypatch.setattr(ds, "FASHION_MNIST_MIRRORS", ["https://mirror-f.invalid/fashion/"])
    fail = FailingUrlopen()
    monkeypatch.setattr(ds, "_urlopen", fail)
    return fail


# --------------------------------------------------------------------------- #
# synthetic IDX files
# --------------------------------------------------------------------------- #


def idx_bytes(arr, magic=None):
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    if magic is None:
        magic = 0x0800 | arr.ndim
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in arr.shape) + arr.tobytes()


def write(path, data, gz=True):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def make_split(folder, n=5, train=True, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    prefix = "train" if train else "t10k"
    write(Path(folder) / f"{prefix}-images-idx3-ubyte", idx_bytes(images), gz)
    write(Path(folder) / f"{prefix}-labels-idx1-ubyte", idx_bytes(labels), gz)
    return images, labels


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("train", [True, False])
def test_synthetic_roundtrip(tmp_path, gz, train):
    images, labels = make_split(tmp_path / "d", n=7, train=train, gz=gz)
    x, t = ds.mnist(root=tmp_path / "d", train=train, download=False, verify=False)
    assert x.shape == (7, 28, 28) and x.dtype == np.uint8
    assert t.shape == (7,) and t.dtype == np.uint8
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(t, labels)
    x[0, 0, 0] = 1  # returned arrays are writable


def test_read_idx_generic(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    p = write(tmp_path / "x-idx3-ubyte", idx_bytes(arr), gz=False)
    np.testing.assert_array_equal(ds.read_idx(p), arr)
    p = write(tmp_path / "y-idx3-ubyte", idx_bytes(arr), gz=True)
    np.testing.assert_array_equal(ds.read_idx(p, expected_magic=2051), arr)


def test_verify_rejects_unofficial_content(tmp_path):
    make_split(tmp_path / "d")
    with pytest.raises(DatasetError, match="SHA-256") as e:
        ds.mnist(root=tmp_path / "d", download=False)  # verify=True by default
    assert "train-images-idx3-ubyte.gz" in str(e.value)


# --------------------------------------------------------------------------- #
# corrupt files
# --------------------------------------------------------------------------- #


def _break(folder, fname, data, gz=True):
    for ext in ("", ".gz"):
        p = Path(folder) / (fname + ext)
        if p.exists():
            p.unlink()
    return write(Path(folder) / fname, data, gz)


def _good_images(n=5):
    return idx_bytes(np.zeros((n, 28, 28), np.uint8))


@pytest.mark.parametrize("gz", [True, False])
def test_truncated_file(tmp_path, gz):
    d = tmp_path / "d"
    make_split(d)
    bad = _break(d, "train-images-idx3-ubyte", _good_images()[:-100], gz)
    with pytest.raises(DatasetError, match="truncated") as e:
        ds.mnist(root=d, download=False, verify=False)
    assert str(bad) in str(e.value)


def test_truncated_gzip_stream(tmp_path):
    d = tmp_path / "d"
    make_split(d)
    p = d / "train-images-idx3-ubyte.gz"
    p.unlink()
    p.write_bytes(gzip.compress(_good_images())[:-30])  # cut inside the deflate stream/trailer
    with pytest.raises(DatasetError) as e:
        ds.mnist(root=d, download=False, verify=False)
    assert str(p) in str(e.value)


def test_truncated_header(tmp_path):
    d = tmp_path / "d"
    make_split(d)
    bad = _break(d, "train-labels-idx1-ubyte", b"\x00\x00", gz=False)
    with pytest.raises(DatasetError, match="truncated") as e:
        ds.mnist(root=d, download=False, verify=False)
    assert str(bad) in str(e.value)


def test_trailing_data(tmp_path):
    d = tmp_path / "d"
    make_split(d)
    bad = _break(d, "train-images-idx3-ubyte", _good_images() + b"\x00" * 10, gz=True)
    with pytest.raises(DatasetError, match="trailing") as e:
        ds.mnist(root=d, download=False, verify=False)
    assert str(bad) in str(e.value)


@pytest.mark.parametrize("gz", [True, False])
def test_bad_magic(tmp_path, gz):
    d = tmp_path / "d"
    make_split(d)
    # a labels file where the images file should be: valid IDX, wrong magic
    bad = _break(d, "train-images-idx3-ubyte", idx_bytes(np.zeros(5, np.uint8)), gz)
    with pytest.raises(DatasetError, match="magic") as e:
        ds.mnist(root=d, download=False, verify=False)
    assert str(bad) in str(e.value)
    # and plain garbage
    bad = _break(d, "train-images-idx3-ubyte", b"GARBAGE GARBAGE GARBAGE", gz)
    with pytest.raises(DatasetError, match="magic") as e:
        ds.mnist(root=d, download=False, verify=False)
    assert str(bad) in str(e.value)


def test_bad_gzip(tmp_path):
    d = tmp_path / "d"
    make_split(d)
    p = d / "train-labels-idx1-ubyte.gz"
    p.write_bytes(b"\x1f\x8b\x08\x00" + b"\xff" * 200)  # gzip magic, corrupt body
    with pytest.raises(DatasetError, match="corrupt") as e:
        ds.mnist(root=d, download=False, verify=False)
    assert str(p) in str(e.value)


def test_bad_gzip_crc(tmp_path):
    d = tmp_path / "d"
    make_split(d)
    p = d / "train-labels-idx1-ubyte.gz"
    raw = bytearray(p.read_bytes())
    raw[-8] ^= 0xFF  # flip a CRC32 byte in the trailer
    p.write_bytes(bytes(raw))
    with pytest.raises(DatasetError) as e:
        ds.mnist(root=d, download=False, verify=False)
    assert str(p) in str(e.value)


def test_count_mismatch(tmp_path):
    d = tmp_path / "d"
    make_split(d, n=5)
    _break(d, "train-labels-idx1-ubyte", idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(DatasetError, match="mismatch") as e:
        ds.mnist(root=d, download=False, verify=False)
    msg = str(e.value)
    assert "train-images-idx3-ubyte.gz" in msg and "train-labels-idx1-ubyte.gz" in msg
    assert "5 images" in msg and "4 labels" in msg


def test_wrong_image_size_and_label_range(tmp_path):
    d = tmp_path / "d"
    make_split(d)
    _break(d, "train-images-idx3-ubyte", idx_bytes(np.zeros((5, 27, 28), np.uint8)))
    with pytest.raises(DatasetError, match="28 x 28"):
        ds.mnist(root=d, download=False, verify=False)
    make_split(d)
    _break(d, "train-labels-idx1-ubyte", idx_bytes(np.full(5, 10, np.uint8)))
    with pytest.raises(DatasetError, match="out of range"):
        ds.mnist(root=d, download=False, verify=False)


# --------------------------------------------------------------------------- #
# search order
# --------------------------------------------------------------------------- #


def _n(root=None, name="mnist"):
    loader = ds.mnist if name == "mnist" else ds.fashion_mnist
    return loader(root=root, download=False, verify=False)[0].shape[0]


def test_search_order(tmp_path, monkeypatch):
    root, env, sysdir = tmp_path / "root", tmp_path / "env", tmp_path / "system"
    cache = ds.cache_dir("mnist")
    assert cache == tmp_path / "xdg-cache" / "tinygrad_lite" / "mnist"
    make_split(sysdir / "mnist", n=4)
    assert _n() == 4  # system folder
    make_split(cache, n=3)
    assert _n() == 3  # cache beats system
    make_split(env / "mnist", n=2, gz=False)
    monkeypatch.setenv("TINYGRAD_LITE_DATA", str(env))
    assert _n() == 2  # env beats cache
    make_split(root / "mnist", n=6)
    assert _n(root) == 6  # root/<name> beats env
    make_split(root, n=1)
    assert _n(root) == 1  # root itself first
    assert _n(tmp_path / "empty") == 2  # a root without the files falls through


def test_locate_is_the_search_loading_does(tmp_path, monkeypatch):
    """locate() answers with the folder mnist() reads, in the same order, and downloads nothing."""
    root, env, sysdir = tmp_path / "root", tmp_path / "env", tmp_path / "system"
    assert ds.locate("mnist") is None and ds.locate("mnist", root=root) is None
    make_split(sysdir / "mnist", n=4, train=False)
    assert ds.locate("mnist") is None                      # both splits asked for: the test split alone is not enough
    assert ds.locate("mnist", train=False) == sysdir / "mnist"
    make_split(sysdir / "mnist", n=4, train=True)
    assert ds.locate("mnist") == sysdir / "mnist"
    make_split(ds.cache_dir("mnist"), n=3, train=True)
    make_split(ds.cache_dir("mnist"), n=3, train=False)
    assert ds.locate("mnist") == ds.cache_dir("mnist")     # cache beats system
    make_split(env / "mnist", n=2, train=True)
    make_split(env / "mnist", n=2, train=False)
    monkeypatch.setenv("TINYGRAD_LITE_DATA", str(env))
    assert ds.locate("mnist") == env / "mnist"             # env beats cache
    make_split(root, n=1, train=True)
    make_split(root, n=1, train=False)
    assert ds.locate("mnist", root=root) == root           # root itself first
    assert ds.locate("MNIST", root=tmp_path / "empty") == env / "mnist"
    assert ds.locate("fashion_mnist") is None
    x, _ = ds.mnist(root=ds.locate("mnist", root=root), train=False, download=False, verify=False)
    assert x.shape == (1, 28, 28)
    with pytest.raises(ValueError, match="unknown data set"):
        ds.locate("cifar")


def test_cache_default_without_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert ds.cache_dir("fashion-mnist") == tmp_path / "home" / ".cache" / "tinygrad_lite" / "fashion-mnist"
    make_split(tmp_path / "home" / ".cache" / "tinygrad_lite" / "fashion-mnist", n=3, train=False)
    x, t = ds.fashion_mnist(train=False, download=False, verify=False)
    assert x.shape == (3, 28, 28)


def test_incomplete_folder_is_skipped(tmp_path, monkeypatch):
    env = tmp_path / "env"
    make_split(env / "mnist", n=2)
    (env / "mnist" / "train-labels-idx1-ubyte.gz").unlink()  # only images there
    monkeypatch.setenv("TINYGRAD_LITE_DATA", str(env))
    make_split(ds.cache_dir("mnist"), n=3)
    assert _n() == 3


# --------------------------------------------------------------------------- #
# downloads (fake urlopen)
# --------------------------------------------------------------------------- #


class FakeResponse(io.BytesIO):
    def __init__(self, url, data, on_read=None):
        super().__init__(data)
        self.url = url
        self.on_read = on_read

    def read(self, *a):
        if self.on_read:
            self.on_read(self.url)
        return super().read(*a)


class FakeUrlopen:
    def __init__(self, served, on_read=None):
        self.served = served  # url -> bytes | Exception
        self.calls = []
        self.timeouts = []
        self.on_read = on_read

    def __call__(self, url, timeout=None):
        self.calls.append(url)
        self.timeouts.append(timeout)
        item = self.served.get(url)
        if item is None:
            raise urllib.error.HTTPError(url, 404, "Not Found", None, None)
        if isinstance(item, Exception):
            raise item
        return FakeResponse(url, item, self.on_read)


def _synthetic_served(monkeypatch, mirror, n=6, train=False, name="mnist"):
    """Serve a synthetic split from ``mirror`` and make its SHA-256 the expected one."""
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    prefix = "train" if train else "t10k"
    files = {f"{prefix}-images-idx3-ubyte": idx_bytes(images),
             f"{prefix}-labels-idx1-ubyte": idx_bytes(labels)}
    sums = dict(ds._SHA256[name])
    sums.update({k: hashlib.sha256(v).hexdigest() for k, v in files.items()})
    monkeypatch.setitem(ds._SHA256, name, sums)
    served = {mirror + k + ".gz": gzip.compress(v) for k, v in files.items()}
    return images, labels, served


def test_download_good_bytes_land_atomically(tmp_path, monkeypatch):
    mirror_b = ds.MNIST_MIRRORS[1]
    images, labels, served = _synthetic_served(monkeypatch, mirror_b)
    cache = ds.cache_dir("mnist")

    def no_final_file_yet(url):
        # while bytes are still arriving, the final file must not exist yet
        assert not (cache / url.rsplit("/", 1)[1]).exists()

    served[ds.MNIST_MIRRORS[0] + "t10k-images-idx3-ubyte.gz"] = urllib.error.URLError("mirror a down")
    fake = FakeUrlopen(served, on_read=no_final_file_yet)
    monkeypatch.setattr(ds, "_urlopen", fake)
    replaced = []
    real_replace = os.replace

    def spy_replace(src, dst):
        replaced.append((Path(src), Path(dst)))
        assert not Path(dst).exists()
        return real_replace(src, dst)

    monkeypatch.setattr(ds.os, "replace", spy_replace)
    x, t = ds.mnist(train=False)  # verify=True: checks the (patched) SHA-256
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(t, labels)
    assert fake.calls[0].startswith(ds.MNIST_MIRRORS[0])  # first mirror tried first
    assert all(to is not None and to > 0 for to in fake.timeouts)
    assert sorted(p.name for p in cache.iterdir()) == ["t10k-images-idx3-ubyte.gz",
                                                       "t10k-labels-idx1-ubyte.gz"]
    assert len(replaced) == 2
    for src, dst in replaced:
        assert src.parent == dst.parent == cache  # temp file in the same folder
        assert src.name.endswith(".part")
    # second call: served from the cache, no network
    n_calls = len(fake.calls)
    x2, _ = ds.mnist(train=False)
    np.testing.assert_array_equal(x2, images)
    assert len(fake.calls) == n_calls


def test_download_bad_checksum_leaves_nothing(tmp_path, monkeypatch):
    mirror = ds.MNIST_MIRRORS[0]
    _, _, served = _synthetic_served(monkeypatch, mirror)
    # tamper with one pixel: structurally valid, wrong checksum
    key = mirror + "t10k-images-idx3-ubyte.gz"
    raw = bytearray(gzip.decompress(served[key]))
    raw[-1] ^= 0xFF
    served[key] = gzip.compress(bytes(raw))
    served[ds.MNIST_MIRRORS[1] + "t10k-images-idx3-ubyte.gz"] = served[key][:-50]  # truncated
    monkeypatch.setattr(ds, "_urlopen", FakeUrlopen(served))
    with pytest.raises(DatasetError) as e:
        ds.mnist(train=False)
    msg = str(e.value)
    assert "SHA-256" in msg and mirror in msg and ds.MNIST_MIRRORS[1] in msg
    cache = ds.cache_dir("mnist")
    assert not cache.exists() or list(cache.iterdir()) == []


@needs_real_mnist
def test_download_real_bytes_verified(monkeypatch):
    """Serve the real t10k .gz files through the fake mirror: the real SHA-256 table is used."""
    mirror = ds.MNIST_MIRRORS[0]
    served = {}
    for f in MNIST_FILES[2:]:
        p = REAL_MNIST / (f + ".gz")
        if not p.is_file():
            pytest.skip(f"{p} missing (only raw files present)")
        served[mirror + f + ".gz"] = p.read_bytes()
    monkeypatch.setattr(ds, "_urlopen", FakeUrlopen(served))
    x, t = ds.mnist(train=False)
    assert x.shape == (10000, 28, 28)
    assert np.bincount(t, minlength=10).tolist() == TEST_COUNTS
    assert (ds.cache_dir("mnist") / "t10k-images-idx3-ubyte.gz").is_file()


def test_no_download_when_disabled(isolated):
    with pytest.raises(DatasetError, match="download=False"):
        ds.mnist(download=False)
    assert isolated.calls == []


def test_all_fail_message_mnist(tmp_path, isolated, monkeypatch):
    monkeypatch.setenv("TINYGRAD_LITE_DATA", str(tmp_path / "envdata"))
    with pytest.raises(DatasetError) as e:
        ds.mnist(root=tmp_path / "myroot")
    msg = str(e.value)
    for needle in [str(tmp_path / "myroot"), str(tmp_path / "myroot" / "mnist"),
                   str(tmp_path / "envdata" / "mnist"), str(ds.cache_dir("mnist")),
                   str(tmp_path / "system" / "mnist"), "TINYGRAD_LITE_DATA", "root=",
                   "no network in tests", "train-images-idx3-ubyte.gz",
                   *ds.MNIST_MIRRORS]:
        assert needle in msg, (needle, msg)
    assert isolated.calls  # mirrors were really tried


def test_all_fail_message_fashion(isolated):
    with pytest.raises(DatasetError) as e:
        ds.fashion_mnist(train=False)
    msg = str(e.value)
    assert "apt-get install -y dataset-fashion-mnist" in msg
    assert str(ds.cache_dir("fashion-mnist")) in msg
    assert ds.FASHION_MNIST_MIRRORS[0] in msg
    assert "fashion-mnist" in msg


# --------------------------------------------------------------------------- #
# helpers and load_mnist
# --------------------------------------------------------------------------- #


def test_helpers():
    imgs = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    n = ds.normalize(imgs)
    assert n.dtype == np.float32 and n.min() == 0.0 and n.max() == 1.0
    np.testing.assert_allclose(n[0, 1], [0.2, 0.4], rtol=1e-6)
    assert ds.flatten(np.zeros((3, 28, 28))).shape == (3, 784)
    oh = ds.one_hot(np.array([0, 3, 9], dtype=np.uint8))
    assert oh.shape == (3, 10) and oh.dtype == np.float32
    np.testing.assert_array_equal(oh.argmax(1), [0, 3, 9])
    assert oh.sum() == 3
    assert ds.one_hot([1], num_classes=4, dtype=np.int64).tolist() == [[0, 1, 0, 0]]
    with pytest.raises(ValueError):
        ds.one_hot([10])


def test_load_mnist_synthetic(tmp_path):
    d = tmp_path / "d"
    imgs_tr, lbl_tr = make_split(d, n=5, train=True)
    imgs_te, lbl_te = make_split(d, n=3, train=False, gz=False)
    (x, t), (xt, tt) = ds.load_mnist(root=d, verify=False)
    assert x.shape == (5, 784) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert t.dtype == np.int64 and t.tolist() == lbl_tr.tolist()
    assert xt.shape == (3, 784) and tt.tolist() == lbl_te.tolist()
    (x, t), _ = ds.load_mnist(normalize=False, flatten=False, one_hot_label=True, root=d, verify=False)
    assert x.shape == (5, 1, 28, 28) and x.dtype == np.uint8
    np.testing.assert_array_equal(x[:, 0], imgs_tr)
    assert t.shape == (5, 10) and t.argmax(1).tolist() == lbl_tr.tolist()
    with pytest.raises(ValueError):
        ds.load_mnist(root=d, name="cifar10")


# --------------------------------------------------------------------------- #
# real MNIST
# --------------------------------------------------------------------------- #


@needs_real_mnist
@pytest.mark.parametrize("train,n,counts", [(True, 60000, TRAIN_COUNTS), (False, 10000, TEST_COUNTS)])
def test_real_mnist(monkeypatch, isolated, train, n, counts):
    x, t = ds.mnist(root=REAL_MNIST, train=train, download=False)  # verify=True: official SHA-256
    assert x.shape == (n, 28, 28) and x.dtype == np.uint8
    assert t.shape == (n,) and t.dtype == np.uint8
    assert np.bincount(t, minlength=10).tolist() == counts
    assert x.max() == 255 and x.min() == 0
    assert isolated.calls == []


@needs_real_mnist
def test_real_load_mnist_via_root():
    (x, t), (xt, tt) = ds.load_mnist(root=REAL_MNIST, one_hot_label=True)
    assert x.shape == (60000, 784) and xt.shape == (10000, 784) and x.dtype == np.float32
    assert t.shape == (60000, 10) and tt.sum(0).astype(int).tolist() == TEST_COUNTS
    assert float(x.max()) == 1.0 and float(x.min()) == 0.0


# --------------------------------------------------------------------------- #
# scikit-learn data sets
# --------------------------------------------------------------------------- #


def test_digits():
    pytest.importorskip("sklearn", reason="scikit-learn not installed (pip install scikit-learn)")
    x, y = ds.digits()
    assert x.shape == (1797, 64) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() == 1.0
    assert y.shape == (1797,) and y.dtype == np.int64 and set(y.tolist()) == set(range(10))


def test_iris_offline_without_sklearn(monkeypatch):
    """The Iris table ships with the package: no scikit-learn, no network."""
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    f, l = ds.iris()
    assert f.shape == (150, 4) and f.dtype == np.float32
    assert l.shape == (150,) and l.dtype == np.int64 and np.bincount(l).tolist() == [50, 50, 50]
    assert f[0].tolist() == np.float32([5.1, 3.5, 1.4, 0.2]).tolist() and l[0] == 0
    assert f[-1].tolist() == np.float32([5.9, 3.0, 5.1, 1.8]).tolist() and l[-1] == 2
    assert np.isclose(f.mean(axis=0), [5.8433, 3.0573, 3.758, 1.1993], atol=1e-3).all()   # Fisher's means


def test_iris_equals_scikit_learns():
    skd = pytest.importorskip("sklearn.datasets", reason="scikit-learn not installed (pip install scikit-learn)")
    d = skd.load_iris()
    f, l = ds.iris()
    assert np.array_equal(f, d.data.astype(np.float32)) and np.array_equal(l, d.target)


def test_iris_is_package_data():
    """pyproject ships data_files/iris.csv in the wheel (an editable install reads the source tree)."""
    tomllib = pytest.importorskip("tomllib", reason="needs Python >= 3.11 for tomllib")
    conf = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    globs = conf["tool"]["setuptools"]["package-data"]["tinygrad_lite"]
    pkg = REPO_ROOT / "tinygrad_lite"
    assert any((pkg / "data_files" / "iris.csv") in pkg.glob(g) for g in globs), globs


def test_sklearn_missing_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="pip install scikit-learn") as e:
        ds.digits()
    assert isinstance(e.value, DatasetError)


def test_module_imports_are_light():
    """datasets.py imports only stdlib and numpy at module level, and never Tensor."""
    src = Path(ds.__file__).read_text()
    tree = ast.parse(src)
    top = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative (tinygrad_lite) imports"
            top.add(node.module.split(".")[0])
    if not hasattr(sys, "stdlib_module_names"):
        pytest.skip("needs Python >= 3.10 for sys.stdlib_module_names")
    allowed = set(sys.stdlib_module_names) | {"numpy", "__future__"}
    assert top <= allowed, top - allowed
    assert "Tensor" not in {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not (DEBIAN_FASHION / "t10k-labels-idx1-ubyte.gz").exists(),
                    reason="Debian's dataset-fashion-mnist is not installed (apt-get install -y dataset-fashion-mnist)")
def test_real_fashion_mnist_from_debian():
    """The Debian package's files load, verified, with Fashion-MNIST's class balance."""
    for train, n in ((True, 60000), (False, 10000)):
        x, t = ds.fashion_mnist(root=str(DEBIAN_FASHION), train=train, download=False)
        assert x.shape == (n, 28, 28) and x.dtype == np.uint8
        assert np.bincount(t, minlength=10).tolist() == [n // 10] * 10
