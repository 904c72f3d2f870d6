"""Average indirect effects of attention heads and function vectors (Todd et al. 2023; ARENA 1.4.2).

For a task $t$, the mean output of head $(l, h)$ at the last position of clean ICL prompts is
$$\\bar a^t_{lh} = \\frac{1}{|P_t|}\\sum_{p \\in P_t} z^{p}_{lh}[-1]\\, W_O^{lh} \\in \\mathbb{R}^{d_\\text{model}}.$$
Its *indirect effect* on a shuffled-label prompt $\\tilde p$ (answer $y$) is the rise in $P(y)$ when the head's output
at the last position is replaced by $\\bar a^t_{lh}$; the *average indirect effect* (AIE) averages it over prompts
(and, for a head's ranking, over tasks). The *function vector* of $t$ sums the mean outputs of a set $A$ of heads with
the largest AIE, $v_t = \\sum_{(l, h) \\in A} \\bar a^t_{lh}$, and is added to the residual stream at one layer, at the
last position only.

Patching is done on `hook_z` (the head's value-weighted sum before $W_O$): the head's output $z W_O$ is linear in
$z$, so replacing $z$ by its mean replaces the output by the mean output, and `b_O` is shared by the heads.
"""

from __future__ import annotations

import torch
from einops import einsum
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens import HookedTransformer


@torch.no_grad()
def mean_head_z(model: HookedTransformer, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "layer head d_head"]:
    """Each head's `z` at the last position, averaged over the prompts."""
    _, cache = model.run_with_cache(tokens, names_filter=lambda name: name.endswith("attn.hook_z"))
    return torch.stack([cache["z", layer][:, -1].mean(0) for layer in range(model.cfg.n_layers)])


def head_outputs(
    model: HookedTransformer, z: Float[Tensor, "layer head d_head"]
) -> Float[Tensor, "layer head d_model"]:
    """$z\\, W_O$ per head: what each head adds to the residual stream (without the shared `b_O`)."""
    return einsum(z, model.W_O, "layer head d_head, layer head d_head d_model -> layer head d_model")


def answer_probability(logits: Float[Tensor, "batch pos d_vocab"], answers: Int[Tensor, " batch"]) -> Tensor:
    """$P(y)$ at the last position, per prompt."""
    return logits[:, -1].softmax(-1).gather(-1, answers[:, None]).squeeze(-1)


@torch.no_grad()
def patched_head_logits(
    model: HookedTransformer,
    tokens: Int[Tensor, "batch pos"],
    layer: int,
    head: int,
    z: Float[Tensor, " d_head"],
) -> Float[Tensor, "batch pos d_vocab"]:
    """Logits with head `(layer, head)`'s `z` at the last position replaced by `z` (every prompt)."""

    def patch(act: Tensor, hook) -> Tensor:
        act = act.clone()
        act[:, -1, head] = z
        return act

    return model.run_with_hooks(tokens, fwd_hooks=[(f"blocks.{layer}.attn.hook_z", patch)])


@torch.no_grad()
def indirect_effects(
    model: HookedTransformer,
    mean_z: Float[Tensor, "layer head d_head"],
    tokens: Int[Tensor, "batch pos"],
    answers: Int[Tensor, " batch"],
) -> Float[Tensor, "layer head"]:
    """Mean rise in $P(y)$ on `tokens` (shuffled-label prompts of one task) when each head's last-position output is
    replaced by its mean over clean prompts of the task (`mean_z`), one head at a time."""
    base = answer_probability(model(tokens), answers)
    n_layers, n_heads = mean_z.shape[:2]
    out = torch.zeros(n_layers, n_heads)
    for layer in range(n_layers):
        for head in range(n_heads):
            logits = patched_head_logits(model, tokens, layer, head, mean_z[layer, head])
            out[layer, head] = (answer_probability(logits, answers) - base).mean()
    return out


def top_heads(aie: Float[Tensor, "layer head"], k: int) -> list[tuple[int, int]]:
    """The `k` heads with the largest AIE, largest first, as (layer, head)."""
    flat = aie.flatten().topk(k).indices
    return [(int(i) // aie.shape[1], int(i) % aie.shape[1]) for i in flat]


def function_vector(
    outputs: Float[Tensor, "layer head d_model"], heads: list[tuple[int, int]]
) -> Float[Tensor, " d_model"]:
    """$v = \\sum_{(l, h) \\in A} \\bar a_{lh}$."""
    return torch.stack([outputs[layer, head] for layer, head in heads]).sum(0)


def resid_hook_name(model: HookedTransformer, layer: int) -> str:
    """The residual stream before block `layer`; `layer = n_layers` is the stream after the last block."""
    if layer == model.cfg.n_layers:
        return f"blocks.{layer - 1}.hook_resid_post"
    return f"blocks.{layer}.hook_resid_pre"


@torch.no_grad()
def logits_with_vector(
    model: HookedTransformer, tokens: Int[Tensor, "batch pos"], layer: int, vector: Float[Tensor, " d_model"]
) -> Float[Tensor, "batch pos d_vocab"]:
    """Logits with `vector` added to the residual stream at `layer`, at the last position only."""

    def add(resid: Tensor, hook) -> Tensor:
        resid = resid.clone()
        resid[:, -1] += vector
        return resid

    return model.run_with_hooks(tokens, fwd_hooks=[(resid_hook_name(model, layer), add)])


def accuracy(logits: Float[Tensor, "batch pos d_vocab"], answers: Int[Tensor, " batch"]) -> float:
    """Top-1 accuracy of the last position's prediction."""
    return (logits[:, -1].argmax(-1) == answers).float().mean().item()


def random_like(vector: Float[Tensor, " d_model"], seed: int) -> Float[Tensor, " d_model"]:
    """A Gaussian direction with the norm of `vector` (the control for its direction)."""
    r = torch.randn(vector.shape, generator=torch.Generator().manual_seed(seed))
    return r * vector.norm() / r.norm()
