"""Tests written to kill mutants that survived scripts/mutation_test.sh in the public API: nn/functional.py
(one_hot, dropout, the losses' argument handling, batch_norm) and conv.py's argument handling
(adaptive_avg_pool2d, dropout2d, ...); optim.py's are in tests/test_mutation_kills_optim.py. Each test asserts
behaviour a PyTorch user relies on: values and defaults against torch where it is installed, both sides of
every validation boundary, and the exact text of error messages (which must name the op).
docs/testing.md lists which mutants each test kills."""
import re

import numpy as np
import pytest

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite import nn, optim

from parity import raises_whole as _raises, torch_or_skip as _torch


# =========================================================================== conv.py: argument handling

X5, W3 = tl.ones(1, 3, 5, 5), tl.ones(2, 3, 3, 3)


@pytest.mark.parametrize("v,err,shown", [((1, 2, 3), ValueError, "(1, 2, 3)"), ((1,), ValueError, "(1,)"),
                                         (True, TypeError, "True"), ((1, True), TypeError, "(1, True)"),
                                         ((False, 1), TypeError, "(False, 1)"), (1.0, TypeError, "1.0"),
                                         ((1, 1.5), TypeError, "(1, 1.5)"), ((2.0, 1), TypeError, "(2.0, 1)"),
                                         ("2", TypeError, "'2'")])
def test_conv_pair_arguments_are_ints_or_pairs_of_ints(v, err, shown):
    _raises(err, f"conv2d: stride must be an int or a pair of ints, got {shown}", F.conv2d, X5, W3, stride=v)
    _raises(err, f"max_pool2d: kernel_size must be an int or a pair of ints, got {shown}", F.max_pool2d, X5, v)
    _raises(err, f"avg_pool2d: padding must be an int or a pair of ints, got {shown}", F.avg_pool2d, X5, 3, 1, v)
    _raises(err, f"max_pool2d: dilation must be an int or a pair of ints, got {shown}", F.max_pool2d, X5, 2,
            dilation=v)


def test_conv_pair_arguments_accept_lists_and_numpy_ints_like_torch():
    torch = _torch()
    x = np.random.default_rng(0).standard_normal((1, 2, 7, 6)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((3, 2, 3, 2)).astype(np.float32)
    ref = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), stride=(2, 1), padding=(1, 0),
                                     dilation=(1, 2)).numpy()
    for kw in (dict(stride=[2, 1], padding=[1, 0], dilation=[1, 2]),
               dict(stride=(np.int64(2), np.int32(1)), padding=(np.int64(1), 0), dilation=(1, np.int16(2)))):
        y = F.conv2d(tl.Tensor(x), tl.Tensor(w), **kw)
        assert y.dtype == np.float32
        np.testing.assert_allclose(y.numpy(), ref, rtol=1e-5, atol=1e-5)
    ref = torch.nn.functional.max_pool2d(torch.tensor(x), (3, 2), stride=(2, 1)).numpy()
    np.testing.assert_array_equal(F.max_pool2d(tl.Tensor(x), [3, 2], stride=[2, 1]).numpy(), ref)
    np.testing.assert_array_equal(F.max_pool2d(tl.Tensor(x), (np.int64(3), 2), (2, np.int64(1))).numpy(), ref)


def test_conv_geometry_errors_show_the_input():
    _raises(TypeError, "conv2d: input must be a Tensor, got ndarray", F.conv2d, np.ones((1, 3, 5, 5), np.float32), W3)
    _raises(TypeError, "max_pool2d: input must be a Tensor, got list", F.max_pool2d, [[1.0]], 2)
    _raises(ValueError, "conv2d: expected a 4-D input (N, C, H, W), got shape (3, 5, 5) (a single image: "
            "x.unsqueeze(0))", F.conv2d, tl.ones(3, 5, 5), W3)
    _raises(ValueError, "conv2d: expected a 4-D input (N, C, H, W), got shape (5, 5)", F.conv2d, tl.ones(5, 5), W3)
    _raises(ValueError, "avg_pool2d: expected a 4-D input (N, C, H, W), got shape (1, 1, 1, 5, 5)", F.avg_pool2d,
            tl.ones(1, 1, 1, 5, 5), 2)
    _raises(TypeError, "max_pool2d: input must be floating point, got dtype int64", F.max_pool2d,
            tl.Tensor(np.ones((1, 1, 4, 4), np.int64)), 2)
    _raises(TypeError, "avg_pool2d: input must be floating point, got dtype bool", F.avg_pool2d,
            tl.Tensor(np.ones((1, 1, 4, 4), bool)), 2)


