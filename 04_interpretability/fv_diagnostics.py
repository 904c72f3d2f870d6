"""Where the task sits at the last position, when summed head means do not carry it (day 77).

Two probes of the last position's state. A *mean-difference vector* (the residual stream averaged over clean prompts
minus its average over task-free prompts, at one layer; Hendel et al. 2023 patch a layer's state in the same spirit)
asks whether any query-independent direction carries the task. A *query-matched transplant* copies one activation
at the last position from a prompt of task B into a prompt of task A with the same query: if the answer becomes
$f_B(x_q)$, that activation carries the task, in whatever query-dependent form.
"""

from __future__ import annotations

import torch
from jaxtyping import Float, Int
from mechlearn.interp.function_vectors import resid_hook_name
from torch import Tensor
from transformer_lens import HookedTransformer


@torch.no_grad()
def mean_difference_vectors(
    model: HookedTransformer, tokens_a: Int[Tensor, "batch pos"], tokens_b: Int[Tensor, "batch pos2"]
) -> Float[Tensor, "layer d_model"]:
    """Mean residual stream at the last position over `tokens_a` minus over `tokens_b`, before each block and after
    the last (layers 0..n_layers)."""
    names = [resid_hook_name(model, layer) for layer in range(model.cfg.n_layers + 1)]

    def last_means(tokens: Tensor) -> Tensor:
        _, cache = model.run_with_cache(tokens, names_filter=lambda name: name in names)
        return torch.stack([cache[name][:, -1].mean(0) for name in names])

    return last_means(tokens_a) - last_means(tokens_b)


@torch.no_grad()
def transplant_answers(
    model: HookedTransformer,
    recipient: Int[Tensor, "batch pos"],
    donor: Int[Tensor, "batch pos"],
    hook_name: str,
) -> Int[Tensor, " batch"]:
    """Top-1 answers on `recipient` with the activation at `hook_name`, last position, taken from `donor`
    (row by row)."""
    _, cache = model.run_with_cache(donor, names_filter=lambda name: name == hook_name)

    def patch(act: Tensor, hook) -> Tensor:
        act = act.clone()
        act[:, -1] = cache[hook_name][:, -1]
        return act

    return model.run_with_hooks(recipient, fwd_hooks=[(hook_name, patch)])[:, -1].argmax(-1)
