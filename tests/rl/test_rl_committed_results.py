"""The committed results of the full PPO runs (day 29) still hold, and were made by the current code.

The full runs take minutes, so the notebook caches them as JSON beside itself; this test reads that file
(milliseconds). `pytest -m slow` retrains one seed from scratch and checks the same target.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from mechlearn.rl.evaluation import evaluate
from mechlearn.rl.ppo import PPOArgs, train_ppo

from mechlearn.artefacts import is_current

REPO = Path(__file__).resolve().parents[2]
(DAY,) = REPO.glob("daily_logs/day-029-*")
RUNS = DAY / "ppo_cartpole_runs.json"
DEPENDS_ON = ["mechlearn.rl.ppo", "mechlearn.rl.evaluation"]


def test_committed_runs_are_current():
    assert is_current(RUNS, DEPENDS_ON), "ppo.py/evaluation.py changed since the runs were made: re-run day 29"


def test_committed_runs_reach_mean_475_over_100_episodes():
    """Mean return >= 475 over 100 evaluation episodes, within 100k environment steps, on 3 of 3 seeds."""
    runs = json.loads(RUNS.read_text())
    assert sorted(runs) == ["1", "2", "3"]
    for seed, log in runs.items():
        assert log["args"]["seed"] == int(seed) and log["args"]["total_timesteps"] <= 100_000
        assert log["iterations"][-1]["global_step"] <= 100_000, f"seed {seed} used more than 100k steps"
        assert len(log["eval_greedy"]) == 100, "the target is judged on 100 evaluation episodes"
        assert np.mean(log["eval_greedy"]) >= 475, f"seed {seed}: mean evaluation return below 475"


@pytest.mark.slow
def test_ppo_solves_cartpole_from_scratch():
    agent, log = train_ppo(PPOArgs(seed=1))
    returns = evaluate(lambda obs: agent.actor(obs).argmax(-1), "CartPole-v1", 100)
    assert log["iterations"][-1]["global_step"] <= 100_000
    assert np.mean(returns) >= 475, f"retrained seed 1 scores {np.mean(returns):.1f}"
