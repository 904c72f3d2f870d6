"""Day 96's learned proxy reward: the true rule, the Bradley–Terry loss and pairs against hand computations, and the
day's claims read from the committed artefacts (reward model and PPO runs against it). `-m slow` refits the reward
model and runs PPO against it with tiny settings."""

import json
import math
from collections import Counter

import pytest
import torch
from mechlearn.rl.proxy_reward import (
    DAY_DIR,
    DEPENDS_ON,
    RewardModelArgs,
    bradley_terry_loss,
    char_counts,
    fit_reward_model,
    preference_pairs,
    proxy_args,
    sentence_end_reward,
    train_against,
)
from mechlearn.transformers.training import CharTokenizer

from mechlearn.artefacts import is_current


def test_true_rule_counts_only_stops_after_a_letter_before_whitespace():
    """Hand case: in "Hi. ok.. end.\\n x." only "i. " and "d.\\n" end sentences ("k.." and a final "x." do not)."""
    assert sentence_end_reward(["Hi. ok.. end.\n x.", "....", ""]).tolist() == [2.0, 0.0, 0.0]


def test_bradley_terry_loss_matches_a_hand_computation():
    """-(log sigma(1 - 0) + log sigma(0 - 2)) / 2 = (0.313262 + 2.126928) / 2, to 1e-6; a loss with the pair's order
    swapped gives 1.720 instead."""
    expected = (math.log1p(math.exp(-1.0)) + math.log1p(math.exp(2.0))) / 2
    loss = bradley_terry_loss(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0]))
    assert float(loss) == pytest.approx(expected, abs=1e-6)


def test_preference_pairs_put_the_higher_true_reward_first_and_skip_ties():
    true = torch.tensor([0.0, 1.0, 0.0, 2.0, 1.0])
    pairs = preference_pairs(true, 50, seed=0)
    assert torch.all(true[pairs[:, 0]] > true[pairs[:, 1]]), "a pair is a tie or labelled the wrong way round"


def test_char_counts_match_a_counter():
    tokenizer = CharTokenizer("ab. c\n")
    counts = char_counts(["a.a. ", "cc\n"], tokenizer)
    for row, text in zip(counts, ["a.a. ", "cc\n"], strict=True):
        expected = Counter(text)
        assert {c: int(row[tokenizer.index[c]]) for c in tokenizer.chars} == {c: expected[c] for c in tokenizer.chars}


def fit() -> dict:
    return json.loads((DAY_DIR / "reward_model.json").read_text())


def run(reward: str, beta: float, seed: int = 0) -> list[dict]:
    return json.loads((DAY_DIR / f"{reward}_beta{beta:g}_seed{seed}.json").read_text())["eval"]


def test_committed_reward_model_is_current_and_accurate_on_held_out_pairs():
    """Day 96: the bag-of-characters model orders >= 90% of held-out rule-labelled pairs correctly."""
    assert is_current(DAY_DIR / "reward_model.json", DEPENDS_ON), "proxy code changed since day 96's runs were made"
    assert fit()["heldout_accuracy"] >= 0.9


@pytest.mark.parametrize("beta", [0.0, 0.1])
@pytest.mark.parametrize("seed", [0, 1])
def test_true_reward_peaks_and_falls_while_the_proxy_climbs(beta, seed):
    """Day 96: against the proxy the true reward at least triples from the start to its peak, then ends below half
    its peak, while the proxy ends more than 20 times higher than it started."""
    ev = run("proxy", beta, seed)
    peak = max(e["true"] for e in ev)
    assert peak >= 3 * ev[0]["true"] and ev[-1]["true"] <= 0.5 * peak
    assert ev[-1]["proxy"] >= 20 * ev[0]["proxy"]


def test_trained_on_the_rule_the_true_reward_keeps_rising():
    """Day 96's control: PPO on the rule at beta = 0.1 ends at >= 1.5 sentence ends, its highest measurement at the
    last or second-to-last evaluation."""
    ev = run("true", 0.1)
    assert ev[-1]["true"] >= 1.5 and max(e["true"] for e in ev) in (ev[-1]["true"], ev[-2]["true"])


@pytest.mark.slow
def test_reward_model_refits_to_the_committed_weights():
    assert fit_reward_model(RewardModelArgs())["w"] == pytest.approx(fit()["w"], abs=1e-5)


@pytest.mark.slow
def test_ppo_against_the_proxy_runs_with_tiny_settings():
    from mechlearn.rl.proxy_reward import reward_model

    proxy = reward_model()[1]
    args = proxy_args(0.0, 0)
    args.iterations, args.batch_size, args.n_eval_prompts, args.eval_every = 3, 8, 8, 3
    log, weights = train_against(proxy, proxy, args)
    assert log["eval"][0]["kl"] == 0.0 and log["eval"][-1]["kl"] > 0.0 and "unembed.W_U" in str(list(weights))
