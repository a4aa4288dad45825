"""Tests for tinygrad_lite/reductions.py (prod, var_mean, std_mean) and sum(dtype=): finite differences
(hypothesis, float64), PyTorch's values, gradients and Hessian-vector products, prod with no, one and several
zeros in a row (its gradient there is the product of the others), dtypes."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lite as tl

from parity import check_float32, check_vs_torch, gradgradcheck, torch_or_skip


def _rows_with_zeros():
    """Rows with no zero, one zero, two zeros, all zeros, and a row of -0.0 and ones."""
    return np.array([[1.5, -2.0, 0.5, 3.0],
                     [1.5, 0.0, 0.5, 3.0],
                     [0.0, -2.0, 0.0, 3.0],
                     [0.0, 0.0, 0.0, 0.0],
                     [-0.0, 1.0, 1.0, -1.0]])


@pytest.mark.parametrize("dim,keepdim", [(None, False), (1, False), (1, True), (0, False), (-1, True),
                                         (None, True)])
def test_prod_with_zeros_matches_torch_to_second_order(dim, keepdim):
    torch = torch_or_skip()
    x = _rows_with_zeros()
    if dim is None:
        check_vs_torch(lambda t: t.prod(), lambda t: t.prod(), [x[1]])          # one zero
        check_vs_torch(lambda t: t.prod(), lambda t: t.prod(), [x[2]])          # two zeros
        check_vs_torch(lambda t: t.prod(), lambda t: t.prod(), [x[0]])          # none
        if keepdim:
            assert tl.Tensor(x).prod(keepdim=True).shape == (1, 1)
        return
    check_vs_torch(lambda t: t.prod(dim, keepdim), lambda t: t.prod(dim, keepdim), [x])
    check_vs_torch(lambda t: tl.prod(t, dim=dim, keepdim=keepdim),
                   lambda t: torch.prod(t, dim=dim, keepdim=keepdim), [x * 0.7])
    check_float32(lambda t: t.prod(dim, keepdim), [x])


def test_prod_on_3d_middle_dim_matches_torch():
    torch_or_skip()
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    x[0, 1, 2] = 0.0
    x[1, :, 3] = 0.0
    check_vs_torch(lambda t: t.prod(1), lambda t: t.prod(1), [x])


@settings(max_examples=10)
@given(data=st.data())
def test_prod_gradient_matches_finite_differences(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    # zeros, or magnitudes >= 1e-3: at subnormals such as 5e-324 the product underflows to 0 and the gradient
    # (torch's too) is 0, while a finite difference steps out of the subnormal range
    x = data.draw(hnp.arrays(np.float64, shape, elements=st.one_of(
        st.just(0.0), st.floats(-2, 2).filter(lambda v: abs(v) >= 1e-3))))
    dim = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    assert tl.gradcheck(lambda t: t.prod(dim), tl.Tensor(x, requires_grad=True))


def test_prod_fast_and_graph_backward_agree_at_zeros():
    """The no-graph backward (exclusive cumulative products) and the create_graph one (Tensor ops) give the
    same gradient."""
    x = _rows_with_zeros()
    up = np.arange(1.0, 6.0)
    a = tl.Tensor(x, requires_grad=True)
    a.prod(1).backward(tl.Tensor(up))
    b = tl.Tensor(x, requires_grad=True)
    b.prod(1).backward(tl.Tensor(up), create_graph=True)
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-14)
    np.testing.assert_array_equal(a.grad.numpy()[1], [0, 1.5 * 0.5 * 3.0 * 2, 0, 0])   # only the zero's
    np.testing.assert_array_equal(a.grad.numpy()[2:4], 0)                               # two or more zeros


def test_prod_dtypes_like_torch():
    torch = torch_or_skip()
    i = tl.Tensor(np.array([[1, 2, 3], [4, 5, 6]], np.int32))
    assert i.prod().dtype == np.int64 and i.prod().item() == 720
    assert i.prod(1).numpy().tolist() == torch.tensor([[1, 2, 3], [4, 5, 6]], dtype=torch.int32).prod(1).tolist()
    assert tl.Tensor(np.array([True, False])).prod().dtype == np.int64
    assert i.prod(dtype=np.float64).dtype == np.float64
    assert tl.Tensor(np.ones(3, np.float32)).prod().dtype == np.float32
    with pytest.raises(TypeError, match="one int"):
        i.prod((0, 1))


@pytest.mark.parametrize("fn", ["var_mean", "std_mean"])
@pytest.mark.parametrize("kw", [{}, {"dim": 1}, {"dim": 0, "keepdim": True}, {"dim": 1, "correction": 0},
                                {"dim": 1, "unbiased": False}, {"dim": (0, 1)}])
def test_var_mean_std_mean_match_torch(fn, kw):
    """torch.var_mean / std_mean: Bessel's correction by default (correction=1)."""
    torch = torch_or_skip()
    x = np.random.default_rng(1).standard_normal((3, 4))
    for k in range(2):
        check_vs_torch(lambda t: getattr(tl, fn)(t, **kw)[k] ** 2, lambda t: getattr(torch, fn)(t, **kw)[k] ** 2, [x])
    v, m = getattr(tl, fn)(tl.Tensor(x.astype(np.float32)), **kw)
    assert v.dtype == m.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float64, np.int64, np.float32])
