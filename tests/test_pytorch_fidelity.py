"""PyTorch fidelity (issue 10): code written for PyTorch gives PyTorch's results, or fails loudly.

Each behaviour is asserted on its own (so the tests run without torch) and, where torch is
installed, compared with torch itself; the torch comparisons skip saying torch is missing.
"""
import warnings

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import nn
from tinygrad_lite.nn import functional as F

try:
    import torch
except ImportError:                      # the comparisons below skip, saying so
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed: no comparison with PyTorch")


def np_(t):
    return np.asarray(t.numpy() if hasattr(t, "numpy") and not isinstance(t, np.ndarray) else t)


def tnp(t):
    return t.detach().numpy()


# --------------------------------------------------------------------------- item 1: in place
def test_in_place_operators_keep_the_object_and_the_array():
    x = tl.tensor([1.0, 2.0, 3.0])
    arr, obj = x.data, x
    x += 1
    x -= tl.tensor([1.0, 1.0, 1.0])
    x *= 2
    x /= 4
    assert x is obj and x.data is arr
    np.testing.assert_allclose(np_(x), [0.5, 1.0, 1.5])
    x.add_(1).sub_(0.5).mul_(2).div_(2)
    x.clamp_(0.9, 1.8)
    np.testing.assert_allclose(np_(x), [1.0, 1.5, 1.8], rtol=1e-6)
    x.copy_(tl.tensor([7.0]))
    np.testing.assert_array_equal(np_(x), [7, 7, 7])
    x.zero_()
    assert x.data is arr and not np_(x).any()
    x.fill_(2)
    np.testing.assert_array_equal(np_(x), [2, 2, 2])
    x[1] = 5
    np.testing.assert_array_equal(np_(x), [2, 5, 2])
    x **= 2
    x.pow_(0.5)
    assert x.data is arr
    np.testing.assert_allclose(np_(x), [2, 5, 2])


def test_in_place_dtype_and_shape_errors_as_pytorch():
    i = tl.tensor([1, 2])
    with pytest.raises(RuntimeError, match=r"add_: result type float64 can't be cast to the desired output type int64"):
        i += 0.5
    with pytest.raises(RuntimeError, match=r"div_: result type .* can't be cast to the desired output type int64"):
        i /= 2
    with pytest.raises(RuntimeError, match=r"add_: output with shape \(2,\) doesn't match the broadcast shape"):
        i += tl.tensor([[1], [2]])


def test_leaf_requiring_grad_in_place_raises_and_no_grad_updates_it():
    w = tl.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="add_: a leaf Variable that requires grad is being used in an in-place"):
        w += 1
    with pytest.raises(RuntimeError, match="setitem: a leaf Variable"):
        w[0] = 3.0
    (w * w).sum().backward()
    arr = w.data
    with tl.no_grad():
        w -= 0.1 * w.grad
    assert w.data is arr and w.requires_grad and w.is_leaf
    np.testing.assert_allclose(np_(w), [0.8, 1.6], rtol=1e-6)


def test_version_counter_error_names_the_op():
    x = tl.tensor([0.5, 1.0], requires_grad=True)
    z = x.exp()
    z += 1
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation: the output of Exp .* by add_"):
        z.sum().backward()
    y = x * 1
    m = y.sigmoid()
    with tl.no_grad():
        m.mul_(2)                       # a saved output changed outside the graph: still an error
    with pytest.raises(RuntimeError, match=r"output of Sigmoid .* by mul_"):
        m.sum().backward()
    a = tl.tensor([1.0, 2.0], requires_grad=True)
    b = a * 1
    p = b * b                            # Mul saves its inputs
    v = b.reshape(2, 1)                  # a view of b's memory: changing it changes b
    with tl.no_grad():
        v.add_(1)
    with pytest.raises(RuntimeError, match=r"input 0 of Mul .* by add_"):
        p.sum().backward()


def test_in_place_on_a_non_leaf_is_recorded():
    x = tl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = tl.tensor([0.5, -1.0, 2.0], requires_grad=True)
    z = x * 2
    z += 1
    z *= w                               # needs z's old value for w's gradient: kept
    z[0] = 0.0
    z.sum().backward()
    np.testing.assert_allclose(np_(x.grad), [0, -2, 4])
    np.testing.assert_allclose(np_(w.grad), [0, 5, 7])


