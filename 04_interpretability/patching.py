"""Activation patching and direct logit attribution (ARENA 1.3–1.4; Meng et al. 2022, Wang et al. 2022).

Run the *corrupted* input, overwrite one activation with its value from the *clean* run, and read a metric. The
metric is the logit difference at the last position, $\\Delta = \\ell_\\text{answer} - \\ell_\\text{wrong}$, normalised
so that the corrupted run scores 0 and the clean run 1:
$$m = \\frac{\\Delta_\\text{patched} - \\Delta_\\text{corrupted}}{\\Delta_\\text{clean} - \\Delta_\\text{corrupted}}.$$

Direct logit attribution reads the same $\\Delta$ off the clean residual stream, which is a sum of components
$r = \\sum_c r_c$: with the final LayerNorm (weight $w$, bias $b$) and its scale $\\sigma$ frozen at its clean value,
$\\Delta = \\sum_c \\frac{r_c - \\bar r_c}{\\sigma}\\cdot\\bigl(w \\odot (W_U[:, a] - W_U[:, c])\\bigr)
+ b \\cdot (W_U[:, a] - W_U[:, c]) + b_U[a] - b_U[c]$.
"""

from __future__ import annotations

from functools import partial

import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens import ActivationCache, HookedTransformer
from transformer_lens.hook_points import HookPoint


def logit_diff(
    logits: Float[Tensor, "batch pos d_vocab"], answer: Int[Tensor, " batch"], wrong: Int[Tensor, " batch"]
) -> Float[Tensor, ""]:
    """$\\ell_\\text{answer} - \\ell_\\text{wrong}$ at the last position, averaged over the batch."""
    last = logits[:, -1]
    return (last.gather(-1, answer[:, None]) - last.gather(-1, wrong[:, None])).mean()


def normalised(value: Tensor, clean: Tensor | float, corrupted: Tensor | float) -> Tensor:
    return (value - corrupted) / (clean - corrupted)


def _patch_positions(act: Tensor, hook: HookPoint, clean: Tensor, pos: int | None, head: int | None) -> Tensor:
    act = act.clone()
    index = (slice(None), slice(None) if pos is None else pos)
    if head is not None:
        index = (*index, head)
    act[index] = clean[index]
    return act


def _patched_metric(
    model: HookedTransformer,
    corrupted_tokens: Tensor,
    hook_name: str,
    clean_act: Tensor,
    metric,
    pos: int | None = None,
    head: int | None = None,
) -> float:
    hook = partial(_patch_positions, clean=clean_act, pos=pos, head=head)
    with torch.no_grad():
        logits = model.run_with_hooks(corrupted_tokens, fwd_hooks=[(hook_name, hook)])
    return float(metric(logits))


def patch_residual_stream(
    model: HookedTransformer, corrupted_tokens: Int[Tensor, "batch pos"], clean_cache: ActivationCache, metric
) -> Float[Tensor, "layer pos"]:
    """Metric with `resid_pre` of one layer at one position patched; row `n_layers` patches the final `resid_post`."""
    n_layers, n_pos = model.cfg.n_layers, corrupted_tokens.shape[1]
    out = torch.zeros(n_layers + 1, n_pos)
    for layer in range(n_layers + 1):
        name = f"blocks.{layer}.hook_resid_pre" if layer < n_layers else f"blocks.{n_layers - 1}.hook_resid_post"
        for pos in range(n_pos):
            out[layer, pos] = _patched_metric(model, corrupted_tokens, name, clean_cache[name], metric, pos=pos)
    return out


def patch_block_outputs(
    model: HookedTransformer,
    corrupted_tokens: Int[Tensor, "batch pos"],
    clean_cache: ActivationCache,
    metric,
    component: str = "attn_out",
) -> Float[Tensor, " layer"]:
    """Metric with one layer's `attn_out` or `mlp_out` patched at every position."""
    if component not in ("attn_out", "mlp_out"):
        raise ValueError(f"component must be 'attn_out' or 'mlp_out', not {component!r}")
    names = [f"blocks.{layer}.hook_{component}" for layer in range(model.cfg.n_layers)]
    return torch.tensor([_patched_metric(model, corrupted_tokens, n, clean_cache[n], metric) for n in names])


def patch_head_outputs(
    model: HookedTransformer, corrupted_tokens: Int[Tensor, "batch pos"], clean_cache: ActivationCache, metric
) -> Float[Tensor, "layer head"]:
    """Metric with one head's `z` patched at every position."""
    out = torch.zeros(model.cfg.n_layers, model.cfg.n_heads)
    for layer in range(model.cfg.n_layers):
        name = f"blocks.{layer}.attn.hook_z"
        for head in range(model.cfg.n_heads):
            out[layer, head] = _patched_metric(model, corrupted_tokens, name, clean_cache[name], metric, head=head)
    return out


def logit_diff_direction(
    model: HookedTransformer, answer: Int[Tensor, " batch"], wrong: Int[Tensor, " batch"]
) -> Float[Tensor, "batch d_model"]:
    """$W_U[:, a] - W_U[:, b]$ per example."""
    return (model.W_U[:, answer] - model.W_U[:, wrong]).T


@torch.no_grad()
def direct_logit_attribution(
    model: HookedTransformer,
    clean_cache: ActivationCache,
    answer: Int[Tensor, " batch"],
    wrong: Int[Tensor, " batch"],
) -> tuple[Float[Tensor, " component"], list[str], float]:
    """Each component's share of the logit difference at the last position, averaged over the batch.

    Components: embeddings, every head and the attention biases (`get_full_resid_decomposition`), centred and divided
    by the final LayerNorm's cached scale, then multiplied by its weight $w$. Returns (DLA per component, labels,
    constant) where the constant $b \\cdot (W_U[:, a] - W_U[:, c]) + b_U[a] - b_U[c]$ (LayerNorm bias and unembedding
    bias) completes the sum: DLA.sum() + constant is the logit difference.
    """
    stack, labels = clean_cache.get_full_resid_decomposition(
        expand_neurons=False, apply_ln=True, pos_slice=-1, return_labels=True
    )  # (component, batch, d_model), already centred and divided by the final LayerNorm scale
    direction = logit_diff_direction(model, answer, wrong)
    ln_w = getattr(model.ln_final, "w", None)
    ln_b = getattr(model.ln_final, "b", None)
    effective = direction * ln_w if ln_w is not None else direction
    per_example = torch.einsum("c b d, b d -> c b", stack, effective)
    constant = (model.b_U[answer] - model.b_U[wrong]).mean()
    if ln_b is not None:
        constant = constant + (direction @ ln_b).mean()
    return per_example.mean(-1), labels, float(constant)