@pytest.mark.parametrize("kw,shown", [(dict(stride=0), "kernel_size (3, 3), stride (0, 0), padding (0, 0), "
                                                        "dilation (1, 1)"),
                                      (dict(stride=(1, 0)), "kernel_size (3, 3), stride (1, 0), padding (0, 0), "
                                                            "dilation (1, 1)"),
                                      (dict(padding=-1), "kernel_size (3, 3), stride (1, 1), padding (-1, -1), "
                                                         "dilation (1, 1)"),
                                      (dict(padding=(0, -1)), "kernel_size (3, 3), stride (1, 1), padding (0, -1), "
                                                              "dilation (1, 1)"),
                                      (dict(dilation=0), "kernel_size (3, 3), stride (1, 1), padding (0, 0), "
                                                         "dilation (0, 0)"),
                                      (dict(dilation=(1, 0)), "kernel_size (3, 3), stride (1, 1), padding (0, 0), "
                                                              "dilation (1, 0)")])
def test_conv_geometry_bounds_each_argument_on_its_own(kw, shown):
    _raises(ValueError, "conv2d: kernel_size, stride and dilation must be >= 1 and padding >= 0, got " + shown,
            F.conv2d, X5, W3, **kw)


def test_pool_kernel_size_bounds():
    _raises(ValueError, "max_pool2d: kernel_size, stride and dilation must be >= 1 and padding >= 0, got kernel_size "
            "(0, 2), stride (1, 1), padding (0, 0), dilation (1, 1)", F.max_pool2d, X5, (0, 2), 1)
    _raises(ValueError, "avg_pool2d: kernel_size, stride and dilation must be >= 1 and padding >= 0, got kernel_size "
            "(2, 0), stride (2, 0), padding (0, 0), dilation (1, 1)", F.avg_pool2d, X5, (2, 0))


@pytest.mark.parametrize("kw", [dict(), dict(stride=1), dict(padding=0), dict(dilation=1), dict(stride=(1, 2)),
                                dict(padding=(0, 1)), dict(dilation=(2, 1)), dict(padding=1, dilation=2)])
def test_conv2d_smallest_valid_arguments_match_torch(kw):
    torch = _torch()
    r = np.random.default_rng(0)
    x, w, b = r.standard_normal((2, 3, 6, 5)), r.standard_normal((4, 3, 2, 3)), r.standard_normal(4)
    y = F.conv2d(tl.Tensor(x), tl.Tensor(w), tl.Tensor(b), **kw)
    ref = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), **kw).numpy()
    assert y.shape == ref.shape
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-12, atol=1e-12)


