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


def _log_sum_exp(x: np.ndarray, axis: int) -> np.ndarray:
    top = x.max(axis=axis, keepdims=True)  # e^{x - max} <= 1: no overflow
    return top + np.log(np.exp(x - top).sum(axis=axis, keepdims=True))


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    s = np.exp(x.data - _log_sum_exp(x.data, axis))
    return Tensor._make(s, (x,), lambda g: (s * (g - (g * s).sum(axis=axis, keepdims=True)),), "softmax")


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    out = x.data - _log_sum_exp(x.data, axis)
    s = np.exp(out)
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
    log_probs = flat_logits - _log_sum_exp(flat_logits, axis=1)
    loss = -log_probs[rows, flat_targets].mean()

    def backward(g):  # (softmax - one_hot) / N
        grad = np.exp(log_probs)
        grad[rows, flat_targets] -= 1
        return ((g / len(rows)) * grad.reshape(logits.shape),)

    return Tensor._make(np.asarray(loss, dtype=logits.dtype), (logits,), backward, "cross_entropy")
