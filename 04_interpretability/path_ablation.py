"""Path ablation: remove one layer-0 head's output from only the query, key *or* value input of layer 1.

Layer 1 reads the residual stream three times, once for each of $Q$, $K$, $V$. With TransformerLens'
`use_split_qkv_input`, each read has its own hook (`blocks.1.hook_{q,k,v}_input`, shape batch × pos × head ×
d_model, before LayerNorm), so a layer-0 head's contribution $r_{0.h} = z^{(0,h)} W_O^{(0,h)}$ can be subtracted from
one of them and left in the others. If removing it from the keys breaks induction but removing it from the values
does not, the head K-composes (it tells layer 1 *where* to look); the reverse means V-composition (it is part of
*what* layer 1 moves). Everything else in the forward pass is unchanged.
"""

from __future__ import annotations

import einops
import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens import HookedTransformer
from transformer_lens.hook_points import HookPoint


def head_output(
    model: HookedTransformer, tokens: Int[Tensor, "batch pos"], head: int
) -> Float[Tensor, "batch pos d_model"]:
    """$r_{0.h} = z^{(0,h)} W_O^{(0,h)}$: what layer-0 head `head` writes into the residual stream."""
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens, names_filter="blocks.0.attn.hook_z")
    return einops.einsum(
        cache["z", 0][:, :, head], model.W_O[0, head], "batch pos d_head, d_head d_model -> batch pos d_model"
    )


def path_ablated_loss(
    model: HookedTransformer, tokens: Int[Tensor, "batch pos"], head: int, paths: tuple[str, ...]
) -> Float[Tensor, " pos_minus_1"]:
    """Loss per position with layer-0 head `head`'s output removed from the inputs named in `paths`: any of
    "q", "k", "v" (layer 1's query/key/value input) and "direct" (the final residual stream, read by the unembedding).
    All four together remove every path the head has in a 2-layer attention-only model: zero ablation."""
    removed = head_output(model, tokens, head)

    def subtract_per_head(x: Float[Tensor, "batch pos head d_model"], hook: HookPoint) -> Tensor:
        return x - removed[:, :, None, :]

    def subtract(x: Float[Tensor, "batch pos d_model"], hook: HookPoint) -> Tensor:
        return x - removed

    hooks = [
        ("blocks.1.hook_resid_post", subtract)
        if path == "direct"
        else (f"blocks.1.hook_{path}_input", subtract_per_head)
        for path in paths
    ]
    was_split = model.cfg.use_split_qkv_input
    model.set_use_split_qkv_input(True)
    try:
        with torch.no_grad(), model.hooks(fwd_hooks=hooks):
            return model(tokens, return_type="loss", loss_per_token=True).mean(0)
    finally:
        model.set_use_split_qkv_input(was_split)
