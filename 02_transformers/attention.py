r"""Multi-head causal self-attention in TransformerLens' shapes, with an optional KV cache.

For head $h$, with $q_i = x_i W_Q^h + b_Q^h$ (and likewise $k$, $v$):
$$A^h_{ij} = \operatorname{softmax}_j\!\Big(\frac{q_i \cdot k_j}{\sqrt{d_\text{head}}} + M_{ij}\Big),\qquad
z^h_i = \sum_j A^h_{ij} v_j,\qquad \mathrm{out}_i = \sum_h z^h_i W_O^h + b_O,$$
with the causal mask $M_{ij} = 0$ for $j \le i$ and a large negative number for $j > i$ (`IGNORE = -1e5`, as in
ARENA: finite, so a fully masked row could never make NaNs, yet $e^{-10^5}$ is exactly 0 in float32).
Weights are per head: `W_Q, W_K, W_V: [n_heads, d_model, d_head]`, `W_O: [n_heads, d_head, d_model]`.
"""

from __future__ import annotations

from dataclasses import dataclass

import einops
import torch
from jaxtyping import Float
from mechlearn.transformers.config import Config
from mechlearn.transformers.layers import linear
from torch import Tensor, nn

IGNORE = -1e5


@dataclass
class KVCacheEntry:
    """One layer's keys and values for every position seen so far."""

    k: Float[Tensor, "batch pos n_heads d_head"]
    v: Float[Tensor, "batch pos n_heads d_head"]


def causal_mask(
    scores: Float[Tensor, "... query_pos key_pos"], offset: int = 0
) -> Float[Tensor, "... query_pos key_pos"]:
    """Fill the scores of keys after each query with IGNORE; query `i` sits at absolute position `offset + i`."""
    query_pos, key_pos = scores.shape[-2:]
    query_index = torch.arange(offset, offset + query_pos, device=scores.device)[:, None]
    key_index = torch.arange(key_pos, device=scores.device)[None, :]
    return scores.masked_fill(key_index > query_index, IGNORE)


class Attention(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        std = cfg.init_range
        self.W_Q = nn.Parameter(torch.empty(cfg.n_heads, cfg.d_model, cfg.d_head).normal_(std=std))
        self.W_K = nn.Parameter(torch.empty(cfg.n_heads, cfg.d_model, cfg.d_head).normal_(std=std))
        self.W_V = nn.Parameter(torch.empty(cfg.n_heads, cfg.d_model, cfg.d_head).normal_(std=std))
        self.W_O = nn.Parameter(torch.empty(cfg.n_heads, cfg.d_head, cfg.d_model).normal_(std=std))
        self.b_Q = nn.Parameter(torch.zeros(cfg.n_heads, cfg.d_head))
        self.b_K = nn.Parameter(torch.zeros(cfg.n_heads, cfg.d_head))
        self.b_V = nn.Parameter(torch.zeros(cfg.n_heads, cfg.d_head))
        self.b_O = nn.Parameter(torch.zeros(cfg.d_model))

    def forward(
        self,
        normalized: Float[Tensor, "batch pos d_model"],
        cache: dict | None = None,
        prefix: str = "",
        kv: KVCacheEntry | None = None,
    ) -> Float[Tensor, "batch pos d_model"]:
        """`kv`, if given, holds the earlier positions' keys and values; this call appends the new ones to it."""
        project = "batch pos d_model, n_heads d_model d_head -> batch pos n_heads d_head"
        q = einops.einsum(normalized, self.W_Q, project) + self.b_Q
        k = einops.einsum(normalized, self.W_K, project) + self.b_K
        v = einops.einsum(normalized, self.W_V, project) + self.b_V
        offset = 0
        if kv is not None:
            offset = kv.k.shape[1]
            kv.k, kv.v = torch.cat([kv.k, k], dim=1), torch.cat([kv.v, v], dim=1)
            k, v = kv.k, kv.v
        scores = einops.einsum(
            q, k, "batch query_pos n_heads d_head, batch key_pos n_heads d_head -> batch n_heads query_pos key_pos"
        )
        scores = causal_mask(scores / self.cfg.d_head**0.5, offset)
        pattern = scores.softmax(dim=-1)
        z = einops.einsum(
            pattern,
            v,
            "batch n_heads query_pos key_pos, batch key_pos n_heads d_head -> batch query_pos n_heads d_head",
        )
        if cache is not None:
            cache.update({prefix + "hook_q": q, prefix + "hook_k": k, prefix + "hook_v": v})
            cache.update({prefix + "hook_attn_scores": scores, prefix + "hook_pattern": pattern, prefix + "hook_z": z})
        # sum over heads and d_head at once: out = concat_h(z^h) W_O + b_O, with W_O stacked head by head
        z_flat = einops.rearrange(z, "batch query_pos n_heads d_head -> batch query_pos (n_heads d_head)")
        W_O_flat = einops.rearrange(self.W_O, "n_heads d_head d_model -> (n_heads d_head) d_model")
        return linear(z_flat, W_O_flat, self.b_O)
