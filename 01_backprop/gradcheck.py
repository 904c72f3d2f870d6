r"""Gradient checking with central finite differences in float64.

$$\frac{\partial f}{\partial x_i} \approx \frac{f(x + \varepsilon e_i) - f(x - \varepsilon e_i)}{2\varepsilon},$$
whose truncation error is $O(\varepsilon^2)$ (the one-sided difference's is $O(\varepsilon)$). In float64 the
rounding error is about $\epsilon_{\text{mach}} |f| / \varepsilon$ with
$\epsilon_{\text{mach}} \approx 2.2\times10^{-16}$, so $\varepsilon \approx 10^{-6}$ balances the two at roughly
$10^{-10}$ relative error; in float32 the same balance sits near $10^{-4}$, too coarse to catch a wrong gradient
(day 1 measures both).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from mechlearn.backprop.tensor import Tensor


def numerical_gradient(f: Callable[..., float], inputs: Sequence[np.ndarray], eps: float = 1e-6) -> list[np.ndarray]:
    """Central-difference gradient of the scalar `f(*inputs)` with respect to every element of every input."""
    inputs = [np.array(x, dtype=np.float64) for x in inputs]  # copies: we perturb them in place
    grads = []
    for x in inputs:
        g = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            old = x[idx]
            x[idx] = old + eps
            f_plus = float(f(*inputs))
            x[idx] = old - eps
            f_minus = float(f(*inputs))
            x[idx] = old
            g[idx] = (f_plus - f_minus) / (2 * eps)
        grads.append(g)
    return grads


def relative_error(a, b, floor: float = 1e-3) -> float:
    r"""$\max_i |a_i - b_i| / \max(|a_i| + |b_i|, \text{floor})$: scale-free, and 0 only when they agree.

    Relative error means nothing where the true gradient is 0 (a central difference there returns
    $O(\varepsilon^2)$ noise, e.g. $10^{-12}$ for $x^3$ at 0, a relative error of 1). Below `floor` in magnitude
    the denominator stops shrinking, so the measure becomes the absolute error over `floor`: at our tolerance of
    $10^{-7}$ that demands absolute agreement to $10^{-10}$ for gradients smaller than $10^{-3}$, the accuracy
    central differences reach in float64.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"relative_error: shapes differ, {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)))


def gradcheck_tensor(f: Callable, inputs: Sequence[np.ndarray], eps: float = 1e-4, seed: int = 0) -> float:
    r"""Largest relative error between `Tensor.backward` gradients of `f(*tensors)` and finite differences.

    `f` takes one `Tensor` per array in `inputs` (evaluated in float64) and may return any shape: a non-scalar
    output $y$ is contracted with a fixed random cotangent $w$, $L = \sum_i w_i y_i$, so every entry of $y$ and of
    its Jacobian is exercised (seeding with ones instead would miss errors that cancel in a plain sum).

    The derivative uses the fourth-order central stencil
    $$\frac{\partial L}{\partial x_j} \approx \frac{\langle w,\, -y_{+2} + 8y_{+1} - 8y_{-1} + y_{-2}\rangle}
    {12\varepsilon},\qquad y_{\pm k} = y(x \pm k\varepsilon e_j),$$
    whose truncation error is $O(\varepsilon^4)$, so with $\varepsilon = 10^{-4}$ both it ($\sim 10^{-16}$) and
    rounding ($\sim 1.5\,\epsilon_\text{mach}|y|/\varepsilon \approx 3\times10^{-12}|y|$) stay far below the
    $10^{-10}$ absolute accuracy that `relative_error`'s floor demands of gradients smaller than $10^{-3}$ (the
    two-point difference of `numerical_gradient` balances near $10^{-10}$, too close to that line). Differences
    are taken before contracting, so entries of $y$ that do not depend on $x_j$ cancel exactly.
    """
    arrays = [np.array(x, dtype=np.float64) for x in inputs]  # copies: we perturb them in place
    leaves = [Tensor(x.copy(), requires_grad=True) for x in arrays]
    out = f(*leaves)
    w = np.random.default_rng(seed).normal(size=out.shape)
    (out * w).sum().backward()

    def y_at(x, idx, value):
        x[idx] = value
        return np.array(f(*(Tensor(a) for a in arrays)).data)  # a copy: views of x would change with it

    worst = 0.0
    for x, leaf in zip(arrays, leaves, strict=True):
        numeric = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            x0 = x[idx]
            stencil = -y_at(x, idx, x0 + 2 * eps) + 8 * y_at(x, idx, x0 + eps)
            stencil += -8 * y_at(x, idx, x0 - eps) + y_at(x, idx, x0 - 2 * eps)
            x[idx] = x0
            numeric[idx] = (w * stencil).sum() / (12 * eps)
        engine = leaf.grad if leaf.grad is not None else np.zeros_like(x)  # an input f ignores gets no gradient
        worst = max(worst, relative_error(engine, numeric))
    return worst