def test_conv_kernel_exactly_fills_the_padded_input():
    """The effective kernel may equal the padded input on either axis (a 1-wide output), not exceed it."""
    torch = _torch()
    r = np.random.default_rng(0)
    for xs, ws, kw in (((1, 2, 3, 5), (1, 2, 3, 3), {}), ((1, 2, 5, 3), (1, 2, 3, 3), {}),
                       ((1, 2, 1, 1), (1, 2, 3, 3), dict(padding=1)), ((1, 2, 5, 7), (1, 2, 3, 3), dict(dilation=(2, 3))),
                       ((1, 2, 3, 4), (1, 2, 3, 3), dict(dilation=(1, 2), padding=(0, 1)))):
        x, w = r.standard_normal(xs), r.standard_normal(ws)
        y = F.conv2d(tl.Tensor(x), tl.Tensor(w), **kw)
        np.testing.assert_allclose(y.numpy(), torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), **kw).numpy(),
                                   rtol=1e-12, atol=1e-12)
    _raises(ValueError, "conv2d: kernel 3x3 is larger than the padded input 2x5 (input shape (1, 3, 2, 5), padding "
            "(0, 0))", F.conv2d, tl.ones(1, 3, 2, 5), W3)
    _raises(ValueError, "conv2d: kernel 3x3 is larger than the padded input 5x2 (input shape (1, 3, 5, 2), padding "
            "(0, 0))", F.conv2d, tl.ones(1, 3, 5, 2), W3)
    _raises(ValueError, "conv2d: kernel 3x3 (dilated to 3x5) is larger than the padded input 5x4 (input shape "
            "(1, 3, 5, 4), padding (0, 0))", F.conv2d, tl.ones(1, 3, 5, 4), W3, dilation=(1, 2))
    _raises(ValueError, "conv2d: kernel 3x3 (dilated to 5x3) is larger than the padded input 4x6 (input shape "
            "(1, 3, 2, 4), padding (1, 1))", F.conv2d, tl.ones(1, 3, 2, 4), W3, padding=1, dilation=(2, 1))
    _raises(ValueError, "max_pool2d: kernel 3x3 is larger than the padded input 2x2 (input shape (1, 1, 2, 2), "
            "padding (0, 0))", F.max_pool2d, tl.ones(1, 1, 2, 2), 3)


def test_conv2d_argument_errors():
    _raises(NotImplementedError, "conv2d: groups=3 is not implemented (only groups=1)", F.conv2d, X5,
            tl.ones(3, 1, 3, 3), groups=3)
    _raises(NotImplementedError, "conv2d: groups=0 is not implemented (only groups=1)", F.conv2d, X5, W3, groups=0)
    _raises(ValueError, "conv2d: weight must be a 4-D Tensor (out_channels, in_channels, kh, kw), got (2, 3, 3)",
            F.conv2d, X5, tl.ones(2, 3, 3))
    _raises(ValueError, "conv2d: weight must be a 4-D Tensor (out_channels, in_channels, kh, kw), got list",
            F.conv2d, X5, [[1.0]])
    _raises(ValueError, "conv2d: padding='same' needs stride 1, got stride 2", F.conv2d, X5, W3, padding="same",
            stride=2)
    _raises(ValueError, "conv2d: padding='same' needs stride 1, got stride (1, 2)", F.conv2d, X5, W3,
            padding="same", stride=(1, 2))
    _raises(NotImplementedError, "conv2d: padding='same' with an even effective kernel (2, 3) (asymmetric padding) "
            "is not implemented", F.conv2d, X5, tl.ones(2, 3, 2, 3), padding="same")
    _raises(NotImplementedError, "conv2d: padding='same' with an even effective kernel (3, 2) (asymmetric padding) "
            "is not implemented", F.conv2d, X5, tl.ones(2, 3, 3, 2), padding="same")
    _raises(ValueError, "conv2d: padding must be an int, a pair, 'valid' or 'same', got 'full'", F.conv2d, X5, W3,
            padding="full")
    _raises(ValueError, "conv2d: the input has 4 channels (shape (1, 4, 5, 5)) but the weight (2, 3, 3, 3) expects 3",
            F.conv2d, tl.ones(1, 4, 5, 5), W3)
    _raises(ValueError, "conv2d: bias must have shape (2,) for weight (2, 3, 3, 3), got (3,)", F.conv2d, X5, W3,
            tl.ones(3))
    _raises(TypeError, "conv2d: input dtype float64 and weight dtype float32 differ; cast one of them", F.conv2d,
            X5.double(), W3)
    _raises(TypeError, "conv2d: input dtype float32 and bias dtype float64 differ; cast one of them", F.conv2d,
            X5, W3, tl.ones(2).double())


