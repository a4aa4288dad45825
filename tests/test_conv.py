"""Tests for tinygrad_lite/conv.py: conv2d, max/avg/adaptive pooling and dropout2d against PyTorch
(values and gradients, float64), gradients against finite differences under hypothesis over random
shapes, strides, paddings and dilations, second-order gradients (create_graph), dtypes, devices, errors."""
import importlib.util
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F

TORCH_REASON = "PyTorch is not installed: the comparisons with torch.nn.functional are skipped"
TIGHT = dict(rtol=1e-9, atol=1e-11)


def _torch():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    torch.set_num_threads(1)
    return torch


def _compare(tl_fn, torch_fn, arrays, rng, tol=TIGHT):
    """Both functions on float64 copies of `arrays` (all differentiated); outputs and gradients under
    a random upstream gradient must agree."""
    torch = _torch()
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    os_ = [tl.Tensor(a, requires_grad=True) for a in arrays]
    yt, yo = torch_fn(*ts), tl_fn(*os_)
    assert yo.shape == tuple(yt.shape)
    assert yo.dtype == np.float64
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), **tol)
    up = rng.standard_normal(yo.shape)
    yt.backward(torch.tensor(up))
    yo.backward(tl.Tensor(up))
    for i, (o, t) in enumerate(zip(os_, ts)):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), **tol, err_msg=f"gradient of input {i}")


CONV_CASES = [
    dict(), dict(stride=2), dict(padding=1), dict(padding=2, dilation=2), dict(stride=(2, 1), padding=(1, 0)),
    dict(stride=3, padding=2, dilation=(1, 2)), dict(padding="same"), dict(padding="valid", stride=2),
]


@pytest.mark.parametrize("kw", CONV_CASES, ids=[str(k) for k in CONV_CASES])
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_matches_torch(kw, bias, rng):
    torch = _torch()
    arrays = [rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 3))]
    if bias:
        arrays.append(rng.standard_normal(4))
    _compare(lambda *a: F.conv2d(*a, **kw), lambda *a: torch.nn.functional.conv2d(*a, **kw), arrays, rng)


POOL_CASES = [(2, None, 0), (3, 2, 1), (3, 1, 1), ((2, 3), (1, 2), (1, 0)), (1, None, 0), (4, 3, 2)]


@pytest.mark.parametrize("k,s,p", POOL_CASES)
@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool2d"])
def test_pooling_matches_torch(name, k, s, p, rng):
    torch = _torch()
    _compare(lambda x: getattr(F, name)(x, k, s, p), lambda x: getattr(torch.nn.functional, name)(x, k, s, p),
             [rng.standard_normal((2, 3, 9, 7))], rng)


def test_max_pool2d_dilation_matches_torch(rng):
    torch = _torch()
    _compare(lambda x: F.max_pool2d(x, 3, 2, 1, dilation=2),
             lambda x: torch.nn.functional.max_pool2d(x, 3, 2, 1, dilation=2), [rng.standard_normal((2, 2, 10, 9))],
             rng)


@pytest.mark.parametrize("kw", [dict(count_include_pad=False), dict(divisor_override=3)])
def test_avg_pool2d_options_match_torch(kw, rng):
    torch = _torch()
    _compare(lambda x: F.avg_pool2d(x, 3, 2, 1, **kw), lambda x: torch.nn.functional.avg_pool2d(x, 3, 2, 1, **kw),
             [rng.standard_normal((2, 3, 8, 7))], rng)


@pytest.mark.parametrize("size", [1, (1, 1), 2, (3, 2), (None, 1)])
def test_adaptive_avg_pool2d_matches_torch(size, rng):
    torch = _torch()
    _compare(lambda x: F.adaptive_avg_pool2d(x, size), lambda x: torch.nn.functional.adaptive_avg_pool2d(x, size),
             [rng.standard_normal((2, 3, 6, 4))], rng)


def test_max_pool2d_ties_send_the_gradient_to_the_first_maximum_like_torch():
    torch = _torch()
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1] = x[0, 0, 0, 1] = 1.0               # a tie inside the first window
    _compare(lambda t: F.max_pool2d(t, 2), lambda t: torch.nn.functional.max_pool2d(t, 2), [x],
             np.random.default_rng(0))


