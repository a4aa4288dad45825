"""tl.gradcheck must accept right gradients and reject wrong ones.

Wrong gradients are built with the Function API: ``forward(self, *arrays)``
gets raw NumPy/CuPy arrays and returns an array, ``backward(self, grad)`` gets
a Tensor and returns a Tensor (or a tuple of Tensors/None, one per input).
"""
import re

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lite as tl


def xp_of(a):
    if isinstance(a, np.ndarray):
        return np
    import cupy

    return cupy


def like(arr, grad):
    """A constant Tensor holding raw array `arr` on grad's device with grad's dtype."""
    return tl.Tensor(arr, device=grad.device, dtype=grad.dtype)


# --------------------------------------------------------------------------- #
# custom Functions, right and wrong
# --------------------------------------------------------------------------- #
class Square(tl.Function):
    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, grad):
        return grad * like(2 * self.x, grad)


class Softmax(tl.Function):
    """Correct softmax over the last axis (reference for BadSoftmax)."""

    def forward(self, x):
        xp = xp_of(x)
        e = xp.exp(x - x.max(axis=-1, keepdims=True))
        self.s = e / e.sum(axis=-1, keepdims=True)
        return self.s

    def backward(self, grad):
        s = like(self.s, grad)
        return s * (grad - (grad * s).sum(axis=-1, keepdims=True))


class BadSoftmax(Softmax):
    def backward(self, grad):
        return grad * 0.0


class MulConst(tl.Function):
    """x * c, claims no gradient for c (returns None for it)."""

    def forward(self, x, c):
        self.c = c
        return x * c

    def backward(self, grad):
        return grad * like(self.c, grad), None


class IgnoresUpstream(tl.Function):
    """y = 2x whose backward returns 2 regardless of the upstream gradient:
    right only when the upstream gradient is all ones."""

    def forward(self, x):
        return 2.0 * x

    def backward(self, grad):
        return grad * 0.0 + 2.0


class Scaled(tl.Function):
    """y = 3x with a backward off by a relative factor (1 + delta)."""

    delta = 0.0

    def forward(self, x):
        return 3.0 * x

    def backward(self, grad):
        return grad * (3.0 * (1.0 + self.delta))


def make_scaled(delta):
    return type("Scaled", (Scaled,), {"delta": delta})


BAD_ELEMENT = (1, 2)
BAD_VALUE = 123.456


class WrongAtOneElement(tl.Function):
    """Forward x * mask (mask is 0 at BAD_ELEMENT): the true gradient there is
    exactly 0, but backward claims BAD_VALUE at that element."""

    def forward(self, x):
        xp = xp_of(x)
        self.mask = xp.ones(x.shape, dtype=x.dtype)
        self.mask[BAD_ELEMENT] = 0
        self.onehot = 1 - self.mask
        return x * self.mask

    def backward(self, grad):
        return grad * like(self.mask, grad) + like(self.onehot * BAD_VALUE, grad)


def _t(a, device, requires_grad=True):
    return tl.Tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad, device=device)


R = np.random.default_rng(7)
A34 = R.normal(size=(3, 4))
B34 = R.normal(size=(3, 4))


# --------------------------------------------------------------------------- #
# accepts right gradients
# --------------------------------------------------------------------------- #
RIGHT = {
    "scalar_out": (lambda a: (a.tanh() * a).sum(), [A34]),
    "nonscalar_out": (lambda a: a.exp() * 2.0 - a, [A34]),
    "two_inputs_matmul": (lambda a, b: (a @ b.T).sigmoid(), [A34, B34]),
    "broadcast": (lambda a, b: a * b[0] + b.mean(axis=0, keepdims=True), [A34, B34]),
    "custom_square": (lambda a: Square.apply(a) + a, [A34]),
    "custom_softmax": (lambda a: Softmax.apply(a), [A34]),
    "custom_none_grad_for_constant": (lambda a: MulConst.apply(a, tl.Tensor(B34, device=a.device)), [A34]),
}


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_accepts_right_gradients(device, name):
    fn, arrays = RIGHT[name]
    assert tl.gradcheck(fn, *[_t(a, device) for a in arrays]) is True


def test_custom_function_matches_builtin(device):
    x = _t(A34, device)
    y = Softmax.apply(x)
    np.testing.assert_allclose(np.asarray(y.numpy()), np.asarray(_t(A34, device).softmax(axis=-1).numpy()), rtol=1e-12)
    w = tl.Tensor(B34, device=device)
    (y * w).sum().backward()
    x2 = _t(A34, device)
    (x2.softmax(axis=-1) * w).sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad.numpy()), np.asarray(x2.grad.numpy()), rtol=1e-10, atol=1e-12)


