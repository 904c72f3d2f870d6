"""In-context-learning tasks over a small token vocabulary: `x → f(x) ; x → f(x) ; … ; x_q →` predicts `f(x_q)`.

The tasks follow Todd et al. (2023), "Function vectors in large language models", and ARENA 1.4.2, shrunk to a
vocabulary a small model can be trained on. No task is named in a prompt: the model must infer `f` from the
demonstrations. Every input domain carries at least two tasks, so the query alone does not say which one is asked:

| task        | domain  | f(x)                                       |
|-------------|---------|--------------------------------------------|
| successor   | numbers | x + 1 mod N                                |
| predecessor | numbers | x − 1 mod N                                |
| antonym     | words   | the other word of x's pair in a fixed lexicon of made-up words |
| case        | letters | lower ↔ upper case of the same letter      |
| copy        | any     | x                                          |

A prompt with k demonstrations is `[BOS, x_1, →, y_1, ;, …, x_k, →, y_k, ;, x_q, →]`: 4k + 3 tokens. Its
*zero-shot* form is `[BOS, x_q, →]`; its *shuffled-label* form keeps the inputs and permutes the labels among the
demonstrations with a derangement, so that no demonstration shows its own `f(x_i)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Int
from torch import Tensor

BOS, ARROW, SEP = 0, 1, 2
SPECIAL = ["<bos>", "→", ";"]
N_NUMBERS = 20
# The antonym lexicon: 12 pairs of made-up words, each word one token.
ANTONYM_PAIRS = [
    ("blick", "florp"), ("zorn", "quib"), ("mave", "trask"), ("pelm", "gorsh"), ("vint", "dralk"), ("snib", "waum"),
    ("crup", "yeld"), ("fosk", "nable"), ("horv", "jint"), ("lusp", "kreb"), ("tamm", "oziv"), ("rell", "skaf"),
]  # fmt: skip
LETTERS = "abcdefghij"

NUMBER_TOKENS = list(range(3, 3 + N_NUMBERS))
WORD_TOKENS = list(range(NUMBER_TOKENS[-1] + 1, NUMBER_TOKENS[-1] + 1 + 2 * len(ANTONYM_PAIRS)))
LOWER_TOKENS = list(range(WORD_TOKENS[-1] + 1, WORD_TOKENS[-1] + 1 + len(LETTERS)))
UPPER_TOKENS = list(range(LOWER_TOKENS[-1] + 1, LOWER_TOKENS[-1] + 1 + len(LETTERS)))
D_VOCAB = UPPER_TOKENS[-1] + 1
TOKEN_NAMES = (
    SPECIAL
    + [str(n) for n in range(N_NUMBERS)]
    + [w for pair in ANTONYM_PAIRS for w in pair]
    + list(LETTERS)
    + list(LETTERS.upper())
)

DOMAINS = {
    "numbers": NUMBER_TOKENS,
    "words": WORD_TOKENS,
    "letters": LOWER_TOKENS + UPPER_TOKENS,
}


def _table(pairs: list[tuple[int, int]]) -> Tensor:
    """A lookup table over the whole vocabulary, -1 outside the task's domain."""
    table = torch.full((D_VOCAB,), -1, dtype=torch.long)
    for x, y in pairs:
        table[x] = y
    return table


_n = NUMBER_TOKENS
TASKS: dict[str, Tensor] = {
    "successor": _table([(_n[i], _n[(i + 1) % N_NUMBERS]) for i in range(N_NUMBERS)]),
    "predecessor": _table([(_n[i], _n[(i - 1) % N_NUMBERS]) for i in range(N_NUMBERS)]),
    "antonym": _table([(WORD_TOKENS[2 * i + j], WORD_TOKENS[2 * i + 1 - j]) for i in range(12) for j in range(2)]),
    "case": _table([*zip(LOWER_TOKENS, UPPER_TOKENS, strict=True), *zip(UPPER_TOKENS, LOWER_TOKENS, strict=True)]),
    "copy": _table([(t, t) for tokens in DOMAINS.values() for t in tokens]),
}
TASK_NAMES = list(TASKS)
TASK_DOMAINS = {"successor": ["numbers"], "predecessor": ["numbers"], "antonym": ["words"], "case": ["letters"]}
TASK_DOMAINS["copy"] = list(DOMAINS)


