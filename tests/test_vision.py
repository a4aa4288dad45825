"""tl.vision: torchvision's MNIST dataset and transforms, as a tutorial script uses them."""
import gzip
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import vision

REPO_ROOT = Path(__file__).resolve().parents[1]


def write_idx(path, array):
    """A uint8 IDX file (gzip), as MNIST's files are stored."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    magic = 2051 if array.ndim == 3 else 2049
    head = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(head + array.tobytes())


def tiny_mnist(folder, n_train=50, n_test=20, seed=0):
    """A made-up MNIST in folder/mnist: random digits, labels 0..9."""
    rng = np.random.default_rng(seed)
    d = Path(folder) / "mnist"
    d.mkdir(parents=True, exist_ok=True)
    data = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, n, dtype=np.uint8)
        write_idx(d / f"{prefix}-images-idx3-ubyte.gz", x)
        write_idx(d / f"{prefix}-labels-idx1-ubyte.gz", y)
        data[prefix] = (x, y)
    return data


def test_mnist_is_torchvisions(tmp_path):
    raw = tiny_mnist(tmp_path)
    ds = vision.datasets.MNIST(root=tmp_path, train=True, transform=vision.transforms.ToTensor(), download=False)
    x, y = raw["train"]
    assert len(ds) == 50 and ds.targets.dtype == np.int64
    img, target = ds[3]
    assert isinstance(img, tl.Tensor) and img.shape == (1, 28, 28) and img.dtype == "float32"
    assert isinstance(target, int) and target == int(y[3])
    np.testing.assert_array_equal(img.numpy()[0], x[3].astype(np.float32) / np.float32(255))
    test = vision.datasets.MNIST(str(tmp_path), train=False, transform=vision.transforms.ToTensor())
    assert len(test) == 20 and "Split: Test" in repr(test)
    batches = list(tl.data.DataLoader(ds, batch_size=16))
    assert [b[0].shape for b in batches] == [(16, 1, 28, 28)] * 3 + [(2, 1, 28, 28)]
    assert batches[0][1].dtype == "int64"
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), y.astype(np.int64))


def test_normalize_and_compose(tmp_path):
    tiny_mnist(tmp_path)
    T = vision.transforms
    plain = vision.datasets.MNIST(tmp_path, transform=T.ToTensor())
    norm = vision.datasets.MNIST(tmp_path, transform=T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))]))
    expected = (plain.tensors[0].numpy() - np.float32(0.1307)) / np.float32(0.3081)
    np.testing.assert_allclose(norm.tensors[0].numpy(), expected, rtol=1e-6)
    assert norm.tensors[0].dtype == "float32"
    torch = pytest.importorskip("torch", reason="torch not installed: Normalize not compared with torch's")
    ref = (torch.from_numpy(plain.tensors[0].numpy()) - 0.1307) / 0.3081
    np.testing.assert_allclose(norm.tensors[0].numpy(), ref.numpy(), rtol=1e-6)


def test_unsupported_transform_is_refused(tmp_path):
    tiny_mnist(tmp_path)
    with pytest.raises(TypeError, match="ToTensor, Normalize or Compose"):
        vision.datasets.MNIST(tmp_path, transform=lambda im: im)
    with pytest.raises(TypeError, match="put ToTensor"):
        vision.transforms.Normalize(0.5, 0.5)(np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="zero"):
        vision.transforms.Normalize(0.5, 0.0)


def test_missing_files_say_where_they_were_looked_for(tmp_path, monkeypatch):
    if Path("/usr/share/datasets/mnist").is_dir():
        pytest.skip("/usr/share/datasets/mnist exists here, so MNIST is always found")
    monkeypatch.setenv("TINYGRAD_LITE_DATA", str(tmp_path / "nowhere"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(tl.datasets.DatasetError, match="nowhere"):
        vision.datasets.MNIST(tmp_path / "empty", train=True, download=False)


def test_make_grid_is_torchvisions():
    x = np.arange(5 * 1 * 3 * 2, dtype=np.float32).reshape(5, 1, 3, 2)
    g = vision.make_grid(tl.Tensor(x), nrow=2, padding=1, pad_value=-1.0).numpy()
    # torchvision: ceil(5/2)=3 rows of 2; (3+1)*3+1 high, (2+1)*2+1 wide; one channel repeated to three
    assert g.shape == (3, 13, 7)
    np.testing.assert_array_equal(g[0], g[2])
    np.testing.assert_array_equal(g[1, 1:4, 1:3], x[0, 0])
    np.testing.assert_array_equal(g[1, 1:4, 4:6], x[1, 0])
    np.testing.assert_array_equal(g[1, 9:12, 1:3], x[4, 0])
    assert (g[:, 9:12, 4:6] == -1).all() and (g[:, 0, :] == -1).all()
    one = vision.make_grid(x[:1])
    assert one.shape == (3, 3, 2)                               # a single image comes back as it is
    norm = vision.make_grid(x, normalize=True).numpy()
    assert norm.max() == 1.0 and norm[:, 2:5, 2:4].min() == 0.0
    with pytest.raises(ValueError, match="N x C x H x W"):
        vision.make_grid(np.zeros((2, 2)))
