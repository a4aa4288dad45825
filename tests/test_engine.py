"""Tensor basics, devices, factories and the autograd engine."""
import gc
import sys
import threading
import warnings
import weakref

import numpy as np
import pytest

import tinygrad_lite as tl



def _cupy_missing():
    try:
        import cupy  # noqa: F401
    except Exception:
        return True
    return False


def _np(t):
    return np.asarray(t.numpy())


# --------------------------------------------------------------------------- #
# Tensor construction and attributes
# --------------------------------------------------------------------------- #
def test_python_floats_and_lists_become_float32(device):
    assert tl.Tensor(1.5, device=device).dtype == np.float32
    assert tl.Tensor([1.0, 2.5], device=device).dtype == np.float32
    assert tl.Tensor([[1.0, 2.0], [3.0, 4.0]], device=device).dtype == np.float32


def test_numpy_dtype_is_kept_or_overridden(device):
    a64 = np.arange(6, dtype=np.float64).reshape(2, 3)
    assert tl.Tensor(a64, device=device).dtype == np.float64
    assert tl.Tensor(a64.astype(np.float32), device=device).dtype == np.float32
    assert tl.Tensor(a64, dtype=np.float32, device=device).dtype == np.float32
    assert tl.Tensor([1.0, 2.0], dtype=np.float64, device=device).dtype == np.float64
    assert tl.Tensor(1.0, dtype=np.float64, device=device).dtype == np.float64


def test_integer_data_stays_integer(device):
    t = tl.Tensor(np.array([1, 2, 3]), device=device)
    assert np.issubdtype(t.dtype, np.integer)
    np.testing.assert_array_equal(_np(t), [1, 2, 3])


def test_attributes_and_conversions(device):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = tl.Tensor(a, requires_grad=True, device=device)
    assert tuple(t.shape) == (2, 3)
    assert t.ndim == 2
    assert t.numel() == 6 and t.size() == (2, 3) and t.size(1) == 3
    assert t.dtype == np.float32
    assert t.device == device
    assert t.requires_grad is True
    assert t.grad is None
    assert tl.Tensor(a, device=device).requires_grad is False

    n = t.numpy()
    assert isinstance(n, np.ndarray)  # numpy() always gives a host array
    np.testing.assert_array_equal(n, a)
    assert t.tolist() == a.tolist()
    s = tl.Tensor(np.array(2.5), device=device).item()
    assert isinstance(s, float) and s == 2.5
    assert t.data.shape == (2, 3)


def test_to_and_detach(device):
    a = np.array([1.0, -2.0, 3.0], dtype=np.float32)
    t = tl.Tensor(a, requires_grad=True)
    assert t.device == "cpu"
    u = t.to(device)
    assert u.device == device
    np.testing.assert_array_equal(_np(u), a)
    back = u.to("cpu")
    assert back.device == "cpu"
    assert isinstance(back.data, np.ndarray)
    np.testing.assert_array_equal(back.data, a)


    w = tl.Tensor(a, requires_grad=True, device=device)
    d = w.detach()
    assert d.requires_grad is False
    np.testing.assert_array_equal(_np(d), a)
    (w * d).sum().backward()
    assert d.grad is None
    np.testing.assert_allclose(_np(w.grad), a)  # d is a constant: d(w*d)/dw = d


def test_from_cupy_array(device):
    if device != "gpu":
        pytest.skip("needs a GPU")
    import cupy

    c = cupy.arange(3, dtype=cupy.float32)
    t = tl.Tensor(c)
    assert t.device == "gpu"
    assert t.dtype == np.float32
    np.testing.assert_array_equal(t.numpy(), [0, 1, 2])


# --------------------------------------------------------------------------- #
# devices
# --------------------------------------------------------------------------- #
def test_gpu_available_is_bool():
    assert isinstance(tl.gpu_available(), bool)
    assert issubclass(tl.DeviceError, RuntimeError)