def test_max_pool2d_propagates_nan_like_torch():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 0, 0] = np.nan
    y = F.max_pool2d(tl.Tensor(x), 2).numpy()
    assert np.isnan(y[0, 0, 0, 0]) and not np.isnan(y[0, 0, 1, 1])


@pytest.mark.parametrize("kernel,stride,layout", [(2, 2, "nchw"), (2, 2, "channels_last"), (3, 1, "nchw"),
                                                  (3, 2, "channels_last")])
@pytest.mark.parametrize("upstream", [np.inf, -np.inf, np.nan])
def test_max_pool2d_gradient_is_exactly_zero_off_the_argmax_under_a_non_finite_upstream(kernel, stride, layout,
                                                                                       upstream):
    """PyTorch scatters the upstream gradient to each window's argmax and leaves 0 elsewhere, also when that
    gradient is inf or nan (a product g * mask would give nan there: inf * 0), silently."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    xs = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2) if layout == "channels_last" else x
    t = tl.Tensor(xs, requires_grad=True)
    y = F.max_pool2d(t, kernel, stride)
    g = np.full(y.shape, upstream, np.float32)
    g[:, :, 0, 0] = 1.0                                  # some finite entries too
    with warnings.catch_warnings():
        warnings.simplefilter("error")                   # and no NumPy "invalid value" warning
        y.backward(tl.Tensor(g))
    ours = t.grad.numpy()
    argmax = np.zeros(x.shape, bool)                     # every position some window takes its maximum from
    win = np.lib.stride_tricks.sliding_window_view(x, (kernel, kernel), axis=(2, 3))[:, :, ::stride, ::stride]
    flat = win.reshape(*win.shape[:4], -1).argmax(-1)
    for n, c, i, j in np.ndindex(flat.shape):
        argmax[n, c, i * stride + flat[n, c, i, j] // kernel, j * stride + flat[n, c, i, j] % kernel] = True
    assert (ours[~argmax] == 0).all() and not np.signbit(ours[~argmax]).any()
    if importlib.util.find_spec("torch") is not None:
        import torch
        tt = torch.tensor(x, requires_grad=True)
        torch.nn.functional.max_pool2d(tt, kernel, stride).backward(torch.from_numpy(g))
        np.testing.assert_array_equal(ours, tt.grad.numpy())


# --------------------------------------------------------------------------- finite differences
@st.composite
def conv_problem(draw):
    n, c, o = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    h = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 7))
    w = draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 7))
    seed = draw(st.integers(0, 2**16))
    return (n, c, h, w), (o, c, kh, kw), dict(stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw)), seed


@given(conv_problem(), st.booleans())
def test_conv2d_gradients_match_finite_differences(problem, bias):
    xs, ws, kw, seed = problem
    r = np.random.default_rng(seed)
    args = [tl.Tensor(r.standard_normal(xs), requires_grad=True), tl.Tensor(r.standard_normal(ws), requires_grad=True)]
    if bias:
        args.append(tl.Tensor(r.standard_normal(ws[0]), requires_grad=True))
    assert tl.gradcheck(lambda *a: F.conv2d(*a, **kw), *args, seed=seed)


@st.composite
def pool_problem(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    h, w = draw(st.integers(max(1, kh - 2 * ph), 7)), draw(st.integers(max(1, kw - 2 * pw), 7))
    return (draw(st.integers(1, 2)), draw(st.integers(1, 2)), h, w), ((kh, kw), (sh, sw), (ph, pw)), \
        draw(st.integers(0, 2**16))


@given(pool_problem(), st.sampled_from(["max_pool2d", "avg_pool2d", "avg_pool2d_nopad"]))
def test_pooling_gradients_match_finite_differences(problem, name):
    shape, (k, s, p), seed = problem
    r = np.random.default_rng(seed)
    # distinct values, well apart: no tie within a window (max has a kink there) and none within eps
    x = tl.Tensor(r.permutation(np.prod(shape)).reshape(shape) * 0.1 + r.uniform(0, 0.01, shape),
                  requires_grad=True)
    if name == "avg_pool2d_nopad":
        fn = lambda t: F.avg_pool2d(t, k, s, p, count_include_pad=False)   # noqa: E731
    else:
        fn = lambda t: getattr(F, name)(t, k, s, p)                        # noqa: E731
    assert tl.gradcheck(fn, x, seed=seed)


def _double_backward_fn(op):
    """x, w -> d<u, op(x, w)>/dx and /dw, built with create_graph (a function whose gradient is op's second order)."""
    def fn(x, w):
        y = op(x, w)
        u = tl.Tensor(np.random.default_rng(5).standard_normal(y.shape))
        gx, gw = tl_grad((y * u).sum(), [x, w])
        return (gx * gx).sum() + (gw * gw * gw).sum()
    return fn


def tl_grad(out, inputs):
    for t in inputs:
        t.grad = None
    out.backward(create_graph=True)
    grads = [t.grad for t in inputs]
    for t in inputs:
        t.grad = None
    return grads


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(padding=1, dilation=2)])
def test_conv2d_second_order_gradients(kw, rng):
    x = tl.Tensor(rng.standard_normal((2, 2, 6, 5)), requires_grad=True)
    w = tl.Tensor(rng.standard_normal((3, 2, 3, 2)), requires_grad=True)
    assert tl.gradcheck(_double_backward_fn(lambda a, b: F.conv2d(a, b, **kw)), x, w)


