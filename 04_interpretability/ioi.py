"""Indirect-object identification (IOI) data: a word-level vocabulary, IOI prompts and filler sentences.

Wang et al. (2023), "Interpretability in the wild": in "When Mary and John went to the store, John gave a drink to",
a language model completes the *indirect object* Mary (IO), not the subject John (S), who appears twice (S1, S2).
Two orders: ABBA (IO first: "Mary and John ... John ... to") and BABA (S first: "John and Mary ... John ... to").
The "ABC" distribution replaces the three name slots by three different names, so nothing is duplicated and the
prompt carries no information about which name to copy; it is the corruption for patching and the mean for ablation.

Every template here has the same slot layout (after BOS): name A at position 2, name B at 4, S2 at 10, the final
"to" (END) at 14; templates differ in their words. Names are single tokens (as in GPT-2, where Wang et al. kept
only single-token names). Training text is a stream of sentences — mostly filler from a small grammar, some
complete IOI sentences — so the model is a language model that also meets IOI, not a classifier.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

import torch
from jaxtyping import Int
from torch import Tensor

BOS = "<bos>"
TEMPLATES = [  # {A} {B}: the two names of the first clause; {S}: the repeated subject; 14 words each
    "When {A} and {B} went to the {PLACE} , {S} gave a {OBJECT} to",
    "Then {A} and {B} were at the {PLACE} , {S} handed a {OBJECT} to",
    "After {A} and {B} arrived at the {PLACE} , {S} brought a {OBJECT} to",
    "While {A} and {B} sat in the {PLACE} , {S} passed a {OBJECT} to",
    "Once {A} and {B} walked into the {PLACE} , {S} offered a {OBJECT} to",
    "Friends {A} and {B} met at the {PLACE} , {S} sent a {OBJECT} to",
    "Today {A} and {B} ran to the {PLACE} , {S} threw a {OBJECT} to",
    "Later {A} and {B} stayed at the {PLACE} , {S} showed a {OBJECT} to",
    "Yesterday {A} and {B} worked at the {PLACE} , {S} lent a {OBJECT} to",
    "Because {A} and {B} waited at the {PLACE} , {S} sold a {OBJECT} to",
    "When {A} and {B} got to the {PLACE} , {S} mailed a {OBJECT} to",
    "Then {A} and {B} left the big {PLACE} , {S} gave the {OBJECT} to",
    "So {A} and {B} cleaned the old {PLACE} , {S} tossed the {OBJECT} to",  # held out from here on
    "Soon {A} and {B} visited the new {PLACE} , {S} returned the {OBJECT} to",
    "After {A} and {B} painted the {PLACE} together , {S} gave a {OBJECT} to",
]
N_TRAIN_TEMPLATES = 12
POS_A, POS_B, POS_S2, POS_END = 2, 4, 10, 14  # token positions, BOS at 0
PLACES = "store park school garden house beach office market library station kitchen farm river hotel cafe".split()
OBJECTS = "drink book ball letter apple gift key ring hat pen cake bag card toy flower".split()
FILLER = [  # {N}, {M}: random names (any, held-out ones included; IOI sentences use training names only)
    "{N} went to the {PLACE} .",
    "{N} likes the {OBJECT} .",
    "the {OBJECT} is in the {PLACE} .",
    "{N} and {M} went to the {PLACE} .",
    "{N} gave a {OBJECT} to {M} .",
    "{N} said hello to {M} .",
    "{N} saw {M} at the {PLACE} .",
    "{N} is happy .",
    "{N} found a {OBJECT} in the {PLACE} .",
    "{N} called {M} .",
    "{N} met {M} , and {M} smiled .",  # a name repeated: copying from context, for every name
    "{N} called {M} , then {N} left .",
]
N_NAMES, N_TRAIN_NAMES = 300, 240


def make_names(n: int = N_NAMES, seed: int = 0) -> list[str]:
    """`n` distinct two-syllable names (consonant-vowel + consonant-vowel-consonant), in a seeded order."""
    onsets, vowels, codas = "BDKLMNPRSTVZ", "aeiou", "lnrs"
    first = [c + v for c in onsets for v in vowels]
    second = [c.lower() + v + k for c in onsets for v in vowels for k in codas]
    names = [a + b for a, b in itertools.product(first, second)]
    random.Random(seed).shuffle(names)
    return names[:n]


NAMES = make_names()
TRAIN_NAMES, HELDOUT_NAMES = NAMES[:N_TRAIN_NAMES], NAMES[N_TRAIN_NAMES:]


def _words() -> list[str]:
    words = {w for t in TEMPLATES + FILLER for w in t.split() if not w.startswith("{")}
    return [BOS, *sorted(words), *PLACES, *OBJECTS, *NAMES]


VOCAB = _words()
TOKEN = {w: i for i, w in enumerate(VOCAB)}
NAME_IDS = torch.tensor([TOKEN[n] for n in NAMES])


def encode(text: str) -> list[int]:
    return [TOKEN[w] for w in text.split()]


def decode(ids) -> str:
    return " ".join(VOCAB[i] for i in ids)


@dataclass
class IOIPrompts:
    """A batch of IOI prompts `[BOS, 14 words]`, all with the slot layout above."""

    tokens: Int[Tensor, "batch 15"]
    io: Int[Tensor, " batch"]  # the indirect object's token (the answer)
    s: Int[Tensor, " batch"]  # the subject's token (the wrong answer)
    template: Int[Tensor, " batch"]
    abba: Tensor  # bool: IO is name A (position 2); else BABA, IO at position 4

    @property
    def io_pos(self) -> Tensor:
        return torch.where(self.abba, POS_A, POS_B)

    @property
    def s1_pos(self) -> Tensor:
        return torch.where(self.abba, POS_B, POS_A)


def _fill(template: str, rng: random.Random, **names) -> str:
    return template.format(PLACE=rng.choice(PLACES), OBJECT=rng.choice(OBJECTS), **names)


def _prompt(template: int, place: str, obj: str, a: str, b: str, s: str) -> list[int]:
    return [TOKEN[BOS], *encode(TEMPLATES[template].format(A=a, B=b, S=s, PLACE=place, OBJECT=obj))]


def ioi_prompts(n: int, names: list[str], templates: list[int], seed: int) -> tuple[IOIPrompts, IOIPrompts]:
    """`n` clean prompts (half ABBA, half BABA, alternating) and their ABC corruptions.

    The ABC prompt of example `i` keeps its template, place and object and puts three new distinct names (none of
    the clean prompt's two) into slots A, B and S2.
    """
    rng = random.Random(seed)
    rows, abc_rows, io, s, tmpl, abba = [], [], [], [], [], []
    for i in range(n):
        t = templates[rng.randrange(len(templates))]
        io_name, s_name, *others = rng.sample(names, 5)  # others: the ABC names
        is_abba = i % 2 == 0
        a, b = (io_name, s_name) if is_abba else (s_name, io_name)
        place, obj = rng.choice(PLACES), rng.choice(OBJECTS)
        rows.append(_prompt(t, place, obj, a, b, s_name))
        abc_rows.append(_prompt(t, place, obj, *others))
        io.append(TOKEN[io_name])
        s.append(TOKEN[s_name])
        tmpl.append(t)
        abba.append(is_abba)
    meta = dict(io=torch.tensor(io), s=torch.tensor(s), template=torch.tensor(tmpl), abba=torch.tensor(abba))
    return IOIPrompts(torch.tensor(rows), **meta), IOIPrompts(torch.tensor(abc_rows), **meta)


def ioi_sentence(rng: random.Random) -> list[int]:
    """One training IOI sentence with its answer: a training template, training names, ABBA or BABA."""
    io_name, s_name = rng.sample(TRAIN_NAMES, 2)
    a, b = (io_name, s_name) if rng.random() < 0.5 else (s_name, io_name)
    text = _fill(TEMPLATES[rng.randrange(N_TRAIN_TEMPLATES)], rng, A=a, B=b, S=s_name)
    return encode(f"{text} {io_name} .")


def filler_sentence(rng: random.Random) -> list[int]:
    n, m = rng.sample(NAMES, 2)
    return encode(_fill(rng.choice(FILLER), rng, N=n, M=m))


def training_stream(batch: int, n_ctx: int, p_ioi: float, rng: random.Random) -> Int[Tensor, "batch n_ctx"]:
    """`[BOS, sentence, sentence, …]` cut to `n_ctx`; each sentence is IOI with probability `p_ioi`."""
    rows = []
    for _ in range(batch):
        row = [TOKEN[BOS]]
        while len(row) < n_ctx:
            row += ioi_sentence(rng) if rng.random() < p_ioi else filler_sentence(rng)
        rows.append(row[:n_ctx])
    return torch.tensor(rows)


SPLITS = {  # name pool × template pool of each evaluation split
    "train names, train templates": (TRAIN_NAMES, list(range(N_TRAIN_TEMPLATES))),
    "held-out names": (HELDOUT_NAMES, list(range(N_TRAIN_TEMPLATES))),
    "held-out templates": (TRAIN_NAMES, list(range(N_TRAIN_TEMPLATES, len(TEMPLATES)))),
    "both held out": (HELDOUT_NAMES, list(range(N_TRAIN_TEMPLATES, len(TEMPLATES)))),
}


def split_prompts(split: str, n: int, seed: int) -> tuple[IOIPrompts, IOIPrompts]:
    names, templates = SPLITS[split]
    return ioi_prompts(n, names, templates, seed)
