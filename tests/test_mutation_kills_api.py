"""Tests written to kill mutants that survived scripts/mutation_test.sh in the public API: nn/functional.py
(one_hot, dropout, the losses' argument handling, batch_norm), optim.py (optimizers, lr schedulers and their
state_dicts) and conv.py's argument handling (adaptive_avg_pool2d, dropout2d, ...). Each test asserts
behaviour a PyTorch user relies on: values and defaults against torch where it is installed, both sides of
every validation boundary, and the exact text of error messages (which must name the op).
docs/testing.md lists which mutants each test kills."""
import re

import numpy as np
import pytest

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite import nn, optim

from parity import TORCH_REASON, raises_whole as _raises, torch_or_skip as _torch


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


# =========================================================================== optim.py: Optimizer
def test_optimizer_repr_lists_the_hyperparameters():
    p = nn.Parameter(np.zeros(2, np.float32))
    assert repr(optim.SGD([p], lr=0.1)) == "SGD(lr=0.1, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0)"
    assert repr(optim.Adam([p])) == "Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0)"


# =========================================================================== optim.py: MultiStepLR / StepLR
def _sgd(lr=1.0):
    return optim.SGD([nn.Parameter(np.zeros(2, np.float32))], lr=lr)


def test_multisteplr_state_dict_and_resume():
    s = optim.MultiStepLR(_sgd(), milestones=[5, 2], gamma=0.5)
    for _ in range(4):
        s.step()
    state = s.state_dict()
    assert state == {"last_epoch": 4, "milestones": [2, 5], "gamma": 0.5}
    assert state["milestones"] is not s.milestones                      # a copy, not the scheduler's list
    o2 = _sgd()
    r = optim.MultiStepLR(o2, milestones=[100], gamma=0.9)
    r.load_state_dict({"last_epoch": 4, "milestones": [5, 2], "gamma": 0.5})
    assert (r.last_epoch, r.milestones, r.gamma) == (4, [2, 5], 0.5)
    assert o2.param_groups[0]["lr"] == 0.5
    r.step()
    assert r.get_last_lr() == [0.25]                                     # epoch 5: past both milestones


def test_steplr_state_dict_and_resume():
    s = optim.StepLR(_sgd(), step_size=3, gamma=0.1)
    for _ in range(4):
        s.step()
    state = s.state_dict()
    assert state == {"last_epoch": 4, "milestones": [], "gamma": 0.1, "step_size": 3}
    o2 = _sgd()
    r = optim.StepLR(o2, step_size=10, gamma=0.5)
    r.load_state_dict(state)
    assert (r.last_epoch, r.step_size, r.gamma) == (4, 3, 0.1)
    np.testing.assert_allclose(r.get_last_lr(), [0.1], rtol=1e-15)
    for _ in range(2):
        r.step()
    np.testing.assert_allclose(r.get_last_lr(), [0.01], rtol=1e-15)     # epoch 6: two decays of step_size 3


# =========================================================================== optim.py: _LRScheduler
@pytest.mark.parametrize("name,kw", [("ExponentialLR", dict(gamma=0.5)), ("CosineAnnealingLR", dict(T_max=8))])
def test_scheduler_step_to_an_epoch(name, kw):
    """step(epoch) jumps to that epoch (PyTorch's deprecated but supported form, which resume relies on)."""
    o = _sgd(0.8)
    s = getattr(optim.lr_scheduler, name)(o, **kw)
    s.step(5)
    assert s.last_epoch == 5
    assert o.param_groups[0]["lr"] == s.lr_at(5, 0.8)
    s.step(2)
    assert s.last_epoch == 2 and o.param_groups[0]["lr"] == s.lr_at(2, 0.8)
    s.step()
    assert s.last_epoch == 3


# =========================================================================== optim.py: CosineAnnealingLR
@pytest.mark.filterwarnings("ignore:Detected call of")
def test_cosine_annealing_t_max_one_matches_torch():
    torch = _torch()
    tp = torch.nn.Parameter(torch.zeros(2))
    to = torch.optim.SGD([tp], lr=0.5)
    ts = torch.optim.lr_scheduler.CosineAnnealingLR(to, T_max=1, eta_min=0.1)
    o = _sgd(0.5)
    s = optim.CosineAnnealingLR(o, T_max=1, eta_min=0.1)
    for step in range(4):
        np.testing.assert_allclose(o.param_groups[0]["lr"], to.param_groups[0]["lr"], rtol=1e-12,
                                   err_msg=f"step {step}")
        s.step()
        ts.step()