@pytest.mark.parametrize("kw", [dict(padding="same"), dict(padding="same", dilation=2),
                                dict(padding="same", dilation=(1, 3), stride=1), dict(padding="valid"),
                                dict(padding="valid", stride=2, dilation=(2, 1))])
def test_conv2d_string_padding_matches_torch(kw):
    torch = _torch()
    r = np.random.default_rng(0)
    x, w = r.standard_normal((1, 2, 9, 8)), r.standard_normal((3, 2, 3, 5))
    y = F.conv2d(tl.Tensor(x), tl.Tensor(w), **kw)
    ref = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), **kw).numpy()
    assert y.shape == ref.shape
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-12, atol=1e-12)


def test_pooling_argument_errors():
    x = tl.ones(1, 1, 6, 6)
    for fn in ("max_pool2d", "avg_pool2d"):
        _raises(NotImplementedError, f"{fn}: ceil_mode=True is not implemented", getattr(F, fn), x, 2,
                ceil_mode=True)
        _raises(ValueError, f"{fn}: padding (0, 2) must be at most half the kernel size (3, 3)", getattr(F, fn), x,
                3, 1, (0, 2))
        _raises(ValueError, f"{fn}: padding (2, 1) must be at most half the kernel size (3, 3)", getattr(F, fn), x,
                3, 1, (2, 1))
        _raises(ValueError, f"{fn}: padding (1, 1) must be at most half the kernel size (1, 2)", getattr(F, fn), x,
                (1, 2), 1, 1)
    _raises(NotImplementedError, "max_pool2d: return_indices=True is not implemented", F.max_pool2d, x, 2,
            return_indices=True)
    _raises(ValueError, "avg_pool2d: divisor_override must be non-zero, got 0", F.avg_pool2d, x, 2,
            divisor_override=0)


@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("args,kw", [((3,), {}), ((2, None), {}), ((3, None, 1), {}), ((3, 2, (1, 0)), {}),
                                     ((2, 1, 1), {}), (((4, 2), None, (2, 1)), {}), ((3,), dict(ceil_mode=False))])
def test_pooling_defaults_and_largest_padding_match_torch(name, args, kw):
    """stride defaults to the kernel size; padding up to half the kernel on each axis; float32 in and out."""
    torch = _torch()
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 8)).astype(np.float32)
    xo, xt = tl.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = getattr(F, name)(xo, *args, **kw), getattr(torch.nn.functional, name)(xt, *args, **kw)
    assert yo.shape == tuple(yt.shape) and yo.dtype == np.float32
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=1e-6, atol=1e-6)
    up = np.random.default_rng(1).standard_normal(yo.shape).astype(np.float32)
    yo.backward(tl.Tensor(up))
    yt.backward(torch.tensor(up))
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kw", [dict(), dict(count_include_pad=True), dict(count_include_pad=False),
                                dict(divisor_override=2), dict(divisor_override=-3),
                                dict(count_include_pad=False, divisor_override=5)])
@pytest.mark.parametrize("padding", [0, 1, (1, 0)])
def test_avg_pool2d_divisor_options_match_torch(kw, padding):
    torch = _torch()
    x = np.random.default_rng(0).standard_normal((1, 2, 7, 6)).astype(np.float32)
    y = F.avg_pool2d(tl.Tensor(x), 3, 2, padding, **kw)
    ref = torch.nn.functional.avg_pool2d(torch.tensor(x), 3, 2, padding, **kw).numpy()
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-6, atol=1e-6)
    yd = F.avg_pool2d(tl.Tensor(x.astype(np.float64)), 3, 2, padding, **kw)
    assert yd.dtype == np.float64


