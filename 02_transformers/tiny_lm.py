"""Day 17's trained character-level model, for the days and tests that study it.

The checkpoint lives beside day 17's notebook (`daily_logs/day-017-training-a-tiny-language-model/`), found from
this package's location rather than the working directory, so it loads wherever a notebook runs (the test suite
executes each day in a temporary copy of its folder). If the training code has changed since the checkpoint was
made, `train_cached` retrains it there first.
"""

from __future__ import annotations

from pathlib import Path

from mechlearn.transformers.model import DemoTransformer
from mechlearn.transformers.training import CharTokenizer, corpus_text, train_cached

TINY_LM_DIR = Path(__file__).resolve().parents[1] / "daily_logs" / "day-017-training-a-tiny-language-model"


def load_tiny_lm() -> tuple[DemoTransformer, CharTokenizer, dict]:
    """The trained model (eval mode), its tokenizer and its training history."""
    model, history = train_cached(TINY_LM_DIR, progress=False)
    return model, CharTokenizer(corpus_text()), history