@pytest.mark.parametrize("t_max", [0, -1])
def test_cosine_annealing_rejects_a_non_positive_t_max(t_max):
    with pytest.raises(ValueError, match=rf"^CosineAnnealingLR: T_max must be a positive number of steps, "
                                         rf"got {t_max}$"):
        optim.CosineAnnealingLR(_sgd(), T_max=t_max)


# =========================================================================== optim.py: OneCycleLR
def _one_cycle_pair(torch, opt="SGD", okw=None, n_groups=1, **kw):
    okw = dict(lr=0.1, momentum=0.9) if okw is None else okw
    ps = [nn.Parameter(np.zeros(2, np.float32)) for _ in range(n_groups)]
    tps = [torch.nn.Parameter(torch.zeros(2)) for _ in range(n_groups)]
    o = getattr(optim, opt)([{"params": [p]} for p in ps], **okw)
    to = getattr(torch.optim, opt)([{"params": [p]} for p in tps], **okw)
    return o, optim.OneCycleLR(o, **kw), to, torch.optim.lr_scheduler.OneCycleLR(to, **kw)


def _assert_same_schedule(o, s, to, ts, steps):
    for step in range(steps):
        for i, (g, tg) in enumerate(zip(o.param_groups, to.param_groups)):
            np.testing.assert_allclose(g["lr"], tg["lr"], rtol=1e-12, atol=1e-15, err_msg=f"lr, group {i}, step {step}")
            if "momentum" in tg:
                np.testing.assert_allclose(g["momentum"], tg["momentum"], rtol=1e-12, err_msg=f"momentum, step {step}")
        if step < steps - 1:
            s.step()
            ts.step()


@pytest.mark.filterwarnings("ignore:Detected call of")
@pytest.mark.parametrize("kw,steps", [(dict(max_lr=1.0, total_steps=1), 1),
                                      (dict(max_lr=1.0, total_steps=6, pct_start=0.0), 6),
                                      (dict(max_lr=1.0, total_steps=6, pct_start=1.0), 6),
                                      (dict(max_lr=1.0, total_steps=5, pct_start=1.0, anneal_strategy="linear"), 5)])
def test_one_cycle_boundary_arguments_match_torch(kw, steps):
    """total_steps=1 and pct_start at 0 and 1 are valid (as in PyTorch); pct_start=1 ends exactly at max_lr."""
    torch = _torch()
    _assert_same_schedule(*_one_cycle_pair(torch, **kw), steps)


@pytest.mark.filterwarnings("ignore:Detected call of")
def test_one_cycle_max_lr_per_group_matches_torch():
    torch = _torch()
    o, s, to, ts = _one_cycle_pair(torch, n_groups=2, max_lr=[1.0, 0.25], total_steps=7)
    assert [g["max_lr"] for g in o.param_groups] == [1.0, 0.25]
    _assert_same_schedule(o, s, to, ts, 7)


def test_one_cycle_errors():
    o = _sgd()
    msg = r"^OneCycleLR: give total_steps, or epochs and steps_per_epoch$"
    for kw in (dict(), dict(epochs=3), dict(steps_per_epoch=4)):
        with pytest.raises(ValueError, match=msg):
            optim.OneCycleLR(o, max_lr=1.0, **kw)
    for kw, got in ((dict(total_steps=0), "0, 0.3, 'cos'"), (dict(total_steps=10, pct_start=1.5), "10, 1.5, 'cos'"),
                    (dict(total_steps=10, pct_start=-0.1), "10, -0.1, 'cos'"),
                    (dict(total_steps=10, anneal_strategy="exp"), "10, 0.3, 'exp'")):
        with pytest.raises(ValueError, match=r"^OneCycleLR: need total_steps >= 1, 0 <= pct_start <= 1 and "
                                             r"anneal_strategy 'cos' or 'linear', got " + re.escape(got) + "$"):
            optim.OneCycleLR(o, max_lr=1.0, **kw)
    with pytest.raises(ValueError, match=r"^OneCycleLR: the optimizer has no momentum or beta1 to cycle; pass "
                                         r"cycle_momentum=False$"):
        optim.OneCycleLR(optim.Adagrad([nn.Parameter(np.zeros(2, np.float32))]), max_lr=1.0, total_steps=5)