@pytest.mark.parametrize("name", ["gpu", "cuda", "cuda:0"])
def test_gpu_unavailable_raises_device_error(name):
    if tl.gpu_available():
        t = tl.Tensor([1.0], device=name)
        assert t.device == "gpu"
        return
    with pytest.raises(tl.DeviceError) as ei:
        tl.Tensor([1.0], device=name)
    assert isinstance(ei.value, RuntimeError)
    msg = str(ei.value).lower()
    if _cupy_missing():
        assert "cupy" in msg, f"message should say CuPy is missing: {ei.value}"
    else:
        assert "gpu" in msg or "device" in msg, f"message should say no GPU was found: {ei.value}"


def test_unknown_device_raises_value_error():
    with pytest.raises(ValueError, match="tpu"):
        tl.Tensor([1.0], device="tpu")
    with pytest.raises(ValueError, match="tpu"):
        tl.zeros(3, device="tpu")
    with pytest.raises(ValueError, match="tpu"):
        tl.Tensor([1.0]).to("tpu")


def test_mixing_devices_raises(device):
    if device != "gpu":
        pytest.skip("needs a GPU to mix devices")
    a = tl.Tensor([1.0, 2.0], device="cpu")
    b = tl.Tensor([1.0, 2.0], device="gpu")
    for f in (lambda: a + b, lambda: b * a, lambda: tl.matmul(a, b), lambda: tl.cat([a, b])):
        with pytest.raises(tl.DeviceError) as ei:
            f()
        msg = str(ei.value).lower()
        assert "cpu" in msg and "gpu" in msg, str(ei.value)


# --------------------------------------------------------------------------- #
# factories
# --------------------------------------------------------------------------- #
def test_factories(device):
    for z in (tl.zeros(2, 3, device=device), tl.zeros((2, 3), device=device)):
        assert tuple(z.shape) == (2, 3) and z.dtype == np.float32 and z.device == device
        np.testing.assert_array_equal(_np(z), np.zeros((2, 3)))
    o = tl.ones((4,), device=device, dtype=np.float64, requires_grad=True)
    assert o.dtype == np.float64 and o.requires_grad
    np.testing.assert_array_equal(_np(o), np.ones(4))
    f = tl.full((2, 2), 7.0, device=device)
    assert f.dtype == np.float32
    np.testing.assert_array_equal(_np(f), np.full((2, 2), 7.0))
    np.testing.assert_array_equal(_np(tl.arange(5, device=device)), np.arange(5))
    np.testing.assert_allclose(_np(tl.arange(0, 1, 0.25, device=device)), [0, 0.25, 0.5, 0.75])
    e = tl.eye(3, device=device)
    assert e.dtype == np.float32
    np.testing.assert_array_equal(_np(e), np.eye(3))

    base = tl.Tensor(np.ones((2, 5), dtype=np.float64), device=device)
    zl, ol = tl.zeros_like(base), tl.ones_like(base)
    for t, v in ((zl, 0.0), (ol, 1.0)):
        assert tuple(t.shape) == (2, 5) and t.dtype == np.float64 and t.device == device
        np.testing.assert_array_equal(_np(t), np.full((2, 5), v))

    a = np.arange(6, dtype=np.float64).reshape(3, 2)
    fn = tl.from_numpy(a)
    assert isinstance(fn, tl.Tensor) and fn.dtype == np.float64
    np.testing.assert_array_equal(_np(fn), a)


def test_random_factories_and_manual_seed(device):
    tl.manual_seed(123)
    a, b = tl.rand(3, 4, device=device), tl.randn((3, 4), device=device)
    tl.manual_seed(123)
    a2, b2 = tl.rand(3, 4, device=device), tl.randn((3, 4), device=device)
    np.testing.assert_array_equal(_np(a), _np(a2))
    np.testing.assert_array_equal(_np(b), _np(b2))
    tl.manual_seed(124)
    assert not np.array_equal(_np(tl.rand(3, 4, device=device)), _np(a))
    for t in (a, b):
        assert t.dtype == np.float32 and tuple(t.shape) == (3, 4) and t.device == device
    assert np.all((_np(a) >= 0) & (_np(a) < 1))
    big = _np(tl.randn(20000, device=device))
    assert abs(big.mean()) < 0.05 and abs(big.std() - 1) < 0.05
    r = tl.rand(2, requires_grad=True, dtype=np.float64, device=device)
    assert r.requires_grad and r.dtype == np.float64


