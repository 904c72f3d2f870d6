"""A 2-layer attention-only `HookedTransformer` with hand-set weights, where every path's effect is known.

The residual stream is three blocks of `V` dimensions: the token's one-hot | what head 0.0 writes | what head 1.1
writes. Head 0.0 copies the mean one-hot of the tokens so far into block 1; head 1.1 copies the mean of block 1 into
block 2; only block 2 is unembedded. Every query and key weight is zero (uniform causal attention), and every other
head and every bias is zero. Hence head 0.0 reaches the logits **only through head 1.1's values**: path patching
0.0 → 1.1.v must carry the whole effect of a corruption, and 0.0 → 1.1.q, 0.0 → 1.1.k and 0.0 → logits nothing.
"""

from __future__ import annotations

import warnings

import torch

warnings.filterwarnings("ignore", message=".*HookedTransformer is deprecated.*")
from transformer_lens import HookedTransformer, HookedTransformerConfig  # noqa: E402


def hand_wired_model(V: int = 4, n_ctx: int = 8) -> HookedTransformer:
    cfg = HookedTransformerConfig(
        n_layers=2, d_model=3 * V, n_ctx=n_ctx, d_head=V, n_heads=2, d_vocab=V, attn_only=True, normalization_type=None
    )
    model = HookedTransformer(cfg)
    eye = torch.eye(V)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.W_E[:, :V] = eye  # block 0: the token
        model.blocks[0].attn.W_V[0, :V] = eye  # head 0.0 reads the token ...
        model.blocks[0].attn.W_O[0, :, V : 2 * V] = eye  # ... and writes block 1
        model.blocks[1].attn.W_V[1, V : 2 * V] = eye  # head 1.1 reads block 1 ...
        model.blocks[1].attn.W_O[1, :, 2 * V :] = eye  # ... and writes block 2
        model.W_U[2 * V :] = eye  # the logits read block 2 only
    return model.eval()