# =========================================================================== optim.py: state_dict validation
@pytest.mark.parametrize("sd,got", [({"state": {}}, "keys ['state']"), ({"param_groups": []}, "keys ['param_groups']"),
                                    ({}, "keys []"), (5, "int"), (["state", "param_groups"], "list")])
def test_optimizer_load_state_dict_needs_both_keys(sd, got):
    """A dict missing either key, or something that is not a dict at all, is refused whole (not a KeyError)."""
    o = _sgd()
    with pytest.raises(ValueError, match=r"^optimizer state: expected a dict with 'state' and 'param_groups', got "
                                         + re.escape(got) + "$"):
        o.load_state_dict(sd)
    assert o.param_groups[0]["lr"] == 1.0 and o.state == {}


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


# =========================================================================== optim.py: session 3 (issue 17)
def _adam_sd(n=1, shape=(2,)):
    ps = [nn.Parameter(np.zeros(shape, np.float32)) for _ in range(n)]
    o = optim.Adam(ps)
    return o, o.state_dict()["param_groups"]


def _entry(**kw):
    z = np.zeros(2, np.float32)
    st = {"step": 1, "exp_avg": z, "exp_avg_sq": z}
    st.update(kw)
    return st


def _refused(o, sd, msg, err=ValueError):
    before = ([dict(g) for g in o.param_groups], dict(o.state))
    with pytest.raises(err, match="^" + re.escape(msg) + "$"):
        o.load_state_dict(sd)
    assert ([dict(g) for g in o.param_groups], dict(o.state)) == before     # nothing changed


def test_optimizer_state_dict_puts_params_last_in_each_group_like_torch():
    torch = _torch()
    p = nn.Parameter(np.zeros(2, np.float32))
    keys = list(optim.SGD([p], lr=0.1).state_dict()["param_groups"][0])
    tkeys = list(torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1).state_dict()["param_groups"][0])
    assert keys[-1] == tkeys[-1] == "params"
    assert keys == ["lr", "momentum", "dampening", "nesterov", "weight_decay", "params"]
    # still last once a scheduler has added initial_lr to the group (after its params)
    o, to = optim.SGD([p], lr=0.1), torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
    optim.StepLR(o, step_size=2), torch.optim.lr_scheduler.StepLR(to, step_size=2)
    keys, tkeys = list(o.state_dict()["param_groups"][0]), list(to.state_dict()["param_groups"][0])
    assert keys[-1] == tkeys[-1] == "params" and "initial_lr" in keys and "initial_lr" in tkeys


def test_optimizer_load_state_dict_parameter_indices():
    o, g = _adam_sd()
    for bad in ([0.0], [False]):      # sort like [0] but are not ints
        g2 = [dict(g[0], params=bad)]
        _refused(o, {"state": {}, "param_groups": g2},
                 f"optimizer.param_groups: parameter indices must be 0..0 once each, got {bad}")
    o, g = _adam_sd(3)
    _refused(o, {"state": {}, "param_groups": [dict(g[0], params=[0, 0, 1])]},
             "optimizer.param_groups: parameter indices must be 0..2 once each, got [0, 0, 1]")
    o, g = _adam_sd(12)                # only the first 10 indices are shown
    _refused(o, {"state": {}, "param_groups": [dict(g[0], params=list(range(11)) + [3])]},
             "optimizer.param_groups: parameter indices must be 0..11 once each, got [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]")