def test_in_place_on_a_view_of_a_leaf_raises_as_pytorch():
    x = tl.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    for view in (lambda t: t.reshape(4), lambda t: t.t(), lambda t: t[0], lambda t: t.reshape(4)[1:]):
        v = view(x)
        with pytest.raises(RuntimeError, match="add_: a view of a leaf Variable that requires grad is being used"):
            v += 1
    assert np_(x).tolist() == [[1.0, 2.0], [3.0, 4.0]]          # the leaf is untouched
    c = x[[0, 1]]                                                # advanced indexing copies: not a view
    c += 1
    with tl.no_grad():
        x.reshape(4)[0] = 9.0                                    # under no_grad it changes the leaf, as PyTorch
    assert float(x[0, 0]) == 9.0


@needs_torch
def test_in_place_on_a_non_leaf_matches_torch():
    xs = np.array([1.0, -2.0, 3.0], dtype=np.float32)
    ws = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    res = []
    for lib in (tl, torch):
        x, w = lib.tensor(xs, requires_grad=True), lib.tensor(ws, requires_grad=True)
        z = x * 2
        z += w
        z *= w
        z -= x
        z.clamp_(-3.0, 5.0)
        z.sum().backward()
        res.append([np.asarray(t.detach().numpy()) for t in (z, x.grad, w.grad)])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_data_is_always_an_array():
    w = tl.tensor([1.0, 2.0], requires_grad=True)
    (w * 3).sum().backward()
    arr = w.data
    w.data -= 0.1 * w.grad                 # ndarray -= Tensor: in place, still the same array
    assert w.data is arr and isinstance(w.data, np.ndarray)
    np.testing.assert_allclose(arr, [0.7, 1.7], rtol=1e-6)
    w.data = tl.tensor([5.0, 6.0])          # assigning a Tensor stores its array
    assert isinstance(w.data, np.ndarray)
    out = w @ tl.tensor([1.0, 1.0])        # (used to fail: "different devices")
    assert float(out) == 11.0
    with pytest.raises(TypeError, match="Tensor.data: assign an array or a Tensor"):
        w.data = "x"
    a = np.zeros(2, dtype=np.float32)
    a += tl.tensor([1.0, 2.0])
    assert isinstance(a, np.ndarray) and a.tolist() == [1.0, 2.0]
    r = np.float32(2) * tl.tensor([1.0], requires_grad=True)   # NumPy on the left: still our op, in the graph
    assert isinstance(r, tl.Tensor) and r.requires_grad


def test_grad_is_writable_in_place_and_owned():
    a = tl.tensor([1.0, 2.0], requires_grad=True)
    b = tl.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()                 # Add passes one gradient to both: each must own its copy
    a.grad.zero_()
    assert np_(b.grad).tolist() == [1.0, 1.0]
    c = tl.tensor([[1.0, 2.0]], requires_grad=True)
    c.expand(3, 2).sum().backward()
    c.grad *= 0.5                            # was "assignment destination is read-only"
    np.testing.assert_array_equal(np_(c.grad), [[1.5, 1.5]])
    g = tl.tensor([1.0, 1.0])
    d = tl.tensor([1.0, 2.0], requires_grad=True)
    (d * 1).backward(g)
    d.grad.zero_()
    assert np_(g).tolist() == [1.0, 1.0]     # the caller's gradient is untouched


def test_tensor_copies_and_from_numpy_shares():
    arr = np.ones(3, dtype=np.float32)
    t, u, s, a = tl.Tensor(arr), tl.tensor(arr), tl.from_numpy(arr), tl.as_tensor(arr)
    arr[0] = 5
    assert np_(t)[0] == 1 and np_(u)[0] == 1 and np_(s)[0] == 5 and np_(a)[0] == 5
    assert tl.as_tensor(t) is t and tl.as_tensor([1, 2]).dtype == tl.int64
    v = tl.tensor(t)
    v += 1
    assert np_(t)[0] == 1


def test_dataloader_batches_never_alias_and_len_dataset_is_the_sample_count():
    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    for shuffle in (False, True):
        loader = tl.data.DataLoader((X, y), batch_size=4, shuffle=shuffle, seed=0)
        assert len(loader.dataset) == 10 and isinstance(loader.dataset, tl.data.TensorDataset)
        for xb, yb in loader:
            xb /= 255
        for xb, yb in loader:
            assert np_(xb).max() >= 1          # the data was not divided
    np.testing.assert_array_equal(X, np.arange(20, dtype=np.float32).reshape(10, 2))