def test_float32_inputs_are_checked_in_float64(device):
    # eps=1e-6 finite differences would be garbage in float32: passing proves the float64 copies
    x = tl.Tensor(A34.astype(np.float32), requires_grad=True, device=device)
    before = np.asarray(x.numpy()).copy()
    assert tl.gradcheck(lambda a: (a * a * 0.5).exp() * a, x) is True
    # the caller's tensor is untouched
    assert x.dtype == np.float32
    assert x.grad is None
    np.testing.assert_array_equal(np.asarray(x.numpy()), before)


def test_inputs_without_requires_grad_are_skipped(device):
    a, b = _t(A34, device), _t(B34, device, requires_grad=False)
    assert tl.gradcheck(lambda a, b: a * b.detach(), a, b) is True


# --------------------------------------------------------------------------- #
# rejects wrong gradients
# --------------------------------------------------------------------------- #
def test_rejects_zero_softmax_backward(device):
    with pytest.raises(tl.GradcheckError) as ei:
        tl.gradcheck(lambda a: BadSoftmax.apply(a), _t(A34, device))
    assert isinstance(ei.value, AssertionError)
    assert issubclass(tl.GradcheckError, AssertionError)


def test_rejects_detached_second_input(device):
    a, b = _t(A34, device), _t(B34, device)
    with pytest.raises(tl.GradcheckError) as ei:
        tl.gradcheck(lambda a, b: a * b.detach(), a, b)
    assert re.search(r"input\D{0,15}1(?!\d)", str(ei.value), re.I), str(ei.value)


def test_rejects_none_gradient_for_input_that_requires_grad(device):
    with pytest.raises(tl.GradcheckError):
        tl.gradcheck(lambda a, c: MulConst.apply(a, c), _t(A34, device), _t(B34, device))


def test_upstream_gradient_is_not_all_ones(device):
    # IgnoresUpstream is right under an all-ones upstream...
    x = _t(A34, device)
    IgnoresUpstream.apply(x).sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad.numpy()), 2.0)
    # ...so gradcheck only catches it because its upstream gradient is random,
    # for non-scalar and scalar outputs alike
    with pytest.raises(tl.GradcheckError):
        tl.gradcheck(lambda a: IgnoresUpstream.apply(a), _t(A34, device))
    with pytest.raises(tl.GradcheckError):
        tl.gradcheck(lambda a: IgnoresUpstream.apply(a).sum(), _t(A34, device))


def test_error_message_names_input_element_and_values(device):
    a, b = _t(A34, device), _t(B34, device)
    with pytest.raises(tl.GradcheckError) as ei:
        tl.gradcheck(lambda a, b: a * 2.0 + WrongAtOneElement.apply(b), a, b)
    msg = str(ei.value)
    # input index 1
    assert re.search(r"input\D{0,15}1(?!\d)", msg, re.I), msg
    # element index (1, 2) -- as a tuple/list or as the flat index 6
    flat = int(np.ravel_multi_index(BAD_ELEMENT, A34.shape))
    as_tuple = re.search(r"(?<!\d)1\s*,\s*2(?!\d)", msg)
    as_flat = re.search(rf"(?<![\d.]){flat}(?![\d.])", msg)
    assert as_tuple or as_flat, msg
    # analytic value (123.456) and numeric value (exactly 0)
    assert "123.45" in msg, msg
    assert re.search(r"(?<![\d.])-?0(\.0*)?(e[+-]?0+)?(?![\d.])", msg), msg


def test_error_is_deterministic_for_a_seed(device):
    msgs = []
    for _ in range(2):
        with pytest.raises(tl.GradcheckError) as ei:
            tl.gradcheck(lambda a: BadSoftmax.apply(a), _t(A34, device), seed=3)
        msgs.append(str(ei.value))
    assert msgs[0] == msgs[1]


def test_tolerances_are_used(device):
    slightly_wrong = make_scaled(2e-4)  # relative error 2e-4 < default rtol 1e-3
    assert tl.gradcheck(lambda a: slightly_wrong.apply(a), _t(A34, device)) is True
    with pytest.raises(tl.GradcheckError):
        tl.gradcheck(lambda a: slightly_wrong.apply(a), _t(A34, device), atol=1e-9, rtol=1e-6)
    assert tl.gradcheck(lambda a: make_scaled(0.0).apply(a), _t(A34, device), atol=1e-9, rtol=1e-6) is True