def test_optimizer_load_state_dict_checks_the_saved_hyperparameters():
    o, g = _adam_sd()
    _refused(o, {"state": {}, "param_groups": [dict(g[0], lr=-1)]},
             "optimizer.param_groups.0: Invalid learning rate: -1")
    _refused(o, {"state": {}, "param_groups": [dict(g[0], lr="a")]},
             "optimizer.param_groups.0: Invalid learning rate: 'a' (expected a real number, got str)", TypeError)
    # a saved list is read as the tuple it becomes (the message shows the tuple)
    _refused(o, {"state": {}, "param_groups": [dict(g[0], betas=[0.9, 0.999, 0.5])]},
             "optimizer.param_groups.0: Adam: betas must be a pair (beta1, beta2), got (0.9, 0.999, 0.5)")
    o.load_state_dict({"state": {}, "param_groups": [dict(g[0], betas=[0.5, 0.6])]})
    assert o.param_groups[0]["betas"] == (0.5, 0.6)


def test_optimizer_load_state_dict_state_key_that_is_not_an_index():
    o, g = _adam_sd(2)
    _refused(o, {"state": {"x": {}}, "param_groups": g}, "optimizer.state.x: no parameter 'x' (this optimizer has 2)")
    _refused(o, {"state": {"1": 5}, "param_groups": g}, "optimizer.state.1: expected a dict, got int")


@pytest.mark.parametrize("step,shown", [(-1, "-1"), (float("inf"), "inf"), (float("nan"), "nan"), (-0.5, "-0.5"),
                                        ("3", "'3'"), (None, "None"), (np.array([3]), "array([3])"),
                                        (np.array([1, 2]), "array([1, 2])"), (np.float64(-1.0), "np.float64(-1.0)")])
def test_optimizer_load_state_dict_refuses_a_bad_step_count(step, shown):
    o, g = _adam_sd()
    if isinstance(step, np.floating) and repr(step) != shown:
        shown = repr(step)                        # NumPy < 2 writes -1.0
    _refused(o, {"state": {0: _entry(step=step)}, "param_groups": g},
             f"optimizer.state.0.step: expected a non-negative number, got {shown}")


@pytest.mark.parametrize("step", [0, 0.5, 3, np.int64(2), np.array(4.0, np.float32)])
def test_optimizer_load_state_dict_accepts_any_non_negative_step_count(step):
    o, g = _adam_sd()
    o.load_state_dict({"state": {0: _entry(step=step)}, "param_groups": g})
    got = o.state_dict()["state"][0]["step"]
    assert got == float(step) and not hasattr(got, "shape")


def test_optimizer_load_state_dict_refuses_bad_state_arrays():
    o, g = _adam_sd()
    z = np.zeros(2, np.float32)
    cases = [(_entry(exp_avg=[0.0, 0.0]), "optimizer.state.0.exp_avg: expected an array of shape (2,), got list"),
             (_entry(exp_avg=memoryview(z)),
              "optimizer.state.0.exp_avg: expected an array of shape (2,), got memoryview"),
             (_entry(exp_avg=np.zeros(3, np.float32)), "optimizer.state.0.exp_avg: has shape (3,), the parameter (2,)"),
             (_entry(exp_avg=np.zeros(2, np.int64)),
              "optimizer.state.0.exp_avg: has dtype int64, expected a floating dtype like the parameter's float32"),
             (_entry(exp_avg=np.array([0, np.nan], np.float32)),
              "optimizer.state.0.exp_avg: holds non-finite values (nan or inf)"),
             (_entry(exp_avg_sq=np.array([0, -1e-30], np.float32)),
              "optimizer.state.0.exp_avg_sq: holds negative values (it is a running mean of squares)")]
    for st, msg in cases:
        _refused(o, {"state": {0: st}, "param_groups": g}, msg)
    # exp_avg may be negative (only exp_avg_sq is a mean of squares), and zeros anywhere are fine
    o.load_state_dict({"state": {0: _entry(exp_avg=-z - 1, exp_avg_sq=z)}, "param_groups": g})
    np.testing.assert_array_equal(o.state_dict()["state"][0]["exp_avg_sq"], z)


