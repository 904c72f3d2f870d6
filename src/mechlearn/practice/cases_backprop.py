"""Cases for the backprop exercises: the scalar engine by hand and by finite differences, the NumPy engine
against torch.autograd (float64, 1e-10) and finite differences (1e-7), the optimisers against torch.optim."""

from __future__ import annotations

import math

import numpy as np

from mechlearn.practice.cases import case, engine_vs_torch, expect, expect_close, expect_equal

RNG = np.random.default_rng


# ---- Value -------------------------------------------------------------------------------------------------------


def _value(x: float):
    from mechlearn.backprop.value import Value

    return Value(x)


@case("Value.__mul__")
def product_rule_by_hand(fn):
    """a * b at a = 3, b = -2: value -6, da = b = -2, db = a = 3 (swapped derivatives give the wrong signs)."""
    a, b = _value(3.0), _value(-2.0)
    out = fn(a, b)
    expect_close("a * b", out.data, -6.0, {"a": 3.0, "b": -2.0})
    out.grad = 1.0
    out._backward()
    expect_close("(a.grad, b.grad)", np.array([a.grad, b.grad]), np.array([-2.0, 3.0]), {"a": 3.0, "b": -2.0})


@case("Value.__mul__")
def squaring_accumulates(fn):
    """x * x at x = 3 has derivative 6: both contributions must be added (`=` instead of `+=` gives 3)."""
    x = _value(3.0)
    out = fn(x, x)
    out.grad = 1.0
    out._backward()
    expect_close("d(x*x)/dx", x.grad, 6.0, {"x": 3.0})


@case("Value.__mul__")
def multiplies_by_a_plain_number(fn):
    """x * 2.5 with a float on the right: the number must be lifted to a Value (d/dx = 2.5)."""
    x = _value(-1.5)
    out = fn(x, 2.5)
    out.grad = 1.0
    out._backward()
    expect_close("(x * 2.5, d/dx)", np.array([out.data, x.grad]), np.array([-3.75, 2.5]), {"x": -1.5})


@case("Value.tanh")
def tanh_value_and_derivative(fn):
    """tanh and 1 - tanh^2 at five points, against math.tanh and a central difference."""
    for x0 in (-2.0, -0.3, 0.0, 0.7, 3.0):
        x = _value(x0)
        out = fn(x)
        out.grad = 1.0
        out._backward()
        fd = (math.tanh(x0 + 1e-6) - math.tanh(x0 - 1e-6)) / 2e-6
        expect_close("tanh(x), d/dx", np.array([out.data, x.grad]), np.array([math.tanh(x0), fd]), {"x": x0}, 1e-8)


@case("Value.backward")
def diamond_graph_by_hand(fn):
    """f = (a*b) + (a*b).tanh() reuses a*b: every path must be summed and each node visited once.
    With a = 0.5, b = -1.5, df/da = b (1 + 1 - tanh(ab)^2)."""
    a, b = _value(0.5), _value(-1.5)
    ab = a * b
    f = ab + ab.tanh()
    fn(f)
    t = math.tanh(0.5 * -1.5)
    expected = np.array([-1.5 * (2 - t * t), 0.5 * (2 - t * t), 1.0])
    expect_close("(a.grad, b.grad, f.grad)", np.array([a.grad, b.grad, f.grad]), expected, {"a": 0.5, "b": -1.5})


@case("Value.backward")
def deep_chain_does_not_recurse(fn):
    """A chain of 3000 additions (x + 1 + 1 + ...): the gradient is 1; a recursive sort hits Python's limit of 1000."""
    x = _value(1.0)
    y = x
    for _ in range(3000):
        y = y + 1.0
    fn(y)
    expect_close("dx", x.grad, 1.0, {"chain length": 3000})


