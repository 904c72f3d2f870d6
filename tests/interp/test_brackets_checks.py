"""Shortcut checks, attribution at [START], the hand-built classifier and adversarial strings (days 63-64)."""

import random

import pytest
import torch
from mechlearn.interp.brackets import is_balanced, make_dataset, tokenize
from mechlearn.interp.brackets_adversarial import FAMILIES, adversarial_strings, counts_off_by_two, middle_dip
from mechlearn.interp.brackets_checks import (
    SHORTCUTS,
    DirectionClassifier,
    attribution_constant,
    decode_r2,
    neuron_attribution,
    shortcut_balanced,
    start_attribution,
)
from mechlearn.interp.brackets_model import BracketsConfig, make_model

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

EVERY_UP_TO_10 = [format(i, f"0{n}b").replace("0", "(").replace("1", ")") for n in range(1, 11) for i in range(2**n)]


def test_no_balanced_string_fails_a_shortcut_check_and_each_check_catches_its_own_case():
    """A check with its sign flipped (e.g. 'ends with )') would call balanced strings unbalanced."""
    assert all(shortcut_balanced(s) for s in EVERY_UP_TO_10 if is_balanced(s))
    assert [name for name, check in SHORTCUTS.items() if check(")(()")] == ["starts with )"]
    assert [name for name, check in SHORTCUTS.items() if check("()((")] == ["ends with ("]
    assert [name for name, check in SHORTCUTS.items() if check("(()")] == ["odd length"]
    assert shortcut_balanced("(((())") and shortcut_balanced("())(()")  # unbalanced, yet pass every check


@pytest.fixture(scope="module")
def random_model():
    torch.manual_seed(0)
    model = make_model(BracketsConfig(d_model=16, d_head=8, d_mlp=16, seed=3))
    with torch.no_grad():  # LayerNorm weights away from 1, so a missing w_LN shows
        model.ln_final.w.uniform_(0.5, 2.0)
        model.ln_final.b.normal_()
    return model


def test_component_terms_plus_the_constant_are_the_logit_difference(random_model):
    """Leaving out LayerNorm's weight, its centring, or the heads' b_O breaks this sum."""
    strings = make_dataset(64, seed=1)
    terms, labels, d_unbal = start_attribution(random_model, strings)
    assert len(labels) == terms.shape[0] and "b_O" in labels and "L1H0" in labels
    err = (terms.sum(0) + attribution_constant(random_model) - d_unbal).abs().max()
    assert err < 1e-4, f"component terms miss the logit difference by {err:.2e}"


def test_neuron_terms_plus_the_bias_are_the_mlp_term(random_model):
    strings = make_dataset(64, seed=2)
    terms, labels, _ = start_attribution(random_model, strings)
    _, cache = random_model.run_with_cache(tokenize(strings), names_filter="ln_final.hook_scale")
    sigma = cache["ln_final.hook_scale"][:, 0, 0]
    u = random_model.ln_final.w * (random_model.W_U[:, 0] - random_model.W_U[:, 1])
    for layer in range(random_model.cfg.n_layers):
        b_term = (random_model.b_out[layer] - random_model.b_out[layer].mean()) @ u / sigma
        total = neuron_attribution(random_model, strings, layer).sum(0) + b_term
        assert (total - terms[labels.index(f"{layer}_mlp_out")]).abs().max() < 1e-4


def test_direction_classifier_recovers_planted_thresholds():
    g = torch.Generator().manual_seed(0)
    terms = torch.randn(3, 500, generator=g)
    target = (terms[0] > 0.3) | (terms[2] > -0.5)
    clf = DirectionClassifier.fit(terms, [0, 2], target)
    assert (clf.predict_unbalanced(terms) == target).all()
    assert abs(clf.thresholds[0] - 0.3) < 0.05 and abs(clf.thresholds[1] + 0.5) < 0.05


@pytest.mark.parametrize("family", FAMILIES)
def test_adversarial_strings_are_unbalanced_and_pass_every_shortcut(family):
    strings = adversarial_strings(400, seed=5, family=family)
    assert all(shortcut_balanced(s) and not is_balanced(s) for s in strings)
    assert len(set(strings)) > 300, "the generator repeats itself"
    counts_match = [s.count("(") == s.count(")") for s in strings]
    assert all(counts_match) if family == "middle dip" else not any(counts_match)


def test_each_family_generator_keeps_the_ends_and_an_unknown_family_is_refused():
    rng = random.Random(0)
    for make in (counts_off_by_two, middle_dip):
        for _ in range(200):
            s = make(rng)
            assert s[0] == "(" and s[-1] == ")" and len(s) % 2 == 0 and len(s) <= 40
    with pytest.raises(ValueError, match="family must be one of"):
        adversarial_strings(3, seed=0, family="dip")


def test_decode_r2_is_scored_on_rows_the_fit_never_saw():
    """An exact linear signal reads back perfectly, even through a rank-deficient x (a head's output); pure noise
    in 40 dimensions and 100 rows scores below zero held out, where an in-sample R^2 would be about 0.4."""
    from mechlearn.interp.brackets_mechanism import r2_score

    g = torch.Generator().manual_seed(0)
    y = torch.rand(200, generator=g)
    x = y[:, None] * torch.randn(1, 56, generator=g) + torch.randn(1, 56, generator=g)  # rank 1 plus a constant
    assert decode_r2(x, y) > 1 - 1e-6
    noise, target = torch.randn(100, 40, generator=g), torch.randn(100, generator=g)
    assert r2_score(noise, target[:, None]) > 0.3  # what an in-sample score would report
    assert decode_r2(noise, target) < 0.0
