"""Tests for tl.data.DataLoader: dataset kinds, batching, len, drop_last, every sample once
per epoch, seeded shuffling (reproducible, different per epoch, set_epoch), errors, devices."""
import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite.data import DataLoader


def _xy(n=10):
    X = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)
    return X, y


class Pairs:
    """A map-style dataset: __len__ and __getitem__ returning (features, label)."""

    def __init__(self, n):
        self.n = n
        self.calls = []

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        self.calls.append(i)
        return np.full(2, i, dtype=np.float32), np.int64(i)


class Singles:
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return np.array([i, -i], dtype=np.float64)


def _labels(loader):
    """Every batch's labels (the last array of each batch), concatenated per batch."""
    out = []
    for batch in loader:
        b = batch[-1] if isinstance(batch, tuple) else batch
        out.append(b.numpy().reshape(len(b), -1)[:, 0].astype(np.int64).tolist())
    return out


# --------------------------------------------------------------------------- dataset kinds
def test_tuple_of_arrays_yields_tuples_of_tensors():
    X, y = _xy(10)
    batches = list(DataLoader((X, y), batch_size=4))
    assert len(batches) == 3
    for xb, yb in batches:
        assert isinstance(xb, tl.Tensor) and isinstance(yb, tl.Tensor)
        assert xb.device == "cpu" and yb.device == "cpu"
        assert not xb.requires_grad
        assert xb.dtype == np.float32 and yb.dtype == np.int64      # dtypes kept
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in batches]), X)
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), y)
    assert [b[0].shape for b in batches] == [(4, 3), (4, 3), (2, 3)]


def test_tuple_of_three_columns():
    X, y = _xy(6)
    w = np.linspace(0, 1, 6)
    batches = list(DataLoader((X, y, w), batch_size=3))
    assert all(len(b) == 3 for b in batches)
    np.testing.assert_array_equal(batches[1][2].numpy(), w[3:])


def test_list_is_a_list_of_samples_as_in_pytorch():
    samples = [np.full(3, i, dtype=np.float32) for i in range(5)]
    batches = list(DataLoader(samples, batch_size=2))
    assert [b.shape for b in batches] == [(2, 3), (2, 3), (1, 3)]
    np.testing.assert_array_equal(batches[2].numpy(), [[4, 4, 4]])


def test_single_array_yields_tensors():
    X, _ = _xy(7)
    batches = list(DataLoader(X, batch_size=3))
    assert all(isinstance(b, tl.Tensor) for b in batches)
    np.testing.assert_array_equal(np.concatenate([b.numpy() for b in batches]), X)


def test_tensors_as_dataset():
    X, y = _xy(5)
    batches = list(DataLoader((tl.Tensor(X), tl.Tensor(y)), batch_size=2))
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), y)
    single = list(DataLoader(tl.Tensor(X), batch_size=5))
    assert len(single) == 1 and isinstance(single[0], tl.Tensor)
    np.testing.assert_array_equal(single[0].numpy(), X)


def test_map_style_dataset_returning_tuples():
    ds = Pairs(7)
    batches = list(DataLoader(ds, batch_size=3))
    assert len(batches) == 3
    xb, yb = batches[0]
    assert isinstance(xb, tl.Tensor) and xb.shape == (3, 2) and yb.shape == (3,)
    np.testing.assert_array_equal(yb.numpy(), [0, 1, 2])
    np.testing.assert_array_equal(xb.numpy(), [[0, 0], [1, 1], [2, 2]])
    assert sorted(ds.calls) == list(range(7))                      # each sample fetched once


def test_map_style_dataset_returning_single_arrays():
    batches = list(DataLoader(Singles(), batch_size=2))
    assert all(isinstance(b, tl.Tensor) for b in batches)
    np.testing.assert_array_equal(np.concatenate([b.numpy() for b in batches])[:, 0], np.arange(5))
    assert batches[0].dtype == np.float64


