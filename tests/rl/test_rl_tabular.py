"""Dynamic programming against analytic values; TD control against the optimal path found by value iteration."""

import gymnasium as gym
import numpy as np
import pytest
from mechlearn.rl.dynamic_programming import (
    gridworld_4x4,
    mdp_from_gymnasium,
    policy_evaluation,
    policy_evaluation_exact,
    policy_iteration,
    value_iteration,
)
from mechlearn.rl.td_control import TDArgs, greedy_return, td_control

UNIFORM = np.full((16, 4), 0.25)


def test_policy_evaluation_matches_sutton_barto_figure_4_1():
    book = np.array([0, -14, -20, -22, -14, -18, -20, -20, -20, -20, -18, -14, -22, -20, -14, 0], dtype=float)
    np.testing.assert_allclose(policy_evaluation_exact(gridworld_4x4(), UNIFORM, [0, 15]), book, atol=1e-9)
    np.testing.assert_allclose(policy_evaluation(gridworld_4x4(), UNIFORM), book, atol=1e-6, err_msg="sweeps")


def test_value_iteration_equals_minus_distance_to_nearest_corner():
    """Every move costs 1 and moves are deterministic, so V*(s) = -(Manhattan distance to the nearer terminal)."""
    V, _ = value_iteration(gridworld_4x4())
    analytic = [-min(r + c, (3 - r) + (3 - c)) for r in range(4) for c in range(4)]
    np.testing.assert_allclose(V, analytic, atol=1e-12, err_msg="Bellman optimality backup is wrong")


def test_policy_iteration_agrees_with_value_iteration():
    V_pi, policy, n = policy_iteration(gridworld_4x4(), [0, 15])
    np.testing.assert_allclose(V_pi, value_iteration(gridworld_4x4())[0], atol=1e-9)
    assert n <= 5, "policy iteration should converge in a handful of improvements here"


def test_cliffwalking_optimal_value_is_13_steps():
    """The shortest path from start (3, 0) to goal (3, 11) along the cliff's edge: up, 11 right, down = 13 moves."""
    V, _ = value_iteration(mdp_from_gymnasium(gym.make("CliffWalking-v1")))
    assert V[36] == pytest.approx(-13.0), "transition arrays from gymnasium's P are wrong"


def test_q_learning_finds_the_optimal_path_and_sarsa_the_safe_one():
    _, online_q = td_control("q_learning", TDArgs(seed=0))
    Q_q, _ = td_control("q_learning", TDArgs(seed=0))
    Q_s, online_s = td_control("sarsa", TDArgs(seed=0))
    assert greedy_return(Q_q) == -13.0, "Q-learning's greedy policy should be the optimal edge path"
    assert -19.0 <= greedy_return(Q_s) < -13.0, "SARSA should learn a path away from the cliff (on-policy)"
    # Sutton & Barto Example 6.6: while exploring, SARSA earns more online than Q-learning
    assert np.mean(online_s[-100:]) > np.mean(online_q[-100:])
