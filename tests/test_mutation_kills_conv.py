"""Tests written to kill mutants of tinygrad_lite/conv.py that survived the mutation run (issue 17, session 3):
conv2d and pooling checked against PyTorch on the cases the existing tests missed (non-square kernels,
asymmetric padding, the exact text of each error), and the memory layouts conv.py promises (an output and
its gradients stored in the input's memory order, as PyTorch's memory formats propagate).
docs/mutation-survivors.md lists which mutants each test kills."""

import numpy as np
import pytest

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F

from parity import raises_whole as _raises, torch_or_skip as _torch



# =========================================================================== _geometry
def test_kernel_too_large_message_shows_a_non_square_kernel():
    _raises(ValueError, "conv2d: kernel 3x2 is larger than the padded input 2x5 (input shape (1, 1, 2, 5), padding "
            "(0, 0))", F.conv2d, tl.ones(1, 1, 2, 5), tl.ones(1, 1, 3, 2))
    _raises(ValueError, "max_pool2d: kernel 2x4 is larger than the padded input 3x3 (input shape (1, 1, 3, 3), "
            "padding (0, 0))", F.max_pool2d, tl.ones(1, 1, 3, 3), (2, 4))


def test_the_height_check_uses_the_height_padding():
    """padding (0, 1): a 3-tall kernel does not fit a 2-tall input (the width's padding does not count)."""
    _raises(ValueError, "conv2d: kernel 3x3 is larger than the padded input 2x7 (input shape (1, 1, 2, 5), padding "
            "(0, 1))", F.conv2d, tl.ones(1, 1, 2, 5), tl.ones(1, 1, 3, 3), padding=(0, 1))
    _raises(ValueError, "conv2d: kernel 3x3 is larger than the padded input 7x2 (input shape (1, 1, 5, 2), padding "
            "(1, 0))", F.conv2d, tl.ones(1, 1, 5, 2), tl.ones(1, 1, 3, 3), padding=(1, 0))


def test_a_tall_or_wide_kernel_that_fits_matches_torch():
    """The height check reads the kernel's height, the width check its width."""
    torch = _torch()
    r = np.random.default_rng(0)
    for xs, ws in (((1, 2, 2, 5), (3, 2, 2, 4)), ((1, 2, 5, 2), (3, 2, 4, 2)), ((2, 1, 1, 6), (2, 1, 1, 5))):
        x, w = r.standard_normal(xs), r.standard_normal(ws)
        np.testing.assert_allclose(F.conv2d(tl.Tensor(x), tl.Tensor(w)).numpy(),
                                   torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w)).numpy(),
                                   rtol=1e-12, atol=1e-12)
        k = ws[2:]
        np.testing.assert_array_equal(F.max_pool2d(tl.Tensor(x), k, 1).numpy(),
                                      torch.nn.functional.max_pool2d(torch.tensor(x), k, 1).numpy())


# =========================================================================== conv2d's argument handling
def test_conv2d_channel_mismatch_message_names_the_weights_in_channels():
    """The weight's in_channels (its axis 1), not its kernel height, in the message."""
    _raises(ValueError, "conv2d: the input has 4 channels (shape (1, 4, 6, 6)) but the weight (2, 3, 2, 5) expects 3",
            F.conv2d, tl.ones(1, 4, 6, 6), tl.ones(2, 3, 2, 5))


@pytest.mark.parametrize("name,v", [("stride", 1.5), ("stride", (1, True)), ("dilation", 2.0), ("dilation", (1, 1, 1))])
def test_conv2d_same_padding_checks_stride_and_dilation_types(name, v):
    err = ValueError if isinstance(v, tuple) and len(v) != 2 else TypeError
    _raises(err, f"conv2d: {name} must be an int or a pair of ints, got {v!r}", F.conv2d, tl.ones(1, 3, 5, 5),
            tl.ones(2, 3, 3, 3), padding="same", **{name: v})


# =========================================================================== pooling: higher-order gradients
def _tl_grad(out, t):
    t.grad = None
    out.backward(create_graph=True)
    g, t.grad = t.grad, None
    return g


@pytest.mark.parametrize("name,kw", [("max_pool2d", dict(kernel_size=(2, 3), stride=(1, 2), padding=1)),
                                     ("max_pool2d", dict(kernel_size=(3, 2), stride=1, padding=(1, 0),
                                                         dilation=(1, 2))),
                                     ("avg_pool2d", dict(kernel_size=(2, 3), stride=(1, 2), padding=1)),
                                     ("avg_pool2d", dict(kernel_size=(3, 2), stride=2, padding=(1, 0),
                                                         count_include_pad=False))])