# --------------------------------------------------------------------------- #
# engine: accumulation, broadcasting, retain_graph, errors
# --------------------------------------------------------------------------- #
def test_leaf_used_twice_accumulates(device):
    x = tl.Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True, device=device)
    (x * x + x).sum().backward()
    np.testing.assert_allclose(_np(x.grad), 2 * np.array([1.0, -2.0, 3.0]) + 1)


def test_broadcasting_is_undone(device):
    x = tl.Tensor(np.ones((3, 1)), requires_grad=True, device=device)
    b = tl.Tensor(np.ones(4), requires_grad=True, device=device)
    s = tl.Tensor(np.ones(()), requires_grad=True, device=device)
    one = tl.Tensor(np.ones((1, 1, 4)), requires_grad=True, device=device)
    (x * b + s + one).sum().backward()
    assert tuple(x.grad.shape) == (3, 1) and np.allclose(_np(x.grad), 4)
    assert tuple(b.grad.shape) == (4,) and np.allclose(_np(b.grad), 3)
    assert tuple(s.grad.shape) == () and np.allclose(_np(s.grad), 12)
    assert tuple(one.grad.shape) == (1, 1, 4) and np.allclose(_np(one.grad), 3)


def test_requires_grad_propagation(device):
    a = tl.Tensor([1.0, 2.0], requires_grad=True, device=device)
    c = tl.Tensor([3.0, 4.0], device=device)
    assert (a * c).requires_grad
    assert not (c * c).requires_grad
    (a * c).sum().backward()
    assert c.grad is None
    np.testing.assert_allclose(_np(a.grad), [3.0, 4.0])


def test_backward_non_scalar_needs_gradient(device):
    x = tl.Tensor(np.ones((2, 2)), requires_grad=True, device=device)
    with pytest.raises(RuntimeError):
        (x * 2.0).backward()
    y = x * 2.0
    y.backward(gradient=tl.Tensor(np.full((2, 2), 0.5), device=device))
    np.testing.assert_allclose(_np(x.grad), np.ones((2, 2)))


def test_backward_twice_raises_mentioning_retain_graph(device):
    x = tl.Tensor(np.array([1.0, 2.0]), requires_grad=True, device=device)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_retain_graph_accumulates(device):
    x = tl.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True, device=device)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    first = _np(x.grad).copy()
    y.backward(retain_graph=True)
    np.testing.assert_allclose(_np(x.grad), 2 * first)
    y.backward()
    np.testing.assert_allclose(_np(x.grad), 3 * first)


def test_separate_graphs_accumulate_into_leaf(device):
    x = tl.Tensor(np.array([1.0, 2.0]), requires_grad=True, device=device)
    (x * 2.0).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(_np(x.grad), [5.0, 5.0])
    x.grad = None
    (x * 1.0).sum().backward()
    np.testing.assert_allclose(_np(x.grad), [1.0, 1.0])


def test_deep_graph_no_recursion_error(device):
    assert sys.getrecursionlimit() < 10_000 * 2  # the test is meaningful
    x = tl.Tensor(np.array(1.0), requires_grad=True, device=device)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    np.testing.assert_allclose(_np(x.grad), 1.0001**10_000, rtol=1e-9)


def test_deep_graph_teardown_without_backward(device):
    x = tl.Tensor(np.array(1.0), requires_grad=True, device=device)
    y = x
    for _ in range(10_000):
        y = y + 1.0
    ref = weakref.ref(y)
    del y
    gc.collect()  # tearing down a deep, unreleased graph must not blow up
    assert ref() is None


def test_graph_is_freed_after_backward(device):
    x = tl.Tensor(np.ones(5), requires_grad=True, device=device)
    h = x * 2.0
    ref = weakref.ref(h)
    y = (h.exp() * 3.0).sum()
    del h
    y.backward()  # releases the graph: y no longer keeps h alive
    gc.collect()
    assert ref() is None, "intermediate tensor still alive after backward released the graph"
    assert x.grad is not None