def test_conv2d_second_order_matches_torch(rng):
    torch = _torch()
    xa, wa = rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((3, 2, 3, 3))
    tx, tw = torch.tensor(xa, requires_grad=True), torch.tensor(wa, requires_grad=True)
    ty = torch.nn.functional.conv2d(tx, tw, stride=2, padding=1)
    gx, gw = torch.autograd.grad((ty ** 2).sum(), [tx, tw], create_graph=True)
    ((gx ** 3).sum() + (gw ** 2).sum()).backward()
    x, w = tl.Tensor(xa, requires_grad=True), tl.Tensor(wa, requires_grad=True)
    ox, ow = tl_grad((F.conv2d(x, w, stride=2, padding=1) ** 2).sum(), [x, w])
    ((ox ** 3).sum() + (ow ** 2).sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-9)


@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool2d"])
def test_pooling_second_order_gradients(name, rng):
    x = tl.Tensor(rng.permutation(2 * 2 * 6 * 6).reshape(2, 2, 6, 6) * 0.1, requires_grad=True)

    def fn(t):
        (g,) = tl_grad((getattr(F, name)(t, 3, 2, 1) ** 2).sum(), [t])
        return g * g
    assert tl.gradcheck(fn, x)


# --------------------------------------------------------------------------- dtypes, devices, memory
def test_float32_stays_float32(rng):
    x = tl.Tensor(rng.standard_normal((2, 3, 8, 8)).astype(np.float32), requires_grad=True)
    w = tl.Tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    b = tl.Tensor(np.zeros(4, np.float32), requires_grad=True)
    y = F.avg_pool2d(F.max_pool2d(F.conv2d(x, w, b, padding=1), 2), 2, count_include_pad=False, padding=1)
    y = F.adaptive_avg_pool2d(F.dropout2d(y, 0.3), 1)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32