@given(
    x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4), elements=st.floats(-2, 2)),
    delta=st.one_of(st.floats(0.01, 0.5), st.floats(-0.5, -0.01)),
)
def test_rejects_any_relative_error_of_one_percent(device, x, delta):
    assert tl.gradcheck(lambda a: make_scaled(0.0).apply(a), _t(x, device)) is True
    with pytest.raises(tl.GradcheckError):
        tl.gradcheck(lambda a: make_scaled(delta).apply(a), _t(x, device))


# --------------------------------------------------------------------------- #
# large inputs: random directional-derivative check
# --------------------------------------------------------------------------- #
BIG = R.normal(size=(30, 100))  # 3000 elements > default max_elements=2000


def test_large_input_directional_check_accepts(device):
    x = _t(BIG, device)
    assert tl.gradcheck(lambda a: (a.tanh() * a).softmax(axis=-1), x) is True


def test_large_input_directional_check_rejects(device):
    with pytest.raises(tl.GradcheckError):
        tl.gradcheck(lambda a: BadSoftmax.apply(a * 3.0), _t(BIG, device))
    with pytest.raises(tl.GradcheckError):
        tl.gradcheck(lambda a: make_scaled(0.05).apply(a), _t(BIG, device))


def test_max_elements_switches_to_directional_check(device):
    x = _t(A34, device)  # 12 elements
    assert tl.gradcheck(lambda a: a.exp().sum(axis=0), x, max_elements=5) is True
    with pytest.raises(tl.GradcheckError):
        tl.gradcheck(lambda a: BadSoftmax.apply(a), _t(A34, device), max_elements=5)


# --------------------------------------------------------------------------- #
# kinks: a failure caused by a non-differentiable point says so
# --------------------------------------------------------------------------- #
class ScaledExpBackward(tl.Function):
    """exp(3x) whose backward is 10% short: wrong, on a smooth function with strong curvature."""

    def forward(self, a):
        self.y = xp_of(a).exp(3 * a)
        return self.y

    def backward(self, g):
        return g * like(2.7 * self.y, g)


@pytest.mark.parametrize("op, at", [("relu", 0.0), ("abs", 3e-8)])   # (abs exactly at 0 is symmetric: it passes)
def test_kink_at_the_input_raises_nondifferentiable_error(device, op, at):
    x = _t(np.array([[0.7, at, -0.4]]), device)           # element (0, 1) sits on (or within 1e-7 of) the kink
    with pytest.raises(tl.NondifferentiableError) as ei:
        tl.gradcheck(lambda t: getattr(t, op)(), x)
    msg = str(ei.value)
    assert "element (0, 1)" in msg and "not differentiable" in msg, msg
    assert isinstance(ei.value, tl.GradcheckError)          # callers catching GradcheckError still catch it


def test_kink_between_the_fine_and_coarse_step_passes(device):
    # relu's kink 5e-7 away: the eps=1e-6 central difference straddles it, the 1e-7 one does not
    x = _t(np.array([0.5, 5e-7, -5e-7, -0.5]), device)
    assert tl.gradcheck(lambda t: t.relu(), x) is True


def test_wrong_gradient_of_a_curved_smooth_function_is_not_called_a_kink(device):
    x = _t(np.array([0.9, 1.1, 1.3]), device)
    with pytest.raises(tl.GradcheckError) as ei:
        tl.gradcheck(lambda t: ScaledExpBackward.apply(t), x)
    assert type(ei.value) is tl.GradcheckError, str(ei.value)
    assert "analytic" in str(ei.value) and "numeric" in str(ei.value)


def test_kink_in_the_directional_check_raises_nondifferentiable_error(device):
    x = _t(np.zeros(64), device)                            # every element on relu's kink
    with pytest.raises(tl.NondifferentiableError, match="directional derivative"):
        tl.gradcheck(lambda t: t.relu(), x, max_elements=10)