# =========================================================================== conv.py: adaptive_avg_pool2d
def test_adaptive_avg_pool2d_errors_name_the_op():
    with pytest.raises(TypeError, match=r"^adaptive_avg_pool2d: input must be a Tensor, got ndarray$"):
        F.adaptive_avg_pool2d(np.ones((1, 1, 4, 4), np.float32), 2)
    with pytest.raises(ValueError, match=r"^adaptive_avg_pool2d: expected a 4-D input \(N, C, H, W\), got shape "
                                         r"\(1, 4, 4\)"):
        F.adaptive_avg_pool2d(tl.ones(1, 4, 4), 2)
    with pytest.raises(ValueError, match=r"^adaptive_avg_pool2d: output_size must be positive, got 0$"):
        F.adaptive_avg_pool2d(tl.ones(1, 1, 4, 4), 0)
    with pytest.raises(NotImplementedError, match=r"^adaptive_avg_pool2d: output size \(2, 2\) does not divide "
                                                  r"the input's 5x4"):
        F.adaptive_avg_pool2d(tl.ones(1, 1, 5, 4), 2)


@pytest.mark.parametrize("shape", [(1, 1, 0, 4), (1, 1, 4, 0)])
def test_adaptive_avg_pool2d_of_an_empty_spatial_axis_is_an_error(shape):
    """Refused with the geometry check's message (PyTorch gives nan here; an error is the clearer answer)."""
    h, w = shape[2:]
    with pytest.raises(ValueError, match=r"^adaptive_avg_pool2d: kernel 1x1 is larger than the padded input "
                                         rf"{h}x{w} \(input shape {re.escape(str(shape))}, padding \(0, 0\)\)$"):
        F.adaptive_avg_pool2d(tl.ones(*shape), 1)


@pytest.mark.parametrize("size", [(0, 2), (2, 0), (-1, 1)])
def test_adaptive_avg_pool2d_rejects_a_non_positive_size_on_either_axis(size):
    with pytest.raises(ValueError, match=r"^adaptive_avg_pool2d: output_size must be positive"):
        F.adaptive_avg_pool2d(tl.ones(1, 1, 4, 4), size)


@pytest.mark.parametrize("shape", [(1, 1, 5, 4), (1, 1, 4, 5)])
def test_adaptive_avg_pool2d_not_dividing_on_one_axis_is_refused(shape):
    with pytest.raises(NotImplementedError, match=r"^adaptive_avg_pool2d: output size \(2, 2\) does not divide"):
        F.adaptive_avg_pool2d(tl.ones(*shape), 2)


@pytest.mark.parametrize("shape,size", [((2, 3, 1, 1), 1), ((2, 3, 1, 4), (1, 2)), ((2, 3, 4, 1), (2, 1)),
                                        ((2, 3, 4, 6), (2, 1)), ((2, 3, 4, 6), (1, 3)), ((2, 3, 4, 6), (2, None)),
                                        ((2, 3, 4, 6), (None, 3)), ((2, 3, 1, 6), (None, 2))])
def test_adaptive_avg_pool2d_sizes_match_torch(shape, size):
    """1x1 inputs (a 1x1 kernel fits), one axis reduced to 1 and the other not, None keeping either axis."""
    torch = _torch()
    x = np.random.default_rng(0).standard_normal(shape)
    xt, xo = torch.tensor(x, requires_grad=True), tl.Tensor(x, requires_grad=True)
    yt, yo = torch.nn.functional.adaptive_avg_pool2d(xt, size), F.adaptive_avg_pool2d(xo, size)
    assert yo.shape == tuple(yt.shape)
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-14)
    up = np.random.default_rng(1).standard_normal(yo.shape)
    yt.backward(torch.tensor(up))
    yo.backward(tl.Tensor(up))
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-14)


# =========================================================================== conv.py: dropout2d
def test_dropout2d_default_p_is_one_half():
    tl.manual_seed(0)
    y = F.dropout2d(tl.ones(16, 32, 2, 2)).numpy().reshape(16 * 32, 4)
    assert set(np.unique(y)) <= {0.0, 2.0}                  # kept channels scaled by 1 / (1 - 0.5)
    assert (y == y[:, :1]).all()                           # whole channels
    assert 0.4 < (y[:, 0] == 0).mean() < 0.6