@case("Value.backward")
def matches_finite_differences(fn):
    """f(x, y) = x^2 y + exp(x y) / y at (0.3, 1.7), against central differences of the forward pass."""

    def f(x, y):
        return x * x * y + (x * y).exp() / y

    x, y = _value(0.3), _value(1.7)
    fn(f(x, y))
    num = [
        (f(_value(0.3 + 1e-6), _value(1.7)).data - f(_value(0.3 - 1e-6), _value(1.7)).data) / 2e-6,
        (f(_value(0.3), _value(1.7 + 1e-6)).data - f(_value(0.3), _value(1.7 - 1e-6)).data) / 2e-6,
    ]
    expect_close("(dx, dy)", np.array([x.grad, y.grad]), np.array(num), {"x": 0.3, "y": 1.7}, atol=1e-7)


# ---- unbroadcast and the Tensor ops --------------------------------------------------------------------------


@case("unbroadcast")
def sums_new_leading_axes(fn):
    """(2, 3) broadcast to (4, 2, 3): sum over the new leading axis."""
    grad = np.arange(24.0).reshape(4, 2, 3)
    expect_close("unbroadcast", fn(grad, (2, 3)), grad.sum(0), {"grad": grad, "shape": (2, 3)}, 0)


@case("unbroadcast")
def sums_stretched_axes_keeping_them(fn):
    """(1, 3) stretched to (2, 3): sum over axis 0 and keep it, giving (1, 3) = [[3, 5, 7]]."""
    grad = np.arange(6.0).reshape(2, 3)
    expect_close("unbroadcast", fn(grad, (1, 3)), np.array([[3.0, 5.0, 7.0]]), {"grad": grad, "shape": (1, 3)}, 0)


@case("unbroadcast")
def new_and_stretched_axes_together(fn):
    """(3, 1) broadcast to (2, 3, 4): sum the new axis 0 and the stretched last axis."""
    grad = RNG(0).normal(size=(2, 3, 4))
    expected = grad.sum(0).sum(-1, keepdims=True)
    expect_close("unbroadcast", fn(grad, (3, 1)), expected, {"grad": grad, "shape": (3, 1)}, 1e-12)


@case("unbroadcast")
def scalar_operand(fn):
    """A 0-D operand broadcast to (2, 2) receives the sum of every entry."""
    grad = np.array([[1.0, 2.0], [3.0, 4.0]])
    expect_close("unbroadcast", fn(grad, ()), np.array(10.0), {"grad": grad, "shape": ()}, 0)


@case("Tensor.__truediv__")
def divide_with_broadcasting(fn):
    """(2, 3) / (3,) and (1, 3) / (2, 1): both quotient-rule gradients, unbroadcast."""
    rng = RNG(1)
    for sa, sb in [((2, 3), (3,)), ((1, 3), (2, 1))]:
        a = rng.normal(size=sa)
        b = rng.uniform(0.5, 2.0, size=sb) * rng.choice([-1, 1], size=sb)
        engine_vs_torch(f"{sa} / {sb}", lambda x, y: fn(x, y), lambda x, y: x / y, [a, b])


@case("Tensor.__truediv__")
def divide_by_a_number(fn):
    """x / 4.0 and 2.0 / x (through __rtruediv__, which calls __truediv__ on the lifted number)."""
    x = RNG(2).uniform(0.5, 2.0, size=(3,))
    engine_vs_torch("x / 4", lambda t: fn(t, 4.0), lambda t: t / 4.0, [x])
    engine_vs_torch("2 / x", lambda t: 2.0 / t, lambda t: 2.0 / t, [x])


@case("Tensor.__matmul__")
def matrix_times_matrix(fn):
    """(3, 4) @ (4, 2): dA = dC B^T, dB = A^T dC."""
    rng = RNG(3)
    engine_vs_torch("(3, 4) @ (4, 2)", fn, lambda a, b: a @ b, [rng.normal(size=(3, 4)), rng.normal(size=(4, 2))])