# --------------------------------------------------------------------------- #
# tl.gradgradcheck: second derivatives through create_graph
# --------------------------------------------------------------------------- #
class DetachedSquare(tl.Function):
    """x * x whose backward uses a saved array (a constant): right at first order, but the graph
    recorded by create_graph has no path back to x, so the second derivative comes out 0, not 2."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, grad):
        return grad * like(2 * self.x, grad)


class PathsDisagree(tl.Function):
    """x * w (w square) whose Tensor-op backward (the create_graph path) transposes w's gradient, while
    the fast array path used without create_graph is right: first-order checks never see it."""

    def forward(self, x, w):
        return x @ w

    def backward(self, g):
        x, w = self.inputs
        if not tl.is_grad_enabled():
            return like(g.data @ w.data.T, g), like(x.data.T @ g.data, g)
        return g @ w.T, (x.T @ g).T


class GraphSquare(tl.Function):
    """x * x with a backward in Tensor ops: right at every order."""

    def forward(self, x):
        return x * x

    def backward(self, grad):
        return grad * self.inputs[0] * 2.0


GRADGRAD_RIGHT = {
    "tanh_matmul": (lambda a, b: (a @ b.T).tanh(), [A34, B34]),
    "softmax": (lambda a: a.softmax(axis=1), [A34]),
    "custom_graph_square": (lambda a: GraphSquare.apply(a).tanh(), [A34]),
    "linear_in_one_input": (lambda a, b: a * 3.0 + b.exp(), [A34, B34]),     # a's Hessian is 0: no graph
    "constant_output": (lambda a: (a * 0.0).detach() + 1.0, [A34]),
}


@pytest.mark.parametrize("name", sorted(GRADGRAD_RIGHT))
def test_gradgradcheck_accepts_right_second_derivatives(device, name):
    fn, arrays = GRADGRAD_RIGHT[name]
    xs = [_t(a, device) for a in arrays]
    assert tl.gradgradcheck(fn, *xs) is True
    assert all(x.grad is None for x in xs)                   # the inputs' .grad is left as it was


def test_gradgradcheck_rejects_a_backward_that_is_not_differentiable(device):
    x = _t(A34, device)
    assert tl.gradcheck(lambda a: DetachedSquare.apply(a), x) is True      # first order: right
    with pytest.raises(tl.GradcheckError, match=r"^gradgradcheck: second derivatives .*analytic .* != numeric"):
        tl.gradgradcheck(lambda a: DetachedSquare.apply(a), x)


def test_gradgradcheck_rejects_fast_path_and_graph_path_disagreeing(device):
    x, w = _t(A34, device), _t(R.normal(size=(4, 4)), device)
    assert tl.gradcheck(lambda a, b: PathsDisagree.apply(a, b), x, w) is True   # the fast path is right
    with pytest.raises(tl.GradcheckError, match=r"gradgradcheck: input 1: the gradient computed with "
                                                r"create_graph=True differs from the one computed without it"):
        tl.gradgradcheck(lambda a, b: PathsDisagree.apply(a, b), x, w)


def test_gradgradcheck_uses_given_grad_outputs_and_keeps_existing_grads(device):
    x = _t(A34, device)
    x.grad = tl.Tensor(np.full(A34.shape, 7.0), device=device)
    v = tl.Tensor(R.normal(size=A34.shape), device=device)
    assert tl.gradgradcheck(lambda a: (a * a * a).tanh(), x, grad_outputs=v) is True
    np.testing.assert_array_equal(np.asarray(x.grad.numpy()), 7.0)
    with pytest.raises(ValueError, match="grad_outputs has shape"):
        tl.gradgradcheck(lambda a: a.sum(axis=0), x, grad_outputs=v)
    with pytest.raises(ValueError, match="no input requires grad"):
        tl.gradgradcheck(lambda a: a * a, _t(A34, device, requires_grad=False))


def test_gradgradcheck_names_a_kink_of_the_gradient(device):
    x = _t([3e-8, 1.0], device)       # d/dx (x |x|) = 2|x|: a kink at 0, within eps of the first element
    with pytest.raises(tl.NondifferentiableError, match="^gradgradcheck: second derivatives"):
        tl.gradgradcheck(lambda a: a * a.abs(), x)


def test_inputs_as_one_tuple_as_in_pytorch():
    """torch.autograd.gradcheck(fn, (x, y)): the inputs as one tuple (or list) are the inputs, as with *inputs;
    a wrong gradient is still caught that way."""
    x = tl.randn(3, 2, requires_grad=True)
    y = tl.randn(2, 4, requires_grad=True)
    f = lambda a, b: (a @ b).tanh()
    assert tl.gradcheck(f, (x, y)) and tl.gradcheck(f, [x, y]) and tl.gradcheck(f, x, y)
    assert tl.gradgradcheck(f, (x, y))

    class Wrong(tl.Function):
        def forward(self, a):
            return a * a

        def backward(self, g):
            return g * self.inputs[0]                # should be 2 a g
    with pytest.raises(tl.GradcheckError):
        tl.gradcheck(lambda a: Wrong.apply(a), (x,))