def test_graph_is_freed_when_unreferenced(device):
    x = tl.Tensor(np.ones(5), requires_grad=True, device=device)
    h = x * 2.0
    ref = weakref.ref(h)
    y = (h.tanh() * 3.0).sum()
    del h, y
    gc.collect()
    assert ref() is None


# --------------------------------------------------------------------------- #
# higher-order derivatives
# --------------------------------------------------------------------------- #
X0 = np.array([-1.3, -0.4, 0.2, 0.9, 1.7])

SECOND = {
    "cube": (lambda t: t**3, lambda a: 6 * a, X0),
    "tanh": (lambda t: t.tanh(), lambda a: -2 * np.tanh(a) * (1 - np.tanh(a) ** 2), X0),
    "sigmoid": (lambda t: t.sigmoid(), lambda a: (s := 1 / (1 + np.exp(-a))) * (1 - s) * (1 - 2 * s), X0),
    "exp": (lambda t: t.exp(), np.exp, X0),
    "log": (lambda t: t.log(), lambda a: -1 / a**2, np.abs(X0) + 0.3),
}


@pytest.mark.parametrize("name", sorted(SECOND))
def test_second_derivative(device, name):
    f, d2, x0 = SECOND[name]
    x = tl.Tensor(x0, requires_grad=True, device=device)
    y = f(x).sum()
    y.backward(create_graph=True)
    g = x.grad
    assert g.requires_grad is True
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(_np(x.grad), d2(x0), rtol=1e-7, atol=1e-10)


def test_no_create_graph_gives_plain_grad(device):
    x = tl.Tensor(X0, requires_grad=True, device=device)
    (x**3).sum().backward()
    assert x.grad.requires_grad is False


def _first_grad(f):
    """x -> d(sum(f(x) * w))/dx as a differentiable Tensor (uses create_graph)."""

    def fn(x):
        with tl.enable_grad():
            x.grad = None
            y = f(x)
            w = tl.Tensor(np.linspace(-1.0, 1.5, y.numel()).reshape(y.shape), device=x.device, dtype=x.dtype)
            (y * w).sum().backward(create_graph=True)
            g = x.grad
            x.grad = None
        return g

    return fn


@pytest.mark.parametrize(
    "name,f,x0",
    [
        ("softmax", lambda t: t.softmax(axis=-1), np.array([[0.3, -1.2, 0.8, 0.1], [1.5, 0.2, -0.7, 0.4]])),
        ("log_softmax", lambda t: t.log_softmax(axis=-1), np.array([[0.3, -1.2, 0.8], [1.5, 0.2, -0.7]])),
        ("logsumexp", lambda t: t.logsumexp(axis=1), np.array([[0.3, -1.2, 0.8], [1.5, 0.2, -0.7]])),
        ("tanh_sigmoid", lambda t: t.tanh() * t.sigmoid(), np.array([[-1.1, 0.4], [0.9, 2.0]])),
        ("exp_log", lambda t: (t.exp() + 1.0).log() * t, np.array([[-1.1, 0.4], [0.9, 2.0]])),
        ("matmul_var", lambda t: (t @ t.T).var(axis=0), np.array([[-1.1, 0.4, 0.5], [0.9, 2.0, -0.3]])),
    ],
)
def test_gradcheck_of_a_gradient(device, name, f, x0):
    x = tl.Tensor(x0, requires_grad=True, device=device)
    assert tl.gradcheck(_first_grad(f), x) is True
    assert x.grad is None


def test_third_derivative(device):
    x0 = np.array([0.5, -1.5, 2.0])
    x = tl.Tensor(x0, requires_grad=True, device=device)
    (x**4).sum().backward(create_graph=True)
    g1 = x.grad
    x.grad = None
    g1.sum().backward(create_graph=True)
    g2 = x.grad
    np.testing.assert_allclose(_np(g2), 12 * x0**2)
    x.grad = None
    g2.sum().backward()
    np.testing.assert_allclose(_np(x.grad), 24 * x0)