@case("Tensor.__matmul__")
def batched_with_broadcast_batch_axes(fn):
    """(2, 1, 3, 4) @ (5, 4, 2): batch axes broadcast to (2, 5), so both gradients must be unbroadcast."""
    rng = RNG(4)
    arrays = [rng.normal(size=(2, 1, 3, 4)), rng.normal(size=(5, 4, 2))]
    engine_vs_torch("(2, 1, 3, 4) @ (5, 4, 2)", fn, lambda a, b: a @ b, arrays)


@case("Tensor.__matmul__")
def vector_operands(fn):
    """(4,) @ (4, 2), (3, 4) @ (4,) and (4,) @ (4,): 1-D operands are a row, a column, or a dot product."""
    rng = RNG(5)
    for sa, sb in [((4,), (4, 2)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4,))]:
        engine_vs_torch(f"{sa} @ {sb}", fn, lambda a, b: a @ b, [rng.normal(size=sa), rng.normal(size=sb)])


@case("Tensor.sum")
def sum_over_each_kind_of_axis(fn):
    """sum(), sum(0), sum(-1, keepdims=True) and sum((0, 2)) of a (2, 3, 4) tensor."""
    x = RNG(6).normal(size=(2, 3, 4))
    for args, kwargs in [((), {}), ((0,), {}), ((-1,), {"keepdims": True}), (((0, 2),), {})]:
        dims = args[0] if args else None
        engine_vs_torch(
            f"sum{args}{kwargs}",
            lambda t, args=args, kwargs=kwargs: fn(t, *args, **kwargs),
            lambda t, dims=dims, kwargs=kwargs: t.sum() if dims is None else t.sum(dims, keepdim=bool(kwargs)),
            [x],
        )


@case("Tensor.max")
def max_matches_torch_amax(fn):
    """max over the last axis (keepdims) and over axis 0 of random values: the adjoint goes to the maximum."""
    x = RNG(7).normal(size=(3, 4))
    engine_vs_torch("max(-1, keepdims)", lambda t: fn(t, -1, True), lambda t: t.amax(-1, keepdim=True), [x])
    engine_vs_torch("max(0)", lambda t: fn(t, 0), lambda t: t.amax(0), [x], fd=False)


@case("Tensor.max")
def tied_maxima_share_the_gradient(fn):
    """max of [1, 3, 3, 2]: the two tied 3s get half the adjoint each ([0, 0.5, 0.5, 0]), as torch.amax."""
    from mechlearn.backprop.tensor import Tensor

    x = Tensor(np.array([1.0, 3.0, 3.0, 2.0]), requires_grad=True)
    out = fn(x)
    out.backward()
    expect_close("max", out, np.array(3.0), {"x": x.data}, 0)
    expect_close("x.grad", x.grad, np.array([0.0, 0.5, 0.5, 0.0]), {"x": x.data}, 1e-12)


# ---- functional --------------------------------------------------------------------------------------------------


@case("softmax")
def softmax_matches_torch(fn):
    """softmax over the last and the first axis of a (3, 4) tensor, values and gradients."""
    import torch

    x = RNG(8).normal(size=(3, 4))
    engine_vs_torch("softmax(axis=-1)", lambda t: fn(t, axis=-1), lambda t: torch.softmax(t, -1), [x])
    engine_vs_torch("softmax(axis=0)", lambda t: fn(t, axis=0), lambda t: torch.softmax(t, 0), [x])


@case("softmax")
def softmax_is_stable_for_huge_logits(fn):
    """[1000, 0, -1000] must give [1, 0, 0], not NaN (subtract the max before exponentiating)."""
    from mechlearn.backprop.tensor import Tensor

    x = np.array([[1000.0, 0.0, -1000.0]])
    expect_close("softmax", fn(Tensor(x), axis=-1), np.array([[1.0, 0.0, 0.0]]), {"x": x}, 1e-12)