def test_sum_dtype_matches_torch(dtype):
    torch = torch_or_skip()
    x = np.array([[1.5, 2.25], [3.0, 4.75]], np.float32)
    tdt = {np.float64: torch.float64, np.int64: torch.int64, np.float32: torch.float32}[dtype]
    ours = tl.Tensor(x).sum(dtype=dtype)
    theirs = torch.tensor(x).sum(dtype=tdt)
    assert ours.dtype == dtype and ours.item() == theirs.item()
    np.testing.assert_array_equal(tl.Tensor(x).sum(1, dtype=dtype).numpy(), torch.tensor(x).sum(1, dtype=tdt).numpy())
    if dtype != np.int64:
        a = tl.Tensor(x, requires_grad=True)
        a.sum(dtype=dtype).backward()
        assert a.grad.dtype == np.float32 and (a.grad.numpy() == 1).all()


@pytest.mark.parametrize("dtype", [np.uint8, np.bool_, np.int8, np.int16, np.int32])
def test_sum_of_small_integers_is_int64_as_torch(dtype):
    """PyTorch sums bool and every integer type narrower than int64 into int64; NumPy sums uint8 into uint64."""
    torch = torch_or_skip()
    x = (np.arange(24).reshape(2, 3, 4) * 37 % 256).astype(dtype)
    tx = torch.from_numpy(x)
    for kw, tkw in [({}, {}), ({"dim": 1}, {"dim": 1}), ({"dim": (0, 2), "keepdim": True}, {"dim": (0, 2), "keepdim": True})]:
        ours, theirs = tl.Tensor(x).sum(**kw), tx.sum(**tkw)
        assert ours.dtype == np.int64 and theirs.dtype == torch.int64
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_gradgradcheck_prod_var_mean():
    x = _rows_with_zeros()[:3] + np.array([[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.1]])
    gradgradcheck(lambda t: t.prod(1), tl.Tensor(x, requires_grad=True))      # rows with 0, 1, 2 zeros
    gradgradcheck(lambda t: t.prod(), tl.Tensor(x[0], requires_grad=True))
    gradgradcheck(lambda t: tl.var_mean(t, 1)[0] * tl.std_mean(t, 0)[0].sum(),
                          tl.Tensor(x + 0.3, requires_grad=True))


def test_cumsum_matches_torch_dtypes_dims_and_errors():
    """tl.cumsum / Tensor.cumsum as torch.cumsum: running sums along a dim (negative ones too), integer and bool
    tensors into int64, dtype= casts first, a 0-d tensor is its own running sum, an out-of-range dim is an
    IndexError naming the op; the gradient (reversed running sums) passes gradcheck to second order."""
    torch = torch_or_skip()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 2)).astype(np.float32)
    for d in (0, 1, 2, -1, -3):
        ours, theirs = tl.tensor(x).cumsum(d), torch.from_numpy(x).cumsum(d)
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    for dt in (np.uint8, np.int8, np.int32, np.int64, np.bool_):
        a = (np.arange(12).reshape(3, 4) % 3).astype(dt)
        ours, theirs = tl.cumsum(tl.tensor(a), 1), torch.cumsum(torch.from_numpy(a), 1)
        assert ours.dtype == np.int64 and theirs.dtype == torch.int64
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert tl.cumsum(tl.ones(2, 3), 1, dtype=tl.float64).dtype == np.float64
    assert tl.tensor(2.5).cumsum(0).item() == 2.5
    for a in (np.int32(3), np.uint8(3), np.bool_(True)):     # 0-d integer and bool: int64 too, as torch
        ours, theirs = tl.tensor(np.array(a)).cumsum(-1), torch.from_numpy(np.array(a)).cumsum(-1)
        assert ours.dtype == np.int64 and theirs.dtype == torch.int64 and ours.item() == theirs.item()
    with pytest.raises(IndexError, match=r"cumsum: axis 2 is out of range for a tensor with 2 dimensions"):
        tl.ones(2, 3).cumsum(2)
    t = tl.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert tl.gradcheck(lambda a: a.cumsum(1) ** 2, t) and tl.gradgradcheck(lambda a: a.cumsum(0) ** 3, t)
