"""Attention-pattern scores on repeated random tokens `[BOS, t_1..t_L, t_1..t_L]` (positions 0, 1..L, L+1..2L).

For a head with pattern $A_{qk}$ (query $q$, key $k$, rows summing to 1), each score is the mean attention that the
queries put on one key chosen by a rule (ARENA 1.2, Olsson et al. 2022):

- previous-token: $\\frac{1}{2L}\\sum_{q=1}^{2L} A_{q,\\,q-1}$ — the key just before the query;
- duplicate-token: $\\frac{1}{L}\\sum_{q=L+1}^{2L} A_{q,\\,q-L}$ — the earlier copy of the query's own token;
- induction: $\\frac{1}{L}\\sum_{q=L+1}^{2L} A_{q,\\,q-L+1}$ — the token that *followed* that earlier copy.

Scores lie in $[0, 1]$; 1 means every query of the rule puts all of its attention on the rule's key.
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor


def mean_attention_at_offset(
    pattern: Float[Tensor, "batch head q k"], offset: int, first_query: int
) -> Float[Tensor, " head"]:
    """Mean of $A_{q,\\,q-\\text{offset}}$ over the batch and over queries $q \\ge$ `first_query`."""
    n_q = pattern.shape[-2]
    q = torch.arange(first_query, n_q)
    return pattern[:, :, q, q - offset].mean(dim=(0, 2))


def previous_token_score(pattern: Float[Tensor, "batch head q k"]) -> Float[Tensor, " head"]:
    return mean_attention_at_offset(pattern, offset=1, first_query=1)


def duplicate_token_score(pattern: Float[Tensor, "batch head q k"], seq_len: int) -> Float[Tensor, " head"]:
    return mean_attention_at_offset(pattern, offset=seq_len, first_query=seq_len + 1)


def induction_score(pattern: Float[Tensor, "batch head q k"], seq_len: int) -> Float[Tensor, " head"]:
    return mean_attention_at_offset(pattern, offset=seq_len - 1, first_query=seq_len + 1)


def all_scores(patterns: list[Float[Tensor, "batch head q k"]], seq_len: int) -> dict[str, Float[Tensor, "layer head"]]:
    """Every score for every head, from one pattern per layer (e.g. `[cache["pattern", l] for l in layers]`)."""
    return {
        "previous_token": torch.stack([previous_token_score(p) for p in patterns]),
        "duplicate_token": torch.stack([duplicate_token_score(p, seq_len) for p in patterns]),
        "induction": torch.stack([induction_score(p, seq_len) for p in patterns]),
    }