@case("log_softmax")
def log_softmax_matches_torch(fn):
    """log_softmax over the last and the first axis, values and gradients."""
    import torch

    x = RNG(9).normal(size=(2, 5))
    engine_vs_torch("log_softmax(axis=-1)", lambda t: fn(t, axis=-1), lambda t: torch.log_softmax(t, -1), [x])
    engine_vs_torch("log_softmax(axis=0)", lambda t: fn(t, axis=0), lambda t: torch.log_softmax(t, 0), [x])


@case("log_softmax")
def log_softmax_is_stable_for_huge_logits(fn):
    """[1000, 0] gives [0, -1000] (log of a softmax that underflowed would give -inf)."""
    from mechlearn.backprop.tensor import Tensor

    x = np.array([[1000.0, 0.0]])
    expect_close("log_softmax", fn(Tensor(x), axis=-1), np.array([[0.0, -1000.0]]), {"x": x}, 1e-9)


@case("cross_entropy")
def cross_entropy_matches_torch(fn):
    """(5, 3) logits and (2, 4, 3) sequence logits against F.cross_entropy (the mean over every position)."""
    import torch
    import torch.nn.functional as F

    rng = RNG(10)
    for shape in [(5,), (2, 4)]:
        targets = rng.integers(0, 3, size=shape)
        logits = rng.normal(size=(*shape, 3)) * 3
        engine_vs_torch(
            f"cross_entropy{shape + (3,)}",
            lambda t, targets=targets: fn(t, targets),
            lambda t, targets=targets: F.cross_entropy(t.reshape(-1, 3), torch.tensor(targets).reshape(-1)),
            [logits],
        )


@case("cross_entropy")
def cross_entropy_by_hand(fn):
    """Logits [[0, ln 3]] with target 1: p = 3/4, loss = ln(4/3) = 0.28768, gradient [1/4, -1/4]."""
    from mechlearn.backprop.tensor import Tensor

    x = Tensor(np.array([[0.0, math.log(3.0)]]), requires_grad=True)
    loss = fn(x, np.array([1]))
    loss.backward()
    expect_close("loss", loss, np.array(math.log(4 / 3)), {"logits": x.data, "targets": [1]}, 1e-12)
    expect_close("logits.grad", x.grad, np.array([[0.25, -0.25]]), {"logits": x.data, "targets": [1]}, 1e-12)


@case("numerical_gradient")
def gradient_of_a_known_function(fn):
    """f(x, y) = sum(x^3) + sum(x) * y at x = [0.5, -1, 2], y = [3]: df/dx = 3x^2 + y, df/dy = sum(x)."""
    x, y = np.array([0.5, -1.0, 2.0]), np.array([3.0])
    got = fn(lambda x, y: (x**3).sum() + x.sum() * y[0], [x, y])
    expect(isinstance(got, list) and len(got) == 2, "returns one gradient per input", {"x": x, "y": y}, 2, got)
    expect_close("df/dx", got[0], 3 * x**2 + 3.0, {"x": x, "y": y}, atol=1e-6)
    expect_close("df/dy", got[1], np.array([x.sum()]), {"x": x, "y": y}, atol=1e-6)


@case("numerical_gradient")
def leaves_the_inputs_unchanged(fn):
    """Perturbing in place must not leave the caller's array changed (and the perturbation must be central)."""
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    before = x.copy()
    got = fn(lambda x: (x**2).sum(), [x])
    expect_equal("the input after the call", x, before, {"x": before})
    expect_close("d sum(x^2)/dx", got[0], 2 * before, {"x": before}, atol=1e-6)


# ---- optimisers against torch.optim --------------------------------------------------------------------------


