"""Balanced-bracket data: strings of `(` and `)`, their labels, their failure classes and a seeded generator.

A string is balanced when its *elevation* (number of `(` minus number of `)` read so far) never goes below zero and
ends at zero (ARENA 1.5.1, after Redwood's bracket classifier). Write $e_i = \\sum_{j \\le i} (+1 \\text{ for } (,
-1 \\text{ for } ))$; an unbalanced string fails one or both of two checks, which gives the *failure classes*:

| class              | total $e_n = 0$ | every prefix $e_i \\ge 0$ |
|--------------------|-----------------|---------------------------|
| `balanced`         | yes             | yes                       |
| `negative_prefix`  | yes             | no   (e.g. `())(()`)      |
| `unclosed`         | no              | yes  (e.g. `(()`)         |
| `both`             | no              | no   (e.g. `)((`)         |

Uniform random strings are almost all `both`; the generator over-represents the hard cases (a single dip to $-1$
in an otherwise balanced string, a single extra `(`), which differ from a balanced string by one or two characters.

Tokens follow ARENA: `[START] ( ) … [END] [PAD] …`, with ids START=0, PAD=1, END=2, `(`=3, `)`=4.
"""

from __future__ import annotations

import random

import torch
from jaxtyping import Int
from torch import Tensor

START, PAD, END, OPEN, CLOSE = 0, 1, 2, 3, 4
MAX_LEN = 40  # brackets per string; n_ctx = MAX_LEN + 2 (START and END)
CLASSES = ("balanced", "negative_prefix", "unclosed", "both")
MIX = {"balanced": 0.4, "negative_prefix": 0.2, "unclosed": 0.2, "both": 0.2}  # sampling weights per class


def elevations(s: str) -> list[int]:
    """$e_1 \\ldots e_n$: the running count of `(` minus `)` after each character."""
    out, e = [], 0
    for c in s:
        e += 1 if c == "(" else -1
        out.append(e)
    return out


def failure_class(s: str) -> str:
    """One of `CLASSES`, from the two checks (total elevation zero; no prefix below zero)."""
    e = elevations(s)
    closes = not e or e[-1] == 0
    never_negative = not e or min(e) >= 0
    return {(True, True): "balanced", (True, False): "negative_prefix", (False, True): "unclosed"}.get(
        (closes, never_negative), "both"
    )


def is_balanced(s: str) -> bool:
    return failure_class(s) == "balanced"


def tokenize(strings: list[str], n_ctx: int = MAX_LEN + 2) -> Int[Tensor, "batch n_ctx"]:
    """`[START] brackets [END] [PAD]…` for each string, padded to `n_ctx`."""
    out = torch.full((len(strings), n_ctx), PAD, dtype=torch.long)
    for i, s in enumerate(strings):
        if len(s) + 2 > n_ctx:
            raise ValueError(f"string of length {len(s)} does not fit in n_ctx={n_ctx}")
        out[i, 0] = START
        out[i, 1 : len(s) + 1] = torch.tensor([OPEN if c == "(" else CLOSE for c in s], dtype=torch.long)
        out[i, len(s) + 1] = END
    return out


def _dyck(n_pairs: int, rng: random.Random) -> str:
    """A balanced string with `n_pairs` pairs: a shuffled zero-sum string rotated to start just after its lowest
    point (cycle lemma: every prefix of the rotation is then $\\ge 0$)."""
    chars = ["("] * n_pairs + [")"] * n_pairs
    rng.shuffle(chars)
    e = [0, *elevations("".join(chars))]
    cut = e.index(min(e))
    return "".join(chars[cut:] + chars[:cut])


def _zero_points(s: str) -> list[int]:
    """Positions (0..len) between characters where the elevation is 0."""
    return [i for i, e in enumerate([0, *elevations(s)]) if e == 0]


def _sample(cls: str, rng: random.Random, max_len: int) -> str:
    """One string of class `cls`: half hard cases (one or two characters away from balanced), half loose ones."""
    hard = rng.random() < 0.5
    if cls == "balanced":
        return _dyck(rng.randint(1, max_len // 2), rng)
    if cls == "negative_prefix":
        if hard:  # insert ")(" where a balanced string is at elevation 0: dips to -1 once, still closes
            d = _dyck(rng.randint(0, max_len // 2 - 1), rng)
            i = rng.choice(_zero_points(d))
            return d[:i] + ")(" + d[i:]
        n = rng.randint(1, max_len // 2)
        while failure_class(s := "".join(rng.sample("(" * n + ")" * n, 2 * n))) != cls:
            pass
        return s
    if cls == "unclosed":
        d = _dyck(rng.randint(0, max_len // 2 - 1), rng)
        if hard:  # one extra "(" anywhere: never negative, ends at +1, odd length
            i = rng.randint(0, len(d))
            return d[:i] + "(" + d[i:]
        cut = rng.randint(1, max(1, len(d)))  # a prefix of a balanced string, padded with "(" if it closes
        s = d[:cut] + "(" * rng.randint(1, 2)
        return s[:max_len]
    if hard:  # "both": one extra ")" where the elevation is 0: dips to -1 and ends at -1
        d = _dyck(rng.randint(0, max_len // 2 - 1), rng)
        i = rng.choice(_zero_points(d))
        return d[:i] + ")" + d[i:]
    while failure_class(s := "".join(rng.choice("()") for _ in range(rng.randint(1, max_len)))) != cls:
        pass
    return s


def make_dataset(n: int, seed: int, max_len: int = MAX_LEN, mix: dict[str, float] = MIX) -> list[str]:
    """`n` strings, classes drawn with weights `mix`, reproducible from `seed`."""
    rng = random.Random(seed)
    classes = rng.choices(list(mix), weights=list(mix.values()), k=n)
    return [_sample(c, rng, max_len) for c in classes]


def train_test_split(n_train: int, n_test: int, seed: int) -> tuple[list[str], list[str]]:
    """Training strings, and held-out strings none of which occurs in training (short strings, which have few
    variants, therefore appear only in training)."""
    train = make_dataset(n_train, seed)
    seen = set(train)
    test = [s for s in make_dataset(3 * n_test, seed + 1) if s not in seen][:n_test]
    return train, test