def test_adam_state_of_a_0d_parameter_survives_a_checkpoint_like_torch():
    torch = _torch()
    tp = torch.nn.Parameter(torch.tensor(1.5))
    to = torch.optim.Adam([tp], lr=0.1)
    p = nn.Parameter(np.array(1.5, np.float32))
    o = optim.Adam([p], lr=0.1)
    for i, gv in enumerate([0.5, -2.0, 1.0]):
        tp.grad = torch.tensor(gv)
        to.step()
        p.grad = tl.Tensor(np.array(gv, np.float32))
        o.step()
        sd = o.state_dict()
        o = optim.Adam([p], lr=0.1)              # resume from the checkpoint each step
        o.load_state_dict(sd)
        st = o.state_dict()["state"][0]
        assert isinstance(st["exp_avg"], np.ndarray) and st["exp_avg"].shape == ()
        assert st["exp_avg"] is not sd["state"][0]["exp_avg"]
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(st["exp_avg_sq"], to.state_dict()["state"][0]["exp_avg_sq"].numpy(), rtol=1e-6)


def test_rmsprop_without_momentum_keeps_no_momentum_buffer_like_torch():
    torch = _torch()
    for kw in (dict(), dict(centered=True)):
        p, tp = nn.Parameter(np.ones(2, np.float32)), torch.nn.Parameter(torch.ones(2))
        o, to = optim.RMSprop([p], **kw), torch.optim.RMSprop([tp], **kw)
        p.grad, tp.grad = tl.ones(2), torch.ones(2)
        o.step()
        to.step()
        assert sorted(o.state_dict()["state"][0]) == sorted(to.state_dict()["state"][0])


def test_adagrad_state_exists_from_the_start_like_torch():
    torch = _torch()
    ps = [nn.Parameter(np.zeros(2, np.float32)), nn.Parameter(np.zeros(3, np.float32))]
    st = optim.Adagrad(ps, initial_accumulator_value=0.25).state_dict()["state"]
    tst = torch.optim.Adagrad([torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(3))],
                              initial_accumulator_value=0.25).state_dict()["state"]
    assert sorted(st) == sorted(tst) == [0, 1]
    for i in (0, 1):
        assert st[i]["step"] == tst[i]["step"].item() == 0
        np.testing.assert_array_equal(st[i]["sum"], tst[i]["sum"].numpy())


@pytest.mark.parametrize("arg", ["lr_decay", "weight_decay", "initial_accumulator_value", "eps"])
def test_adagrad_refuses_each_negative_hyperparameter(arg):
    kw = dict(lr_decay=0.5, weight_decay=0.25, initial_accumulator_value=0.125, eps=1e-6)
    kw[arg] = -1
    shown = ", ".join(str(kw[k]) for k in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"))
    msg = ("Invalid weight_decay value: -1" if arg == "weight_decay" else      # (the base check, as torch's)
           f"Adagrad: lr_decay, weight_decay, initial_accumulator_value and eps must be >= 0, got {shown}")
    with pytest.raises(ValueError, match="^" + re.escape(msg) + "$"):
        optim.Adagrad([nn.Parameter(np.zeros(2, np.float32))], **kw)


def test_adagrad_parameter_missing_from_a_loaded_state_starts_fresh_like_torch():
    """A state_dict without a parameter's entry (or with an empty one) gives it a fresh state: step 0 and
    sum = initial_accumulator_value, so its steps match a fresh torch Adagrad's."""
    torch = _torch()
    kw = dict(lr=0.1, lr_decay=0.5, initial_accumulator_value=0.25)
    for state in ({}, {0: {}}):
        p = nn.Parameter(np.array([1.0, -2.0], np.float32))
        o = optim.Adagrad([p], **kw)
        o.load_state_dict({"state": state, "param_groups": o.state_dict()["param_groups"]})
        tp = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
        to = torch.optim.Adagrad([tp], **kw)
        for gv in ([0.5, 1.0], [-1.0, 2.0]):
            p.grad, tp.grad = tl.Tensor(np.array(gv, np.float32)), torch.tensor(gv)
            o.step()
            to.step()
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-6)
        st = o.state_dict()["state"][0]
        assert st["step"] == 2
        np.testing.assert_allclose(st["sum"], to.state_dict()["state"][0]["sum"].numpy(), rtol=1e-6)


def _p2():
    return nn.Parameter(np.zeros(2, np.float32))