def test_pooling_third_order_gradients_match_torch(name, kw):
    """The gradient of the gradient of the gradient: pooling's backward Functions (WindowScatter / WindowSpread)
    and their own backwards (WindowGather / WindowSum) each differentiated, non-square kernels, vs torch."""
    torch = _torch()
    a = np.random.default_rng(0).permutation(2 * 2 * 7 * 8).reshape(2, 2, 7, 8) * 0.01 - 1.0   # no ties
    tx = torch.tensor(a, requires_grad=True)
    g1 = torch.autograd.grad((getattr(torch.nn.functional, name)(tx, **kw) ** 3).sum(), tx, create_graph=True)[0]
    g2 = torch.autograd.grad((g1 ** 3).sum(), tx, create_graph=True)[0]
    (g2 ** 2).sum().backward()
    x = tl.Tensor(a, requires_grad=True)
    o1 = _tl_grad((getattr(F, name)(x, **kw) ** 3).sum(), x)
    o2 = _tl_grad((o1 ** 3).sum(), x)
    np.testing.assert_allclose(o1.numpy(), g1.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(o2.numpy(), g2.detach().numpy(), rtol=1e-9, atol=1e-12)
    (o2 ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("shape,k", [((8, 16, 3, 6), (2, 3)), ((8, 16, 6, 3), (3, 2))])
def test_max_pool2d_gradient_of_rows_no_window_reaches_is_zero_like_torch(shape, k):
    """Stride = kernel, but the windows stop short of the last row (column): that row's gradient is 0, not
    whatever the memory held (a NaN-filled buffer is freed first, so a skipped zero-fill would show)."""
    torch = _torch()
    a = np.random.default_rng(0).standard_normal(shape)
    tx = torch.tensor(a, requires_grad=True)
    torch.nn.functional.max_pool2d(tx, k, k).backward(torch.ones(shape[:2] + (shape[2] // k[0], shape[3] // k[1]),
                                                                 dtype=torch.float64))
    for _ in range(3):
        x = tl.Tensor(a, requires_grad=True)
        y = F.max_pool2d(x, k, k)
        poison = np.full(shape, np.nan)
        del poison
        y.backward(tl.Tensor(np.ones(y.shape)))
        np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("padding", [(0, 1), (1, 0)])
def test_avg_pool2d_count_exclude_pad_with_padding_on_one_axis_matches_torch(padding):
    torch = _torch()
    a = np.random.default_rng(0).standard_normal((2, 3, 6, 7))
    kw = dict(kernel_size=3, stride=2, padding=padding, count_include_pad=False)
    tx, x = torch.tensor(a, requires_grad=True), tl.Tensor(a, requires_grad=True)
    ty, y = torch.nn.functional.avg_pool2d(tx, **kw), F.avg_pool2d(x, **kw)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    up = np.random.default_rng(1).standard_normal(y.shape)
    ty.backward(torch.tensor(up))
    y.backward(tl.Tensor(up))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def _channels_last(a):
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def _is_channels_last(a):
    return a.transpose(0, 2, 3, 1).flags.c_contiguous and not a.flags.c_contiguous


@pytest.mark.parametrize("up_layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("in_layout", ["nchw", "nhwc"])
def test_max_pool2d_gradients_stay_float32_whatever_the_layouts(in_layout, up_layout):
    """float32 in, float32 gradients out, also for a non-leaf's retained gradient, when the upstream gradient's
    memory order differs from the input's (WindowScatter copies it into the input's order first)."""
    r = np.random.default_rng(0)
    a, up = r.standard_normal((2, 3, 6, 6)).astype(np.float32), r.standard_normal((2, 3, 3, 3)).astype(np.float32)
    x = tl.Tensor(_channels_last(a) if in_layout == "nhwc" else a, requires_grad=True)
    h = x * 2.0
    h.retain_grad()
    y = F.max_pool2d(h, 2)
    y.backward(tl.Tensor(_channels_last(up) if up_layout == "nhwc" else up))
    assert y.dtype == h.grad.dtype == x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), 2 * h.grad.numpy())


def test_conv2d_weight_gradients_gradient_reaches_a_channels_last_input_channels_last_like_torch():
    """d/dx of a function of conv2d's weight gradient (ConvWeightGrad's backward): the values of torch, and,
    as for the first-order gradient, stored in the channels-last input's own memory order."""
    torch = _torch()
    r = np.random.default_rng(0)
    xa, wa, ua = r.standard_normal((2, 3, 6, 5)), r.standard_normal((4, 3, 3, 2)), r.standard_normal((2, 4, 4, 6))
    tx, tw = torch.tensor(xa, requires_grad=True), torch.tensor(wa, requires_grad=True)
    (tgw,) = torch.autograd.grad((torch.nn.functional.conv2d(tx, tw, padding=(0, 1)) * torch.tensor(ua)).sum(), [tw],
                                 create_graph=True)
    (tgw ** 2).sum().backward()
    x, w = tl.Tensor(_channels_last(xa), requires_grad=True), tl.Tensor(wa, requires_grad=True)
    y = F.conv2d(x, w, padding=(0, 1))
    w.grad = None
    (y * tl.Tensor(ua)).sum().backward(create_graph=True)
    gw, w.grad, x.grad = w.grad, None, None
    (gw ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert _is_channels_last(x.grad.data)


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("c", [1, 3])
def test_conv2d_input_gradient_stays_float32(layout, c):
    """The input's gradient (the col2im accumulation) in float32 for float32 tensors, also a non-leaf's
    retained gradient (which the engine does not cast), in both of ConvInputGrad's paths."""
    r = np.random.default_rng(0)
    a = r.standard_normal((2, c, 6, 5)).astype(np.float32)
    x = tl.Tensor(_channels_last(a) if layout == "nhwc" else a, requires_grad=True)
    w = tl.Tensor(r.standard_normal((4, c, 3, 2)).astype(np.float32), requires_grad=True)
    h = x * 2.0
    h.retain_grad()
    y = F.conv2d(h, w, stride=(2, 1), padding=1)
    y.backward(tl.Tensor(r.standard_normal(y.shape).astype(np.float32)))
    assert h.grad.dtype == x.grad.dtype == w.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), 2 * h.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("c", [2, 3])
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_conv2d_input_gradient_is_stored_like_the_input(layout, c):
    """As PyTorch's memory formats propagate: a channels-last input gets a channels-last gradient, a
    C-contiguous one a C-contiguous gradient (the values are torch's either way)."""
    torch = _torch()
    r = np.random.default_rng(0)
    a, wa = r.standard_normal((2, c, 6, 5)), r.standard_normal((4, c, 3, 2))
    x = tl.Tensor(_channels_last(a) if layout == "nhwc" else a, requires_grad=True)
    y = F.conv2d(x, tl.Tensor(wa), padding=1)
    up = r.standard_normal(y.shape)
    y.backward(tl.Tensor(up))
    tx = torch.tensor(a, requires_grad=True)
    torch.nn.functional.conv2d(tx, torch.tensor(wa), padding=1).backward(torch.tensor(up))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert _is_channels_last(x.grad.data) if layout == "nhwc" else x.grad.data.flags.c_contiguous


@pytest.mark.parametrize("trainable", ["weight", "bias"])
def test_conv2d_with_only_the_weight_or_only_the_bias_trainable_matches_torch(trainable):
    torch = _torch()
    r = np.random.default_rng(0)
    a, wa, ba = r.standard_normal((2, 3, 5, 5)), r.standard_normal((4, 3, 3, 3)), r.standard_normal(4)
    w, b = tl.Tensor(wa, requires_grad=trainable == "weight"), tl.Tensor(ba, requires_grad=trainable == "bias")
    tw, tb = torch.tensor(wa, requires_grad=trainable == "weight"), torch.tensor(ba, requires_grad=trainable == "bias")
    (F.conv2d(tl.Tensor(a), w, b, stride=2) ** 2).sum().backward()
    (torch.nn.functional.conv2d(torch.tensor(a), tw, tb, stride=2) ** 2).sum().backward()
    got, ref = (w, tw) if trainable == "weight" else (b, tb)
    other = b if trainable == "weight" else w
    assert other.grad is None and got.grad is not None
    np.testing.assert_allclose(got.grad.numpy(), ref.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("bias", [False, True])
def test_conv2d_weight_and_bias_gradients_stay_float32(bias):
    """float32 weight and bias gradients, also when the weight and bias are non-leaves (retained .grad, which
    the engine does not cast)."""
    r = np.random.default_rng(0)
    x = tl.Tensor(r.standard_normal((2, 3, 6, 5)).astype(np.float32))
    w0 = tl.Tensor(r.standard_normal((4, 3, 3, 2)).astype(np.float32), requires_grad=True)
    b0 = tl.Tensor(r.standard_normal(4).astype(np.float32), requires_grad=True)
    w, b = w0 * 1.0, b0 * 1.0
    w.retain_grad()
    b.retain_grad()
    F.conv2d(x, w, b if bias else None, padding=1).sum().backward()
    assert w.grad.dtype == w0.grad.dtype == np.float32
    if bias:
        assert b.grad.dtype == b0.grad.dtype == np.float32


def test_conv2d_of_a_conv2d_output_stays_float32():
    """conv2d's output is stored spatial-major, so a second conv2d takes the multi-channel im2col path on it
    with no copy: float32 in, float32 out, and gradients float32 as well."""
    r = np.random.default_rng(0)
    x = tl.Tensor(r.standard_normal((2, 3, 7, 6)).astype(np.float32), requires_grad=True)
    w1 = tl.Tensor(r.standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    w2 = tl.Tensor(r.standard_normal((5, 4, 2, 2)).astype(np.float32), requires_grad=True)
    b2 = tl.Tensor(r.standard_normal(5).astype(np.float32), requires_grad=True)
    h = F.conv2d(x, w1)
    assert h.data.transpose(2, 3, 0, 1).flags.c_contiguous
    y = F.conv2d(h, w2, b2)
    assert h.dtype == y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == w1.grad.dtype == w2.grad.dtype == b2.grad.dtype == np.float32
