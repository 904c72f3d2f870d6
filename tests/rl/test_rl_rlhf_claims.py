"""Days 92-93's claims about the committed RLHF runs (beta sweep on day 17's model), read from the artefacts.

The runs take minutes each, so days 92-93 cache them as JSON in day 92's folder; these tests read those files
(milliseconds). `pytest -m slow` retrains the beta = 0 run and a tiny smoke run from scratch.
"""

import json

import pytest
from mechlearn.rl.rlhf_ppo import DEPENDS_ON, SWEEP_DIR, RLHFArgs, train_rlhf

from mechlearn.artefacts import is_current

BETAS = [0.0, 0.1, 0.2, 0.5, 1.0, 10.0]


def run(beta: float, seed: int = 0) -> dict:
    return json.loads((SWEEP_DIR / f"rlhf_beta{beta:g}_seed{seed}.json").read_text())


def test_committed_runs_are_current():
    """One run checked against the current code (hashing the modules takes most of a second); the others must have
    been made by the same code."""
    paths = [SWEEP_DIR / f"rlhf_beta{beta:g}_seed0.json" for beta in BETAS]
    assert is_current(paths[0], DEPENDS_ON), "rlhf code changed since the runs were made: re-run day 92"
    made_by = [json.loads(p.with_name(p.name + ".provenance.json").read_text())["modules"] for p in paths]
    assert all(m == made_by[0] for m in made_by), "the runs were made by different versions of the code"


def test_every_run_starts_at_the_reference():
    """Iteration 0 is measured before any update: identical for every beta, with KL 0 (the policy is a copy)."""
    first = [run(beta)["eval"][0] for beta in BETAS]
    assert all(e == first[0] for e in first), "a run's starting policy differs from the reference"
    assert first[0]["kl"] == 0.0


def test_without_the_penalty_the_policy_writes_full_stops_only():
    """Day 93: beta = 0 ends at >= 20 of 24 full stops, trigram diversity near its floor 1/22, the reference's
    bits per character more than 3 times its own."""
    start, end = run(0.0)["eval"][0], run(0.0)["eval"][-1]
    assert end["reward"] >= 20 and end["distinct_3"] <= 0.1
    assert end["ref_bits_per_char"] > 3 * start["ref_bits_per_char"]


def test_smaller_beta_buys_more_reward_at_more_kl():
    """Day 92: final reward and KL both fall as beta rises through 0, 0.1, 0.2, 0.5."""
    ends = [run(beta)["eval"][-1] for beta in [0.0, 0.1, 0.2, 0.5]]
    assert all(a["reward"] > b["reward"] and a["kl"] > b["kl"] for a, b in zip(ends, ends[1:], strict=False))


def test_large_beta_stays_near_the_reference():
    """Day 92: at beta = 10 the KL stays below 6 nats (beta = 0: ~100) and the reward at the reference's level."""
    ev = run(10.0)["eval"]
    assert max(e["kl"] for e in ev) < 6 and ev[-1]["reward"] < 1
    assert ev[-1]["kl"] < 0.1 * run(0.0)["eval"][-1]["kl"]


@pytest.mark.slow
def test_rlhf_smoke_run_learns_from_tiny_settings():
    log = train_rlhf(RLHFArgs(beta=0.0, iterations=4, batch_size=8, n_eval_prompts=8, eval_every=4))
    assert log["eval"][0]["kl"] == 0.0 and log["eval"][-1]["kl"] > 0.0


@pytest.mark.slow
def test_beta0_run_hacks_the_reward_from_scratch():
    log = train_rlhf(RLHFArgs(beta=0.0))
    assert log["eval"][-1]["reward"] >= 20 and log["eval"][-1]["distinct_3"] <= 0.1
