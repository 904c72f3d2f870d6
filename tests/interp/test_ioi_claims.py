"""Day 70's committed IOI model does what days 70 and 74 record; slow: retraining from the seed does too."""

import json
from pathlib import Path

import pytest
from mechlearn.interp.ioi import TEMPLATES, IOIPrompts, split_prompts
from mechlearn.interp.ioi_circuit import CIRCUIT, circuit_logit_diff, template_means
from mechlearn.interp.ioi_model import (
    IOIModelConfig,
    checkpoint_dir,
    ioi_metrics,
    load_ioi_model,
    make_model,
    train_ioi_model,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
DAY74 = Path(checkpoint_dir()).parent / "day-074-is-it-the-circuit-faithfulness-completeness-and"


def recorded(folder: Path) -> dict:
    return {k: v["value"] for k, v in json.loads((folder / "results.json").read_text()).items()}


@pytest.fixture(scope="module")
def model():
    return load_ioi_model()[0]


def test_a_quarter_of_day_70s_prompts_agrees_with_its_recorded_accuracy_and_logit_difference(model):
    """The first 250 of day 70's 1000 prompts (seed 70; a quarter, to stay cheap): with 100.0% recorded, every one
    must have IO above S, and their mean logit difference must be within 10% of the recorded mean. Catches a
    checkpoint or data generator that changed under the day; the exact check on all 1000 is slow-marked below."""
    rec = recorded(checkpoint_dir())
    clean = split_prompts("train names, train templates", 1000, seed=70)[0]
    quarter = IOIPrompts(clean.tokens[:250], clean.io[:250], clean.s[:250], clean.template[:250], clean.abba[:250])
    result = ioi_metrics(model, quarter)
    assert rec["accuracy"] == 1.0 and result["accuracy"] == 1.0
    assert result["logit_diff"] == pytest.approx(rec["logit_diff"], rel=0.1)


@pytest.mark.slow
def test_logit_difference_and_accuracy_are_those_day_70_records(model):
    rec = recorded(checkpoint_dir())
    train = ioi_metrics(model, split_prompts("train names, train templates", 1000, seed=70)[0])
    assert train["logit_diff"] == pytest.approx(rec["logit_diff"], abs=1e-4)
    assert train["accuracy"] == pytest.approx(rec["accuracy"], abs=1e-9)


@pytest.mark.slow
def test_held_out_name_accuracy_is_the_one_day_70_records(model):
    held = ioi_metrics(model, split_prompts("held-out names", 1000, seed=70)[0])
    assert held["accuracy"] == pytest.approx(recorded(checkpoint_dir())["accuracy_heldout_names"], abs=1e-9)


@pytest.mark.slow
def test_circuit_faithfulness_is_the_share_day_74_records(model):
    """About 1 s on one core (the ABC means over 1500 prompts), hence slow."""
    rec = recorded(DAY74)
    clean, _ = split_prompts("train names, train templates", 500, seed=74)
    _, abc = split_prompts("train names, train templates", 1500, seed=740)
    means = template_means(model, abc, len(TEMPLATES))
    heads = {(l, h) for l in range(model.cfg.n_layers) for h in range(model.cfg.n_heads)}
    f_circuit = circuit_logit_diff(model, clean, means, set(CIRCUIT))
    f_model = circuit_logit_diff(model, clean, means, heads)
    assert f_circuit / f_model == pytest.approx(rec["faithfulness"], abs=1e-4)


@pytest.mark.slow
def test_retraining_from_the_seed_learns_ioi():
    """2,500 steps, minutes on one core: the committed config reaches over 90% accuracy on fresh prompts."""
    cfg = IOIModelConfig()
    weights, _ = train_ioi_model(cfg, progress=False)
    result = ioi_metrics(make_model(cfg, weights), split_prompts("train names, train templates", 500, seed=7)[0])
    assert result["accuracy"] > 0.9 and result["logit_diff"] > 2.0
