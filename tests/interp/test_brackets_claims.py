"""The committed bracket classifier (day 61's checkpoint) does what days 61-64 claim; slow: retraining does too."""

import json

import pytest
import torch
from mechlearn.interp.brackets import is_balanced, make_dataset
from mechlearn.interp.brackets_model import checkpoint_dir, load_trained_model, predict

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _results(day_prefix: str) -> dict:
    folder = next(checkpoint_dir().parent.glob(f"{day_prefix}-*"))
    return {k: v["value"] for k, v in json.loads((folder / "results.json").read_text()).items()}


@pytest.fixture(scope="module")
def model():
    return load_trained_model()[0]


def test_day_61_quotes_the_committed_curve_and_the_hard_class_is_the_weak_one():
    """Day 61 reports 91.6% held-out (short of 99%), with the negative-prefix class far below the others."""
    final = json.loads((checkpoint_dir() / "training_curve.json").read_text())["final"]
    quoted = _results("day-061")
    assert abs(quoted["heldout_accuracy"] - final["all"]) < 1e-6, "day 61 quotes another run than the checkpoint"
    assert abs(quoted["accuracy_negative_prefix"] - final["negative_prefix"]) < 1e-6
    assert final["all"] >= 0.9 and final["negative_prefix"] < min(final[c] for c in ("balanced", "unclosed", "both"))


def test_committed_weights_classify_fresh_strings(model):
    """Guards against a checkpoint saved from the wrong model (or loaded without its padding mask)."""
    strings = make_dataset(60, seed=2024)
    correct = (predict(model, strings) == torch.tensor([is_balanced(s) for s in strings])).float().mean()
    assert correct >= 0.9, f"committed weights get only {correct:.3f} of fresh strings right"


@pytest.mark.slow
def test_retraining_with_the_same_seed_reproduces_the_checkpoint():
    from mechlearn.interp.brackets_model import BracketsConfig, train_brackets_model

    cfg = BracketsConfig(**json.loads((checkpoint_dir() / "training_curve.json").read_text())["config"])
    _, curve = train_brackets_model(cfg)
    committed = json.loads((checkpoint_dir() / "training_curve.json").read_text())
    worst = max(abs(a - b) for a, b in zip(curve["loss"], committed["loss"], strict=True))
    assert worst < 1e-3, "training with the same seed does not reproduce the committed curve"
    assert abs(curve["final"]["all"] - committed["final"]["all"]) < 2e-3


def test_day_62_hub_head_reads_the_first_bracket_and_a_leading_close_is_always_unbalanced(model):
    """Day 62: on even-length strings head 1.0 attends from [START] to position 1 (on odd-length ones, unbalanced
    whatever their order, it mostly does not); strings starting with ')' are all called unbalanced."""
    from mechlearn.interp.brackets import tokenize

    strings = [s for s in make_dataset(300, seed=620) if len(s) % 2 == 0][:60]
    with torch.no_grad():
        _, cache = model.run_with_cache(tokenize(strings), names_filter="blocks.1.attn.hook_pattern")
    assert cache["pattern", 1][:, 0, 0, 1].mean() > 0.85, "head 1.0 no longer reads the first bracket from [START]"
    leading_close = [")" + s[1:] for s in strings if s[0] == "("][:40]
    assert not predict(model, leading_close).any(), "a string starting with ')' was called balanced"
    assert _results("day-062")["neg_acc_first"] == 1.0