def test_manual_update_loops_train():
    """Both of the book's manual update loops change the parameters (the no_grad one used to rebind them)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3)).astype(np.float32)
    y = (X @ np.array([1.0, -2.0, 0.5], dtype=np.float32) + 0.3).reshape(-1, 1)
    for form in ("no_grad", "data"):
        w = tl.zeros(3, 1, requires_grad=True)
        b = tl.zeros(1, requires_grad=True)
        for _ in range(200):
            loss = ((tl.tensor(X) @ w + b - tl.tensor(y)) ** 2).mean()
            loss.backward()
            if form == "no_grad":
                with tl.no_grad():
                    w -= 0.1 * w.grad
                    b -= 0.1 * b.grad
                    w.grad.zero_()
                    b.grad.zero_()
            else:
                w.data -= 0.1 * w.grad.data
                b.data -= 0.1 * b.grad.data
                w.grad = b.grad = None
        assert float(loss) < 1e-4, form
        np.testing.assert_allclose(np_(w).ravel(), [1.0, -2.0, 0.5], atol=1e-2)


# --------------------------------------------------------------------------- item 2: semantics
@needs_torch
def test_transpose_t_view_size_max_min_match_torch():
    a = np.random.default_rng(1).normal(size=(2, 3, 4)).astype(np.float32)
    x, tx = tl.tensor(a), torch.tensor(a)
    for d0, d1 in [(0, 1), (1, 2), (-1, 0), (1, 1)]:
        np.testing.assert_array_equal(np_(x.transpose(d0, d1)), tnp(tx.transpose(d0, d1)))
    m = tl.tensor(a[0])
    np.testing.assert_array_equal(np_(m.transpose(0, 1)), tnp(torch.tensor(a[0]).transpose(0, 1)))
    np.testing.assert_array_equal(np_(m.t()), a[0].T)
    assert x.view(6, 4).shape == tuple(tx.view(6, 4).shape) and x.view(-1).shape == (24,)
    np.testing.assert_array_equal(np_(x[:, :1].expand(-1, 3, -1)), tnp(tx[:, :1].expand(-1, 3, -1)))
    assert x.size() == tx.size() and x.size(1) == tx.size(1) == 3 and x.size(-1) == 4
    for dim in (0, 1, -1):
        v, i = x.max(dim)
        tv, ti = tx.max(dim)
        np.testing.assert_array_equal(np_(v), tnp(tv))
        np.testing.assert_array_equal(np_(i), tnp(ti))
        r = tl.min(x, dim, keepdim=True)
        tr = torch.min(tx, dim, keepdim=True)
        np.testing.assert_array_equal(np_(r.values), tnp(tr.values))
        np.testing.assert_array_equal(np_(r.indices), tnp(tr.indices))
    assert float(tl.max(x)) == float(torch.max(tx)) and float(x.min()) == float(tx.min())
    two = tl.tensor(a[:2, 0, :])                  # a batch of 2: unpacking is (values, indices), not the rows
    values, indices = two.max(1)
    assert values.shape == (2,) and indices.dtype == np.int64
    np.testing.assert_array_equal(np_(tl.max(m, tl.tensor(a[1]))), np.maximum(a[0], a[1]))


@needs_torch
def test_mixed_int_and_array_indexing_matches_torch():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    x, tx = tl.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    idx = [0, 1]
    for key in [(1, slice(None), idx), (idx, slice(None), 1), (1, idx), (slice(None), 1, idx), (Ellipsis, 2, idx),
                (1, slice(None), np.array([True, False, True, True]))]:
        tkey = tuple(torch.tensor(k) if isinstance(k, np.ndarray) else k for k in key)
        got, want = x[key], tx[tkey]
        assert got.shape == tuple(want.shape), key
        np.testing.assert_array_equal(np_(got), tnp(want))
    x[1, :, idx].sum().backward()
    tx[1, :, idx].sum().backward()
    np.testing.assert_array_equal(np_(x.grad), tnp(tx.grad))
    y, ty = tl.tensor(a), torch.tensor(a)
    y[1, :, idx] = tl.tensor([[-1.0, -2.0]] * 3)
    ty[1, :, idx] = torch.tensor([[-1.0, -2.0]] * 3)
    np.testing.assert_array_equal(np_(y), tnp(ty))


@needs_torch
def test_type_promotion_matches_torch():
    ints, floats = np.array([1, 2]), np.array([0.5, 1.5], dtype=np.float32)
    cases = [
        lambda L, i, f: i + 0.5, lambda L, i, f: 0.5 * i, lambda L, i, f: i / 2, lambda L, i, f: i / i,
        lambda L, i, f: 3 / i, lambda L, i, f: i - 0.5, lambda L, i, f: 1.5 - i, lambda L, i, f: i ** 0.5,
        lambda L, i, f: 2.0 ** i, lambda L, i, f: i.exp(), lambda L, i, f: i.sqrt(), lambda L, i, f: i.sigmoid(),
        lambda L, i, f: i + f, lambda L, i, f: f * i, lambda L, i, f: i + 1, lambda L, i, f: i * 2,
        lambda L, i, f: f + L.tensor(1.5, dtype=L.float64), lambda L, i, f: i + L.tensor(1.5, dtype=L.float64),
        lambda L, i, f: f + L.tensor([1.5, 2.5], dtype=L.float64), lambda L, i, f: L.where(i > 1, 1, 3),
        lambda L, i, f: L.where(i > 1, 1.0, 3), lambda L, i, f: L.where(i > 1, f, 0),
        lambda L, i, f: L.where(i > 1, i, 0.5), lambda L, i, f: L.maximum(i, f), lambda L, i, f: i.float().softmax(0),
        lambda L, i, f: (i > 0) + 1, lambda L, i, f: i.clamp(0.5, 1.5), lambda L, i, f: i.float().mean(),
    ]
    for k, case in enumerate(cases):
        got = case(tl, tl.tensor(ints), tl.tensor(floats))
        want = case(torch, torch.tensor(ints), torch.tensor(floats))
        assert str(got.dtype) == str(want.dtype).replace("torch.", ""), (k, got.dtype, want.dtype)
        np.testing.assert_allclose(np_(got), tnp(want), rtol=1e-6, err_msg=str(k))


def test_dtype_errors_name_both_dtypes():
    lin = nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match="linear: input and weight must have the same dtype, but got input "
                                           "float64 and weight float32"):
        lin(tl.zeros(1, 2, dtype=tl.float64))
    with pytest.raises(TypeError, match="matmul: .* same dtype, but got float32 .* and int64"):
        tl.ones(2, 2) @ tl.tensor([[1, 2], [3, 4]])
    with pytest.raises(RuntimeError, match="value 300 cannot be converted to type uint8 without overflow"):
        tl.tensor([300], dtype=tl.uint8)
    with pytest.raises(OverflowError, match="does not fit in int64"):
        tl.tensor([2 ** 70])
    with pytest.raises(RuntimeError, match="mean.*floating-point"):
        tl.tensor([1, 2]).mean()


@needs_torch
def test_zero_d_dims_empty_reductions_and_squeeze_match_torch():
    s, ts = tl.tensor(1.5), torch.tensor(1.5)
    for f in (lambda t: t.softmax(0), lambda t: t.log_softmax(-1), lambda t: t.sum(0), lambda t: t.mean(-1),
              lambda t: t.max(0).values, lambda t: t.argmax(0), lambda t: t.logsumexp(0), lambda t: t.squeeze(0),
              lambda t: t.unsqueeze(0), lambda t: t.transpose(0, -1), lambda t: t.amax(0)):
        np.testing.assert_allclose(np_(f(s)), tnp(f(ts)), rtol=1e-6)
    with pytest.raises(IndexError):
        s.sum(1)
    with pytest.raises(IndexError):
        s.squeeze(3)
    with pytest.raises(IndexError, match="squeeze: axis 10 is out of range"):
        tl.zeros(2, 3).squeeze(10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = [(lambda t: t.mean(1), (2, 0)), (lambda t: t.mean(), (0,)), (lambda t: t.sum(1), (2, 0)),
                 (lambda t: t.var(), (1,)), (lambda t: t.var(correction=2), (2,)), (lambda t: t.std(0), (1, 3)),
                 (lambda t: t.var(unbiased=False), (3,)), (lambda t: t.var(0, keepdim=True), (4, 2)),
                 (lambda t: t.std(), (5,))]
        for f, shape in cases:
            a = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
            np.testing.assert_allclose(np_(f(tl.tensor(a))), tnp(f(torch.tensor(a))), rtol=1e-6)
    with pytest.raises(IndexError, match="max.*non-zero size"):
        tl.zeros(2, 0).max(1)


@needs_torch
def test_pow_gradients_at_zero_and_negative_bases_match_torch():
    def grads(L, f, *arrays):
        ts = [L.tensor(np.asarray(a, dtype=np.float32), requires_grad=True) for a in arrays]
        f(*ts).sum().backward()
        return [np.asarray(t.grad.numpy()) for t in ts]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for f, arrays in [(lambda x: x ** 0.0, ([0.0, -2.0, 1.0],)), (lambda x: x ** 2.0, ([0.0, -2.0],)),
                          (lambda x: x ** 3, ([0.0, -2.0],)), (lambda x: (-2.0) ** x, ([0.0, 1.0, 2.0],)),
                          (lambda x: 0.0 ** x, ([0.0, 1.0, 2.0],)), (lambda x: 2.0 ** x, ([0.0, -1.0],)),
                          (lambda a, b: a ** b, ([0.0, -2.0, 0.0, 2.0], [0.0, 2.0, 3.0, 0.5]))]:
            for g, w in zip(grads(tl, f, *arrays), grads(torch, f, *arrays)):
                np.testing.assert_allclose(g, w, rtol=1e-6, equal_nan=True)


# --------------------------------------------------------------------------- item 3: porting names
def test_porting_names():
    x = tl.randn(2, 3)
    assert x.dtype == tl.float32 == tl.float and tl.tensor([1]).dtype == tl.long == tl.int64
    assert tl.tensor([True]).dtype == tl.bool and x.double().dtype == tl.float64 == tl.double
    assert x.type(tl.float16).dtype == tl.half == tl.float16 and x.type() == "tinygrad_lite.FloatTensor"
    assert x.int().dtype == tl.int32 and x.long().dtype == tl.int64 and (x > 0).bool().dtype == tl.bool
    assert tl.zeros(2, dtype=tl.long).dtype == np.int64 and x.to(tl.float64).dtype == tl.float64
    w = tl.tensor([1.0], requires_grad=True)
    assert not w.long().requires_grad             # integer results carry no gradient
    with tl.inference_mode():
        assert not (w * 2).requires_grad
    assert (w * 2).requires_grad

    @tl.inference_mode()
    def f(v):
        return v * 2
    assert not f(w).requires_grad
    device = "cuda" if tl.cuda.is_available() else "cpu"
    assert tl.zeros(2).to(device).device == tl.device(device)
    assert tl.device("cuda:0").type == "cuda" and tl.device("cuda") == "gpu" and tl.device("cpu") == "cpu"
    with pytest.raises(ValueError, match="unknown device"):
        tl.device("tpu")
    assert nn.Linear(2, 2).to(tl.device("cpu")).weight.device == "cpu"


def test_zero_grad_set_to_none_default_and_false():
    lin = nn.Linear(2, 1)
    opt = tl.optim.SGD(lin.parameters(), lr=0.1)
    lin(tl.ones(1, 2)).sum().backward()
    g = lin.weight.grad
    opt.zero_grad(set_to_none=False)
    assert lin.weight.grad is g and not np_(g).any()
    opt.zero_grad()
    assert lin.weight.grad is None and lin.bias.grad is None
    lin(tl.ones(1, 2)).sum().backward()
    lin.zero_grad(set_to_none=False)
    assert not np_(lin.weight.grad).any()
    lin.zero_grad()
    assert lin.weight.grad is None


def test_random_split_and_subset():
    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    ds = tl.data.TensorDataset(X, np.arange(10))
    a, b = tl.data.random_split(ds, [7, 3], generator=tl.Generator().manual_seed(0))
    assert len(a) == 7 and len(b) == 3
    seen = sorted(int(a[i][1]) for i in range(7)) + sorted(int(b[i][1]) for i in range(3))
    assert sorted(seen) == list(range(10))
    c, d = tl.data.random_split(ds, [0.8, 0.2], generator=tl.Generator().manual_seed(0))
    assert (len(c), len(d)) == (8, 2)
    a2, _ = tl.data.random_split(ds, [7, 3], generator=tl.Generator().manual_seed(0))
    assert a2.indices == a.indices                   # the same seed, the same split
    loader = tl.data.DataLoader(a, batch_size=3)
    assert len(loader.dataset) == 7 and len(loader) == 3
    rows = np.concatenate([np_(xb) for xb, _ in loader])
    np.testing.assert_array_equal(rows, X[a.indices])
    sub = tl.data.Subset(ds, [3, 1])
    assert len(sub) == 2 and int(sub[0][1]) == 3
    with pytest.raises(ValueError, match="random_split: the lengths"):
        tl.data.random_split(ds, [5, 6])


def test_load_weights_only_and_save_to_pt_warns(tmp_path):
    m = nn.Linear(2, 2)
    p = tmp_path / "model.pt"
    with pytest.warns(UserWarning, match="safetensors.*safetensors.torch.load_file"):
        tl.save(m.state_dict(), p)
    sd = tl.load(p, weights_only=True)
    m2 = nn.Linear(2, 2)
    m2.load_state_dict(sd)
    np.testing.assert_array_equal(np_(m2.weight), np_(m.weight))
    assert set(tl.load(p, map_location="cpu", weights_only=False)) == set(sd)   # a tl file is weights only anyway


# --------------------------------------------------------------------------- item 5: whole programs
QUICKSTART = '''
device = "cuda" if torch.cuda.is_available() else "cpu"
g = np.random.default_rng(0)
templates = (g.random((10, 28, 28)) < 0.2).astype(np.float32)     # ten sparse "garments"


def make(n):
    y = g.integers(0, 10, n)
    X = 0.8 * templates[y] + 0.2 * g.random((n, 28, 28), dtype=np.float32)
    return TensorDataset(torch.tensor(X), torch.tensor(y))


training_data, test_data = make(640), make(256)
batch_size = 64
train_dataloader = DataLoader(training_data, batch_size=batch_size, shuffle=True)
test_dataloader = DataLoader(test_data, batch_size=batch_size)
for X, y in test_dataloader:
    print(f"Shape of X [N, C, H, W]: {X.shape}")
    print(f"Shape of y: {y.shape} {y.dtype}")
    break


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28*28, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10)
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


model = NeuralNetwork().to(device)
print(model)
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=5e-2)


def train(dataloader, model, loss_fn, optimizer):
    size = len(dataloader.dataset)
    model.train()
    for batch, (X, y) in enumerate(dataloader):
        X, y = X.to(device), y.to(device)
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if batch % 4 == 0:
            loss, current = loss.item(), (batch + 1) * len(X)
            print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")


def test(dataloader, model, loss_fn):
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    model.eval()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            X, y = X.to(device), y.to(device)
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    test_loss /= num_batches
    correct /= size
    print(f"Test Error: \\n Accuracy: {(100*correct):>0.1f}%, Avg loss: {test_loss:>8f} \\n")


epochs = 3
for t in range(epochs):
    print(f"Epoch {t+1}\\n-------------------------------")
    train(train_dataloader, model, loss_fn, optimizer)
    test(test_dataloader, model, loss_fn)
print("Done!")
torch.save(model.state_dict(), "model.pth")
model = NeuralNetwork().to(device)
model.load_state_dict(torch.load("model.pth", weights_only=True))
model.eval()
with torch.no_grad():
    x, y = test_data[0][0], test_data[0][1]
    pred = model(x.unsqueeze(0).to(device))
    print(f'Predicted: "{pred[0].argmax(0)}", Actual: "{y}"')
'''

TL_IMPORTS = """import numpy as np
import tinygrad_lite as torch
from tinygrad_lite import nn
from tinygrad_lite.data import DataLoader, TensorDataset
"""
TORCH_IMPORTS = """import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
"""


def _one_blas_thread():
    """Small matmuls on a shared 2-core machine: one BLAS thread (threadpoolctl, a test extra, if present)."""
    import contextlib
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _run_program(src, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings(), _one_blas_thread():
        warnings.simplefilter("ignore")          # (tl.save to .pth warns that the file is safetensors)
        exec(compile(src, "quickstart.py", "exec"), {"__name__": "quickstart"})
    return capsys.readouterr().out


def _summary(out):
    import re
    losses = [float(v) for v in re.findall(r"loss: +([0-9.]+)  \[", out)]
    progress = re.findall(r"\[ *(\d+)/ *(\d+)\]", out)
    accs = [float(v) for v in re.findall(r"Accuracy: ([0-9.]+)%", out)]
    return losses, progress, accs


def test_pytorch_quickstart_runs_with_only_the_imports_changed(tmp_path, monkeypatch, capsys):
    out = _run_program(TL_IMPORTS + QUICKSTART, tmp_path, monkeypatch, capsys)
    losses, progress, accs = _summary(out)
    assert "Shape of X [N, C, H, W]: (64, 28, 28)" in out and "Shape of y: (64,) int64" in out
    assert progress[:4] == [("64", "640"), ("320", "640"), ("576", "640"), ("64", "640")]   # len(dataset) = 640
    assert len(accs) == 3 and all(0 <= a <= 100 for a in accs) and accs[-1] > 90, out
    assert losses[-1] < losses[0], out
    assert 'Predicted: "' in out and '"tensor(' not in out and "Done!" in out and "Linear(in_features=784, out_features=512" in out


@needs_torch
def test_pytorch_quickstart_prints_the_same_kind_of_numbers_as_torch(tmp_path, monkeypatch, capsys):
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                      # (a shared 2-core machine: torch's threads would spin)
    try:
        ours = _summary(_run_program(TL_IMPORTS + QUICKSTART, tmp_path, monkeypatch, capsys))
        theirs = _summary(_run_program(TORCH_IMPORTS + QUICKSTART, tmp_path, monkeypatch, capsys))
    finally:
        torch.set_num_threads(threads)
    assert ours[1] == theirs[1]                   # the same [current/size] progress
    assert abs(ours[2][-1] - theirs[2][-1]) < 10  # accuracies in percent, close
    assert abs(ours[0][0] - theirs[0][0]) < 0.5   # first losses ~ log(10)


def _mnist():
    from conftest import needs_mnist             # found where tl.datasets finds it; skips, saying where it looked
    return tl.datasets.load_mnist(root=needs_mnist(), download=False)


def test_the_books_manual_update_loops_train_to_its_accuracy():
    """The "from scratch" two-layer net trained by hand, with each of PyTorch's manual update forms:
    `with no_grad(): p -= lr * p.grad` and `p.data -= lr * p.grad`. Both reach the book's ~95% (a short run:
    ReLU hidden layer, 800 steps of batch 100) and end with the same weights."""
    (xtr, ytr), (xte, yte) = _mnist()
    xtr, xte = np.asarray(xtr).reshape(len(xtr), -1), np.asarray(xte).reshape(len(xte), -1)
    results = []
    for form in ("no_grad", "data"):
        with _one_blas_thread():
            rng = np.random.default_rng(0)
            params = [tl.tensor(0.01 * rng.standard_normal((784, 100)).astype(np.float32), requires_grad=True),
                      tl.zeros(100, requires_grad=True),
                      tl.tensor(0.01 * rng.standard_normal((100, 10)).astype(np.float32), requires_grad=True),
                      tl.zeros(10, requires_grad=True)]
            W1, b1, W2, b2 = params
            for _ in range(800):
                idx = rng.choice(len(xtr), 100)
                x, t = tl.tensor(xtr[idx]), tl.tensor(ytr[idx])
                loss = F.cross_entropy((x @ W1 + b1).relu() @ W2 + b2, t)
                loss.backward()
                if form == "no_grad":
                    with tl.no_grad():
                        for p in params:
                            p -= 0.5 * p.grad
                            p.grad.zero_()
                else:
                    for p in params:
                        p.data -= 0.5 * p.grad
                        p.grad = None
            with tl.no_grad():
                pred = ((tl.tensor(xte) @ W1 + b1).relu() @ W2 + b2).argmax(1)
            acc = (pred == tl.tensor(yte)).type(tl.float).mean().item()
            assert all(isinstance(p.data, np.ndarray) for p in params)
            results.append((acc, [np_(p) for p in params]))
    assert results[0][0] >= 0.95 and results[1][0] >= 0.95, [r[0] for r in results]
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_backward_after_an_optimizer_step_raises_as_pytorch():
    lin = nn.Linear(2, 1)
    opt = tl.optim.SGD(lin.parameters(), lr=0.1)
    loss = (lin(tl.ones(3, 2)) ** 2).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation: the input 1 of Linear .* by "
                                           r"optimizer.step"):
        loss.backward()
    opt.zero_grad()
    (lin(tl.ones(3, 2)) ** 2).sum().backward()      # a graph recorded after the step is fine
    opt.step()


@pytest.mark.parametrize("op", ["maximum", "minimum"])
@pytest.mark.parametrize("which", [0, 1])
def test_maximum_minimum_input_changed_in_place_before_backward_raises_as_pytorch(op, which):
    """torch.maximum / torch.minimum save both inputs for backward (their masks come from them), so changing either in
    place before backward is PyTorch's error; ours too (the masks used to be made in forward, and the gradient
    silently used the old values). Unchanged inputs give the gradient as before."""
    rng = np.random.default_rng(which)
    a0, b0 = rng.standard_normal(5), rng.standard_normal(5)
    a, b = tl.tensor(a0, requires_grad=True), tl.tensor(b0, requires_grad=True)
    y = getattr(tl, op)(a, b)
    with tl.no_grad():
        (a, b)[which].add_(1.0)
    with pytest.raises(RuntimeError, match=rf"modified by an inplace operation: the input {which} of "
                                           rf"{op.capitalize()}"):
        y.sum().backward()
    a, b = tl.tensor(a0, requires_grad=True), tl.tensor(b0, requires_grad=True)
    getattr(tl, op)(a, b).sum().backward()
    win_a = (a0 > b0) if op == "maximum" else (a0 < b0)
    np.testing.assert_array_equal(a.grad.numpy(), win_a.astype(float))
    np.testing.assert_array_equal(b.grad.numpy(), (~win_a).astype(float))


@needs_torch
@pytest.mark.parametrize("changed", ["weight", "target"])
def test_nll_loss_weight_or_target_changed_in_place_before_backward_raises_as_pytorch(changed):
    """torch.nn.functional.nll_loss's backward reads its class weight and target: changing either in place before
    backward is PyTorch's error, ours too (our composed loss kept copies and went on silently); as cross_entropy."""
    rng = np.random.default_rng(0)
    x0, t0, w0 = rng.standard_normal((4, 3)), np.array([0, 1, 2, 1]), np.array([1.0, 2.0, 0.5])
    for lib, mk in ((torch, lambda a, **k: torch.tensor(a, **k)), (tl, lambda a, **k: tl.tensor(a, **k))):
        x, t, w = mk(x0, requires_grad=True), mk(t0), mk(w0)
        nll = (torch.nn.functional if lib is torch else F).nll_loss
        loss = nll(x.log_softmax(1), t, weight=w)
        with (torch.no_grad() if lib is torch else tl.no_grad()):
            (w.mul_(2) if changed == "weight" else t.add_(0))
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            loss.backward()
    x, xt = tl.tensor(x0, requires_grad=True), torch.tensor(x0, requires_grad=True)
    F.nll_loss(x.log_softmax(1), tl.tensor(t0), weight=tl.tensor(w0)).backward()
    torch.nn.functional.nll_loss(xt.log_softmax(1), torch.tensor(t0), weight=torch.tensor(w0)).backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


