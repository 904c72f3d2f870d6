"""What the bracket classifier checks: shortcut rules on the string, and the components at `[START]` that carry them.

A string is balanced only if (i) its length is even, (ii) its first bracket is `(` and (iii) its last bracket is `)`:
an odd-length string cannot have matched counts, one that starts with `)` dips to $-1$ at once, and one with matched
counts that ends with `(` was at $-1$ just before. The three are necessary, not sufficient: `(((())` passes all of
them with counts that differ by two, `())(()` with a dip in the middle. `SHORTCUTS` names them, `shortcut_balanced`
is the classifier that uses nothing else.

The model's decision is a sum at `[START]`: after the final LayerNorm (its scale $\\sigma$ taken from the run),
$$\\ell_\\text{unbal} - \\ell_\\text{bal} = \\sum_c \\frac{(x_c - \\bar x_c)}{\\sigma} \\cdot u + \\text{const},
\\qquad u = w_\\text{LN} \\odot (W_U[:, 0] - W_U[:, 1]),$$
over the components $c$ that write the residual stream (embeddings, each head, each MLP), $\\bar x_c$ the mean over
$d_\\text{model}$ (LayerNorm's centring). `start_attribution` returns each component's term; `DirectionClassifier`
is a hand-built classifier from a few of those terms: unbalanced when any chosen component's term is above its own
threshold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from jaxtyping import Float
from mechlearn.interp.brackets import tokenize
from torch import Tensor
from transformer_lens import HookedTransformer

SHORTCUTS: dict[str, Callable[[str], bool]] = {
    "odd length": lambda s: len(s) % 2 == 1,
    "starts with )": lambda s: s[:1] == ")",
    "ends with (": lambda s: s[-1:] == "(",
}


def shortcut_balanced(s: str) -> bool:
    """Balanced unless one of the three shortcut checks fires: no counting, no elevation."""
    return not any(check(s) for check in SHORTCUTS.values())


def unbalanced_direction(model: HookedTransformer) -> Float[Tensor, " d_model"]:
    """$u = w_\\text{LN} \\odot (W_U[:, 0] - W_U[:, 1])$: a normalised residual's contribution to
    $\\ell_\\text{unbal} - \\ell_\\text{bal}$."""
    return model.ln_final.w * (model.W_U[:, 0] - model.W_U[:, 1])


@torch.no_grad()
def start_attribution(
    model: HookedTransformer, strings: list[str]
) -> tuple[Float[Tensor, "component n"], list[str], Float[Tensor, " n"]]:
    """Each component's term in $\\ell_\\text{unbal} - \\ell_\\text{bal}$ at `[START]`, its labels (`L0H1`,
    `1_mlp_out`, `embed`, ...), and the model's own $\\ell_\\text{unbal} - \\ell_\\text{bal}$ for comparison.

    Heads come from `stack_head_results` (each head's $z W_O$), the rest from `decompose_resid`; the attention
    output biases $b_O$ are one more component, `b_O`. Both scale by the final LayerNorm of this run."""
    logits, cache = model.run_with_cache(tokenize(strings))
    heads, head_labels = cache.stack_head_results(layer=-1, pos_slice=0, apply_ln=True, return_labels=True)
    parts, part_labels = cache.decompose_resid(layer=-1, pos_slice=0, apply_ln=True, return_labels=True)
    keep = [i for i, name in enumerate(part_labels) if not name.endswith("attn_out")]
    attn = sum(parts[i] for i, name in enumerate(part_labels) if name.endswith("attn_out"))
    b_o = attn - heads.sum(0)  # what the attention outputs hold beyond the heads: the biases b_O, normalised
    stack = torch.cat([heads, parts[keep], b_o[None]])
    labels = head_labels + [part_labels[i] for i in keep] + ["b_O"]
    return stack @ unbalanced_direction(model), labels, logits[:, 0, 0] - logits[:, 0, 1]


@torch.no_grad()
def neuron_attribution(model: HookedTransformer, strings: list[str], layer: int) -> Float[Tensor, "neuron n"]:
    """Each neuron of MLP `layer`: its term in $\\ell_\\text{unbal} - \\ell_\\text{bal}$ at `[START]`, its activation
    times its (centred) output row, read along $u$ and divided by the final LayerNorm's scale. Summed over neurons,
    plus the term of $b_\\text{out}$, it is `start_attribution`'s `{layer}_mlp_out`."""
    post_name = f"blocks.{layer}.mlp.hook_post"
    _, cache = model.run_with_cache(tokenize(strings), names_filter=lambda n: n in (post_name, "ln_final.hook_scale"))
    post = cache[post_name][:, 0]  # (n, d_mlp)
    scale = cache["ln_final.hook_scale"][:, 0]  # (n, 1)
    w_out = model.W_out[layer] - model.W_out[layer].mean(-1, keepdim=True)  # (d_mlp, d_model), rows centred
    return ((post / scale) * (w_out @ unbalanced_direction(model))).T


def attribution_constant(model: HookedTransformer) -> float:
    """The part of $\\ell_\\text{unbal} - \\ell_\\text{bal}$ no input changes: LayerNorm's bias and $b_U$."""
    diff = model.W_U[:, 0] - model.W_U[:, 1]
    return (model.ln_final.b @ diff + model.b_U[0] - model.b_U[1]).item()


@dataclass
class DirectionClassifier:
    """Unbalanced when any chosen component's term exceeds its threshold (one threshold per component)."""

    components: list[int]
    thresholds: Float[Tensor, " k"]

    @classmethod
    def fit(
        cls, terms: Float[Tensor, "component n"], components: list[int], target: Tensor, rounds: int = 3
    ) -> DirectionClassifier:
        """Thresholds that make the rule agree best with `target` (True = unbalanced), by coordinate ascent: each
        threshold in turn set to its best value with the others held, starting from "never fires"."""
        thresholds = [float("inf")] * len(components)
        for _ in range(rounds):
            for j, c in enumerate(components):
                others = torch.zeros(terms.shape[1], dtype=torch.bool)
                for k, (c2, t2) in enumerate(zip(components, thresholds, strict=True)):
                    if k != j:
                        others |= terms[c2] > t2
                candidates = terms[c].unique()
                agreement = torch.stack([((others | (terms[c] > t)) == target).float().mean() for t in candidates])
                thresholds[j] = candidates[agreement.argmax()].item()
        return cls(list(components), torch.tensor(thresholds))

    @classmethod
    def greedy(
        cls, terms: Float[Tensor, "component n"], candidates: list[int], target: Tensor, most: int = 3
    ) -> DirectionClassifier:
        """Components chosen one at a time from `candidates`: each round adds the one that most raises agreement with
        `target` once every threshold is refitted; stops at `most` components or when a round gains under 0.1
        percentage point."""
        chosen: list[int] = []
        best = 0.0
        for _ in range(most):
            scores = {}
            for c in candidates:
                if c not in chosen:
                    trial = cls.fit(terms, chosen + [c], target)
                    scores[c] = (trial.predict_unbalanced(terms) == target).float().mean().item()
            if not scores:
                break
            c, s = max(scores.items(), key=lambda kv: kv[1])
            if s <= best + 1e-3:
                break
            chosen.append(c)
            best = s
        return cls.fit(terms, chosen, target)

    def predict_unbalanced(self, terms: Float[Tensor, "component n"]) -> Tensor:
        return (terms[self.components] > self.thresholds[:, None]).any(0)


def decode_r2(x: Float[Tensor, "n d"], y: Float[Tensor, " n"], seed: int = 0, ridge: float = 1e-6) -> float:
    """Held-out $R^2$ of a linear read-out $\\hat y = [x, 1]\\,\\beta$: least squares on a random half of the rows
    (with a small ridge, since a head's output $z W_O$ has rank at most $d_\\text{head}$), scored on the other half.
    In-sample $R^2$ rewards $d$ free coefficients even on noise; held out, noise scores near or below 0."""
    x, y = x.double(), y.double()
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    fit, score = perm[: len(x) // 2], perm[len(x) // 2 :]
    design = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
    a = design[fit]
    beta = torch.linalg.solve(a.T @ a + ridge * torch.eye(a.shape[1], dtype=a.dtype), a.T @ y[fit])
    resid = y[score] - design[score] @ beta
    return 1 - (resid**2).sum().item() / ((y[score] - y[score].mean()) ** 2).sum().item()