def test_conv_and_pool_on_device_match_cpu(device, rng):
    xa, wa, ba = rng.standard_normal((2, 3, 8, 8)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    out = {}
    for dev in ("cpu", device):
        x, w, b = (tl.Tensor(a.astype(np.float32), device=dev, requires_grad=True) for a in (xa, wa, ba))
        y = F.avg_pool2d(F.max_pool2d(F.conv2d(x, w, b, stride=1, padding=1), 2), 2)
        (y * y).sum().backward()
        assert y.device == x.grad.device == dev
        out[dev] = [t.numpy() for t in (y, x.grad, w.grad, b.grad)]
    for a, b in zip(out["cpu"], out[device]):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


def test_backward_frees_the_im2col_columns(rng):
    x = tl.Tensor(rng.standard_normal((2, 3, 8, 8)).astype(np.float32))
    w = tl.Tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    y = F.conv2d(x, w)
    node = y._ctx
    assert node.cols is not None
    y.sum().backward()
    assert getattr(node, "cols", None) is None           # released with the graph


def test_no_graph_under_no_grad(rng):
    x = tl.Tensor(rng.standard_normal((1, 1, 5, 5)), requires_grad=True)
    w = tl.Tensor(rng.standard_normal((1, 1, 3, 3)), requires_grad=True)
    with tl.no_grad():
        y = F.max_pool2d(F.conv2d(x, w), 3)
    assert not y.requires_grad and y._ctx is None


# --------------------------------------------------------------------------- memory layouts
# conv2d's output is stored channels-last and pooling works in its input's memory order (see conv.py);
# every op must give PyTorch's values and gradients whatever the strides of its inputs and upstream gradients.
def _stored(a, layout):
    """The (N, C, H, W) array a with the same values, stored as `layout` says."""
    if layout == "nchw":
        return np.ascontiguousarray(a)
    if layout == "nhwc":                                   # channels-last, as conv2d's outputs
        return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    if layout == "cnhw":                                   # channel-major, as conv2d's outputs once were
        return np.ascontiguousarray(a.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    if layout == "hwnc":                                   # spatial-major, as conv2d's outputs
        return np.ascontiguousarray(a.transpose(2, 3, 0, 1)).transpose(2, 3, 0, 1)
    big = np.zeros(a.shape[:2] + (2 * a.shape[2], a.shape[3] + 1), a.dtype)   # "strided": no order at all
    big[:, :, ::2, 1:] = a
    return big[:, :, ::2, 1:]


LAYOUTS = ["nchw", "nhwc", "cnhw", "hwnc", "strided"]


def _is_channels_last(a):
    return a.transpose(0, 2, 3, 1).flags.c_contiguous and not a.flags.c_contiguous


def _is_spatial_major(a):
    """Stored (H, W, N, C): conv2d's outputs, and what pooling and ReLU keep."""
    return a.transpose(2, 3, 0, 1).flags.c_contiguous and not a.flags.c_contiguous


def _compare_stored(tl_fn, torch_fn, arrays, layouts, up_layout, rng, tol=TIGHT):
    """_compare with tl's inputs and upstream gradient stored in the given layouts (torch's as they come)."""
    torch = _torch()
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    os_ = [tl.Tensor(_stored(a, lay) if a.ndim == 4 else a, requires_grad=True) for a, lay in zip(arrays, layouts)]
    yt, yo = torch_fn(*ts), tl_fn(*os_)
    assert yo.shape == tuple(yt.shape)
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), **tol)
    up = rng.standard_normal(yo.shape)
    yt.backward(torch.tensor(up))
    yo.backward(tl.Tensor(_stored(up, up_layout) if up.ndim == 4 else up))
    for i, (o, t) in enumerate(zip(os_, ts)):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), **tol, err_msg=f"gradient of input {i}")
    return os_, yo


