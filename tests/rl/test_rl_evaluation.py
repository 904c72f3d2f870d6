"""The vectorised evaluation against one plain episode loop per seed."""

import gymnasium as gym
import numpy as np
import torch
from mechlearn.rl.evaluation import evaluate


def test_evaluate_matches_a_plain_loop_per_seed():
    """A fixed rule (push towards the side the pole leans) on seeds 7..11, vectorised vs one env at a time: the
    returns must be identical, which also checks that auto-reset episodes after the first are not counted."""

    def act(obs: torch.Tensor) -> torch.Tensor:
        return (obs[:, 2] > 0).long()

    vectorised = evaluate(act, "CartPole-v1", n_episodes=5, seed=7)
    plain = []
    for i in range(5):
        env = gym.make("CartPole-v1")
        obs, _ = env.reset(seed=7 + i)
        total, done = 0.0, False
        while not done:
            obs, r, terminated, truncated, _ = env.step(int(obs[2] > 0))
            total, done = total + r, terminated or truncated
        plain.append(total)
    np.testing.assert_array_equal(vectorised, plain, err_msg="evaluation miscounts episode returns")
    assert len(set(plain)) > 1, "the rule should give different returns on different seeds (else the test is weak)"