def test_dropout2d_p_boundaries():
    x = tl.Tensor(np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(np.float32))
    assert np.array_equal(F.dropout2d(x, 0.0).numpy(), x.numpy())          # p = 0: allowed, the identity
    assert np.array_equal(F.dropout2d(x, 1.0).numpy(), np.zeros((2, 3, 4, 4), np.float32))
    for p in (1.5, 2.0, -0.1):
        with pytest.raises(ValueError, match=rf"^dropout2d: p must be in \[0, 1\], got {re.escape(str(p))}$"):
            F.dropout2d(x, p)


def test_dropout2d_shape_error_shows_the_shape():
    with pytest.raises(ValueError, match=r"^dropout2d: expected a 4-D input \(N, C, H, W\), got shape \(2, 3, 4\)$"):
        F.dropout2d(tl.ones(2, 3, 4), 0.5)
    with pytest.raises(ValueError, match=r"^dropout2d: expected a 4-D input \(N, C, H, W\), got shape None$"):
        F.dropout2d([[1.0, 2.0]], 0.5)                         # not a Tensor: no shape to show


def test_dropout2d_output_requires_grad_only_when_the_input_does():
    tl.manual_seed(0)
    x = tl.ones(2, 4, 3, 3)
    y = F.dropout2d(x, 0.5)
    assert y.requires_grad is False
    xg = tl.ones(2, 4, 3, 3, requires_grad=True)
    yg = F.dropout2d(xg, 0.5)
    assert yg.requires_grad is True
    yg.sum().backward()
    np.testing.assert_array_equal(xg.grad.numpy(), yg.detach().numpy())   # the gradient is the scaled mask


# =========================================================================== functional.py: activations
def test_celu_default_alpha_matches_torch_and_alpha_zero_is_refused():
    torch = _torch()
    x = np.array([-3.0, -1.0, -0.25, 0.0, 0.5, 2.0])
    np.testing.assert_allclose(F.celu(tl.Tensor(x)).numpy(), torch.nn.functional.celu(torch.tensor(x)).numpy(),
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(F.celu(tl.Tensor(x), 1.0).numpy(), torch.nn.functional.celu(torch.tensor(x)).numpy(),
                               rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match=r"^celu: alpha must not be 0$"):
        F.celu(tl.Tensor(x), 0.0)


# =========================================================================== functional.py: one_hot
def test_one_hot_of_empty_labels_with_num_classes():
    torch = _torch()
    for n in (1, 3):
        y = F.one_hot(np.zeros((0,), np.int64), num_classes=n)
        assert y.shape == tuple(torch.nn.functional.one_hot(torch.zeros(0, dtype=torch.long), n).shape) == (0, n)
        assert y.dtype == np.int64
    y = F.one_hot(tl.Tensor(np.zeros((2, 0), np.int64)), num_classes=1)
    assert y.shape == (2, 0, 1)


@pytest.mark.parametrize("num_classes", [-1, 0, -2])
def test_one_hot_of_empty_labels_refuses_a_count_it_cannot_use(num_classes):
    """PyTorch raises for empty labels unless num_classes >= 1 (it used to give a (0, 0) result for 0, and an
    IndexError about a label -1 that isn't there for -2)."""
    torch = _torch()
    with pytest.raises(RuntimeError, match="Can not infer total number of classes from empty tensor"):
        torch.nn.functional.one_hot(torch.zeros(0, dtype=torch.long), num_classes)
    with pytest.raises(RuntimeError, match=r"^one_hot: can't infer the number of classes from empty labels; pass "
                                           rf"num_classes >= 1, got {num_classes}$"):
        F.one_hot(np.zeros((0,), np.int64), num_classes)


def test_one_hot_output_does_not_require_grad():
    y = F.one_hot(tl.Tensor(np.array([0, 2, 1])), 3)
    assert y.requires_grad is False
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y.numpy(), np.eye(3, dtype=np.int64)[[0, 2, 1]])


