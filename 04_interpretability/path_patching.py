"""Path patching: the effect of sender heads on a receiver along the direct paths between them only.

Wang et al. (2023, appendix B) and Goldowsky-Dill et al. (2023). Activation patching replaces a head's output and
lets the change flow everywhere downstream; path patching asks how much of the effect travels along one route,
sender $\\to$ receiver, where the receiver is a later head's query, key or value input, or the final residual stream
(read by the unembedding). In three forward passes, all on the *clean* input:

1. cache every head's output $z$ on the clean and on the corrupted input;
2. run the clean input with the senders' $z$ set to their corrupted values and **every other head frozen** at its
   clean $z$ (MLPs and LayerNorms recompute, as in ARENA 1.4.1), and cache the receivers' inputs — so they see the
   senders' change through the residual stream directly, and through no other head;
3. run the clean input with only the receivers' inputs replaced by those from step 2; read the metric.

The result is the metric of step 3; with the metric the logit difference, Wang et al. report
$(\\Delta_\\text{patched} - \\Delta_\\text{clean}) / (\\Delta_\\text{clean} - \\Delta_\\text{corrupted})$, which is
$-1$ when the path carries the whole effect of corrupting the input.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens import ActivationCache, HookedTransformer
from transformer_lens.hook_points import HookPoint

Head = tuple[int, int]  # (layer, head)
RECEIVER_INPUTS = ("q", "k", "v", "resid")


def z_cache(model: HookedTransformer, tokens: Int[Tensor, "batch pos"]) -> ActivationCache:
    """Every head's output `z` (before $W_O$) on `tokens`."""
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens, names_filter=lambda name: name.endswith("hook_z"))
    return cache


def _receiver_hook_names(model: HookedTransformer, receivers: list[Head] | None, receiver_input: str) -> list[str]:
    if receiver_input not in RECEIVER_INPUTS:
        raise ValueError(f"receiver_input must be one of {RECEIVER_INPUTS}, not {receiver_input!r}")
    if receiver_input == "resid":
        return [f"blocks.{model.cfg.n_layers - 1}.hook_resid_post"]
    if not receivers:
        raise ValueError("head receivers need a list of (layer, head)")
    return sorted({f"blocks.{layer}.attn.hook_{receiver_input}" for layer, _ in receivers})


@torch.no_grad()
def path_patch(
    model: HookedTransformer,
    clean_tokens: Int[Tensor, "batch pos"],
    senders: list[Head],
    receiver_input: str,
    metric: Callable[[Tensor], Tensor],
    clean_cache: ActivationCache,
    corrupted_cache: ActivationCache,
    receivers: list[Head] | None = None,
    receiver_pos: int | None = None,
) -> float:
    """Metric after patching senders $\\to$ receivers (`receiver_input` "q", "k", "v" of `receivers`, or "resid":
    the final residual stream), at position `receiver_pos` of the receivers (all positions if None).

    `clean_cache` / `corrupted_cache`: `z_cache` of the clean and corrupted tokens (computed once per sweep).
    """
    names = _receiver_hook_names(model, receivers, receiver_input)
    senders_by_layer: dict[int, list[int]] = {}
    for layer, head in senders:
        senders_by_layer.setdefault(layer, []).append(head)

    def freeze(z: Float[Tensor, "batch pos head d_head"], hook: HookPoint) -> Tensor:
        layer = hook.layer()
        z = clean_cache["z", layer].clone()  # every head frozen at its clean output ...
        for head in senders_by_layer.get(layer, []):  # ... except the senders, which get the corrupted one
            z[:, :, head] = corrupted_cache["z", layer][:, :, head]
        return z

    step2: dict[str, Tensor] = {}

    def save(x: Tensor, hook: HookPoint) -> None:
        step2[hook.name] = x.clone()

    z_hooks = [(f"blocks.{layer}.attn.hook_z", freeze) for layer in range(model.cfg.n_layers)]
    model.run_with_hooks(clean_tokens, fwd_hooks=z_hooks + [(name, save) for name in names])

    positions = slice(None) if receiver_pos is None else receiver_pos

    def patch_receivers(x: Tensor, hook: HookPoint) -> Tensor:
        x = x.clone()
        if receiver_input == "resid":  # (batch, pos, d_model)
            x[:, positions] = step2[hook.name][:, positions]
        else:  # (batch, pos, head, d_head)
            for layer, head in receivers:
                if layer == hook.layer():
                    x[:, positions, head] = step2[hook.name][:, positions, head]
        return x

    logits = model.run_with_hooks(clean_tokens, fwd_hooks=[(name, patch_receivers) for name in names])
    return float(metric(logits))


def path_patch_sweep(
    model: HookedTransformer,
    clean_tokens: Int[Tensor, "batch pos"],
    corrupted_tokens: Int[Tensor, "batch pos"],
    metric: Callable[[Tensor], Tensor],
    receiver_input: str = "resid",
    receivers: list[Head] | None = None,
    receiver_pos: int | None = None,
) -> Float[Tensor, "layer head"]:
    """`path_patch` with each single head as the sender; NaN for heads in or after the first receiver's layer."""
    clean_cache, corrupted_cache = z_cache(model, clean_tokens), z_cache(model, corrupted_tokens)
    last = model.cfg.n_layers if receiver_input == "resid" else min(layer for layer, _ in receivers)
    out = torch.full((model.cfg.n_layers, model.cfg.n_heads), float("nan"))
    for layer in range(last):
        for head in range(model.cfg.n_heads):
            out[layer, head] = path_patch(
                model,
                clean_tokens,
                [(layer, head)],
                receiver_input,
                metric,
                clean_cache,
                corrupted_cache,
                receivers,
                receiver_pos,
            )
    return out