POOL_LAYOUT_CASES = [(2, None, 0), (3, 2, 1), (3, 1, 1), ((2, 3), (1, 2), (1, 0)), (2, 3, 1)]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("up_layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("k,s,p", POOL_LAYOUT_CASES)
@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool2d"])
def test_pooling_matches_torch_in_every_memory_layout(name, k, s, p, layout, up_layout, rng):
    torch = _torch()
    (x,), y = _compare_stored(lambda t: getattr(F, name)(t, k, s, p),
                              lambda t: getattr(torch.nn.functional, name)(t, k, s, p),
                              [rng.standard_normal((2, 3, 8, 7))], [layout], up_layout, rng)
    if layout == "nhwc":                  # pooling keeps channels-last: output, and gradient for the layer below
        assert _is_channels_last(y.data) and _is_channels_last(x.grad.data)
    if layout == "hwnc":                  # and spatial-major (conv2d's outputs)
        assert _is_spatial_major(y.data) and _is_spatial_major(x.grad.data)


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_max_pool2d_ties_nan_and_many_taps_in_every_memory_layout(layout, rng):
    """The first of tied maxima takes the gradient, a window's last NaN wins, and kernels of 128 taps and
    more (int32 indices), channels-last as C-contiguous, as PyTorch."""
    torch = _torch()
    x = np.round(rng.standard_normal((2, 3, 12, 12)))          # many ties
    x[0, 1, 0, 0] = x[1, 2, 5, 4] = x[1, 2, 4, 5] = np.nan
    for k, s, p in [(2, None, 0), (3, 2, 1), ((12, 11), 1, 0), ((12, 11), 1, (6, 5))]:
        _compare_stored(lambda t: F.max_pool2d(t, k, s, p), lambda t: torch.nn.functional.max_pool2d(t, k, s, p),
                        [x], [layout], layout, rng)


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("k,s,p", [(2, None, 0), (3, 2, 1), (2, 1, 1)])
def test_max_pool2d_over_cache_sized_slices_matches_torch(k, s, p, layout, rng):
    """A batch larger than backend.cache_slices' budget is pooled and scattered back a few images at a time
    (here 14 + 10 images): the same values, gradients, ties and NaN as PyTorch."""
    from tinygrad_lite.backend import cache_slices
    torch = _torch()
    x = np.round(rng.standard_normal((24, 8, 24, 24)) * 2)      # 884 KiB of float64, with ties
    x[3, 2, 5, 5] = x[20, 7, 0, 1] = np.nan
    assert len(cache_slices(x)) == 2
    _compare_stored(lambda t: F.max_pool2d(t, k, s, p), lambda t: torch.nn.functional.max_pool2d(t, k, s, p),
                    [x], [layout], "nchw", rng)


def test_cache_slices_cover_the_batch_once():
    from tinygrad_lite.backend import cache_slices
    for n, item in [(1, 10 ** 7), (7, 10), (100, 69120), (24, 36864), (5, 10 ** 6)]:
        a = np.empty((n, item // 8 or 1))
        covered = np.concatenate([np.arange(n)[s] for s in cache_slices(a)])
        np.testing.assert_array_equal(covered, np.arange(n))
        assert all(np.arange(n)[s].size for s in cache_slices(a))
    assert cache_slices(np.empty((100, 69120 // 4), np.float32)) != [slice(None)]
    assert cache_slices(np.empty((4, 10))) == [slice(None)]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("up_layout", LAYOUTS)
@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(padding=1, dilation=2)])
def test_conv2d_matches_torch_in_every_memory_layout(kw, layout, up_layout, rng):
    torch = _torch()
    arrays = [rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)]
    (x, _, _), y = _compare_stored(lambda *a: F.conv2d(*a, **kw), lambda *a: torch.nn.functional.conv2d(*a, **kw),
                                   arrays, [layout, "nchw", None], up_layout, rng)
    assert _is_spatial_major(y.data)
    if layout in ("nchw", "nhwc", "hwnc"):     # the input's gradient in the input's memory order, as PyTorch
        assert _stored(x.grad.numpy(), layout).strides == x.grad.data.strides


def test_conv_relu_pool_flatten_linear_matches_torch(rng):
    """SimpleConvNet's layers: the channels-last conv output through ReLU, max pooling and a flatten (a copy
    in (C, H, W) order) into a linear layer; values and every gradient as PyTorch's, float64."""
    torch = _torch()
    arrays = [rng.standard_normal((3, 2, 10, 10)), rng.standard_normal((5, 2, 3, 3)), rng.standard_normal(5),
              rng.standard_normal((4, 5 * 4 * 4)), rng.standard_normal(4), rng.standard_normal((4, 5 * 8 * 8))]

    def net(mod, x, w, b, lw, lb, lw2):
        y = mod.conv2d(x, w, b)
        pooled = mod.linear(mod.max_pool2d(mod.relu(y), 2).flatten(1), lw, lb)
        return pooled + mod.linear(y.flatten(1), lw2)         # conv -> flatten -> linear directly, too
    _compare(lambda *a: net(F, *a), lambda *a: net(torch.nn.functional, *a), arrays, rng)


def test_the_gradient_reaches_conv2d_spatial_major(rng):
    """The training path copies no gradient before the conv GEMMs: ReLU and max pooling hand conv2d's
    output gradient back in the output's own spatial-major order."""
    x = tl.Tensor(rng.standard_normal((2, 1, 8, 8)).astype(np.float32))
    w = tl.Tensor(rng.standard_normal((3, 1, 3, 3)).astype(np.float32), requires_grad=True)
    b = tl.Tensor(np.zeros(3, np.float32), requires_grad=True)
    y = F.conv2d(x, w, b)
    y.retain_grad()
    r = y.relu()
    r.retain_grad()
    p = F.max_pool2d(r, 2)
    assert _is_spatial_major(y.data) and _is_spatial_major(r.data) and _is_spatial_major(p.data)
    (p.flatten(1) ** 2).sum().backward()
    assert _is_spatial_major(r.grad.data) and _is_spatial_major(y.grad.data)
    assert w.grad.dtype == b.grad.dtype == np.float32
    assert not np.shares_memory(w.grad.data, b.grad.data)      # (both views of one GEMM's result before)


def _to_channels_last(t):
    """t (N, C, H, W) with the same values stored channels-last, by differentiable ops."""
    n, c, h, w = t.shape
    return t.permute(0, 2, 3, 1).reshape(n, h, w * c).reshape(n, h, w, c).permute(0, 3, 1, 2)


@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("k,s,p", [(3, 2, 1), (2, None, 0)])
def test_pooling_second_order_gradients_channels_last(name, k, s, p, rng):
    x = tl.Tensor(rng.permutation(2 * 3 * 6 * 6).reshape(2, 3, 6, 6) * 0.1, requires_grad=True)
    assert _is_channels_last(_to_channels_last(x).data)

    def fn(t):
        (g,) = tl_grad((getattr(F, name)(_to_channels_last(t), k, s, p) ** 2).sum(), [t])
        return g * g
    assert tl.gradcheck(fn, x)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1)])
