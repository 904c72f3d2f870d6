"""Head ablation through hooks: replace one head's output `z` (before $W_O$) and measure what breaks.

- zero ablation: $z^{(l,h)} \\leftarrow 0$ — removes the head and its bias-free contribution $z W_O$;
- mean ablation: $z^{(l,h)}_p \\leftarrow \\mathbb{E}_\\text{batch}[z^{(l,h)}_p]$ — keeps the head's average output at
  each position, so only the information that varies with the input is removed.

Hooks are attached with `model.hooks(...)` (a context manager that always removes them) or passed to
`run_with_hooks`; the patterns of the ablated run are captured by a second hook on `hook_pattern`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from jaxtyping import Float, Int
from mechlearn.interp.scores import all_scores
from torch import Tensor
from transformer_lens import HookedTransformer
from transformer_lens.hook_points import HookPoint


def ablate_head_hook(
    z: Float[Tensor, "batch pos head d_head"],
    hook: HookPoint,
    head: int,
    replacement: Float[Tensor, "pos d_head"] | None = None,
) -> Float[Tensor, "batch pos head d_head"]:
    """`hook_z` hook: head `head` outputs `replacement` (broadcast over the batch) or zero."""
    z = z.clone()
    z[:, :, head] = 0.0 if replacement is None else replacement
    return z


def head_means(model: HookedTransformer, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "layer pos head d_head"]:
    """Mean of every head's `z` over the batch, per position: the replacement values for mean ablation."""
    _, cache = model.run_with_cache(tokens, names_filter=lambda name: name.endswith("hook_z"))
    return torch.stack([cache["z", layer].mean(0) for layer in range(model.cfg.n_layers)])


def ablation_hooks(
    layer: int, head: int, mode: str, means: Float[Tensor, "layer pos head d_head"] | None = None
) -> list[tuple[str, Callable]]:
    if mode not in ("zero", "mean"):
        raise ValueError(f"mode must be 'zero' or 'mean', not {mode!r}")
    replacement = None if mode == "zero" else means[layer, :, head]
    return [(f"blocks.{layer}.attn.hook_z", partial(ablate_head_hook, head=head, replacement=replacement))]


def run_ablated(
    model: HookedTransformer,
    tokens: Int[Tensor, "batch pos"],
    hooks: list[tuple[str, Callable]],
    seq_len: int,
) -> tuple[Float[Tensor, " pos_minus_1"], dict[str, Float[Tensor, "layer head"]]]:
    """Loss per position and every head's scores, with `hooks` attached; hooks are removed on exit."""
    patterns: dict[int, Tensor] = {}

    def save_pattern(pattern: Tensor, hook: HookPoint) -> None:
        patterns[hook.layer()] = pattern.detach()

    capture = [(f"blocks.{layer}.attn.hook_pattern", save_pattern) for layer in range(model.cfg.n_layers)]
    with torch.no_grad(), model.hooks(fwd_hooks=hooks + capture):
        loss = model(tokens, return_type="loss", loss_per_token=True).mean(0)
    return loss, all_scores([patterns[layer] for layer in range(model.cfg.n_layers)], seq_len)


def ablation_table(
    model: HookedTransformer, tokens: Int[Tensor, "batch pos"], seq_len: int, mode: str
) -> dict[str, Float[Tensor, "layer head"]]:
    """For every head ablated alone: the second-half (induction) loss and the best layer-1+ induction score."""
    means = head_means(model, tokens) if mode == "mean" else None
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    loss = torch.zeros(n_layers, n_heads)
    best_induction = torch.zeros(n_layers, n_heads)
    for layer in range(n_layers):
        for head in range(n_heads):
            per_pos, scores = run_ablated(model, tokens, ablation_hooks(layer, head, mode, means), seq_len)
            loss[layer, head] = per_pos[seq_len:].mean()
            best_induction[layer, head] = scores["induction"].max()
    return {"induction_loss": loss, "max_induction_score": best_induction}