# =========================================================================== functional.py: losses
@pytest.mark.parametrize("name", ["l1_loss", "mse_loss"])
def test_regression_losses_name_themselves_in_the_shape_error(name):
    with pytest.raises(ValueError, match=rf"^{name}: target shape \(3,\) does not match input shape \(2, 3\)$"):
        getattr(F, name)(tl.ones(2, 3), tl.ones(3))


# =========================================================================== functional.py: batch_norm
def _bn_pair(torch, shape, seed=0, stats=True, affine=True):
    r = np.random.default_rng(seed)
    c = shape[1]
    x = r.standard_normal(shape) * 2 + 0.5
    ours = [tl.Tensor(x, requires_grad=True)]
    theirs = [torch.tensor(x, requires_grad=True)]
    for make in ((lambda: r.standard_normal(c) * 0.3), (lambda: r.uniform(1e-4, 2.0, c))) if stats else ():
        a = make()
        ours.append(tl.Tensor(a.copy()))
        theirs.append(torch.tensor(a.copy()))
    if not stats:
        ours += [None, None]
        theirs += [None, None]
    if affine:
        w, b = r.standard_normal(c), r.standard_normal(c)
        ours += [tl.Tensor(w, requires_grad=True), tl.Tensor(b, requires_grad=True)]
        theirs += [torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)]
    return ours, theirs


@pytest.mark.parametrize("shape", [(5, 3), (2, 3), (4, 3, 2), (1, 3, 2), (3, 2, 4, 3)])
@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("affine", [False, True])
def test_batch_norm_functional_with_its_defaults_matches_torch(shape, training, affine):
    """F.batch_norm called as users do, leaning on its defaults (momentum 0.1, eps 1e-5, training=False when
    not given): output, gradients and the running statistics updated in place."""
    torch = _torch()
    ours, theirs = _bn_pair(torch, shape, affine=affine)
    kw = dict(training=True) if training else {}
    yo, yt = F.batch_norm(*ours, **kw), torch.nn.functional.batch_norm(*theirs, **kw)
    assert yo.shape == tuple(yt.shape)
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    up = np.random.default_rng(7).standard_normal(shape)
    yo.backward(tl.Tensor(up))
    yt.backward(torch.tensor(up))
    for i in [0] + ([3, 4] if affine else []):
        np.testing.assert_allclose(ours[i].grad.numpy(), theirs[i].grad.numpy(), rtol=1e-8, atol=1e-10,
                                   err_msg=f"gradient of argument {i}")
    for i in (1, 2):
        np.testing.assert_allclose(ours[i].numpy(), theirs[i].numpy(), rtol=1e-12, err_msg=f"running stat {i}")


@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 5)])
def test_batch_norm_training_without_running_stats_matches_torch(shape):
    torch = _torch()
    ours, theirs = _bn_pair(torch, shape, stats=False)
    yo = F.batch_norm(*ours, training=True, momentum=0.3, eps=1e-3)
    yt = torch.nn.functional.batch_norm(*theirs, training=True, momentum=0.3, eps=1e-3)
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_batch_norm_errors_name_the_op_and_the_argument():
    x = tl.ones(4, 3)
    with pytest.raises(ValueError, match=r"^batch_norm: expected an input of at least 2 dimensions \(N, C, \.\.\.\), "
                                         r"got shape \(3,\)$"):
        F.batch_norm(tl.ones(3), None, None, training=True)
    good = tl.ones(3)
    for i, name in enumerate(["running_mean", "running_var", "weight", "bias"]):
        args = [good] * 4
        args[i] = tl.ones(2)
        with pytest.raises(ValueError, match=rf"^batch_norm: {name} must have shape \(3,\) for an input of shape "
                                             rf"\(4, 3\), got \(2,\)$"):
            F.batch_norm(x, *args, training=True)
    msg = r"^batch_norm: running_mean and running_var are needed when training=False$"
    for rm, rv in ((None, good), (good, None), (None, None)):
        with pytest.raises(ValueError, match=msg):
            F.batch_norm(x, rm, rv)
    for shape in ((1, 3), (1, 3, 1), (1, 3, 1, 1), (4, 0)):
        with pytest.raises(ValueError, match=r"^batch_norm: expected more than 1 value per channel when training, "
                                             rf"got input of shape {re.escape(str(shape))}$"):
            F.batch_norm(tl.ones(*shape), None, None, training=True)
    assert F.batch_norm(tl.ones(1, 3), good, good).shape == (1, 3)       # eval: one value per channel is fine


