"""Tools for reading the bracket classifier: elevation features, linear fits, per-class accuracy under hooks,
minimal pairs for patching (ARENA 1.5.1).

The model's decision is $\\Delta = \\ell_\\text{balanced} - \\ell_\\text{unbalanced}$ at `[START]` (position 0);
patching and ablation code from earlier days takes it as the metric.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import torch
from jaxtyping import Float
from mechlearn.interp.brackets import CLASSES, _dyck, _zero_points, elevations, failure_class, is_balanced, tokenize
from torch import Tensor
from transformer_lens import HookedTransformer


def open_fraction(s: str) -> float:
    """Proportion of `(` in the whole string: $\\frac{1}{2}(1 + e_n / n)$."""
    return s.count("(") / max(1, len(s))


def suffix_fractions(s: str) -> list[float]:
    """For each bracket position $i$ (1-based), the proportion of `(` among $s_i \\ldots s_n$."""
    n, out, opens = len(s), [], 0
    for i in range(n - 1, -1, -1):
        opens += s[i] == "("
        out.append(opens / (n - i))
    return out[::-1]


def prefix_fractions(s: str) -> list[float]:
    """For each bracket position $i$ (1-based), the proportion of `(` among $s_1 \\ldots s_i$."""
    return [(i + 1 + e) / (2 * (i + 1)) for i, e in enumerate(elevations(s))]


def r2_score(x: Float[Tensor, "n k"], y: Float[Tensor, "n d"]) -> float:
    """$R^2 = 1 - \\sum \\lVert y - \\hat y \\rVert^2 / \\sum \\lVert y - \\bar y \\rVert^2$ of the least-squares fit
    $\\hat y = [x, 1] B$, pooled over the `d` output dimensions (float64)."""
    x, y = x.double(), y.double()
    if x.ndim == 1:
        x = x[:, None]
    design = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
    coef = torch.linalg.lstsq(design, y).solution
    resid = y - design @ coef
    return 1 - (resid**2).sum().item() / ((y - y.mean(0)) ** 2).sum().item()


def start_logit_diff(logits: Float[Tensor, "batch pos 2"]) -> Float[Tensor, ""]:
    """Mean $\\ell_\\text{balanced} - \\ell_\\text{unbalanced}$ at `[START]`: the metric for patching."""
    return (logits[:, 0, 1] - logits[:, 0, 0]).mean()


@torch.no_grad()
def logit_diff_with_hooks(
    model: HookedTransformer, strings: list[str], hooks: list[tuple[str, Callable]] = (), batch: int = 1000
) -> Float[Tensor, " n"]:
    """Per-string $\\Delta$ with `hooks` attached; strings are padded to the full `n_ctx`, so hooks that hold one
    value per position (mean ablation) line up."""
    out = []
    with model.hooks(fwd_hooks=list(hooks)):
        for i in range(0, len(strings), batch):
            logits = model(tokenize(strings[i : i + batch]))[:, 0]
            out.append(logits[:, 1] - logits[:, 0])
    return torch.cat(out)


def per_class_accuracy(predicted_balanced: Tensor, strings: list[str]) -> dict[str, float]:
    """Accuracy overall and per failure class of boolean predictions."""
    correct = predicted_balanced.bool() == torch.tensor([is_balanced(s) for s in strings])
    classes = [failure_class(s) for s in strings]
    out = {"all": correct.float().mean().item()}
    for c in CLASSES:
        mask = torch.tensor([k == c for k in classes])
        if mask.any():
            out[c] = correct[mask].float().mean().item()
    return out


def minimal_pairs(n: int, length: int, kind: str, seed: int) -> tuple[list[str], list[str]]:
    """(balanced, corrupted) strings of the same `length` that differ in one place.

    `kind="negative_prefix"`: a `()` that starts at elevation 0 becomes `)(` (total still 0, dips to $-1$);
    `kind="unclosed"`: one `)` becomes `(` (never negative, ends at $+2$)."""
    rng = random.Random(seed)
    clean, corrupted = [], []
    while len(clean) < n:
        s = _dyck(length // 2, rng)
        if kind == "negative_prefix":
            spots = [i for i in _zero_points(s)[:-1] if s[i : i + 2] == "()"]
            if not spots:
                continue
            i = rng.choice(spots)
            bad = s[:i] + ")(" + s[i + 2 :]
        elif kind == "unclosed":
            i = rng.choice([j for j, c in enumerate(s) if c == ")"])
            bad = s[:i] + "(" + s[i + 1 :]
        else:
            raise ValueError(f"kind must be 'negative_prefix' or 'unclosed', not {kind!r}")
        assert failure_class(bad) == kind
        clean.append(s)
        corrupted.append(bad)
    return clean, corrupted


def dip_at(n: int, k: int, rng: random.Random) -> str:
    """A length-`n` string, counts matched, whose elevation dips below zero exactly once, at position `k + 1`:
    a balanced string of length `k`, then `)(`, then a balanced string of length `n - 2 - k` (`n`, `k` even)."""
    if n % 2 or k % 2 or not 0 <= k <= n - 2:
        raise ValueError(f"need even n and even k in [0, n-2], got n={n}, k={k}")
    return _dyck(k // 2, rng) + ")(" + _dyck((n - 2 - k) // 2, rng)


def extra_open_at(n: int, k: int, rng: random.Random) -> str:
    """A length-`n` string (odd `n`) that never goes negative and ends at $+1$: a balanced string of length `n - 1`
    with one `(` inserted before position `k + 1`."""
    if n % 2 == 0 or not 0 <= k <= n - 1:
        raise ValueError(f"need odd n and k in [0, n-1], got n={n}, k={k}")
    d = _dyck((n - 1) // 2, rng)
    return d[:k] + "(" + d[k:]


def head_outputs(
    model: HookedTransformer, tokens: Tensor
) -> tuple[Float[Tensor, "layer head batch query d_model"], Float[Tensor, "layer head batch query key"]]:
    """Every head's output $z W_O$ at every position, and its attention pattern."""
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens, names_filter=lambda n: n.endswith(("hook_z", "hook_pattern")))
    out = torch.stack(
        [
            torch.einsum("b q h d, h d m -> h b q m", cache["z", layer], model.W_O[layer])
            for layer in range(model.cfg.n_layers)
        ]
    )
    patterns = torch.stack([cache["pattern", layer].transpose(0, 1) for layer in range(model.cfg.n_layers)])
    return out, patterns


