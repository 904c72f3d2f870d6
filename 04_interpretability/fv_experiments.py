"""The experiments of days 76–77 on the ICL model: AIE per task, where heads look, and function vectors at work.

Each function draws its prompts from fixed seeds, so days 76 and 77 (and the tests) see the same heads and vectors.
"""

from __future__ import annotations

from pathlib import Path

import torch
from jaxtyping import Float
from mechlearn.interp.function_vectors import (
    accuracy,
    function_vector,
    head_outputs,
    indirect_effects,
    logits_with_vector,
    mean_head_z,
    random_like,
)
from mechlearn.interp.icl_tasks import ARROW, BOS, SEP, TASK_NAMES, ICLBatch, icl_batch
from torch import Tensor
from transformer_lens import HookedTransformer

from mechlearn.artefacts import cached_json

AIE_DAY = "day-076-heads-with-causal-effect-average-indirect"
DEPENDS_ON = [
    "mechlearn.interp.fv_experiments",
    "mechlearn.interp.function_vectors",
    "mechlearn.interp.fv_model",
    "mechlearn.interp.icl_tasks",
]
ROLES = ["BOS", "inputs x_i", "arrows", "labels y_i", "separators", "query x_q", "last arrow"]


def task_means(model: HookedTransformer, k: int, n: int = 256, seed: int = 76, form: str = "clean") -> Tensor:
    """Mean `z` at the last position per task, (task, layer, head, d_head), from `n` prompts with `k` demos."""
    gen = torch.Generator().manual_seed(seed)
    return torch.stack([mean_head_z(model, icl_batch(t, n, k, gen, form).tokens) for t in TASK_NAMES])


def aie_per_task(
    model: HookedTransformer, means: Float[Tensor, "task layer head d_head"], k: int, n: int = 256, seed: int = 176
) -> Float[Tensor, "task layer head"]:
    """Indirect effect of every head on shuffled-label prompts of every task, patched with that task's means."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for t, task in enumerate(TASK_NAMES):
        b = icl_batch(task, n, k, gen, "shuffled")
        out.append(indirect_effects(model, means[t], b.tokens, b.answers))
    return torch.stack(out)


@torch.no_grad()
def attention_by_role(model: HookedTransformer, b: ICLBatch) -> Float[Tensor, "layer head role"]:
    """How each head's attention from the last position splits over the token roles of `ROLES` (mean over prompts)."""
    _, cache = model.run_with_cache(b.tokens, names_filter=lambda name: name.endswith("hook_pattern"))
    n_pos = b.tokens.shape[1]
    role = torch.full((n_pos,), 0)
    pos = torch.arange(n_pos)
    role[(pos % 4 == 1)] = 1
    role[(pos % 4 == 2)] = 2
    role[(pos % 4 == 3)] = 3
    role[(pos % 4 == 0) & (pos > 0)] = 4
    role[n_pos - 2], role[n_pos - 1] = 5, 6
    assert (b.tokens[0, role == 0] == BOS).all() and (b.tokens[0, role == 4] == SEP).all()
    assert (b.tokens[0, role == 2] == ARROW).all()
    one_hot = torch.nn.functional.one_hot(role, len(ROLES)).float()  # (pos, role)
    patterns = torch.stack([cache["pattern", layer][:, :, -1].mean(0) for layer in range(model.cfg.n_layers)])
    return patterns @ one_hot  # (layer, head, pos) @ (pos, role)


def function_vectors(
    model: HookedTransformer, means: Float[Tensor, "task layer head d_head"], heads: list[tuple[int, int]]
) -> Float[Tensor, "task d_model"]:
    """One function vector per task: the sum of the chosen heads' mean outputs for that task."""
    return torch.stack([function_vector(head_outputs(model, m), heads) for m in means])


def accuracy_with(model: HookedTransformer, b: ICLBatch, layer: int, vector: Tensor | None) -> float:
    """Top-1 accuracy on `b` with `vector` added at `layer` (none: the model as it is)."""
    if vector is None:
        with torch.no_grad():
            return accuracy(model(b.tokens), b.answers)
    return accuracy(logits_with_vector(model, b.tokens, layer, vector), b.answers)


@torch.no_grad()
def answers_with(model: HookedTransformer, b: ICLBatch, layer: int, vector: Tensor) -> Tensor:
    """The model's top-1 answer on each prompt of `b` with `vector` added at `layer`."""
    return logits_with_vector(model, b.tokens, layer, vector)[:, -1].argmax(-1)


def cached_aie(model: HookedTransformer, k: int) -> dict[str, Tensor]:
    """Day 76's AIE (task, layer, head), cached in its folder, and the control: the same patching with means taken
    over *shuffled* prompts of the task, which carry the prompts' form but no task."""

    def make() -> dict:
        clean = aie_per_task(model, task_means(model, k), k)
        control = aie_per_task(model, task_means(model, k, seed=77, form="shuffled"), k)
        return {"aie": clean.tolist(), "control": control.tolist()}

    folder = Path(__file__).resolve().parents[1] / "daily_logs" / AIE_DAY
    return {name: torch.tensor(v) for name, v in cached_json(folder / "aie.json", make, DEPENDS_ON).items()}


def fv_sweep(
    model: HookedTransformer,
    means: Float[Tensor, "task layer head d_head"],
    ranked: list[tuple[int, int]],
    ks: list[int],
    k_demos: int,
    n: int = 256,
    seed: int = 300,
) -> dict[str, list]:
    """Accuracy of each task's zero-shot and shuffled-label prompts with its function vector (top `k` heads of
    `ranked`) added at each layer 0..n_layers, and with a random vector of the same norm: lists indexed
    [form][k][layer][task]."""
    gen = torch.Generator().manual_seed(seed)
    prompts = {form: [icl_batch(t, n, k_demos, gen, form) for t in TASK_NAMES] for form in ("zero_shot", "shuffled")}
    out: dict[str, list] = {"fv": [], "random": []}
    for batches in prompts.values():
        fv_rows, random_rows = [], []
        for k in ks:
            fvs = function_vectors(model, means, ranked[:k])
            fv_rows.append([[accuracy_with(model, b, layer, fvs[t]) for t, b in enumerate(batches)]
                            for layer in range(model.cfg.n_layers + 1)])  # fmt: skip
            random_rows.append([[accuracy_with(model, b, layer, random_like(fvs[t], seed + t)) for t, b in
                                 enumerate(batches)] for layer in range(model.cfg.n_layers + 1)])  # fmt: skip
        out["fv"].append(fv_rows)
        out["random"].append(random_rows)
    return out