# =========================================================================== functional.py: hardtanh, normalize
def test_hardtanh_with_equal_bounds_matches_torch():
    torch = _torch()
    x = np.array([-1.0, 0.5, 2.0])
    np.testing.assert_array_equal(F.hardtanh(tl.Tensor(x), 0.5, 0.5).numpy(),
                                  torch.nn.functional.hardtanh(torch.tensor(x), 0.5, 0.5).numpy())
    with pytest.raises(ValueError, match=r"^hardtanh: min_val 0.6 is above max_val 0.5$"):
        F.hardtanh(tl.Tensor(x), 0.6, 0.5)


def test_normalize_defaults_match_torch_and_p_zero_is_refused():
    torch = _torch()
    x = np.random.default_rng(0).standard_normal((3, 4, 2))
    np.testing.assert_allclose(F.normalize(tl.Tensor(x)).numpy(),
                               torch.nn.functional.normalize(torch.tensor(x)).numpy(), rtol=1e-12, atol=1e-15)
    with pytest.raises(NotImplementedError, match=r"^normalize: p=0 is not supported; give a finite p > 0$"):
        F.normalize(tl.Tensor(x), p=0)


def test_pad_defaults_are_constant_zero_like_torch():
    torch = _torch()
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(F.pad(tl.Tensor(x), (1, 2)).numpy(),
                                  torch.nn.functional.pad(torch.tensor(x), (1, 2)).numpy())


def test_optimizer_load_state_dict_messages_name_the_field():
    o = optim.Adam([nn.Parameter(np.zeros(2, np.float32))])
    g = o.state_dict()["param_groups"]
    z = np.zeros(2, np.float32)
    cases = [({"state": {}, "param_groups": 5}, "optimizer.param_groups: expected a list of dicts"),
             ({"state": {}, "param_groups": [5]}, "optimizer.param_groups: expected a list of dicts"),
             ({"state": [], "param_groups": g}, "optimizer.state: expected a dict, got list"),
             ({"state": {1: {}}, "param_groups": g}, "optimizer.state.1: no parameter 1 (this optimizer has 1)"),
             ({"state": {True: {}}, "param_groups": g}, "optimizer.state.True: no parameter True (this optimizer has 1)"),
             ({"state": {"x": {}}, "param_groups": g}, "optimizer.state.x: no parameter 'x' (this optimizer has 1)"),
             ({"state": {0: 3}, "param_groups": g}, "optimizer.state.0: expected a dict, got int"),
             ({"state": {0: {"step": 1}}, "param_groups": g},
              "optimizer.state.0: Adam state needs ['step', 'exp_avg', 'exp_avg_sq'], missing ['exp_avg', 'exp_avg_sq']"),
             ({"state": {0: {"step": 1, "exp_avg": z, "exp_avg_sq": z, "foo": 1}}, "param_groups": g},
              "optimizer.state.0: Adam state needs ['step', 'exp_avg', 'exp_avg_sq'], unknown ['foo']"),
             ({"state": {0: {"step": 1, "foo": 1}}, "param_groups": g},
              "optimizer.state.0: Adam state needs ['step', 'exp_avg', 'exp_avg_sq'], missing ['exp_avg', 'exp_avg_sq'], "
              "unknown ['foo']")]
    for sd, msg in cases:
        with pytest.raises(ValueError, match="^" + re.escape(msg) + "$"):
            o.load_state_dict(sd)
    o.load_state_dict({"state": {0: {}}, "param_groups": g})          # an empty entry: nothing missing