def elevation_r2_table(model: HookedTransformer, strings: list[str]) -> dict[str, Float[Tensor, "layer head query"]]:
    """For strings of one length $n$: $R^2$ of each head's output at each query position $q$ (0 = [START],
    $1..n$ brackets, $n+1$ = [END]) on the proportion of `(` in the whole string, in the prefix $s_1..s_q$ and in
    the suffix $s_q..s_n$ (bracket positions only for the last two)."""
    n = len(strings[0])
    assert all(len(s) == n for s in strings), "one length at a time"
    out, _ = head_outputs(model, tokenize(strings, n_ctx=n + 2))
    L, H = out.shape[:2]
    whole = torch.tensor([open_fraction(s) for s in strings])
    pre = torch.tensor([prefix_fractions(s) for s in strings])
    suf = torch.tensor([suffix_fractions(s) for s in strings])
    table = {k: torch.full((L, H, n + 2), float("nan")) for k in ("whole", "prefix", "suffix")}
    for layer in range(L):
        for head in range(H):
            for q in range(n + 2):
                y = out[layer, head, :, q]
                table["whole"][layer, head, q] = r2_score(whole, y)
                if 1 <= q <= n:
                    table["prefix"][layer, head, q] = r2_score(pre[:, q - 1], y)
                    table["suffix"][layer, head, q] = r2_score(suf[:, q - 1], y)
    return table