def test_contiguous_gives_c_ordered_memory_and_passes_the_gradient():
    """x.contiguous() is x when x's memory is C-ordered (as PyTorch); otherwise a C-ordered copy in the graph:
    conv2d's outputs (stored spatial-major) and transposes, whose .numpy() then is C-contiguous as PyTorch's is."""
    rng = np.random.default_rng(0)
    x = tl.tensor(rng.standard_normal((2, 3, 6, 6)), requires_grad=True)
    w = tl.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    y = F.conv2d(x, w)
    assert not y.numpy().flags.c_contiguous
    c = y.contiguous()
    assert c.numpy().flags.c_contiguous and np.array_equal(c.numpy(), y.numpy()) and c.shape == y.shape
    assert c.contiguous() is c and x.contiguous() is x
    t = x.transpose(1, 3).contiguous()
    assert t.numpy().flags.c_contiguous and np.array_equal(t.numpy(), x.numpy().transpose(0, 3, 2, 1))
    up = rng.standard_normal(y.shape)
    (c * tl.tensor(up)).sum().backward()
    g_through = x.grad.numpy().copy()
    x.grad = None
    (F.conv2d(x, w) * tl.tensor(up)).sum().backward()   # the same gradient as without the copy
    np.testing.assert_array_equal(g_through, x.grad.numpy())
    with pytest.raises(NotImplementedError, match="memory_format"):
        y.contiguous(memory_format="channels_last")
