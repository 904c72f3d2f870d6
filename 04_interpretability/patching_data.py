"""Clean/corrupted pairs for patching the induction circuit, with a known right answer.

Clean: `[BOS, s_1..s_L, s_1..s_m]`; the next token is $s_{m+1}$ (an induction head looks it up). Corrupted: the same
with the *first-half* $s_{m+1}$ replaced by another token $c$, so induction now predicts $c$. The metric is
$\\ell_{s_{m+1}} - \\ell_c$ at the last position: positive when clean, negative when corrupted; every other token is
the same in both runs, so any recovery from patching must route through position $m+1$.
"""

from __future__ import annotations

import torch
from jaxtyping import Int
from torch import Tensor


def induction_patching_pair(
    batch: int, seq_len: int, d_vocab: int, m: int, generator: torch.Generator | None = None
) -> tuple[Int[Tensor, "batch pos"], Int[Tensor, "batch pos"], Int[Tensor, " batch"], Int[Tensor, " batch"]]:
    """(clean_tokens, corrupted_tokens, answer, wrong) with `pos = 1 + seq_len + m`; 0 is BOS."""
    half = torch.randint(1, d_vocab, (batch, seq_len), generator=generator)
    clean = torch.cat([torch.zeros(batch, 1, dtype=torch.long), half, half[:, :m]], dim=1)
    answer = half[:, m]
    wrong = 1 + (answer - 1 + torch.randint(1, d_vocab - 1, (batch,), generator=generator)) % (d_vocab - 1)
    corrupted = clean.clone()
    corrupted[:, 1 + m] = wrong  # position of the first-half s_{m+1}
    return clean, corrupted, answer, wrong
