"""Days 94-95's claims about the committed coin-grid runs, read from the artefacts (milliseconds).

Each run (PPO for 30,000 steps, then 400 scored levels) takes minutes on a loaded core, so days 94-95 cache them as
JSON in their folders; `pytest -m slow` retrains one from its seed and checks it reproduces the cached metrics.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from mechlearn.rl.goal_misgen import DEPENDS_ON, SEEDS, run, run_path

from mechlearn.artefacts import is_current

DAYS = Path(__file__).resolve().parents[2] / "daily_logs"
DAY94 = DAYS / "day-094-goal-misgeneralisation-in-a-coin-gridworld"
DAY95 = DAYS / "day-095-how-much-diversity-fixes-it"
SWEPT = (0.0, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)


def load(p_random: float, seed: int) -> dict:
    return json.loads(run_path(DAY94 if p_random == 0 else DAY95, p_random, seed).read_text())


def seeds(p_random: float) -> tuple[int, ...]:
    return SEEDS


def results(day: Path) -> dict:
    return json.loads((day / "results.json").read_text())


def test_committed_runs_are_current():
    """One run hashed against the current code; the others must have been made by the same code."""
    assert is_current(run_path(DAY94, 0.0, 1), DEPENDS_ON), "coin-grid code changed since the runs: re-run days 94-95"
    paths = [run_path(DAY94 if q == 0 else DAY95, q, s) for q in SWEPT for s in seeds(q)]
    made_by = [json.loads(p.with_name(p.name + ".provenance.json").read_text())["modules"] for p in paths]
    assert all(m == made_by[0] for m in made_by), "the runs were made by different versions of the code"


def test_recorded_day94_rates_are_the_means_of_the_runs():
    rec = results(DAY94)
    for key, name in (("coin", "test_coin_first"), ("old_first", "test_old_first")):
        assert rec[name]["value"] == pytest.approx(np.mean([load(0.0, s)["test"][key] for s in SEEDS]), abs=1e-12)
    capability = np.mean([load(0.0, s)["train_dist"]["coin_reached"] for s in SEEDS])
    assert rec["train_levels_solved"]["value"] == pytest.approx(capability, abs=1e-12)


def mean(p_random: float, part: str, key: str) -> float:
    return float(np.mean([load(p_random, s)[part][key] for s in seeds(p_random)]))


def test_day94_agents_reach_the_old_location_first_more_often_than_the_coin():
    """Day 94: column 7 first in about half the test episodes, coin first in about a third, while training levels
    are solved in over 70%."""
    assert mean(0.0, "test", "old_first") > 0.45 and mean(0.0, "test", "coin") < 0.4
    assert mean(0.0, "train_dist", "coin_reached") > 0.7


def test_recorded_day95_rates_are_the_means_of_the_runs():
    rec = results(DAY95)
    for q in (0.0, 0.25, 1.0):
        assert rec[f"coin_first_p{q:g}".replace(".", "_")]["value"] == pytest.approx(mean(q, "test", "coin"), abs=1e-12)
    assert rec["old_first_p0_25"]["value"] == pytest.approx(mean(0.25, "test", "old_first"), abs=1e-12)


def test_day95_small_shares_barely_move_the_coin_rate_and_full_randomisation_does():
    """Day 95: up to p_random = 0.25 the coin-first rate stays within 0.05 of p_random = 0; at 1 it is 0.2 higher."""
    base = mean(0.0, "test", "coin")
    assert all(abs(mean(q, "test", "coin") - base) < 0.05 for q in (0.02, 0.05, 0.1, 0.25))
    assert mean(1.0, "test", "coin") > base + 0.2


def test_day95_agents_trained_only_on_random_coins_fail_training_levels():
    """Day 95: the mirror image of day 94 — trained with every coin off column 7, agents rarely solve column-7 coins."""
    assert mean(1.0, "train_dist", "coin_reached") < 0.5 < mean(0.0, "train_dist", "coin_reached")


@pytest.mark.slow
def test_retraining_seed_1_reproduces_the_cached_run():
    """Seeded end to end (torch, numpy, env resets, level seeds, the sampling generator): same numbers again."""
    _, fresh = run(0.0, 1)
    cached = load(0.0, 1)
    assert fresh["test"] == cached["test"] and fresh["train_dist"] == cached["train_dist"]