def test_map_style_dataset_shuffled_with_drop_last():
    ds = Pairs(10)
    loader = DataLoader(ds, batch_size=3, shuffle=True, drop_last=True, seed=0)
    labels = [x for b in _labels(loader) for x in b]
    assert len(labels) == 9 and len(set(labels)) == 9 and set(labels) <= set(range(10))


def test_tuple_with_a_python_list_column_is_not_mistaken_for_two_samples():
    """(X, labels_as_list) must batch like (X, np.array(labels)), or be refused when built;
    not be taken as a 2-sample dataset whose first batch then fails inside np.stack."""
    X, y = _xy(10)
    try:
        loader = DataLoader((X, y.tolist()), batch_size=4)
    except (TypeError, ValueError):
        return
    assert len(loader) == 3
    assert _labels(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_not_a_dataset_raises():
    with pytest.raises(TypeError, match="__len__"):
        DataLoader(42)
    with pytest.raises(TypeError, match="__len__"):
        DataLoader(object(), batch_size=2)


# --------------------------------------------------------------------------- len, drop_last
@pytest.mark.parametrize("n,bs", [(10, 1), (10, 3), (10, 5), (10, 10), (10, 11), (1, 4), (0, 3)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_len_matches_iteration(n, bs, drop_last):
    X, y = _xy(n)
    loader = DataLoader((X, y), batch_size=bs, drop_last=drop_last)
    batches = list(loader)
    assert len(loader) == len(batches)
    assert len(loader) == (n // bs if drop_last else -(-n // bs))
    sizes = [len(b[0]) for b in batches]
    if drop_last:
        assert all(s == bs for s in sizes)
    else:
        assert sum(sizes) == n and all(s == bs for s in sizes[:-1])


def test_len_of_map_style_dataset():
    assert len(DataLoader(Pairs(7), batch_size=2)) == 4
    assert len(DataLoader(Pairs(7), batch_size=2, drop_last=True)) == 3


# --------------------------------------------------------------------------- every sample once, shuffling
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("bs", [1, 4, 7, 32])
def test_every_sample_exactly_once_per_epoch(shuffle, bs):
    X, y = _xy(29)
    loader = DataLoader((X, y), batch_size=bs, shuffle=shuffle, seed=3)
    for _ in range(3):
        seen = []
        for xb, yb in loader:
            np.testing.assert_array_equal(xb.numpy(), X[yb.numpy()])   # rows stay paired with their labels
            seen += yb.numpy().tolist()
        assert sorted(seen) == list(range(29))


def test_no_shuffle_is_in_order_every_epoch():
    X, y = _xy(9)
    loader = DataLoader((X, y), batch_size=4)
    assert _labels(loader) == _labels(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8]]


def test_shuffle_is_reproducible_with_a_seed():
    X, y = _xy(50)
    a = DataLoader((X, y), batch_size=8, shuffle=True, seed=123)
    b = DataLoader((X, y), batch_size=8, shuffle=True, seed=123)
    for _ in range(3):                                            # epoch by epoch
        assert _labels(a) == _labels(b)
    c = DataLoader((X, y), batch_size=8, shuffle=True, seed=124)
    assert _labels(DataLoader((X, y), batch_size=8, shuffle=True, seed=123)) != _labels(c)


def test_shuffle_differs_across_epochs_and_is_a_real_shuffle():
    X, y = _xy(50)
    loader = DataLoader((X, y), batch_size=50, shuffle=True, seed=0)
    epochs = [_labels(loader)[0] for _ in range(4)]
    assert all(e != list(range(50)) for e in epochs)
    assert len({tuple(e) for e in epochs}) == 4


def test_set_epoch_reproduces_that_epochs_order():
    X, y = _xy(40)
    straight = DataLoader((X, y), batch_size=6, shuffle=True, seed=9)
    orders = [_labels(straight) for _ in range(5)]
    resumed = DataLoader((X, y), batch_size=6, shuffle=True, seed=9)
    resumed.set_epoch(3)
    assert _labels(resumed) == orders[3]
    assert _labels(resumed) == orders[4]                          # and carries on from there
    resumed.set_epoch(0)
    assert _labels(resumed) == orders[0]


def test_shuffle_does_not_touch_the_global_rng():
    """Iterating a seeded loader leaves tl's generator alone (model init / dropout stay reproducible)."""
    X, y = _xy(20)
    tl.manual_seed(0)
    expected = tl.rand(5).numpy()
    tl.manual_seed(0)
    loader = DataLoader((X, y), batch_size=4, shuffle=True, seed=1)
    list(loader)
    list(loader)
    np.testing.assert_array_equal(tl.rand(5).numpy(), expected)


def test_unseeded_loader_draws_a_new_order_each_pass_from_the_global_rng():
    X, y = _xy(30)
    tl.manual_seed(3)
    loader = DataLoader((X, y), batch_size=30, shuffle=True)
    first, second = _labels(loader), _labels(loader)
    assert first != second                                     # a fresh shuffle per epoch
    tl.manual_seed(3)
    assert _labels(loader) == first                            # from tl's generator, as torch's loader
    tl.manual_seed(3)
    expected = tl.rand(3).numpy()
    tl.manual_seed(3)
    list(loader)
    assert not np.array_equal(tl.rand(3).numpy(), expected)   # the pass consumed from the generator


def test_unseeded_loader_follows_manual_seed():
    X, y = _xy(30)
    tl.manual_seed(11)
    a = _labels(DataLoader((X, y), batch_size=30, shuffle=True))
    tl.manual_seed(11)
    b = _labels(DataLoader((X, y), batch_size=30, shuffle=True))
    assert a == b


# --------------------------------------------------------------------------- errors
def test_mismatched_lengths_raise():
    X, y = _xy(10)
    with pytest.raises(ValueError, match=r"different lengths \[10, 9\]"):
        DataLoader((X, y[:9]))
    with pytest.raises(ValueError, match="different lengths"):
        DataLoader((tl.Tensor(X), tl.Tensor(y[:3])))


@pytest.mark.parametrize("bs", [0, -1, 2.0, "4", None])
def test_bad_batch_size_raises(bs):
    X, y = _xy(4)
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader((X, y), batch_size=bs)


def test_bad_device_raises():
    X, y = _xy(4)
    with pytest.raises(ValueError, match="unknown device"):
        DataLoader((X, y), device="tpu")


# --------------------------------------------------------------------------- devices
@pytest.mark.parametrize("shuffle", [False, True])
def test_batches_are_placed_on_the_device(device, shuffle):
    X, y = _xy(10)
    loader = DataLoader((X, y), batch_size=4, shuffle=shuffle, seed=0, device=device)
    seen = []
    for xb, yb in loader:
        assert xb.device == device and yb.device == device
        seen += yb.numpy().tolist()
    assert sorted(seen) == list(range(10))
    for b in DataLoader(Pairs(5), batch_size=2, device=device):
        assert all(t.device == device for t in b)
    for b in DataLoader(X, batch_size=3, device=device):
        assert b.device == device


def test_training_loop_on_device(device):
    """A batch from the loader feeds a model on the same device without any copy by the user."""
    tl.manual_seed(0)
    model = tl.nn.Sequential(tl.nn.Linear(3, 4), tl.nn.ReLU(), tl.nn.Linear(4, 2)).to(device)
    X, y = _xy(8)
    for xb, yb in DataLoader((X / 30, y % 2), batch_size=4, device=device):
        loss = tl.nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        assert loss.device == device
    assert all(p.grad.device == device for p in model.parameters())


def test_tensor_dataset_batches_like_a_tuple():
    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    a = list(DataLoader(tl.data.TensorDataset(tl.Tensor(X), tl.Tensor(y)), batch_size=4, shuffle=True, seed=3))
    b = list(DataLoader((X, y), batch_size=4, shuffle=True, seed=3))
    assert len(a) == len(b) == 3
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    with pytest.raises(ValueError, match="different lengths"):
        tl.data.TensorDataset(tl.Tensor(X), tl.Tensor(y[:5]))