def apply_task(task: str, x: Int[Tensor, "*shape"]) -> Int[Tensor, "*shape"]:
    return TASKS[task][x]


@dataclass
class ICLBatch:
    """Prompts of one task with their answers; `inputs`/`labels` are the demonstrations, `query` the last input."""

    tokens: Int[Tensor, "batch pos"]
    answers: Int[Tensor, " batch"]
    inputs: Int[Tensor, "batch k"]
    labels: Int[Tensor, "batch k"]
    query: Int[Tensor, " batch"]


def sample_inputs(task: str, batch: int, n: int, generator: torch.Generator) -> Int[Tensor, "batch n"]:
    """`n` distinct inputs per row from one domain of the task (drawn per row when the task has several)."""
    names = TASK_DOMAINS[task]
    pick = torch.randint(len(names), (batch,), generator=generator)
    rows = []
    for b in range(batch):
        domain = torch.tensor(DOMAINS[names[pick[b]]])
        rows.append(domain[torch.randperm(len(domain), generator=generator)[:n]])
    return torch.stack(rows)


def derangement(n: int, generator: torch.Generator) -> Tensor:
    """A uniformly random permutation of 0..n-1 with no fixed point (by rejection; about e tries)."""
    if n < 2:
        raise ValueError("a derangement needs at least two elements")
    while True:
        perm = torch.randperm(n, generator=generator)
        if (perm != torch.arange(n)).all():
            return perm


def layout(inputs: Int[Tensor, "batch k"], labels: Int[Tensor, "batch k"], query: Int[Tensor, " batch"]) -> Tensor:
    """`[BOS, x_1, →, y_1, ;, …, x_k, →, y_k, ;, x_q, →]`, shape (batch, 4k + 3)."""
    batch, k = inputs.shape
    demos = torch.stack([inputs, torch.full_like(inputs, ARROW), labels, torch.full_like(inputs, SEP)], dim=2)
    bos = torch.full((batch, 1), BOS)
    tail = torch.stack([query, torch.full_like(query, ARROW)], dim=1)
    return torch.cat([bos, demos.reshape(batch, 4 * k), tail], dim=1)


def icl_batch(task: str, batch: int, k: int, generator: torch.Generator, form: str = "clean") -> ICLBatch:
    """`batch` prompts of `task` with `k` demonstrations; `form` is "clean", "shuffled" (labels deranged among the
    demonstrations) or "zero_shot" (`[BOS, x_q, →]`; the demonstrations are drawn but not shown)."""
    x = sample_inputs(task, batch, k + 1, generator)
    inputs, query = x[:, :k], x[:, k]
    labels = apply_task(task, inputs)
    if form == "shuffled":
        labels = torch.stack([row[derangement(k, generator)] for row in labels])
    elif form == "zero_shot":
        inputs, labels = inputs[:, :0], labels[:, :0]
    elif form != "clean":
        raise ValueError(f"unknown form {form!r}")
    return ICLBatch(layout(inputs, labels, query), apply_task(task, query), inputs, labels, query)


def training_batch(batch: int, k: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Clean sequences of `k` demonstrations plus a query, one random task per row, with the targets: the label
    after every `→` (so one sequence trains 0, 1, …, k demonstrations at once), -1 elsewhere."""
    task_of_row = torch.randint(len(TASK_NAMES), (batch,), generator=generator)
    tokens = torch.empty(batch, 4 * k + 3, dtype=torch.long)
    answers = torch.empty(batch, dtype=torch.long)
    for t, task in enumerate(TASK_NAMES):
        rows = (task_of_row == t).nonzero().squeeze(1)
        if len(rows):
            b = icl_batch(task, len(rows), k, generator)
            tokens[rows], answers[rows] = b.tokens, b.answers
    targets = torch.full_like(tokens, -1)
    arrows = tokens[:, :-1] == ARROW  # position p predicts token p + 1
    targets[:, :-1][arrows] = tokens[:, 1:][arrows]
    targets[:, -1] = answers
    return tokens, targets
