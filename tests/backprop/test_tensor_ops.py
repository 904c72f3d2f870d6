"""Every Tensor op against torch.autograd (float64, 1e-10) and central finite differences (float64, 1e-7).

Shapes and broadcast patterns are drawn by hypothesis; values come from a seeded generator per example.
Tolerances: torch runs the same float64 arithmetic in a different order, so agreement to ~1e-14 is typical and
1e-10 leaves room only for reordering; finite differences with eps=1e-6 carry ~1e-10 error of their own, so 1e-7
(the floor semantics of `relative_error` included) separates them from any real bug (a wrong derivative is O(1)).
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from mechlearn.backprop import (
    Tensor,
    cross_entropy,
    gradcheck_tensor,
    log_softmax,
    no_grad,
    relative_error,
    softmax,
    unbroadcast,
)

TORCH_TOL, FD_TOL = 1e-10, 1e-7
EXAMPLES = settings(max_examples=12, deadline=None, derandomize=True)  # same examples every run: no flakes

shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)
seeds = st.integers(0, 2**16)


@st.composite
def broadcast_pair(draw):
    """A shape and a second shape that broadcasts against it: leading axes dropped, some axes set to 1."""
    shape = draw(shapes)
    n_drop = draw(st.integers(0, len(shape) - 1))
    other = tuple(1 if draw(st.booleans()) else n for n in shape[n_drop:])
    return (shape, other) if draw(st.booleans()) else (other, shape)


def compare(f_ours, f_torch, arrays, name):
    """Forward values and gradients of a random projection of the output, ours vs torch; then finite differences."""
    ours = [Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out, t_out = f_ours(*ours), f_torch(*theirs)
    assert out.shape == tuple(t_out.shape), f"{name}: forward shape {out.shape} vs torch {tuple(t_out.shape)}"
    assert relative_error(out.data, t_out.detach().numpy()) < TORCH_TOL, f"{name}: forward value is wrong"
    w = np.random.default_rng(1).normal(size=out.shape)
    (out * w).sum().backward()
    (t_out * torch.tensor(w)).sum().backward()
    for i, (x, t) in enumerate(zip(ours, theirs, strict=True)):
        err = relative_error(x.grad, t.grad.numpy())
        assert err < TORCH_TOL, f"{name}: gradient of input {i} disagrees with torch.autograd ({err:.1e})"
    err = gradcheck_tensor(f_ours, arrays)
    assert err < FD_TOL, f"{name}: gradient disagrees with finite differences ({err:.1e})"


BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / b, lambda a, b: a / b),
    "radd_rmul": (lambda a, b: 2.0 * a + b * 3.0, lambda a, b: 2.0 * a + b * 3.0),
    "rsub_rdiv": (lambda a, b: 1.0 - a + 2.0 / b, lambda a, b: 1.0 - a + 2.0 / b),
}


@pytest.mark.parametrize("name", BINARY)
def test_broadcasting_binary_op(name):
    ours, theirs = BINARY[name]

    @EXAMPLES
    @given(broadcast_pair(), seeds)
    def check(pair, seed):
        rng = np.random.default_rng(seed)
        a = rng.normal(size=pair[0])
        b = rng.uniform(0.5, 2.0, size=pair[1]) * rng.choice([-1, 1], size=pair[1])  # away from 0 for div
        compare(ours, theirs, [a, b], f"{name}{pair}")

    check()


POSITIVE = lambda rng, s: rng.uniform(0.2, 3.0, size=s)
NORMAL = lambda rng, s: rng.normal(size=s)
AWAY_FROM_ZERO = lambda rng, s: rng.uniform(0.05, 2.0, size=s) * rng.choice([-1, 1], size=s)  # relu's kink
UNARY = {
    "neg": (lambda x: -x, lambda x: -x, NORMAL),
    "exp": (lambda x: x.exp(), torch.exp, NORMAL),
    "log": (lambda x: x.log(), torch.log, POSITIVE),
    "tanh": (lambda x: x.tanh(), torch.tanh, NORMAL),
    "sigmoid": (lambda x: x.sigmoid(), torch.sigmoid, NORMAL),
    "relu": (lambda x: x.relu(), torch.relu, AWAY_FROM_ZERO),
    "pow3": (lambda x: x**3, lambda x: x**3, NORMAL),
    "pow-0.5": (lambda x: x**-0.5, lambda x: x**-0.5, POSITIVE),
    "sum_all": (lambda x: x.sum(), lambda x: x.sum(), NORMAL),
    "sum_last_keepdims": (lambda x: x.sum(-1, keepdims=True), lambda x: x.sum(-1, keepdim=True), NORMAL),
    "sum_first": (lambda x: x.sum(0), lambda x: x.sum(0), NORMAL),
    "mean_all": (lambda x: x.mean(), lambda x: x.mean(), NORMAL),
    "mean_last": (lambda x: x.mean(-1), lambda x: x.mean(-1), NORMAL),
    "max_all": (lambda x: x.max(), lambda x: x.amax(), NORMAL),
    "max_last_keepdims": (lambda x: x.max(-1, keepdims=True), lambda x: x.amax(-1, keepdim=True), NORMAL),
    "max_first": (lambda x: x.max(0), lambda x: x.amax(0), NORMAL),
    "reshape_flat": (lambda x: x.reshape(-1), lambda x: x.reshape(-1), NORMAL),
    "reshape_split": (lambda x: x.reshape(x.shape[0], -1, 1), lambda x: x.reshape(x.shape[0], -1, 1), NORMAL),
    "transpose": (lambda x: x.transpose(0, -1), lambda x: x.transpose(0, -1), NORMAL),
    "permute_reverse": (
        lambda x: x.permute(tuple(reversed(range(x.ndim)))),
        lambda x: x.permute(tuple(reversed(range(x.ndim)))),
        NORMAL,
    ),
    "softmax": (lambda x: softmax(x, axis=-1), lambda x: torch.softmax(x, dim=-1), NORMAL),
    "softmax_first": (lambda x: softmax(x, axis=0), lambda x: torch.softmax(x, dim=0), NORMAL),
    "log_softmax": (lambda x: log_softmax(x, axis=-1), lambda x: torch.log_softmax(x, dim=-1), NORMAL),
    "slice": (lambda x: x[1:], lambda x: x[1:], NORMAL),
    "slice_step_last": (lambda x: x[..., ::2], lambda x: x[..., ::2], NORMAL),
    "int_array_repeats": (lambda x: x[np.array([0, 0, -1, 0])], lambda x: x[torch.tensor([0, 0, -1, 0])], NORMAL),
    "masked_fill": (
        lambda x: x.masked_fill(np.arange(x.size).reshape(x.shape) % 3 == 0, -5.0),
        lambda x: x.masked_fill(torch.tensor(np.arange(x.numel()).reshape(x.shape) % 3 == 0), -5.0),
        NORMAL,
    ),
}


@pytest.mark.parametrize("name", UNARY)
def test_unary_op(name):
    ours, theirs, draw_values = UNARY[name]

    @EXAMPLES
    @given(shapes, seeds)
    def check(shape, seed):
        compare(ours, theirs, [draw_values(np.random.default_rng(seed), shape)], f"{name}{shape}")

    check()


@st.composite
def matmul_shapes(draw):
    """(..., n, k) @ (..., k, m) with broadcast batch axes, plus the vector cases (k,) @ (k, m), (n, k) @ (k,)."""
    n, k, m = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch_a, batch_b = draw(broadcast_pair()) if draw(st.booleans()) else ((), ())
    a = (*batch_a, n, k) if draw(st.integers(0, 4)) else (k,)
    b = (*batch_b, k, m) if draw(st.integers(0, 4)) else (k,)
    return a, b


def test_matmul():
    @settings(max_examples=30, deadline=None, derandomize=True)
    @given(matmul_shapes(), seeds)
    def check(pair, seed):
        rng = np.random.default_rng(seed)
        compare(lambda a, b: a @ b, lambda a, b: a @ b, [rng.normal(size=pair[0]), rng.normal(size=pair[1])], "@")

    check()


def test_cross_entropy_matches_torch_and_finite_differences():
    @EXAMPLES
    @given(st.integers(1, 6), st.integers(2, 5), st.booleans(), seeds)
    def check(n, c, sequence, seed):
        rng = np.random.default_rng(seed)
        shape = (2, n) if sequence else (n,)  # (..., n_classes) logits: a batch of sequences, as a transformer
        targets = rng.integers(0, c, size=shape)
        logits = rng.normal(size=(*shape, c)) * 3
        compare(
            lambda x: cross_entropy(x, targets),
            lambda x: F.cross_entropy(x.reshape(-1, c), torch.tensor(targets).reshape(-1)),
            [logits],
            "cross_entropy",
        )

    check()


def test_fused_cross_entropy_equals_the_composed_ops():
    # the fused op must be exactly -mean(log_softmax[rows, targets]) built from indexing and mean
    rng = np.random.default_rng(3)
    logits, targets = rng.normal(size=(7, 5)), rng.integers(0, 5, size=7)
    fused, composed = Tensor(logits, requires_grad=True), Tensor(logits, requires_grad=True)
    cross_entropy(fused, targets).backward()
    (-log_softmax(composed)[np.arange(7), targets].mean()).backward()
    assert relative_error(fused.grad, composed.grad) < 1e-12


def test_softmax_family_is_stable_for_huge_logits():
    x = Tensor(np.array([[1000.0, 0.0, -1000.0]]), requires_grad=True)
    assert np.isfinite(softmax(x).data).all() and np.isfinite(log_softmax(x).data).all()
    loss = cross_entropy(x, np.array([1]))
    loss.backward()
    assert loss.item() == pytest.approx(1000.0) and np.isfinite(x.grad).all()


def test_composite_graph_with_reuse_against_torch():
    # a small network-like graph where tensors feed several ops, so accumulation across paths is exercised
    def f(x, W, b, lib):
        h = x @ W + b
        act = h.tanh() if lib == "ours" else torch.tanh(h)
        return (act * h + (x @ W) * 0.5).sum(-1) - b.sum()

    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(5, 3)), rng.normal(size=(3, 4)), rng.normal(size=(4,))]
    compare(lambda *t: f(*t, "ours"), lambda *t: f(*t, "torch"), arrays, "composite")


def test_unbroadcast_sums_new_and_stretched_axes():
    g = np.arange(24.0).reshape(2, 3, 4)
    assert np.array_equal(unbroadcast(g, (3, 1)), g.sum(axis=(0, 2))[:, None])
    assert np.array_equal(unbroadcast(g, (4,)), g.sum(axis=(0, 1)))
    assert np.array_equal(unbroadcast(g, (1, 1, 1)), g.sum(keepdims=True))
    with pytest.raises(ValueError, match="cannot reduce"):
        unbroadcast(g, (3, 2))


def test_gradients_accumulate_across_backward_calls_and_paths():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * x + x).sum().backward()  # d/dx = 2x + 1; assigning instead of adding would give x or 1
    assert np.array_equal(x.grad, [3.0, 5.0])
    (x * 2.0).sum().backward()
    assert np.array_equal(x.grad, [5.0, 7.0]), "a second backward must add to .grad, as torch does"


def test_no_grad_builds_no_graph():
    x = Tensor(np.ones(3), requires_grad=True)
    with no_grad():
        y = (x * 2).sum()
    assert not y.requires_grad and y._parents == ()
    assert (x * 2).sum().requires_grad, "no_grad must restore recording on exit"


def test_bad_use_raises_clear_errors():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match="non-scalar"):
        (x * 2).backward()
    with pytest.raises(ValueError, match="do not broadcast"):
        x + Tensor(np.ones((4,)))
    with pytest.raises(ValueError, match="inner dimensions"):
        x @ Tensor(np.ones((2, 2)))
    with pytest.raises(ValueError, match="grad has shape"):
        (x * 2).backward(grad=np.ones(3))
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor(np.ones(2)).sum().backward()
    with pytest.raises(ValueError, match="targets"):
        cross_entropy(x, np.array([0, 3]))
    with pytest.raises(TypeError, match="constant exponent"):
        x ** Tensor(2.0)
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="already freed"):
        loss.backward()


def test_retain_graph_allows_a_second_backward():
    x = Tensor(np.array([3.0]), requires_grad=True)
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    assert x.grad[0] == 12.0


def test_non_scalar_backward_with_explicit_grad():
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    (x * x).backward(grad=np.array([1.0, 0.0, 2.0]))
    assert np.array_equal(x.grad, [2.0, 0.0, 12.0])


def test_deep_graph_does_not_hit_the_recursion_limit():
    x = Tensor(np.ones(2), requires_grad=True)
    y = x
    for _ in range(5000):
        y = y + 0.0
    y.sum().backward()
    assert np.array_equal(x.grad, [1.0, 1.0])


def test_gradient_check_catches_a_wrong_backward():
    # a tanh whose backward forgets the square, 1 - tanh(x) instead of 1 - tanh(x)^2, must fail both checks
    def bad_tanh(x):
        out = np.tanh(x.data)
        return Tensor._make(out, (x,), lambda g: (g * (1 - out),), "bad_tanh")

    x = np.random.default_rng(0).normal(size=(3, 2))
    assert gradcheck_tensor(bad_tanh, [x]) > 1e-2
    assert gradcheck_tensor(lambda t: t.tanh(), [x]) < FD_TOL


def test_float32_stays_float32():
    x = Tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True)
    loss = ((x @ x) * 2.0 + 1.0).mean()
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32


def test_matmul_and_conv_with_a_constant_operand():
    # the backward skips the constant's adjoint; the other operand's gradient must be unchanged by that
    from mechlearn.backprop.conv import conv2d

    rng = np.random.default_rng(5)
    X, W = rng.normal(size=(4, 3)), rng.normal(size=(3, 2))
    for constant_first in (True, False):
        a = Tensor(X, requires_grad=not constant_first)
        b = Tensor(W, requires_grad=constant_first)
        (a @ b).tanh().sum().backward()
        ta, tb = torch.tensor(X, requires_grad=True), torch.tensor(W, requires_grad=True)
        torch.tanh(ta @ tb).sum().backward()
        learned, reference = (b, tb) if constant_first else (a, ta)
        assert relative_error(learned.grad, reference.grad.numpy()) < TORCH_TOL
        assert (a if constant_first else b).grad is None, "a constant operand must not receive a gradient"
    x, K = rng.normal(size=(2, 1, 5, 5)), rng.normal(size=(3, 1, 3, 3))
    kernel = Tensor(K, requires_grad=True)
    conv2d(Tensor(x), kernel, None, 1, 1).sum().backward()
    tK = torch.tensor(K, requires_grad=True)
    F.conv2d(torch.tensor(x), tK, padding=1).sum().backward()
    assert relative_error(kernel.grad, tK.grad.numpy()) < TORCH_TOL


def test_random_cotangent_catches_what_a_ones_cotangent_misses():
    # softmax's Jacobian satisfies J^T 1 = 0, so a backward returning zeros passes a check seeded with ones
    def softmax_zero_backward(x):
        return Tensor._make(softmax(x).data, (x,), lambda g: (np.zeros_like(g),), "bad_softmax")

    x = np.random.default_rng(2).normal(size=(3, 4))
    ones_seeded = gradcheck_tensor(lambda t: (softmax_zero_backward(t) * Tensor(np.ones((3, 4)))).sum(), [x])
    assert ones_seeded < FD_TOL, "with w = 1 the bug is invisible (this is the reason for a random w)"
    assert gradcheck_tensor(softmax_zero_backward, [x]) > 1e-2, "the random cotangent must expose the bug"


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (4, 2, 3)])
def test_T_matches_torch_including_vectors_and_scalars(shape):
    """`.T` on a vector raised IndexError (it swapped axes -1 and -2 of a 1-D array); NumPy and torch return a 0-D
    or 1-D tensor unchanged. With 3 or more axes ours swaps the last two, torch's `.mT`."""
    a = np.random.default_rng(0).normal(size=shape)
    # torch's own `.T` warns below 2 axes (it is the identity there) and is `.mT`'s reversal above
    reference = {0: lambda t: t, 1: lambda t: t, 2: lambda t: t.T}.get(len(shape), lambda t: t.mT)
    compare(lambda x: x.T * 1.0, lambda x: reference(x) * 1.0, [a], f"T{shape}")
    assert len(shape) > 2 or np.array_equal(Tensor(a).T.data, a.T), "differs from NumPy's .T"