def test_conv2d_with_bias_second_order_gradients(kw, rng):
    """The bias rides in the GEMMs (a row of ones in the columns): its gradient's gradients too."""
    x = tl.Tensor(rng.standard_normal((2, 2, 6, 5)), requires_grad=True)
    w = tl.Tensor(rng.standard_normal((3, 2, 3, 2)), requires_grad=True)
    b = tl.Tensor(rng.standard_normal(3), requires_grad=True)

    def fn(x, w, b):
        y = F.conv2d(_to_channels_last(x), w, b, **kw)
        u = tl.Tensor(np.random.default_rng(5).standard_normal(y.shape))
        gx, gw, gb = tl_grad((y * y * u).sum(), [x, w, b])
        return (gx * gx).sum() + (gw * gw * gw).sum() + (gb * gb * gb).sum()
    assert tl.gradcheck(fn, x, w, b)


def test_conv2d_with_bias_second_order_matches_torch(rng):
    torch = _torch()
    arrays = [rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)]
    tt = [torch.tensor(a, requires_grad=True) for a in arrays]
    ty = torch.nn.functional.conv2d(*tt, stride=2, padding=1)
    gx, gw, gb = torch.autograd.grad((ty ** 2).sum(), tt, create_graph=True)
    ((gx ** 3).sum() + (gw ** 2).sum() + (gb ** 3).sum()).backward()
    ot = [tl.Tensor(a, requires_grad=True) for a in arrays]
    ox, ow, ob = tl_grad((F.conv2d(*ot, stride=2, padding=1) ** 2).sum(), ot)
    ((ox ** 3).sum() + (ow ** 2).sum() + (ob ** 3).sum()).backward()
    for o, t in zip(ot, tt):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-9)


# --------------------------------------------------------------------------- dropout2d
def test_dropout2d_zeroes_whole_channels_and_scales():
    tl.manual_seed(0)
    x = tl.ones(8, 16, 3, 3)
    y = F.dropout2d(x, 0.5).numpy()
    per_channel = y.reshape(8, 16, 9)
    assert np.all((per_channel == 0).all(axis=2) | (per_channel == 2.0).all(axis=2))
    assert 0.2 < (per_channel[..., 0] == 0).mean() < 0.8
    assert F.dropout2d(x, 0.5, training=False) is x
    assert np.all(F.dropout2d(x, 1.0).numpy() == 0)


# --------------------------------------------------------------------------- errors
def test_conv2d_errors():
    x, w = tl.ones(1, 3, 5, 5), tl.ones(2, 3, 3, 3)
    with pytest.raises(ValueError, match=r"conv2d: the input has 4 channels.*expects 3"):
        F.conv2d(tl.ones(1, 4, 5, 5), w)
    with pytest.raises(ValueError, match=r"conv2d: kernel 3x3 is larger than the padded input 2x2"):
        F.conv2d(tl.ones(1, 3, 2, 2), w)
    with pytest.raises(ValueError, match=r"dilated to 5x5.*padded input 4x4"):
        F.conv2d(tl.ones(1, 3, 4, 4), w, dilation=2)
    with pytest.raises(ValueError, match=r"conv2d: expected a 4-D input \(N, C, H, W\), got shape \(3, 5, 5\).*unsqueeze"):
        F.conv2d(tl.ones(3, 5, 5), w)
    with pytest.raises(ValueError, match="weight must be a 4-D"):
        F.conv2d(x, tl.ones(2, 3, 3))
    with pytest.raises(NotImplementedError, match="groups=3"):
        F.conv2d(x, tl.ones(3, 1, 3, 3), groups=3)
    with pytest.raises(ValueError, match="bias must have shape"):
        F.conv2d(x, w, tl.ones(3))
    with pytest.raises(TypeError, match="input dtype float64 and weight dtype float32"):
        F.conv2d(x.double(), w)
    with pytest.raises(ValueError, match="stride"):
        F.conv2d(x, w, stride=0)
    with pytest.raises(ValueError, match="padding must be an int, a pair"):
        F.conv2d(x, w, padding="full")
    with pytest.raises(ValueError, match="'same' needs stride 1"):
        F.conv2d(x, w, padding="same", stride=2)
    with pytest.raises(TypeError, match="stride must be an int"):
        F.conv2d(x, w, stride=1.5)