# --------------------------------------------------------------------------- #
# no_grad / enable_grad
# --------------------------------------------------------------------------- #
def test_no_grad_records_nothing(device):
    x = tl.Tensor([1.0, 2.0], requires_grad=True, device=device)
    assert tl.is_grad_enabled()
    with tl.no_grad():
        assert not tl.is_grad_enabled()
        y = (x * 2.0).exp().sum()
        assert y.requires_grad is False
        with tl.enable_grad():
            assert tl.is_grad_enabled()
            assert (x * 2.0).requires_grad
        assert not tl.is_grad_enabled()
    assert tl.is_grad_enabled()
    assert (x * 2.0).requires_grad


def test_no_grad_restored_after_exception():
    with pytest.raises(KeyError):
        with tl.no_grad():
            raise KeyError("boom")
    assert tl.is_grad_enabled()


def test_no_grad_as_decorator(device):
    @tl.no_grad()
    def double(t):
        assert not tl.is_grad_enabled()
        return t * 2.0

    x = tl.Tensor([1.0], requires_grad=True, device=device)
    assert double(x).requires_grad is False
    assert tl.is_grad_enabled()
    assert (x * 2.0).requires_grad


def test_no_grad_is_thread_local(device):
    x = tl.Tensor([1.0, 2.0], requires_grad=True, device=device)
    entered, checked = threading.Event(), threading.Event()
    results = {}

    def worker():
        with tl.no_grad():
            results["worker_enabled"] = tl.is_grad_enabled()
            results["worker_rg"] = (x * 2.0).requires_grad
            entered.set()
            checked.wait(10)

    th = threading.Thread(target=worker)
    th.start()
    assert entered.wait(10)
    try:
        # the worker is inside no_grad right now; this thread must be unaffected
        results["main_enabled"] = tl.is_grad_enabled()
        results["main_rg"] = (x * 2.0).requires_grad
    finally:
        checked.set()
        th.join(10)
    assert results == {"worker_enabled": False, "worker_rg": False, "main_enabled": True, "main_rg": True}

    # and a thread started while this one is inside no_grad starts with grad enabled
    seen = {}
    with tl.no_grad():
        t2 = threading.Thread(target=lambda: seen.setdefault("enabled", tl.is_grad_enabled()))
        t2.start()
        t2.join(10)
    assert seen["enabled"] is True


# --------------------------------------------------------------------------- #
# numerical stability
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "sigmoid", "logsumexp"])
def test_extreme_inputs_are_finite_and_warning_free(device, name, dtype):
    a = np.array([[1e4, -1e4, 0.0, 5.0], [-1e4, -1e4, -1e4, -1e4], [1e4, 1e4, -3.0, 1e4]], dtype=dtype)
    # Underflow (e.g. exp(-2e4) -> 0 inside a max-shifted softmax) is the correct
    # result and is not an error; overflow, division by zero and invalid (nan) are.
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
        warnings.simplefilter("error")
        x = tl.Tensor(a, requires_grad=True, device=device)
        y = getattr(x, name)()
        out = _np(y)
        assert np.all(np.isfinite(out)), out
        w = tl.Tensor(np.linspace(-1, 1, y.numel()).reshape(y.shape).astype(dtype), device=device)
        (y * w).sum().backward()
        assert np.all(np.isfinite(_np(x.grad))), _np(x.grad)
    assert y.dtype == dtype
    if name == "softmax":
        np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-5)
        np.testing.assert_allclose(out[0], [1, 0, 0, 0], atol=1e-6)
    if name == "sigmoid":
        np.testing.assert_allclose(out[0, :2], [1.0, 0.0], atol=1e-6)
    if name == "logsumexp":
        np.testing.assert_allclose(float(out), 1e4 + np.log(4.0), rtol=1e-6)  # four entries equal 1e4
    if name == "log_softmax":
        np.testing.assert_allclose(out[1], np.full(4, -np.log(4.0)), rtol=1e-5)


def test_set_grad_enabled_as_context_and_decorator():
    x = tl.Tensor([1.0, 2.0], requires_grad=True)

    @tl.set_grad_enabled(False)
    def off():
        return (x * 2).requires_grad, tl.is_grad_enabled()

    assert off() == (False, False)
    assert tl.is_grad_enabled()
    with tl.set_grad_enabled(False):
        assert not (x * 2).requires_grad
        with tl.set_grad_enabled(True):
            assert (x * 2).requires_grad
    assert (x * 2).requires_grad