@pytest.mark.parametrize("k", [np.int64(2), np.int32(3), np.float64(-0.5), np.float32(1.5), True])
def test_pow_accepts_numpy_scalar_exponents_like_torch(k):
    """`x ** np.int64(2)` raised TypeError (the check allowed only Python int/float); torch accepts NumPy scalars."""
    a = np.random.default_rng(1).uniform(0.2, 3.0, size=(2, 3))
    compare(lambda x: x**k, lambda x: x ** k.item() if isinstance(k, np.generic) else x**k, [a], f"**{k!r}")


def test_pow_with_a_numpy_float64_exponent_keeps_float32():
    """np.float64 is a 'strong' type in NumPy 2: float32 data ** np.float64(2) would silently become float64."""
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    y = x ** np.float64(2.0)
    assert (torch.ones(3) ** np.float64(2.0)).dtype == torch.float32  # the reference behaviour
    assert y.dtype == np.float32, "float32 ** np.float64 was promoted to float64"
    y.sum().backward()
    assert x.grad.dtype == np.float32, "the gradient of a float32 leaf became float64"


def test_pow_rejects_a_tensor_exponent():
    with pytest.raises(TypeError, match="constant exponent"):
        Tensor(np.ones(2)) ** Tensor(np.ones(2))


@pytest.mark.parametrize(
    "axis, keepdims", [(None, False), (0, False), (-1, True), ((0, 2), False), ((1, 2), True), (None, True)]
)
def test_max_splits_the_gradient_equally_among_ties_like_torch_amax(axis, keepdims):
    """Entries drawn from {0, 1, 2} tie often. torch.amax (and the global torch.max) give each of m tied maxima
    1/m of the adjoint; a backward that sends it all to the first argmax, or all of it to every winner, fails."""
    a = np.random.default_rng(2).integers(0, 3, size=(3, 4, 5)).astype(np.float64)
    x, t = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    dim = tuple(range(3)) if axis is None else axis
    out, t_out = x.max(axis, keepdims=keepdims), t.amax(dim=dim, keepdim=keepdims)
    w = np.random.default_rng(3).normal(size=out.shape)
    (out * w).sum().backward()
    (t_out * torch.tensor(w)).sum().backward()
    assert (x.grad > 0).sum() + (x.grad < 0).sum() > out.size, "no ties in this draw: the test checks nothing"
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=0, atol=1e-12, err_msg="ties split unlike torch.amax")
    if axis is None:
        t2 = torch.tensor(a, requires_grad=True)
        t2.max().backward()  # the global max without dim splits ties evenly too
        np.testing.assert_allclose(x.grad / w.sum(), t2.grad.numpy(), rtol=0, atol=1e-12)