@pytest.mark.parametrize("name", ["SGD", "Adagrad"])
def test_optimizer_constructor_errors_name_the_optimizer(name):
    """Every refusal of Optimizer.__init__, whole message, with the optimizer's class name."""
    cls, p = getattr(optim, name), _p2()
    it = "params argument given to the optimizer should be an iterable of Tensors or dicts, but got"
    for bad, shown in ((p, "Parameter"), ({"params": [p]}, "dict"), (3, "int"), ("ab", "str"), (b"ab", "bytes")):
        _raises(TypeError, f"{name}: {it} {shown}", cls, bad, lr=0.1)
    _raises(ValueError, f"{name}: optimizer got an empty parameter list", cls, [], lr=0.1)
    _raises(ValueError, f"{name}: optimizer got an empty parameter list", cls, iter([]), lr=0.1)
    _raises(TypeError, f"{name}: params must be all Tensors or all param-group dicts, got a Parameter among dicts",
            cls, [{"params": [p]}, _p2()], lr=0.1)
    _raises(ValueError, f"{name}: a param group needs a 'params' entry, got keys ['lr', 'momentum']", cls,
            [{"momentum": 0.5, "lr": 0.1}], lr=0.1)
    grp = "a param group's 'params' must be a Tensor or an iterable of Tensors, got"
    for bad, shown in ((3, "int"), ({"a": p}, "dict"), ("ab", "str"), (None, "NoneType")):
        _raises(TypeError, f"{name}: {grp} {shown}", cls, [{"params": bad}], lr=0.1)
    _raises(TypeError, f"{name}: optimizer can only optimize Tensors, but one of the params is float", cls,
            [p, 1.0], lr=0.1)
    _raises(ValueError, f"{name}: a parameter appears twice", cls, [p, _p2(), p], lr=0.1)
    _raises(ValueError, f"{name}: a parameter appears twice", cls, [{"params": [p]}, {"params": p}], lr=0.1)
    _raises(ValueError, f"{name}: a parameter of shape (3, 1) does not require grad", cls,
            [p, tl.Tensor(np.zeros((3, 1), np.float32))], lr=0.1)
    # and what is accepted: a group's params as one Tensor, a generator, two groups of distinct parameters
    q = _p2()
    o = cls((t for t in (p, q)), lr=0.1)
    assert o.param_groups[0]["params"] == [p, q] and o.state_dict()["param_groups"][0]["params"] == [0, 1]
    o = cls([{"params": p}, {"params": [q], "lr": 0.5}], lr=0.1)
    assert [g["lr"] for g in o.param_groups] == [0.1, 0.5]
    assert [g["params"] for g in o.param_groups] == [[p], [q]]


def test_optimizer_learning_rate_checks():
    p = _p2()
    _raises(TypeError, "SGD: missing the required argument lr (the learning rate)", optim.SGD, [p], lr=None)
    _raises(TypeError, "Adam: missing the required argument lr (the learning rate)", optim.Adam, [p], lr=None)
    _raises(ValueError, "Invalid learning rate: -1", optim.SGD, [p], lr=-1)
    _raises(ValueError, "Invalid learning rate: -0.5", optim.Adam, [{"params": [p], "lr": -0.5}])
    _raises(TypeError, "Invalid learning rate: 'a' (expected a real number, got str)", optim.SGD, [p], lr="a")
    _raises(TypeError, "Invalid learning rate: True (expected a real number, got bool)", optim.SGD, [p], lr=True)
    _raises(ValueError, "Invalid weight_decay value: -0.25", optim.SGD, [p], lr=0.1, weight_decay=-0.25)
    _raises(TypeError, "Invalid weight_decay value: [0.1] (expected a real number, got list)", optim.SGD, [p],
            lr=0.1, weight_decay=[0.1])
    _raises(ValueError, "Invalid initial_lr: -1", optim.SGD, [{"params": [p], "initial_lr": -1}], lr=0.1)
    _raises(ValueError, "Invalid initial_lr: inf", optim.SGD, [{"params": [p], "initial_lr": float("inf")}], lr=0.1)
    # the lower bounds themselves are accepted, as in torch; numpy numbers are numbers
    o = optim.SGD([{"params": [p], "initial_lr": 0.0}], lr=0.0, weight_decay=0.0)
    assert o.param_groups[0]["lr"] == 0.0
    optim.SGD([p], lr=np.float32(0.5), weight_decay=np.int64(0))


