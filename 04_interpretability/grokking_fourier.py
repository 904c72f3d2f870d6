"""The Fourier basis over $\\mathbb{Z}_p$ and the progress measures of Nanda et al. (2023) built on it.

Basis (rows, orthonormal, $p$ odd): $\\mathbf{1}/\\sqrt{p}$, then for each frequency $k = 1 … (p-1)/2$ the pair
$\\sqrt{2/p}\\cos(2\\pi k x/p)$, $\\sqrt{2/p}\\sin(2\\pi k x/p)$ — row $2k-1$ is $\\cos_k$, row $2k$ is $\\sin_k$.

Progress measures, for logits $L[a, b, c]$ over all $p^2$ inputs and a set $K$ of key frequencies
($w_k = 2\\pi k/p$): as functions of $(a, b)$, $\\cos(w_k(a+b))$ and $\\sin(w_k(a+b))$ are orthogonal directions
of norm $p/\\sqrt 2$, and the algorithm's logits $\\sum_k \\alpha_k \\cos(w_k(a+b-c))$
$= \\sum_k \\alpha_k[\\cos(w_k(a+b))\\cos(w_k c) + \\sin(w_k(a+b))\\sin(w_k c)]$ lie, for every output $c$, in their
span.

* restricted logits: the projection of each output's logits onto
  span$\\{1, \\cos(w_k(a+b)), \\sin(w_k(a+b)) : k \\in K\\}$;
* excluded logits: the logits minus their projection onto span$\\{\\cos(w_k(a+b)), \\sin(w_k(a+b)) : k \\in K\\}$.
"""

from __future__ import annotations

import math

import torch
from jaxtyping import Float
from torch import Tensor


def fourier_basis(p: int) -> Float[Tensor, "p p"]:
    """Rows: constant, then cos_k, sin_k for k = 1..(p-1)/2, each of unit norm (float64)."""
    x = torch.arange(p, dtype=torch.float64)
    rows = [torch.full((p,), 1.0, dtype=torch.float64)]
    for k in range(1, p // 2 + 1):
        rows += [torch.cos(2 * math.pi * k * x / p), torch.sin(2 * math.pi * k * x / p)]
    basis = torch.stack(rows)  # (p, p)
    return basis / basis.norm(dim=1, keepdim=True)


def basis_labels(p: int) -> list[str]:
    return ["const"] + [f"{trig} {k}" for k in range(1, p // 2 + 1) for trig in ("cos", "sin")]


def frequency_norms(W: Float[Tensor, "p d"]) -> Float[Tensor, " n_freq"]:
    """$\\|(FW)_{\\cos_k}\\|^2 + \\|(FW)_{\\sin_k}\\|^2$ for k = 1..(p-1)/2: how much of W's squared norm each frequency
    carries (W indexed by the p residues along dim 0, e.g. the embedding $W_E$ without the '=' row)."""
    coeffs = fourier_basis(W.shape[0]) @ W.detach().double()  # (p, d): rows in the Fourier basis
    squares = coeffs.pow(2).sum(1)
    return squares[1::2] + squares[2::2]


def key_frequencies(W_E: Float[Tensor, "p d_model"], threshold: float = 0.03) -> list[int]:
    """Frequencies carrying at least `threshold` of the embedding's squared norm outside the constant direction.

    With $(p-1)/2 = 56$ frequencies an even spread gives each 1/56 ≈ 0.018; 0.03 sits well below the shares of a
    sparse embedding's few frequencies and above an even spread's typical share.
    """
    norms = frequency_norms(W_E)
    share = norms / norms.sum()
    return [k + 1 for k in torch.nonzero(share >= threshold).flatten().tolist()]


def gini(x: Float[Tensor, " n"]) -> float:
    """Gini coefficient of non-negative values: $G = \\sum_i (2i - n - 1) x_{(i)} / (n \\sum_i x_i)$, $x_{(i)}$
    sorted ascending, $i = 1..n$. 0 for equal values, $(n-1)/n$ for a single non-zero."""
    x = torch.sort(x.double().flatten()).values
    n = x.numel()
    i = torch.arange(1, n + 1, dtype=torch.float64)
    return float(((2 * i - n - 1) * x).sum() / (n * x.sum()))


def sum_of_angles_directions(p: int, freqs: list[int]) -> Float[Tensor, "p_squared two_n_freq"]:
    """Orthonormal columns $\\cos(w_k(a+b))$, $\\sin(w_k(a+b))$ over the flattened inputs (a, b) (row a·p + b)."""
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    s = (a + b).flatten().double()  # (p*p,)
    cols = []
    for k in freqs:
        w = 2 * math.pi * k / p
        cols += [torch.cos(w * s), torch.sin(w * s)]
    if not cols:
        return torch.zeros(p * p, 0, dtype=torch.float64)
    directions = torch.stack(cols, dim=1)  # (p*p, 2|K|)
    return directions / directions.norm(dim=0, keepdim=True)


def restricted_logits(logits: Float[Tensor, "p_squared p"], freqs: list[int]) -> Float[Tensor, "p_squared p"]:
    """Each output's logits (column) projected onto the constant and the key frequencies' cos/sin(w(a+b))."""
    p = logits.shape[1]
    const = torch.full((p * p, 1), 1 / p, dtype=torch.float64)  # unit norm over p*p rows
    basis = torch.cat([const, sum_of_angles_directions(p, freqs)], dim=1)
    L = logits.double()
    return basis @ (basis.T @ L)


def excluded_logits(logits: Float[Tensor, "p_squared p"], freqs: list[int]) -> Float[Tensor, "p_squared p"]:
    """The logits minus each output's projection onto the key frequencies' cos/sin(w(a+b))."""
    basis = sum_of_angles_directions(logits.shape[1], freqs)
    L = logits.double()
    return L - basis @ (basis.T @ L)


def loss_on(logits: Float[Tensor, "n p"], labels: Tensor) -> float:
    """Mean cross-entropy in float64."""
    return float(torch.nn.functional.cross_entropy(logits.double(), labels))


def restricted_and_excluded_loss(
    logits: Float[Tensor, "p_squared p"], labels: Tensor, train_idx: Tensor, freqs: list[int]
) -> tuple[float, float]:
    """(restricted loss on all p² inputs, excluded loss on the training inputs), as Nanda et al. (2023) define them.

    `logits` and `labels` cover every input (a, b) in row a·p + b; `train_idx` indexes the training rows.
    """
    restricted = loss_on(restricted_logits(logits, freqs), labels)
    excluded = loss_on(excluded_logits(logits, freqs)[train_idx], labels[train_idx])
    return restricted, excluded