def _optimiser_run(ours_cls, torch_cls, kwargs: dict, steps: int = 4):
    """The same loss, sum((theta - target)^2 - cos(theta)), minimised by both for a few steps from the same start;
    returns (ours, torch's) parameters and the inputs to show."""
    import torch

    from mechlearn.backprop.nn import Parameter

    rng = RNG(11)
    theta0, target = rng.normal(size=(3,)), rng.normal(size=(3,))
    p = Parameter(theta0.copy())
    t = torch.tensor(theta0, requires_grad=True)
    ours, theirs = ours_cls([p], **kwargs), torch_cls([t], **kwargs)
    for _ in range(steps):
        p.grad = 2 * (p.data - target) + np.sin(p.data)
        ours.step()
        theirs.zero_grad()
        loss = ((t - torch.tensor(target)) ** 2).sum() + (-torch.cos(t)).sum()
        loss.backward()
        theirs.step()
    inputs = {"optimiser": f"{ours_cls.__name__}({kwargs})", "theta0": theta0, "target": target, "steps": steps}
    return p.data, t.detach().numpy(), inputs


@case("SGD._update")
def sgd_matches_torch(fn):
    """Plain, momentum, Nesterov and weight-decayed SGD: 4 steps each, equal to torch.optim.SGD to 1e-12."""
    import torch

    from mechlearn.backprop.optim import SGD

    for kwargs in [
        {"lr": 0.1},
        {"lr": 0.1, "momentum": 0.9},
        {"lr": 0.05, "momentum": 0.8, "nesterov": True},
        {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.1},
    ]:
        ours, theirs, inputs = _optimiser_run(SGD, torch.optim.SGD, kwargs)
        expect_close(f"parameters after 4 steps of SGD({kwargs})", ours, theirs, inputs, 1e-12)


@case("Adam._update")
def adam_matches_torch(fn):
    """Adam, Adam with L2 weight decay and AdamW: 4 steps each, equal to torch.optim to 1e-12."""
    import torch

    from mechlearn.backprop.optim import Adam, AdamW

    for ours_cls, torch_cls, kwargs in [
        (Adam, torch.optim.Adam, {"lr": 0.1}),
        (Adam, torch.optim.Adam, {"lr": 0.05, "betas": (0.8, 0.99), "weight_decay": 0.1}),
        (AdamW, torch.optim.AdamW, {"lr": 0.1, "weight_decay": 0.1}),
    ]:
        ours, theirs, inputs = _optimiser_run(ours_cls, torch_cls, kwargs)
        expect_close(f"parameters after 4 steps of {ours_cls.__name__}({kwargs})", ours, theirs, inputs, 1e-12)


# ---- convolution and pooling against torch -------------------------------------------------------------------


@case("conv2d")
def conv2d_matches_torch(fn):
    """(1, 2, 4, 4) input, (2, 2, 3, 3) kernel with bias: stride 1 (also by finite differences), and stride 2
    with padding 1 on a (2, 2, 5, 5) input."""
    import torch.nn.functional as F

    rng = RNG(12)
    small = [rng.normal(size=(1, 2, 4, 4)), rng.normal(size=(2, 2, 3, 3)), rng.normal(size=(2,))]
    engine_vs_torch("conv2d(stride=1)", lambda x, w, b: fn(x, w, b), lambda x, w, b: F.conv2d(x, w, b), small)
    padded = [rng.normal(size=(2, 2, 5, 5)), rng.normal(size=(3, 2, 3, 3)), rng.normal(size=(3,))]
    engine_vs_torch(
        "conv2d(stride=2, padding=1)",
        lambda x, w, b: fn(x, w, b, stride=2, padding=1),
        lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
        padded,
        fd=False,
    )


@case("conv2d")
def conv2d_without_bias(fn):
    """bias=None: a (1, 1, 4, 4) input and a (2, 1, 2, 2) kernel."""
    import torch.nn.functional as F

    rng = RNG(13)
    arrays = [rng.normal(size=(1, 1, 4, 4)), rng.normal(size=(2, 1, 2, 2))]
    engine_vs_torch("conv2d(bias=None)", lambda x, w: fn(x, w, None), lambda x, w: F.conv2d(x, w), arrays)


