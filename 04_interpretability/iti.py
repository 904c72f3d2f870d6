r"""Inference-time intervention [Li et al. 2023]: probe each attention head, shift only the heads that read best.

**Probing.** For head $(l, h)$ let $z_{l,h}(x) \in \mathbb{R}^{d_\text{head}}$ be its output before $W_O$
(`blocks.l.attn.hook_z`) at the last position of prompt $x$. A linear probe per head predicts the behaviour label
(code = 1, prose = 0) from $z_{l,h}$; its held-out accuracy ranks the heads, and the same probe on shuffled labels
is the control.

**Shifting.** For each of the top-$k$ heads a unit direction $\theta_{l,h}$ (the mean difference of code and prose
outputs, normalised: Li et al.'s "mass mean shift"), and $\sigma_{l,h}$, the standard deviation of the outputs
projected on it. Generation then runs with
$$z_{l,h} \leftarrow z_{l,h} + \alpha\,\sigma_{l,h}\,\theta_{l,h}$$
at every position, for the chosen heads only; every other head and the residual stream are left alone.
"""

from __future__ import annotations

import torch
from jaxtyping import Bool, Float, Int
from mechlearn.interp.probes import train_probe
from mechlearn.interp.steering import Hook
from torch import Tensor
from transformer_lens import HookedTransformer
from transformer_lens.hook_points import HookPoint


def z_hook(layer: int) -> str:
    return f"blocks.{layer}.attn.hook_z"


@torch.no_grad()
def head_outputs(model: HookedTransformer, tokens: Int[Tensor, "n pos"]) -> Float[Tensor, "n layer head d_head"]:
    """Every head's `hook_z` at the last position."""
    names = [z_hook(layer) for layer in range(model.cfg.n_layers)]
    _, cache = model.run_with_cache(tokens, names_filter=names)
    return torch.stack([cache[name][:, -1] for name in names], dim=1)


def probe_heads(
    z: Float[Tensor, "n layer head d_head"], labels: Int[Tensor, " n"], shuffle: bool = False, seed: int = 0
) -> Float[Tensor, "layer head"]:
    """Held-out accuracy of a linear probe on each head's output (`shuffle`: on permuted labels, the control)."""
    if shuffle:
        labels = labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))]
    n_layers, n_heads = z.shape[1:3]
    return torch.tensor(
        [
            [train_probe(z[:, layer, head], labels, 2, seed=seed).test_accuracy for head in range(n_heads)]
            for layer in range(n_layers)
        ]
    )


def top_heads(accuracy: Float[Tensor, "layer head"], k: int) -> Bool[Tensor, "layer head"]:
    """A mask of the `k` heads with the highest accuracy (ties broken by the lower index)."""
    mask = torch.zeros(accuracy.numel(), dtype=torch.bool)
    mask[accuracy.flatten().argsort(descending=True, stable=True)[:k]] = True
    return mask.view(accuracy.shape)


def shift_directions(
    z_pos: Float[Tensor, "n layer head d_head"], z_neg: Float[Tensor, "m layer head d_head"]
) -> Float[Tensor, "layer head d_head"]:
    r"""$\sigma_{l,h}\,\theta_{l,h}$ for every head: the unit mean-difference direction times the standard deviation
    of all the outputs (both classes) projected on it."""
    diff = z_pos.mean(0) - z_neg.mean(0)
    theta = diff / diff.norm(dim=-1, keepdim=True)
    projected = torch.einsum("n l h d, l h d -> n l h", torch.cat([z_pos, z_neg]), theta)
    return projected.std(0)[..., None] * theta


def head_shift_hook(shift: Float[Tensor, "head d_head"], alpha: float):
    """A `hook_z` hook adding `alpha * shift[h]` to head h's output at every position."""

    def add(z: Float[Tensor, "batch pos head d_head"], hook: HookPoint) -> Float[Tensor, "batch pos head d_head"]:
        return z + alpha * shift

    return add


def iti_hooks(shifts: Float[Tensor, "layer head d_head"], mask: Bool[Tensor, "layer head"], alpha: float) -> list[Hook]:
    """Hooks shifting only the heads in `mask` (the others' rows are zeroed)."""
    masked = shifts * mask[..., None]
    return [(z_hook(layer), head_shift_hook(masked[layer], alpha)) for layer in range(len(masked)) if mask[layer].any()]
