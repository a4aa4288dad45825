"""Tests for tinygrad_lite/movement.py (flip, repeat, gather, masked_fill, split, chunk, unflatten, sum_to_size,
F.pad) and the factories full_like/randint: finite differences (hypothesis, float64), PyTorch's values, gradients
and Hessian-vector products (each op composed with x**3, so the second order runs through its backward), repeated
gather indices, errors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F

from parity import check_float32, check_vs_torch, gradgradcheck, torch_or_skip

SHAPES = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)


def cube(f):
    """f then x**3: the Hessian of a linear op alone is 0; this makes the double backward go through f's backward."""
    return lambda *a: f(*a) ** 3


def _rand(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ------------------------------------------------------------------ flip
@settings(max_examples=10)
@given(data=st.data())
def test_flip_gradient_matches_finite_differences(data):
    x = data.draw(hnp.arrays(np.float64, data.draw(SHAPES), elements=st.floats(-2, 2)))
    dims = data.draw(st.lists(st.integers(-x.ndim, x.ndim - 1), unique_by=lambda d: d % x.ndim, max_size=x.ndim))
    assert tl.gradcheck(lambda t: t.flip(dims) * tl.Tensor(np.arange(x.size).reshape(x.shape) + 1.0),
                        tl.Tensor(x, requires_grad=True))


@pytest.mark.parametrize("dims", [(0,), (1,), (-1,), (0, 2), (2, 0, 1)])
def test_flip_matches_torch(dims):
    torch = torch_or_skip()
    x = _rand((2, 3, 4))
    check_vs_torch(cube(lambda t: t.flip(dims)), cube(lambda t: t.flip(dims)), [x])
    check_vs_torch(cube(lambda t: tl.flip(t, *dims)), cube(lambda t: torch.flip(t, dims)), [x])
    check_float32(lambda t: t.flip(dims), [x])


def test_flip_copies_and_rejects_repeated_dims():
    x = tl.Tensor([1.0, 2.0, 3.0])
    y = x.flip(0)
    y.data[0] = 10.0
    np.testing.assert_array_equal(x.numpy(), [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="flip"):
        tl.zeros(2, 3).flip(0, -2)
    with pytest.raises(IndexError, match="flip"):
        tl.zeros(2, 3).flip(2)


# ------------------------------------------------------------------ repeat
@pytest.mark.parametrize("shape,sizes", [((3,), (2,)), ((2, 3), (2, 1)), ((2, 3), (1, 1)), ((2, 3), (3, 2, 2)),
                                         ((), (2, 3)), ((2, 1), (1, 4)), ((2, 3), (0, 2))])
def test_repeat_matches_torch(shape, sizes):
    """torch's repeat tiles (NumPy's tile), with extra leading sizes adding dims; gradients sum the copies."""
    torch_or_skip()
    x = _rand(shape)
    check_vs_torch(cube(lambda t: t.repeat(*sizes)), cube(lambda t: t.repeat(*sizes)), [x])
    check_vs_torch(lambda t: t.repeat(sizes), lambda t: t.repeat(sizes), [x])
    np.testing.assert_array_equal(tl.Tensor(x).repeat(*sizes).numpy(), np.tile(x, sizes))


def test_repeat_gradient_and_errors():
    assert tl.gradcheck(lambda t: t.repeat(2, 3) * tl.Tensor(_rand((4, 6), 1)), tl.Tensor(_rand((2, 2)),
                                                                                        requires_grad=True))
    with pytest.raises(ValueError, match="repeat"):
        tl.zeros(2, 3).repeat(2)
    y = tl.ones(2).repeat(1)
    y.data[0] = 5
    assert tl.ones(2).repeat(1) is not y


# ------------------------------------------------------------------ gather
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_gather_with_repeated_indices_matches_torch(dim):
    """Repeated indices: each copy's gradient accumulates into the source element, as in torch."""
    torch = torch_or_skip()
    x = _rand((3, 4))
    rng = np.random.default_rng(5)
    n = x.shape[dim]
    idx = rng.integers(0, n, size=(2, 3) if dim == 0 else (3, 5) if dim in (1, -1) else None)
    idx[0, :2] = 1                                                    # a repeated index for sure
    check_vs_torch(cube(lambda t, i: t.gather(dim, tl.Tensor(i))),
                   cube(lambda t, i: torch.gather(t, dim, i)), [x, idx])
    check_vs_torch(cube(lambda t, i: tl.gather(t, dim, i)), cube(lambda t, i: t.gather(dim, i)), [x, idx])


def test_gather_smaller_index_in_other_dims_matches_torch():
    torch = torch_or_skip()
    x = _rand((4, 5, 2))
    idx = np.array([[[0], [3]], [[3], [3]]])                           # (2, 2, 1): smaller than x outside dim 1
    check_vs_torch(cube(lambda t, i: t.gather(1, i)), cube(lambda t, i: t.gather(1, i)), [x, idx])


@settings(max_examples=10)
@given(data=st.data())
def test_gather_gradient_matches_finite_differences(data):
    x = data.draw(hnp.arrays(np.float64, (3, 3), elements=st.floats(-2, 2)))
    dim = data.draw(st.sampled_from([0, 1]))
    idx = data.draw(hnp.arrays(np.int64, (3, 4) if dim == 1 else (4, 3), elements=st.integers(0, 2)))
    w = tl.Tensor(_rand(idx.shape, 2))
    assert tl.gradcheck(lambda t: t.gather(dim, idx) * w, tl.Tensor(x, requires_grad=True))


def test_gather_errors_name_the_op():
    x = tl.zeros(2, 3)
    with pytest.raises(IndexError, match=r"gather: index 3 is out of bounds for dim 1"):
        x.gather(1, np.array([[0, 3]]))
    with pytest.raises(IndexError, match=r"gather: index -1"):
        x.gather(1, np.array([[-1]]))
    with pytest.raises(ValueError, match="same number of dims"):
        x.gather(1, np.array([0, 1]))
    with pytest.raises(ValueError, match="larger than the input"):
        x.gather(1, np.zeros((3, 1), np.int64))
    with pytest.raises(TypeError, match="integers"):
        x.gather(1, np.zeros((1, 1)))


# ------------------------------------------------------------------ masked_fill
def test_masked_fill_matches_torch_with_broadcast_mask_and_tensor_value():
    torch = torch_or_skip()
    x = _rand((3, 4))
    mask = np.array([True, False, True, False])
    check_vs_torch(cube(lambda t: t.masked_fill(tl.Tensor(mask), -1.5)),
                   cube(lambda t: t.masked_fill(torch.tensor(mask), -1.5)), [x])
    # a 0-d value that requires grad gets the sum of the gradients where the mask is True
    check_vs_torch(cube(lambda t, v: tl.masked_fill(t, mask[None], v)),
                   cube(lambda t, v: t.masked_fill(torch.tensor(mask[None]), v)), [x, np.array(0.7)])
    check_float32(lambda t: t.masked_fill(mask, 2.0), [x])
    y = tl.Tensor(x).masked_fill(mask, float("-inf"))
    assert np.isneginf(y.numpy()[:, 0]).all() and y.dtype == np.float64


def test_masked_fill_errors():
    with pytest.raises(TypeError, match="bool"):
        tl.zeros(2, 3).masked_fill(np.array([1, 0, 1]), 0.0)
    with pytest.raises(ValueError, match=r"masked_fill: mask of shape \(2, 2, 3\)"):
        tl.zeros(2, 3).masked_fill(np.zeros((2, 2, 3), bool), 0.0)
    with pytest.raises(ValueError, match="0-d"):
        tl.zeros(2, 3).masked_fill(np.zeros(3, bool), tl.zeros(3))


# ------------------------------------------------------------------ split, chunk, unflatten
@pytest.mark.parametrize("arg,dim", [(2, 0), (3, 1), (1, -1), ([1, 4], 1), ([2, 0, 3], 1), (10, 1)])
def test_split_matches_torch(arg, dim):
    torch = torch_or_skip()
    x = _rand((3, 5))
    n = len(torch.split(torch.tensor(x), arg, dim))
    assert len(tl.Tensor(x).split(arg, dim)) == n
    for k in range(n):
        check_vs_torch(cube(lambda t: t.split(arg, dim)[k] * (k + 1)),
                       cube(lambda t: torch.split(t, arg, dim)[k] * (k + 1)), [x])
    pieces = tl.split(tl.Tensor(x, requires_grad=True), arg, dim)
    assert tl.gradcheck(lambda t: tl.cat([p * (i + 1.0) for i, p in enumerate(t.split(arg, dim))], axis=dim),
                        tl.Tensor(x, requires_grad=True))
    assert [p.shape for p in pieces] == [tuple(p.shape) for p in torch.split(torch.tensor(x), arg, dim)]


@pytest.mark.parametrize("n,chunks", [(6, 3), (5, 3), (5, 2), (3, 5), (1, 4), (0, 3), (7, 4)])
def test_chunk_matches_torch_piece_sizes(n, chunks):
    """torch.chunk: pieces of ceil(n / chunks), so possibly fewer than asked (5 into 4 gives 3 pieces)."""
    torch = torch_or_skip()
    x = _rand((2, n))
    ours = [p.shape for p in tl.chunk(tl.Tensor(x), chunks, 1)]
    theirs = [tuple(p.shape) for p in torch.chunk(torch.tensor(x), chunks, 1)]
    assert ours == theirs
    if n:
        check_vs_torch(cube(lambda t: t.chunk(chunks, 1)[-1]), cube(lambda t: t.chunk(chunks, 1)[-1]), [x])


def test_split_chunk_errors():
    with pytest.raises(ValueError, match="sum to 5"):
        tl.zeros(5).split([2, 2])
    with pytest.raises(ValueError, match="chunks must be positive"):
        tl.zeros(5).chunk(0)
    with pytest.raises(ValueError, match="split_size must be positive"):
        tl.zeros(5).split(0)


@pytest.mark.parametrize("dim,sizes", [(1, (2, 3)), (-1, (3, -1)), (0, (1, 4)), (1, (6,))])
def test_unflatten_matches_torch(dim, sizes):
    torch_or_skip()
    x = _rand((4, 6))
    check_vs_torch(cube(lambda t: t.unflatten(dim, sizes)), cube(lambda t: t.unflatten(dim, sizes)), [x])
    with pytest.raises(ValueError, match="unflatten"):
        tl.Tensor(x).unflatten(1, (4, 2))


# ------------------------------------------------------------------ sum_to_size
@pytest.mark.parametrize("size", [(1, 3), (2, 1), (3,), (1,), (2, 3)])
def test_sum_to_size_matches_torch(size):
    torch_or_skip()
    x = _rand((2, 3))
    check_vs_torch(cube(lambda t: t.sum_to_size(*size)), cube(lambda t: t.sum_to_size(*size)), [x])
    with pytest.raises(ValueError, match="not expandable"):
        tl.Tensor(x).sum_to_size(4)


# ------------------------------------------------------------------ F.pad
@pytest.mark.parametrize("pad", [(1, 2), (0, 0, 2, 1), (-1, 2), (1, -2, -1, 0), (1, 1, 1, 1, 1, 1), (0, 0)])
def test_pad_constant_matches_torch(pad):
    torch = torch_or_skip()
    x = _rand((2, 3, 4))
    check_vs_torch(cube(lambda t: F.pad(t, pad, value=0.5)),
                   cube(lambda t: torch.nn.functional.pad(t, pad, value=0.5)), [x])
    check_float32(lambda t: F.pad(t, pad), [x])


def test_pad_errors():
    with pytest.raises(NotImplementedError, match="reflect"):
        F.pad(tl.zeros(2, 3), (1, 1), mode="reflect")
    with pytest.raises(ValueError, match="pad"):
        F.pad(tl.zeros(2, 3), (1, 1, 1))
    with pytest.raises(ValueError, match="negative size"):
        F.pad(tl.zeros(2, 3), (-2, -2))


# ------------------------------------------------------------------ factories
def test_full_like_matches_torch():
    torch = torch_or_skip()
    x = tl.Tensor(np.zeros((2, 3), np.float32))
    y = tl.full_like(x, 2.5)
    assert y.dtype == np.float32 and y.shape == (2, 3) and (y.numpy() == 2.5).all()
    assert tl.full_like(x, 7, dtype=np.int64).dtype == np.int64
    assert tl.full_like(tl.Tensor(np.zeros(2, np.int64)), 2.7).numpy().tolist() == \
        torch.full_like(torch.zeros(2, dtype=torch.int64), 2.7).tolist()
    assert tl.full_like(x, 1.0, requires_grad=True).requires_grad


def test_randint_is_int64_in_range_and_seeded():
    tl.manual_seed(3)
    a = tl.randint(10, (1000,))
    tl.manual_seed(3)
    b = tl.randint(0, 10, size=(1000,))
    assert a.dtype == np.int64 and a.shape == (1000,)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert a.numpy().min() == 0 and a.numpy().max() == 9
    c = tl.randint(-3, 2, (4, 5), dtype=np.int32)
    assert c.dtype == np.int32 and c.numpy().min() >= -3 and c.numpy().max() < 2
    with pytest.raises(ValueError, match="randint"):
        tl.randint(5, 5, (2,))
    with pytest.raises(TypeError, match="randint"):
        tl.randint(5)


def test_gradgradcheck_movement_ops():
    x = tl.Tensor(_rand((2, 3, 4)), requires_grad=True)
    idx = np.array([[[0, 2, 2, 1]], [[1, 1, 0, 0]]])
    for f in (lambda t: t.flip(0, 2), lambda t: t.repeat(1, 2, 1), lambda t: t.gather(1, idx),
              lambda t: t.masked_fill(np.array([True, False, True, False]), 0.5), lambda t: t.split([1, 3], 2)[1],
              lambda t: t.chunk(2, 1)[0], lambda t: t.unflatten(2, (2, 2)), lambda t: t.sum_to_size(1, 3, 1),
              lambda t: F.pad(t, (1, -1, 2, 0))):
        gradgradcheck(cube(f), x)
