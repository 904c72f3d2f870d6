r"""Softmax, log-softmax and cross-entropy as single ops with hand-derived backward passes.

With $s = \operatorname{softmax}(x)$, $s_i = e^{x_i} / \sum_j e^{x_j}$, the Jacobian is
$\partial s_i / \partial x_j = s_i(\delta_{ij} - s_j)$, so
$$\bar x = s \odot \bigl(\bar s - \langle \bar s, s\rangle\bigr).$$
For $\ell = \log\operatorname{softmax}(x) = x - \log\sum_j e^{x_j}$, $\partial \ell_i/\partial x_j = \delta_{ij} - s_j$:
$$\bar x = \bar\ell - s \textstyle\sum_i \bar\ell_i.$$
Cross-entropy with target $y$ is $L = -\ell_y$, so $\bar\ell = -e_y$ and $\bar x = s - e_y$ (per row, divided by the
number of rows for the mean). Composing these from `exp`, `sum`, `log` and indexing would give the same numbers
(the tests check that) but would store four intermediates and overflow for large logits; subtracting the row max
first makes all three stable.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float, Int
from mechlearn.backprop.tensor import Tensor


def _softmax_and_log_softmax(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Both from one max-shifted exponential: e^{x - max} <= 1 cannot overflow, and dividing by its sum keeps the
    probabilities' relative accuracy (exp(log_softmax) would inherit the absolute rounding of large log-probs)."""
    shifted = x - x.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=axis, keepdims=True)
    return e / total, shifted - np.log(total)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    s, _ = _softmax_and_log_softmax(x.data, axis)
    return Tensor._make(s, (x,), lambda g: (s * (g - (g * s).sum(axis=axis, keepdims=True)),), "softmax")


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    s, out = _softmax_and_log_softmax(x.data, axis)
    return Tensor._make(out, (x,), lambda g: (g - s * g.sum(axis=axis, keepdims=True),), "log_softmax")


def cross_entropy(
    logits: Float[Tensor, "*positions n_classes"], targets: Int[np.ndarray, " *positions"] | Tensor
) -> Float[Tensor, ""]:
    r"""Mean over positions of $-\log\operatorname{softmax}(\text{logits})_{\text{target}}$, as `F.cross_entropy`."""
    targets = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
    if not np.issubdtype(targets.dtype, np.integer):
        raise TypeError(f"cross_entropy: targets must be integer class indices, not {targets.dtype}")
    if logits.shape[:-1] != targets.shape:
        raise ValueError(f"cross_entropy: logits {logits.shape} need targets of shape {logits.shape[:-1]}")
    n_classes = logits.shape[-1]
    if targets.size and (targets.min() < 0 or targets.max() >= n_classes):
        raise ValueError(f"cross_entropy: targets must lie in [0, {n_classes}), got {targets.min()}..{targets.max()}")
    flat_logits = logits.data.reshape(-1, n_classes)  # (N, C) with N = all leading positions
    flat_targets = targets.reshape(-1)
    rows = np.arange(len(flat_targets))
    probs, log_probs = _softmax_and_log_softmax(flat_logits, axis=1)
    loss = -log_probs[rows, flat_targets].mean()

    def backward(g):  # (softmax - one_hot) / N
        grad = probs.copy()
        grad[rows, flat_targets] -= 1
        return ((g / len(rows)) * grad.reshape(logits.shape),)

    return Tensor._make(np.asarray(loss, dtype=logits.dtype), (logits,), backward, "cross_entropy")
