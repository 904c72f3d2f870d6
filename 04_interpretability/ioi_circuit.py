"""Reading the IOI circuit: the metric, attention at the name positions, name-copying scores and circuit ablation.

Wang et al. (2023) classify heads by what they attend to and what they write: name movers attend from END to the
IO and copy it (their OV circuit maps a name to its own logit); negative name movers do the same with the sign
reversed; S-inhibition heads attend from END to S2 and change the name movers' queries; duplicate-token and
induction heads attend from S2 to S1 and to the token after S1. A circuit $C$ is tested by **mean ablation**: every
head outside $C$ outputs its mean over the ABC distribution (per template and position), and
$F(C)$ is the logit difference that remains; the full model gives $F(M)$.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from jaxtyping import Float, Int
from mechlearn.interp.ioi import NAME_IDS, IOIPrompts
from mechlearn.interp.patching import logit_diff
from torch import Tensor
from transformer_lens import HookedTransformer
from transformer_lens.hook_points import HookPoint

Head = tuple[int, int]


def ld_metric(prompts: IOIPrompts) -> Callable[[Tensor], Tensor]:
    """Mean logit difference $\\ell_\\text{IO} - \\ell_\\text{S}$ at the last position (`patching.logit_diff`)."""
    return partial(logit_diff, answer=prompts.io, wrong=prompts.s)


def attention_to(
    patterns: Float[Tensor, "layer batch head q k"], query_pos: Int[Tensor, " batch"], key_pos: Int[Tensor, " batch"]
) -> Float[Tensor, "layer head"]:
    """Mean attention that position `query_pos[i]` pays to `key_pos[i]`, per head."""
    batch = torch.arange(patterns.shape[1])
    return patterns[:, batch, :, query_pos, key_pos].mean(0)  # advanced indices go first: (batch, layer, head)


def attention_patterns(model: HookedTransformer, tokens: Int[Tensor, "batch pos"]) -> Tensor:
    """All patterns stacked: (layer, batch, head, q, k)."""
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens, names_filter=lambda name: name.endswith("hook_pattern"))
    return torch.stack([cache["pattern", layer] for layer in range(model.cfg.n_layers)])


@torch.no_grad()
def name_copying_scores(model: HookedTransformer, sign: float = 1.0, top_k: int = 5) -> Float[Tensor, "layer head"]:
    """Wang et al.'s copying score: the share of names $n$ whose own token is among the `top_k` logits (over the
    whole vocabulary) of $\\pm\\,\\mathrm{LN}_f(\\mathrm{LN}_1(e_n) W_{OV}) W_U$, with $e_n$ the name's embedding
    plus what MLP 0 adds to it (the "effective embedding"). `sign=-1` scores negative copying."""
    embed = model.W_E[NAME_IDS]  # (name, d_model)
    effective = embed + model.blocks[0].mlp(model.blocks[0].ln2(embed[:, None]))[:, 0]
    out = torch.zeros(model.cfg.n_layers, model.cfg.n_heads)
    for layer in range(model.cfg.n_layers):
        x = model.blocks[layer].ln1(effective[:, None])[:, 0]
        for head in range(model.cfg.n_heads):
            written = sign * (x @ model.OV[layer, head]).AB  # (name, d_model)
            logits = model.unembed(model.ln_final(written[:, None]))[:, 0]  # (name, d_vocab)
            top = logits.topk(top_k, dim=-1).indices
            out[layer, head] = (top == NAME_IDS[:, None]).any(-1).float().mean()
    return out


def template_means(
    model: HookedTransformer, abc: IOIPrompts, n_templates: int
) -> Float[Tensor, "template layer pos head d_head"]:
    """Every head's `z` averaged over the ABC prompts of each template, per position."""
    with torch.no_grad():
        _, cache = model.run_with_cache(abc.tokens, names_filter=lambda name: name.endswith("hook_z"))
    z = torch.stack([cache["z", layer] for layer in range(model.cfg.n_layers)], 1)  # (batch, layer, pos, head, d)
    means = torch.zeros(n_templates, *z.shape[1:])
    for t in abc.template.unique().tolist():
        means[t] = z[abc.template == t].mean(0)
    return means


def mean_ablation_hooks(
    model: HookedTransformer,
    means: Float[Tensor, "template layer pos head d_head"],
    template: Int[Tensor, " batch"],
    keep: set[Head],
) -> list[tuple[str, Callable]]:
    """`hook_z` hooks that replace every head *not* in `keep` by its template mean (the template of each prompt)."""

    def ablate(z: Float[Tensor, "batch pos head d_head"], hook: HookPoint) -> Tensor:
        layer = hook.layer()
        ablated = [h for h in range(model.cfg.n_heads) if (layer, h) not in keep]
        z = z.clone()
        z[:, :, ablated] = means[template, layer][:, :, ablated]
        return z

    return [(f"blocks.{layer}.attn.hook_z", ablate) for layer in range(model.cfg.n_layers)]


def circuit_logit_diff(model: HookedTransformer, prompts: IOIPrompts, means: Tensor, keep: set[Head]) -> float:
    """$F(C)$: the mean logit difference with every head outside `keep` mean-ablated."""
    hooks = mean_ablation_hooks(model, means, prompts.template, keep)
    with torch.no_grad():
        logits = model.run_with_hooks(prompts.tokens, fwd_hooks=hooks)
    return float(logit_diff(logits, prompts.io, prompts.s))


# The circuit of day 70's model, as days 72-73 found it (path patching to the logits, then into the writers' values).
CIRCUIT_CLASSES: dict[str, list[Head]] = {
    "subject suppressors": [(1, 0), (1, 2), (2, 0)],  # at END, read positions 12/13 and write −S into the logits
    "S2 copiers": [(0, 0), (0, 2), (0, 3)],  # copy S2 to positions 12/13; at END they attend to both names
}
CIRCUIT: list[Head] = [head for heads in CIRCUIT_CLASSES.values() for head in heads]