@case("max_pool2d")
def max_pool_matches_torch(fn):
    """2x2 pooling with stride 2, and 3x3 with stride 2 and padding 1 (padding never wins)."""
    import torch.nn.functional as F

    x = RNG(14).normal(size=(2, 2, 5, 5))
    for k, s, p in [(2, 2, 0), (3, 2, 1)]:
        engine_vs_torch(
            f"max_pool2d({k}, stride={s}, padding={p})",
            lambda t, k=k, s=s, p=p: fn(t, k, s, p),
            lambda t, k=k, s=s, p=p: F.max_pool2d(t, k, s, p),
            [x],
            fd=False,
        )


@case("max_pool2d")
def max_pool_by_hand(fn):
    """[[1, 2], [4, 3]] pooled 2x2: 4, and the whole adjoint goes to the 4."""
    from mechlearn.backprop.tensor import Tensor

    x = Tensor(np.array([[[[1.0, 2.0], [4.0, 3.0]]]]), requires_grad=True)
    out = fn(x, 2)
    out.sum().backward()
    expect_close("max_pool2d", out, np.array([[[[4.0]]]]), {"x": x.data}, 0)
    expect_close("x.grad", x.grad, np.array([[[[0.0, 0.0], [1.0, 0.0]]]]), {"x": x.data}, 0)


# ---- ray tracing and BatchNorm (days 82-83) ------------------------------------------------------------------


@case("ray_triangle_solutions")
def triangle_hits_by_hand(fn):
    """A triangle in the plane x = 2 around the x axis, seen from the origin: straight ahead hits at u = 2, a ray
    aimed past its edge misses, one behind the camera (D = -x) misses (u < 0), one parallel to the plane misses."""
    import torch

    tri = torch.tensor([[[2.0, -1.0, -1.0], [2.0, 1.0, -1.0], [2.0, -1.0, 1.0]]])
    dirs = [[1.0, 0.0, 0.0], [1.0, 0.4, 0.4], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    rays = torch.stack([torch.tensor([[0.0, 0.0, 0.0], d]) for d in dirs])
    u, hit = fn(rays, tri)
    inputs = {"triangle": tri[0], "ray directions": torch.tensor(dirs)}
    expect_equal("hit", hit[:, 0], torch.tensor([True, False, False, False]), inputs)
    expect_close("u of the hit", u[0, 0], torch.tensor(2.0), inputs, atol=1e-5)


@case("ray_triangle_solutions")
def matches_one_solve_per_pair(fn):
    """Random triangles in front of a 6 x 5 screen: every (ray, triangle) hit and depth as one
    torch.linalg.solve per pair finds them."""
    import torch

    from mechlearn.backprop.raytracing import make_rays_2d

    g = torch.Generator().manual_seed(0)
    rays = make_rays_2d(6, 5, 0.5, 0.5)
    tris = torch.rand(12, 3, 3, generator=g) * 2 - 1 + torch.tensor([2.0, 0.0, 0.0])
    u, hit = fn(rays, tris)
    expected_hit, expected_u = torch.zeros(len(rays), len(tris), dtype=torch.bool), torch.zeros(len(rays), len(tris))
    for r, (O, D) in enumerate(rays):
        for t, (A, B, C) in enumerate(tris):
            u_rt, s, v = torch.linalg.solve(torch.stack([-D, B - A, C - A], dim=1), O - A)
            expected_hit[r, t] = bool(s >= 0 and v >= 0 and s + v <= 1 and u_rt > 0)
            expected_u[r, t] = u_rt
    inputs = {"rays": rays, "triangles": tris}
    expect_equal("hit", hit, expected_hit, inputs)
    expect_close("u where hit", u[expected_hit], expected_u[expected_hit], inputs, atol=1e-4)


def _bn_case(batch_stats: bool):
    import torch

    rng = np.random.default_rng(3)
    x = rng.normal(loc=1.0, scale=2.0, size=(3, 2, 2, 2))
    gamma, beta = np.array([1.5, -0.5]), np.array([0.2, 0.1])
    if batch_stats:
        mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    else:
        mean, var = np.array([0.5, -0.3]), np.array([2.0, 0.7])

    def ours(fn):
        return lambda xt, g, b: fn(xt, g, b, mean, var, 1e-5, batch_stats)

    def theirs(xt, g, b):
        if batch_stats:  # torch recomputes the statistics from x, so their dependence on x is differentiated
            return torch.nn.functional.batch_norm(xt, None, None, g, b, training=True, eps=1e-5)
        rm, rv = torch.tensor(mean), torch.tensor(var)
        return torch.nn.functional.batch_norm(xt, rm, rv, g, b, training=False, eps=1e-5)

    return ours, theirs, [x, gamma, beta]


@case("batch_norm")
def training_mode_matches_torch(fn):
    """Batch statistics: forward, gradients of x, gamma and beta against torch's batch_norm (training=True), then
    finite differences. Dropping the terms through the mean and variance fails the gradient of x."""
    ours, theirs, arrays = _bn_case(batch_stats=True)
    engine_vs_torch("batch_norm (training)", ours(fn), theirs, arrays, fd=False)


@case("batch_norm")
def evaluation_mode_matches_torch(fn):
    """Fixed running statistics: the layer is affine and its gradients are gamma / sqrt(var + eps) times g."""
    ours, theirs, arrays = _bn_case(batch_stats=False)
    engine_vs_torch("batch_norm (evaluation)", ours(fn), theirs, arrays, fd=False)


# ---- schedules, VAEs and GANs (days 85-88) -------------------------------------------------------------------


@case("warmup_cosine")
def matches_torchs_sequential_scheduler(fn):
    """300 steps: torch's LinearLR warm-up (start factor 0.1, 30 steps) then CosineAnnealingLR, driving a real SGD;
    the learning rate at every step must agree (1e-12)."""
    import torch

    lr, warmup, total = 0.5, 30, 300
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    sched = torch.optim.lr_scheduler.SequentialLR(
        opt,
        [
            torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=warmup),
            torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total - warmup),
        ],
        milestones=[warmup],
    )
    expected = []
    for _ in range(total):
        expected.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    got = np.array([fn(t, lr, warmup, total) for t in range(total)])
    expect_close("lr per step", got, np.array(expected), {"lr": lr, "warmup": warmup, "total": total}, atol=1e-12)