def test_sgd_momentum_dampening_and_nesterov_checks():
    p = _p2()
    _raises(ValueError, "Invalid momentum value: -0.5", optim.SGD, [p], lr=0.1, momentum=-0.5)
    _raises(TypeError, "Invalid momentum value: '0.9' (expected a real number, got str)", optim.SGD, [p], lr=0.1,
            momentum="0.9")
    _raises(ValueError, "Invalid dampening value: nan", optim.SGD, [p], lr=0.1, dampening=float("nan"))
    _raises(TypeError, "Invalid dampening value: None (expected a real number, got NoneType)", optim.SGD, [p],
            lr=0.1, dampening=None)
    msg = ("SGD: Nesterov momentum requires a momentum and zero dampening (Nesterov momentum needs momentum > 0 and "
           "dampening 0)")
    for kw in (dict(momentum=0.0), dict(momentum=0.9, dampening=0.5), dict(momentum=0.9, dampening=-0.1)):
        _raises(ValueError, msg, optim.SGD, [p], lr=0.1, nesterov=True, **kw)
    optim.SGD([p], lr=0.1, nesterov=True, momentum=1.5)          # any positive momentum, as torch
    optim.SGD([p], lr=0.1, nesterov=False, momentum=0.0, dampening=0.5)


def test_adam_beta_and_epsilon_checks():
    p = _p2()
    for name in ("Adam", "AdamW"):
        cls = getattr(optim, name)
        _raises(ValueError, f"{name}: betas must be a pair (beta1, beta2), got (0.9,)", cls, [p], betas=(0.9,))
        _raises(ValueError, f"{name}: betas must be a pair (beta1, beta2), got 0.9", cls, [p], betas=0.9)
        _raises(ValueError, f"Invalid beta parameter at index 0: 1.0 ({name}: betas must be in [0, 1), got (1.0, 0.5))",
                cls, [p], betas=(1.0, 0.5))
        _raises(ValueError, f"Invalid beta parameter at index 1: -0.1 ({name}: betas must be in [0, 1), got "
                "(0.5, -0.1))", cls, [p], betas=[0.5, -0.1])
        _raises(TypeError, "Invalid beta parameter at index 0: 'a' (expected a real number, got str)", cls, [p],
                betas=("a", 0.5))
        _raises(ValueError, "Invalid epsilon value: -1e-08", cls, [p], eps=-1e-8)
    o = optim.Adam([p], betas=(0.0, 0.999999), eps=0.0)               # both lower bounds, just under 1
    assert o.param_groups[0]["betas"] == (0.0, 0.999999)


@pytest.mark.parametrize("kw", [dict(alpha=-0.1), dict(alpha=1.5), dict(eps=-1e-3), dict(momentum=-0.5)])
def test_rmsprop_refuses_each_out_of_range_hyperparameter(kw):
    g = dict(alpha=0.99, eps=1e-08, momentum=0.0, weight_decay=0.0)
    g.update(kw)
    _raises(ValueError, f"RMSprop: need 0 <= alpha <= 1 and eps, momentum, weight_decay >= 0, got alpha {g['alpha']}, "
            f"eps {g['eps']}, momentum {g['momentum']}, weight_decay {g['weight_decay']}", optim.RMSprop, [_p2()],
            **kw)


def test_rmsprop_boundary_hyperparameters_match_torch():
    torch = _torch()
    for kw in (dict(alpha=0.0), dict(alpha=1.0, eps=0.1), dict(eps=0.0, momentum=0.0)):
        p, tp = nn.Parameter(np.ones(3, np.float32)), torch.nn.Parameter(torch.ones(3))
        o, to = optim.RMSprop([p], lr=0.01, **kw), torch.optim.RMSprop([tp], lr=0.01, **kw)
        for gv in ([1.0, -2.0, 0.5], [0.5, 0.5, -1.0]):
            p.grad, tp.grad = tl.Tensor(np.array(gv, np.float32)), torch.tensor(gv)
            o.step()
            to.step()
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.1)), ("SGD", dict(lr=0.1, weight_decay=0.5)),
                                     ("Adam", dict(lr=0.1))])
