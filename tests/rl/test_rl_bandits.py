"""The bandit testbed against quantities known in closed form."""

import numpy as np
import pytest
from mechlearn.rl.bandits import BanditAgent, argmax_random_ties, run_testbed


def test_random_agent_regret_matches_expectation():
    """epsilon = 1 picks uniformly: expected regret per step is E[max q* - mean q*], which for 10 standard normals
    is E[max of 10 N(0,1)] = 1.5388 (order-statistics table); the mean of q* is 0 in expectation."""
    out = run_testbed(BanditAgent(epsilon=1.0), n_runs=4000, n_steps=50, seed=0)
    per_step = out["regret"][-1] / 50
    # standard error over 4000 runs of (max - mean) is about 0.01; 0.05 is a 5-sigma tolerance
    assert per_step == pytest.approx(1.5388, abs=0.05), "regret is not measured against the best arm's q*"
    assert out["optimal"].mean() == pytest.approx(0.1, abs=0.01), "random choice should be optimal 1/k of the time"


def test_ucb_tries_every_arm_first():
    agent = BanditAgent(ucb_c=2.0)
    rng = np.random.default_rng(0)
    Q, N = np.zeros((1, 4)), np.zeros((1, 4))
    seen = []
    for t in range(1, 5):
        a = agent.select(Q, N, t, rng)[0]
        seen.append(a)
        N[0, a] += 1
        Q[0, a] = 10.0  # even a great estimate must not stop the untried arms coming first
    assert sorted(seen) == [0, 1, 2, 3], "untried arms must have infinite UCB bonus"


def test_argmax_breaks_ties_at_random():
    rng = np.random.default_rng(0)
    picks = argmax_random_ties(np.zeros((1000, 3)), rng)
    assert set(np.bincount(picks)) != {1000} and np.bincount(picks).min() > 250, "ties always resolved to one arm"


def test_exploration_beats_pure_greedy():
    """Sutton & Barto's Figures 2.2-2.4 in miniature: each exploring rule ends with >= 5% less regret than greedy."""
    kw = dict(n_runs=500, n_steps=500, seed=1)
    greedy = run_testbed(BanditAgent(), **kw)["regret"][-1]
    for agent in [BanditAgent(epsilon=0.1), BanditAgent(initial_value=5.0, step_size=0.1), BanditAgent(ucb_c=2.0)]:
        assert run_testbed(agent, **kw)["regret"][-1] < 0.95 * greedy, f"{agent} does not beat greedy"
