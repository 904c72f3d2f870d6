r"""Causal multi-head attention in NumPy on `mechlearn.backprop.Tensor`: the bridge between the two topics.

Nothing here has its own backward pass: every line is a `Tensor` op (`@`, `masked_fill`, `softmax`, `sum`) whose
local derivative the NumPy engine of days 2–6 already knows, so the gradient of attention is the chain rule through
them. For one head, with $S = QK^\top/\sqrt{d_\text{head}} + M$ and $A = \operatorname{softmax}(S)$ row by row:
$$\bar V = A^\top \bar Z,\quad \bar A = \bar Z V^\top,\quad \bar S = A \odot (\bar A - \operatorname{rowsum}(\bar A
\odot A)),\quad \bar Q = \bar S K/\sqrt{d_\text{head}},\quad \bar K = \bar S^\top Q/\sqrt{d_\text{head}},$$
and masked entries of $S$ receive no gradient. The same weights in the same shapes as `Attention`
(`W_Q: [n_heads, d_model, d_head]`, ...), so the PyTorch module and this function can be compared directly.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float
from mechlearn.backprop.functional import softmax
from mechlearn.backprop.tensor import Tensor
from mechlearn.transformers.attention import IGNORE


def causal_mask(n_query: int, n_key: int) -> np.ndarray:
    """True where key position j lies after query position i (j > i): the entries to hide."""
    return np.triu(np.ones((n_query, n_key), dtype=bool), k=1)


def scaled_dot_product_attention(
    q: Float[Tensor, "... query_pos d_head"],
    k: Float[Tensor, "... key_pos d_head"],
    v: Float[Tensor, "... key_pos d_head"],
    causal: bool = True,
) -> tuple[Float[Tensor, "... query_pos d_head"], Float[Tensor, "... query_pos key_pos"]]:
    r"""$Z = \operatorname{softmax}(QK^\top/\sqrt{d_\text{head}} + M)\,V$; returns $Z$ and the pattern $A$."""
    scores = q @ k.transpose(-1, -2) / np.sqrt(q.shape[-1])  # (..., query_pos, key_pos)
    if causal:
        scores = scores.masked_fill(causal_mask(q.shape[-2], k.shape[-2]), IGNORE)
    pattern = softmax(scores, axis=-1)
    return pattern @ v, pattern


def multihead_attention(
    x: Float[Tensor, "batch pos d_model"],
    W_Q: Float[Tensor, "n_heads d_model d_head"],
    W_K: Float[Tensor, "n_heads d_model d_head"],
    W_V: Float[Tensor, "n_heads d_model d_head"],
    W_O: Float[Tensor, "n_heads d_head d_model"],
    b_Q: Float[Tensor, "n_heads d_head"],
    b_K: Float[Tensor, "n_heads d_head"],
    b_V: Float[Tensor, "n_heads d_head"],
    b_O: Float[Tensor, " d_model"],
) -> Float[Tensor, "batch pos d_model"]:
    r"""$\mathrm{out} = \sum_h \operatorname{Attn}(x W_Q^h + b_Q^h,\ x W_K^h + b_K^h,\ x W_V^h + b_V^h)\, W_O^h + b_O$.

    Heads are a broadcast axis: `x` gains a singleton head axis and batched `@` runs every head at once.
    """
    batch, pos, d_model = x.shape
    n_heads, _, d_head = W_Q.shape
    x_heads = x.reshape(batch, 1, pos, d_model)  # (batch, 1, pos, d_model), broadcast against n_heads
    q = x_heads @ W_Q + b_Q.reshape(n_heads, 1, d_head)  # (batch, n_heads, pos, d_head)
    k = x_heads @ W_K + b_K.reshape(n_heads, 1, d_head)
    v = x_heads @ W_V + b_V.reshape(n_heads, 1, d_head)
    z, _ = scaled_dot_product_attention(q, k, v)  # (batch, n_heads, pos, d_head)
    return (z @ W_O).sum(axis=1) + b_O  # (batch, n_heads, pos, d_model) summed over heads