@case("gaussian_kl_to_standard")
def matches_torch_distributions(fn):
    """Random mu and log sigma (4 x 3): the sum over the 3 latent dimensions of torch.distributions'
    KL(Normal(mu, sigma) || Normal(0, 1)). Using sigma for sigma^2, or the wrong sign on log sigma, fails."""
    import torch

    g = torch.Generator().manual_seed(0)
    mu = torch.randn(4, 3, generator=g, dtype=torch.float64)
    log_sigma = torch.randn(4, 3, generator=g, dtype=torch.float64) * 0.5
    q, p = torch.distributions.Normal(mu, log_sigma.exp()), torch.distributions.Normal(0.0, 1.0)
    expected = torch.distributions.kl_divergence(q, p).sum(-1)
    expect_close("KL", fn(mu, log_sigma), expected, {"mu": mu, "log_sigma": log_sigma}, atol=1e-12)


@case("discriminator_loss")
def matches_binary_cross_entropy(fn):
    """Real logits labelled 1 and fake logits labelled 0: the sum of the two mean binary cross-entropies, including
    logits of +-40, where a naive log(1 - sigmoid(l)) rounds to log(0) = -inf."""
    import torch

    real = torch.tensor([2.0, -1.0, 40.0, -40.0], dtype=torch.float64)
    fake = torch.tensor([-3.0, 0.5, 40.0, -40.0], dtype=torch.float64)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    expected = bce(real, torch.ones_like(real)) + bce(fake, torch.zeros_like(fake))
    expect_close("loss", fn(real, fake), expected, {"real_logits": real, "fake_logits": fake}, atol=1e-10)
