"""Adversarial bracket strings, built from the shortcut checks of day 63, and a classifier trained with them (day 64).

An adversarial string here is unbalanced but passes all three shortcut checks (even length, starts with `(`, ends
with `)`), so a classifier that relies on them calls it balanced. Two families, one per missing check:

- **counts off by two**: one inner bracket of a balanced string flipped (`)`→`(` ends at $+2$ and never dips;
  `(`→`)` ends at $-2$), so the length stays even and the ends stay as they were;
- **middle dip**: `)(` inserted where a balanced string is at elevation 0, but not at either end, so the elevation
  dips to $-1$ once, in the middle, and the counts still match.

The hardened classifier is day 61's recipe (one cycle of 20 epochs, peak learning rate 1e-3) trained on day 61's
100,000 strings plus `N_ADVERSARIAL` strings of these families, and scored on day 61's held-out strings and on fresh
adversarial ones; `brackets_recipes` holds the two controls that make one of those changes each.
"""

from __future__ import annotations

import random
from pathlib import Path

from mechlearn.interp.brackets import MAX_LEN, _dyck, is_balanced, train_test_split
from mechlearn.interp.brackets_mechanism import dip_at
from mechlearn.interp.brackets_model import DEPENDS_ON, BracketsConfig, make_model, train_brackets_model
from transformer_lens import HookedTransformer

from mechlearn.artefacts import cached_json, cached_tensors

FAMILIES = ("counts off by two", "middle dip")
N_ADVERSARIAL = 20_000  # added to day 61's 100,000 training strings
HARDENED_DAY = "day-064-adversarial-brackets-and-training-on-them"
WEIGHTS, CURVE = "hardened_model.safetensors", "hardened_training_curve.json"


def counts_off_by_two(rng: random.Random, max_len: int = MAX_LEN) -> str:
    """A balanced string of 2 to `max_len // 2` pairs with one inner bracket flipped."""
    d = _dyck(rng.randint(2, max_len // 2), rng)
    i = rng.randint(1, len(d) - 2)
    return d[:i] + ("(" if d[i] == ")" else ")") + d[i + 1 :]


def middle_dip(rng: random.Random, max_len: int = MAX_LEN) -> str:
    """`dip_at(n, k)` with even $n \\ge 6$ and the dip after a balanced prefix of $k \\ge 2$ brackets, leaving a
    balanced suffix of at least 2."""
    n = 2 * rng.randint(3, max_len // 2)
    k = 2 * rng.randint(1, (n - 4) // 2)
    return dip_at(n, k, rng)


def adversarial_strings(n: int, seed: int, family: str | None = None, max_len: int = MAX_LEN) -> list[str]:
    """`n` unbalanced strings that pass every shortcut check, from one family or (None) alternating both."""
    if family is not None and family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, not {family!r}")
    rng = random.Random(seed)
    make = {"counts off by two": counts_off_by_two, "middle dip": middle_dip}
    out = []
    for i in range(n):
        s = make[family or FAMILIES[i % 2]](rng, max_len)
        assert len(s) % 2 == 0 and s[0] == "(" and s[-1] == ")" and not is_balanced(s), s  # passes every shortcut
        out.append(s)
    return out


def hardened_config() -> BracketsConfig:
    """Day 61's model and recipe, one cycle, at a third of day 61's peak learning rate (3e-3 kept the shortcut)."""
    return BracketsConfig(cycles=1, lr=1e-3)


def hardened_data(cfg: BracketsConfig) -> tuple[list[str], list[str]]:
    """Day 61's training strings plus `N_ADVERSARIAL` adversarial ones (seed 640); day 61's held-out strings."""
    train, test = train_test_split(cfg.n_train, cfg.n_test, cfg.seed)
    return train + adversarial_strings(N_ADVERSARIAL, seed=640), test


def train_or_load_hardened(folder: Path | None = None, progress: bool = False) -> tuple[HookedTransformer, dict]:
    """(model, curve) of the hardened classifier from `folder` (day 64's) if current, else trained and saved."""
    folder = Path(__file__).resolve().parents[1] / "daily_logs" / HARDENED_DAY if folder is None else Path(folder)
    cfg = hardened_config()
    depends_on = [*DEPENDS_ON, "mechlearn.interp.brackets_mechanism", "mechlearn.interp.brackets_adversarial"]
    made: dict = {}

    def make_weights() -> dict:
        made["weights"], made["curve"] = train_brackets_model(cfg, progress=progress, data=hardened_data(cfg))
        return made["weights"]

    weights = cached_tensors(folder / WEIGHTS, make_weights, depends_on)
    if made:  # just trained: an old curve belongs to old weights
        (folder / CURVE).unlink(missing_ok=True)
    curve = cached_json(folder / CURVE, lambda: made["curve"], depends_on)
    return make_model(cfg, weights), curve
