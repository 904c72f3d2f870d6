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


def test_day_64_adversarial_strings_fool_the_committed_model_and_the_hardened_one_catches_them():
    """Both families fool day 61's model (99.4% recorded); the hardened model catches them, as day 64 says."""
    from mechlearn.interp.brackets_adversarial import FAMILIES, adversarial_strings, train_or_load_hardened

    base, hardened = load_trained_model()[0], train_or_load_hardened()[0]
    quoted = _results("day-064")
    for family, fooled_key, caught_key in zip(
        FAMILIES, ("fooled_counts", "fooled_dip"), ("hardened_counts", "hardened_dip"), strict=True
    ):
        strings = adversarial_strings(300, seed=6464, family=family)
        fooled = predict(base, strings).float().mean().item()
        assert fooled > 0.95 and abs(fooled - quoted[fooled_key]) < 0.03, family
        caught = (~predict(hardened, strings)).float().mean().item()
        assert caught > 0.95 and abs(caught - quoted[caught_key]) < 0.03, f"hardened model on {family}"


def test_day_64_hardened_model_holds_its_recorded_accuracy_and_each_control_falls_short():
    """The recorded 99%+ held-out accuracy is the committed weights'; either change alone leaves a model that
    misses more of the adversarial strings (a control trained with the hardened recipe would not)."""
    from mechlearn.interp.brackets_adversarial import (
        FAMILIES,
        HARDENED_DAY,
        adversarial_strings,
        train_or_load_hardened,
    )
    from mechlearn.interp.brackets_model import BracketsConfig, make_model
    from safetensors.torch import load_file

    hardened = train_or_load_hardened()[0]
    quoted = _results("day-064")
    fresh = make_dataset(600, seed=6466)  # the generator's mix, as the held-out strings are
    truth = torch.tensor([is_balanced(s) for s in fresh])
    acc = (predict(hardened, fresh) == truth).float().mean().item()
    assert acc > 0.99 and quoted["hardened_heldout"] > 0.99
    strings = [s for f in FAMILIES for s in adversarial_strings(100, seed=6465, family=f)]
    caught_h = (~predict(hardened, strings)).float().mean().item()
    controls = sorted((checkpoint_dir().parent / HARDENED_DAY).glob("control_*.safetensors"))
    assert len(controls) == 2
    for path in controls:  # the committed control weights (same architecture as day 61's model)
        caught = (~predict(make_model(BracketsConfig(), load_file(str(path))), strings)).float().mean().item()
        assert caught < caught_h - 0.05, f"{path.name} catches as many adversarial strings as the hardened model"


def test_day_64_the_hardened_model_has_an_elevation_head_and_day_61s_does_not(model):
    """Layer-0 head 0.1 at the first bracket reads the proportion of '(' linearly in the hardened model (R^2 as
    recorded) and attends nearly uniformly; no head of day 61's model does."""
    from mechlearn.interp.brackets import tokenize
    from mechlearn.interp.brackets_adversarial import train_or_load_hardened
    from mechlearn.interp.brackets_checks import decode_r2
    from mechlearn.interp.brackets_mechanism import head_outputs, open_fraction

    hardened = train_or_load_hardened()[0]
    quoted = _results("day-064")
    strings = make_dataset(800, seed=65)

    def read(m, head):
        outs, props = [], []
        for n in sorted({len(s) for s in strings}):
            same = [s for s in strings if len(s) == n]
            outs.append(head_outputs(m, tokenize(same, n_ctx=n + 2))[0][0, head, :, 1])
            props += [open_fraction(s) for s in same]
        return decode_r2(torch.cat(outs), torch.tensor(props))

    head = int(quoted["elevation_head"])
    r2 = read(hardened, head)
    assert r2 > 0.75 and abs(r2 - quoted["elevation_r2"]) < 0.1
    assert max(read(model, h) for h in range(2)) < 0.5


@pytest.mark.slow
def test_retraining_the_hardened_model_reproduces_its_curve():
    from mechlearn.interp.brackets_adversarial import CURVE, HARDENED_DAY, hardened_config, hardened_data
    from mechlearn.interp.brackets_model import train_brackets_model

    cfg = hardened_config()
    _, curve = train_brackets_model(cfg, data=hardened_data(cfg))  # about 17 minutes
    committed = json.loads((checkpoint_dir().parent / HARDENED_DAY / CURVE).read_text())
    worst = max(abs(a - b) for a, b in zip(curve["loss"], committed["loss"], strict=True))
    assert worst < 1e-3 and abs(curve["final"]["all"] - committed["final"]["all"]) < 2e-3


@pytest.mark.slow
def test_retraining_the_learning_rate_control_reproduces_its_curve():
    """Day 64's second control (day 61's data at 1e-3) from its seed: about 14 minutes."""
    from mechlearn.interp.brackets_adversarial import HARDENED_DAY
    from mechlearn.interp.brackets_model import train_brackets_model
    from mechlearn.interp.brackets_recipes import control_config

    _, curve = train_brackets_model(control_config("day 61 data, lr 1e-3"))
    committed = json.loads((checkpoint_dir().parent / HARDENED_DAY / "control_day61_lr1e-3_curve.json").read_text())
    worst = max(abs(a - b) for a, b in zip(curve["loss"], committed["loss"], strict=True))
    assert worst < 1e-3 and abs(curve["final"]["all"] - committed["final"]["all"]) < 2e-3