# --------------------------------------------------------------------------- #
# the engine's guarantees (issue 17 / 11): constants, retain_grad, failed backward, -inf rows
# --------------------------------------------------------------------------- #
CONST_OPS = {
    "x+c": lambda x, c: x + c, "c+x": lambda x, c: c + x, "x-c": lambda x, c: x - c, "c-x": lambda x, c: c - x,
    "x*c": lambda x, c: x * c, "x/c": lambda x, c: x / c, "c/x": lambda x, c: c / x, "x**c": lambda x, c: x ** c,
    "c**x": lambda x, c: c ** x, "maximum": lambda x, c: tl.maximum(x, c), "minimum": lambda x, c: tl.minimum(c, x),
    "where": lambda x, c: tl.where(x > 0, c, x), "cat": lambda x, c: tl.cat([c, x], axis=-1),
    "matmul": lambda x, c: x @ c.reshape(3, 1), "stack": lambda x, c: tl.stack([x, c]),
}


@pytest.mark.parametrize("name", sorted(CONST_OPS))
def test_constants_never_receive_a_grad(device, name):
    """A tensor that doesn't require grad (a frozen bias, a target) gets no .grad, whatever the op's backward
    returns for it: otherwise an optimizer would update it."""
    x = tl.Tensor(np.array([[0.5, 1.5, 2.0]]), requires_grad=True, device=device)
    c = tl.Tensor(np.array([[1.5, 0.25, 2.0]]), device=device)
    y = CONST_OPS[name](x, c)
    assert y.requires_grad
    y.sum().backward()
    assert c.grad is None and not c.requires_grad
    assert x.grad is not None and x.grad.shape == x.shape


def test_retain_grad_accumulates_over_uses_and_backwards(device):
    x = tl.Tensor(np.array([1.0, -2.0]), requires_grad=True, device=device)
    h = (x * 3.0).retain_grad()
    y = (h * h + h).sum()                       # dy/dh = 2h + 1: two uses of h summed
    y.backward(retain_graph=True)
    np.testing.assert_allclose(_np(h.grad), 2 * np.array([3.0, -6.0]) + 1)
    y.backward()                                 # a second backward adds to it, as for leaves
    np.testing.assert_allclose(_np(h.grad), 2 * (2 * np.array([3.0, -6.0]) + 1))
    np.testing.assert_allclose(_np(x.grad), 2 * 3 * (2 * np.array([3.0, -6.0]) + 1))


class _Boom(tl.Function):
    """Identity whose backward raises while `armed`."""
    armed = True

    def forward(self, a):
        return a.copy()

    def backward(self, g):
        if _Boom.armed:
            raise ZeroDivisionError("boom in backward")
        return g


def test_failed_backward_leaves_every_grad_as_it_was(device):
    """accumulate first, commit at the end: a backward that raises changes no .grad (PyTorch's rule)."""
    x = tl.Tensor(np.array([1.0, 2.0]), requires_grad=True, device=device)
    w = tl.Tensor(np.array([3.0, 4.0]), requires_grad=True, device=device)
    w.grad = tl.Tensor(np.array([10.0, 20.0]), device=device)
    h = (x * 2.0).retain_grad()
    # w's gradient is computed before the failing node is reached (x * w is walked first)
    y = _Boom.apply(h).sum() + (x * w).sum()
    _Boom.armed = True
    try:
        with pytest.raises(ZeroDivisionError, match="boom in backward"):
            y.backward(retain_graph=True)
        assert x.grad is None and h.grad is None
        np.testing.assert_array_equal(_np(w.grad), [10.0, 20.0])
        # the failed walk left no half-summed gradient in the graph: a second backward counts once
        _Boom.armed = False
        y.backward()
    finally:
        _Boom.armed = True
    np.testing.assert_allclose(_np(x.grad), [3.0 + 2.0, 4.0 + 2.0])
    np.testing.assert_allclose(_np(w.grad), [11.0, 22.0])
    np.testing.assert_allclose(_np(h.grad), [1.0, 1.0])


