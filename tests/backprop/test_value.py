"""The scalar engine against torch.autograd (float64) and central finite differences."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from mechlearn.backprop import Value, gradcheck_value, numerical_gradient, relative_error

finite = st.floats(min_value=-3.0, max_value=3.0, allow_nan=False)
positive = st.floats(min_value=0.1, max_value=5.0)
away_from_zero = finite.filter(lambda x: abs(x) > 1e-3)  # relu's kink: its derivative is a choice at 0

UNARY = {
    "exp": (lambda v: v.exp(), torch.exp, finite),
    "log": (lambda v: v.log(), torch.log, positive),
    "tanh": (lambda v: v.tanh(), torch.tanh, finite),
    "sigmoid": (lambda v: v.sigmoid(), torch.sigmoid, finite),
    "relu": (lambda v: v.relu(), torch.relu, away_from_zero),
    "neg": (lambda v: -v, torch.neg, finite),
    "pow3": (lambda v: v**3, lambda t: t**3, finite),
    "pow-0.5": (lambda v: v**-0.5, lambda t: t**-0.5, positive),
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "radd": lambda a, b: 2.0 + a * b,
    "rsub": lambda a, b: 2.0 - a * b,
    "rdiv": lambda a, b: 2.0 / b + a,
}


def torch_grads(f, xs):
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    out = f(*ts)
    out.backward()
    return out.item(), [t.grad.item() for t in ts]


def engine_grads(f, xs):
    vs = [Value(x) for x in xs]
    out = f(*vs)
    out.backward()
    return out.data, [v.grad for v in vs]


@pytest.mark.parametrize("name", UNARY)
def test_unary_op_matches_torch_and_finite_differences(name):
    op, torch_op, domain = UNARY[name]

    @settings(max_examples=30, deadline=None)
    @given(domain)
    def check(x):
        data, (g,) = engine_grads(op, [x])
        t_data, (t_g,) = torch_grads(torch_op, [x])
        assert data == pytest.approx(t_data, rel=1e-12, abs=1e-300), f"{name}: forward value is wrong"
        assert relative_error(g, t_g) < 1e-12, f"{name}: local derivative disagrees with torch.autograd"
        assert gradcheck_value(op, [x]) < 1e-7, f"{name}: local derivative disagrees with finite differences"

    check()


@pytest.mark.parametrize("name", BINARY)
def test_binary_op_matches_torch(name):
    f = BINARY[name]

    @settings(max_examples=30, deadline=None)
    @given(finite, finite.filter(lambda b: abs(b) > 0.1))
    def check(a, b):
        data, grads = engine_grads(f, [a, b])
        t_data, t_grads = torch_grads(f, [a, b])
        assert data == pytest.approx(t_data, rel=1e-12, abs=1e-12)
        assert relative_error(grads, t_grads) < 1e-12, f"{name}: gradient disagrees with torch.autograd"

    check()


def test_reused_value_accumulates_over_both_paths():
    # d/dx (x*x + x) = 2x + 1: assigning instead of adding would give x or 1
    x = Value(3.0)
    (x * x + x).backward()
    assert x.grad == 7.0


def test_composite_expression_against_torch_and_finite_differences():
    def f(x, y, w):
        h = (x * w + y).tanh() * x - (y / (w**2 + 1.0)).exp() + (x * x + 1.0).log()
        return (h + w.sigmoid() * x.relu() - 3.0 / (1.0 + y**2)) ** 2

    def f_torch(x, y, w):
        h = torch.tanh(x * w + y) * x - torch.exp(y / (w**2 + 1.0)) + torch.log(x * x + 1.0)
        return (h + torch.sigmoid(w) * torch.relu(x) - 3.0 / (1.0 + y**2)) ** 2

    rng = np.random.default_rng(1)
    for _ in range(20):
        xs = list(rng.normal(size=3))
        _, ours = engine_grads(f, xs)
        _, theirs = torch_grads(f_torch, xs)
        assert relative_error(ours, theirs) < 1e-12
        assert gradcheck_value(f, xs) < 1e-7


def test_deep_graph_does_not_hit_the_recursion_limit():
    x = Value(1.0)
    y = x
    for _ in range(20_000):
        y = y + 0.0
    y.backward()
    assert x.grad == 1.0


def test_backward_resets_nothing_and_reports_one_for_the_output():
    x = Value(2.0)
    y = x.tanh()
    y.backward()
    assert y.grad == 1.0
    assert x.grad == pytest.approx(1 - math.tanh(2.0) ** 2, rel=1e-15)


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="non-positive"):
        Value(-1.0).log()
    with pytest.raises(TypeError, match="constant exponent"):
        Value(2.0) ** Value(3.0)
    with pytest.raises(TypeError):
        Value(Value(1.0))


def test_sigmoid_is_stable_for_large_inputs():
    assert Value(800.0).sigmoid().data == 1.0
    assert Value(-800.0).sigmoid().data == 0.0


def test_numerical_gradient_of_a_known_function():
    # f(A, b) = sum(A @ b) has df/dA[i, j] = b[j] and df/db[j] = sum_i A[i, j]
    rng = np.random.default_rng(0)
    A, b = rng.normal(size=(3, 4)), rng.normal(size=4)
    gA, gb = numerical_gradient(lambda A, b: (A @ b).sum(), [A, b])
    assert relative_error(gA, np.broadcast_to(b, (3, 4))) < 1e-9
    assert relative_error(gb, A.sum(0)) < 1e-9


def test_gradient_check_catches_a_wrong_derivative():
    # a deliberately wrong derivative (cos instead of -sin) must fail the tolerance we use
    x = 0.8
    (numeric,) = numerical_gradient(lambda x: math.cos(x), [x])
    assert relative_error(math.cos(x), numeric) > 1e-2
    assert relative_error(-math.sin(x), numeric) < 1e-9


def test_relative_error_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shapes differ"):
        relative_error(np.zeros(3), np.zeros(4))