def test_pooling_errors():
    x = tl.ones(1, 1, 4, 4)
    with pytest.raises(ValueError, match=r"max_pool2d: expected a 4-D input"):
        F.max_pool2d(tl.ones(4, 4), 2)
    with pytest.raises(ValueError, match=r"avg_pool2d: kernel 5x5 is larger than the padded input 4x4"):
        F.avg_pool2d(x, 5)
    with pytest.raises(ValueError, match="at most half the kernel"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(NotImplementedError, match="ceil_mode"):
        F.max_pool2d(x, 2, ceil_mode=True)
    with pytest.raises(NotImplementedError, match="does not divide"):
        F.adaptive_avg_pool2d(tl.ones(1, 1, 5, 5), 2)
    with pytest.raises(ValueError, match="dropout2d: expected a 4-D"):
        F.dropout2d(tl.ones(2, 3), 0.5)
    with pytest.raises(TypeError, match="floating point"):
        F.max_pool2d(tl.Tensor(np.ones((1, 1, 4, 4), np.int64)), 2)


@pytest.mark.parametrize("n", [1, 2])
def test_a_channels_last_input_is_channels_last_at_any_batch_size(n):
    """A channels-last input takes the channels-last path also for a single image (whose batch axis, of
    length 1, has no meaningful stride): its input gradient comes back channels-last, the same values as for
    the C-order copy of the input."""
    from tinygrad_lite.conv import CHANNELS_LAST, _order
    rng = np.random.default_rng(5)
    x = rng.standard_normal((n, 3, 6, 6)).astype(np.float32)
    w = tl.Tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
    grads = []
    for xs in (np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2), x):
        t = tl.Tensor(xs, requires_grad=True)
        F.conv2d(t, w, padding=1).sum().backward()
        grads.append(t.grad.numpy())
    assert _order(grads[0]) == CHANNELS_LAST and _order(grads[1]) == (0, 1, 2, 3)
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kernel", [(1, 2), (2, 1)])
def test_max_pool2d_with_two_taps_sends_the_gradient_to_the_nan(kernel):
    """A window of two taps whose first is nan: the max is nan and the gradient goes to the nan (PyTorch's rule:
    a window's last nan wins), not to the other tap."""
    x = np.array([[np.nan, 1.0], [2.0, 3.0]], np.float32)
    x = (x if kernel == (1, 2) else x.T)[None, None]
    t = tl.Tensor(x, requires_grad=True)
    y = F.max_pool2d(t, kernel)
    y.sum().backward()
    expected = np.zeros_like(x)
    expected[0, 0, 0, 0] = 1.0
    expected[0, 0, 1, 1] = 1.0                           # the other window: its max, 3
    np.testing.assert_array_equal(t.grad.numpy(), expected)
    assert np.isnan(y.numpy()[0, 0, 0, 0])


def test_pooling_slices_the_batch_only_where_it_is_outermost_in_memory():
    """Pooling works a few images at a time (cache-sized slices of the batch) where the batch is the outermost axis in
    memory; on a spatial-major batch (conv2d's outputs) the batch is inside every contiguous run, so slicing it would
    only shorten NumPy's inner loops: one slice, the whole array. (Values are the same either way: the layout tests
    above; this is the performance plan.)"""
    from tinygrad_lite.conv import _batch_slices
    big = (100, 30, 24, 24)                                   # 6.6 MiB of float32: many cache-sized slices
    c_order = np.empty(big, np.float32)
    spatial = np.empty((24, 24, 100, 30), np.float32).transpose(2, 3, 0, 1)
    nhwc = np.empty((100, 24, 24, 30), np.float32).transpose(0, 3, 1, 2)
    assert len(_batch_slices(c_order)) > 1 and len(_batch_slices(nhwc)) > 1
    assert _batch_slices(spatial) == [slice(None)]
