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