def test_optimizer_step_after_the_parameter_data_is_replaced_matches_torch(name, kw):
    """p.data = a new array of another shape (as torch allows with p.data = ...): the next steps update the new
    data like torch's optimizer (a fresh optimizer for torch, whose state would not fit either)."""
    torch = _torch()
    p = nn.Parameter(np.zeros((2, 3), np.float32))
    o = getattr(optim, name)([p], **kw)
    p.grad = tl.ones(2, 3)
    o.step()
    if name == "Adam":
        o.state = {}                                 # its moments were shaped like the old data
    a = np.arange(12, dtype=np.float32).reshape(4, 3) / 10
    p.data = a.copy()
    tp = torch.nn.Parameter(torch.tensor(a))
    to = getattr(torch.optim, name)([tp], **kw)
    for gv in (np.linspace(-1, 1, 12), np.linspace(2, 0, 12)):
        g = gv.reshape(4, 3).astype(np.float32)
        p.grad, tp.grad = tl.Tensor(g), torch.tensor(g)
        o.step()
        to.step()
    np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-6, atol=1e-7)


def test_optimizer_step_stamps_the_parameter_so_a_stale_graph_refuses_backward():
    """A graph recorded before a step reads the old weights: its backward raises (as PyTorch's version
    counter does), after every step and also after p.data was replaced by a new array."""
    x = tl.Tensor(np.ones(3, np.float32))
    p = nn.Parameter(np.ones(3, np.float32))
    o = optim.SGD([p], lr=0.1)
    msg = r"^one of the variables needed for gradient computation has been modified by an inplace operation: .* " \
          r"was changed by optimizer\.step after"
    for replace in (False, False, True):
        if replace:
            p.data = np.full(3, 2.0, np.float32)
        p.grad = tl.ones(3)
        o.step()                                     # (the first step: before any graph)
        y = (p * x).sum()                            # recorded with the current weights
        p.grad = tl.ones(3)
        o.step()
        with pytest.raises(RuntimeError, match=msg):
            y.backward()
    y = (p * x).sum()                                # recorded after the last step: fine
    p.grad = None
    y.backward()
    np.testing.assert_array_equal(p.grad.numpy(), x.numpy())


def test_sgd_dampening_matches_torch():
    """dampening=1: after the first step the momentum buffer only decays (buf = momentum * buf + 0 * g); a
    negative dampening is accepted and applied as torch does."""
    torch = _torch()
    for damp in (1.0, 0.0, 0.25, -0.5):
        p, tp = nn.Parameter(np.ones(3, np.float32)), torch.nn.Parameter(torch.ones(3))
        o = optim.SGD([p], lr=0.1, momentum=0.9, dampening=damp)
        to = torch.optim.SGD([tp], lr=0.1, momentum=0.9, dampening=damp)
        for gv in ([1.0, -2.0, 0.5], [0.5, 0.5, -1.0], [2.0, 0.0, 1.0]):
            p.grad, tp.grad = tl.Tensor(np.array(gv, np.float32)), torch.tensor(gv)
            o.step()
            to.step()
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-6)


def test_adam_keeps_betas_given_as_a_list_as_a_tuple_like_torch():
    """torch.optim.Adam stores betas as a tuple whatever sequence it was given (param_groups, state_dict)."""
    p = tl.zeros(2, requires_grad=True)
    for opt in (optim.Adam, optim.AdamW):
        betas = opt([p], betas=[0.8, 0.99]).param_groups[0]["betas"]
        assert type(betas) is tuple and betas == (0.8, 0.99)


def test_adam_keeps_betas_given_as_an_array_as_a_tuple_like_torch():
    p = tl.zeros(2, requires_grad=True)
    betas = optim.Adam([p], betas=np.array([0.8, 0.99])).param_groups[0]["betas"]
    assert type(betas) is tuple and betas == (0.8, 0.99)
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    tb = torch.optim.Adam([torch.zeros(2, requires_grad=True)], betas=np.array([0.8, 0.99])).param_groups[0]["betas"]
    assert type(tb) is tuple and tuple(float(b) for b in tb) == betas