def test_failed_create_graph_backward_restores_grad_mode(device):
    x = tl.Tensor(np.array([1.0, 2.0]), requires_grad=True, device=device)
    with pytest.raises(ZeroDivisionError):
        _Boom.apply(x * x).sum().backward(create_graph=True)
    assert tl.is_grad_enabled() and x.grad is None


def _torch():
    return pytest.importorskip("torch", reason="PyTorch is not installed: no comparison with torch.logsumexp")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logsumexp_of_infinite_rows_matches_pytorch(device, dtype):
    """An all -inf row gives -inf (not nan) quietly, a row with +inf gives +inf; the gradients are PyTorch's
    (0 at the -inf entries of a partly -inf row, nan for an all -inf row, as torch gives)."""
    torch = _torch()
    inf = np.inf
    a = np.array([[-inf, -inf, -inf], [-inf, 0.0, 1.0], [inf, 0.0, 2.0], [0.5, 1.0, 2.0]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")            # the forward is quiet
        x = tl.Tensor(a, requires_grad=True, device=device)
        y = x.logsumexp(axis=1)
    tx = torch.tensor(a, requires_grad=True)
    ty = torch.logsumexp(tx, dim=1)
    np.testing.assert_array_equal(_np(y)[:3], [-inf, ty[1].item(), inf])
    np.testing.assert_allclose(_np(y), ty.detach().numpy(), rtol=1e-6)
    up = np.array([0.5, -1.0, 2.0, 1.5], dtype=dtype)
    with np.errstate(invalid="ignore"):
        y.backward(tl.Tensor(up, device=device))
    ty.backward(torch.tensor(up))
    np.testing.assert_allclose(_np(x.grad), tx.grad.numpy(), rtol=1e-6, equal_nan=True)


# --------------------------------------------------------------------------- #
# grad-mode objects: reusable, re-entrant, shareable across threads (as PyTorch's)
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("make", [tl.no_grad, tl.inference_mode, lambda: tl.set_grad_enabled(False)])
def test_grad_mode_object_is_reusable_and_reentrant(make):
    ng = make()
    for _ in range(2):
        with ng:
            assert not tl.is_grad_enabled()
            with ng:
                with tl.enable_grad():
                    assert tl.is_grad_enabled()
                assert not tl.is_grad_enabled()
            assert not tl.is_grad_enabled()
        assert tl.is_grad_enabled()


def test_inference_mode_false_enables_grad_as_pytorch():
    with tl.no_grad():
        with tl.inference_mode(False):
            assert tl.is_grad_enabled()
        assert not tl.is_grad_enabled()


def test_one_no_grad_object_shared_by_threads():
    """One no_grad() object entered by two threads at once (exits interleaved): each thread sees its own mode,
    and both get grad mode back (it used to raise 'Token was created in a different Context')."""
    ng = tl.no_grad()
    inside = threading.Barrier(2, timeout=10)
    first_out = threading.Event()
    errors, seen = [], {}

    def worker(name, leave_first):
        try:
            with ng:
                inside.wait()
                if not leave_first:
                    first_out.wait(10)
                seen[name + "_in"] = tl.is_grad_enabled()
            if leave_first:
                first_out.set()
            seen[name + "_out"] = tl.is_grad_enabled()
        except BaseException as e:              # noqa: BLE001 - reported below
            errors.append(e)
            first_out.set()

    ts = [threading.Thread(target=worker, args=("a", True)), threading.Thread(target=worker, args=("b", False))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(10)
    assert not errors, errors
    assert seen == {"a_in": False, "a_out": True, "b_in": False, "b_out": True}
    assert tl.is_grad_enabled()


def test_a_leafs_gradient_takes_the_leafs_dtype(device):
    """backward() on a float32 leaf with a float64 gradient: .grad is float32, first and when summed (PyTorch)."""
    x = tl.Tensor(np.ones(3, dtype=np.float32), requires_grad=True, device=device)
    x.backward(tl.Tensor(np.full(3, 2.0), device=device))
    assert x.grad.dtype == np.float32
    x.backward(tl.Tensor(np.ones(3), device=device))
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(_np(x.grad), [3.0, 3.0, 3.0])
