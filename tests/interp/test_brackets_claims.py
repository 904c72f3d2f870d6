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
    """Day 61 reports 94.6% held-out (short of 99%), with the negative-prefix class far below the others, and a
    second cycle that ended lower than the first on the monitored strings."""
    curve = json.loads((checkpoint_dir() / "training_curve.json").read_text())
    final = curve["final"]
    quoted = _results("day-061")
    assert abs(quoted["heldout_accuracy"] - final["all"]) < 1e-6, "day 61 quotes another run than the checkpoint"
    assert abs(quoted["accuracy_negative_prefix"] - final["negative_prefix"]) < 1e-6
    assert final["all"] >= 0.9 and final["negative_prefix"] < min(final[c] for c in ("balanced", "unclosed", "both"))
    assert quoted["monitor_final"] == curve["test_accuracy"][-1] < quoted["monitor_cycle1"]


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


def test_day_62_head_0_0_reads_the_first_bracket_and_a_leading_close_is_always_unbalanced(model):
    """Day 62: on length-20 strings head 0.0 attends from the brackets to position 1 and head 2.1 to the last
    bracket; strings starting with ')' are all called unbalanced."""
    from mechlearn.interp.brackets import tokenize

    strings = [s for s in make_dataset(600, seed=620) if len(s) == 20][:40]
    with torch.no_grad():
        _, cache = model.run_with_cache(tokenize(strings), names_filter=lambda n: n.endswith("hook_pattern"))
    assert cache["pattern", 0][:, 0, 2:20, 1].mean() > 0.5, "head 0.0 no longer reads the first bracket"
    assert cache["pattern", 2][:, 1, 1:21, 20].mean() > 0.5, "head 2.1 no longer reads the last bracket"
    leading_close = [")" + s[1:] for s in strings if s[0] == "("]
    assert not predict(model, leading_close).any(), "a string starting with ')' was called balanced"
    assert _results("day-062")["neg_acc_first"] == 1.0


def test_day_63_the_model_agrees_with_the_shortcut_rule_as_recorded(model):
    """The rule 'even length, ( first, ) last' agrees with the committed model on 99.7% of day 61's held-out
    strings; checked on 1,500 fresh strings (the full split takes seconds to generate)."""
    from mechlearn.interp.brackets_checks import shortcut_balanced

    strings = make_dataset(1500, seed=6363)
    rule = torch.tensor([shortcut_balanced(s) for s in strings])
    agree = (predict(model, strings) == rule).float().mean().item()
    assert agree >= 0.98 and abs(agree - _results("day-063")["agree_shortcut"]) < 0.01


def test_day_64_adversarial_strings_fool_the_committed_model_and_the_hardened_one_less():
    """Both families fool day 61's model (99.4% recorded); the hardened model catches more, as day 64 says."""
    from mechlearn.interp.brackets_adversarial import FAMILIES, HARDENED_DAY, WEIGHTS, adversarial_strings
    from mechlearn.interp.brackets_model import BracketsConfig, make_model
    from safetensors.torch import load_file

    base = load_trained_model()[0]
    hardened = make_model(BracketsConfig(), load_file(str(checkpoint_dir().parent / HARDENED_DAY / WEIGHTS)))
    quoted = _results("day-064")
    for family, key in zip(FAMILIES, ("fooled_counts", "fooled_dip"), strict=True):
        strings = adversarial_strings(300, seed=6464, family=family)
        fooled = predict(base, strings).float().mean().item()
        assert fooled > 0.95 and abs(fooled - quoted[key]) < 0.03, family
        assert (~predict(hardened, strings)).float().mean() > 1 - fooled, f"hardening did not help on {family}"


@pytest.mark.slow
def test_retraining_the_hardened_model_reproduces_its_curve():
    from mechlearn.interp.brackets_adversarial import CURVE, HARDENED_DAY, hardened_config, hardened_data
    from mechlearn.interp.brackets_model import train_brackets_model

    cfg = hardened_config()
    _, curve = train_brackets_model(cfg, data=hardened_data(cfg))
    committed = json.loads((checkpoint_dir().parent / HARDENED_DAY / CURVE).read_text())
    worst = max(abs(a - b) for a, b in zip(curve["loss"], committed["loss"], strict=True))
    assert worst < 1e-3 and abs(curve["final"]["all"] - committed["final"]["all"]) < 2e-3
