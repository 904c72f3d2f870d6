"""Discounted returns and GAE against hand-computed values and against the slow definition."""

import numpy as np
import pytest
import torch
from mechlearn.rl.advantages import compute_gae, compute_gae_slow, discounted_returns


def test_discounted_returns_by_hand():
    # G_2 = 3, G_1 = 2 + 0.5 * 3 = 3.5, G_0 = 1 + 0.5 * 3.5 = 2.75
    assert discounted_returns([1.0, 2.0, 3.0], 0.5) == pytest.approx([2.75, 3.5, 3.0], abs=1e-12), (
        "returns must be accumulated backwards with G_t = r_t + gamma G_{t+1}"
    )


def test_gae_terminal_in_the_middle_by_hand():
    """One env, 4 steps; the episode ends after step 1, so dones[2] = 1 (obs 2 starts a new episode).

    gamma = 0.5, lambda = 0.5 (so gamma * lambda = 0.25), V = [1, 2, 3, 4], next V = 5, rewards all 1:
      delta_3 = 1 + 0.5 * 5 - 4 = -0.5        A_3 = -0.5
      delta_2 = 1 + 0.5 * 4 - 3 = 0           A_2 = 0 + 0.25 * -0.5 = -0.125
      delta_1 = 1 + 0 - 2 = -1 (terminal)     A_1 = -1  (nothing flows back across the episode boundary)
      delta_0 = 1 + 0.5 * 2 - 1 = 1           A_0 = 1 + 0.25 * -1 = 0.75
    """
    rewards = torch.ones(4, 1)
    values = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    dones = torch.tensor([[0.0], [0.0], [1.0], [0.0]])
    A = compute_gae(rewards, values, dones, torch.tensor([5.0]), torch.tensor([0.0]), gamma=0.5, gae_lambda=0.5)
    expected = torch.tensor([[0.75], [-1.0], [-0.125], [-0.5]])
    torch.testing.assert_close(A, expected, atol=1e-6, rtol=0)
    slow = compute_gae_slow([1.0] * 4, [1.0, 2.0, 3.0, 4.0], [0, 0, 1, 0], 5.0, 0, gamma=0.5, gae_lambda=0.5)
    assert slow == pytest.approx(expected.squeeze(1).tolist(), abs=1e-12), "slow reference disagrees with hand values"


def test_gae_lambda_one_is_return_minus_value():
    """With lambda = 1 and a terminal end, GAE telescopes to the Monte Carlo return minus V."""
    r = [1.0, -2.0, 0.5, 3.0]
    V = [0.3, -0.7, 1.1, 0.2]
    A = compute_gae(
        torch.tensor(r)[:, None],
        torch.tensor(V)[:, None],
        torch.zeros(4, 1),
        torch.tensor([9.0]),
        torch.tensor([1.0]),
        gamma=0.9,
        gae_lambda=1.0,
    )
    G = discounted_returns(r, 0.9)
    assert A.squeeze(1).tolist() == pytest.approx([g - v for g, v in zip(G, V, strict=True)], abs=1e-5), (
        "lambda = 1 must give G_t - V(s_t): the bootstrap after a terminal step leaked in"
    )


@pytest.mark.parametrize("seed", range(5))
def test_gae_fast_matches_slow_loop(seed):
    rng = np.random.default_rng(seed)
    T, E = 12, 3
    r, V = rng.normal(size=(T, E)), rng.normal(size=(T, E))
    d = (rng.random((T, E)) < 0.25).astype(float)
    nv, nd = rng.normal(size=E), (rng.random(E) < 0.5).astype(float)
    fast = compute_gae(*(torch.tensor(x, dtype=torch.float64) for x in (r, V, d, nv, nd)), gamma=0.97, gae_lambda=0.9)
    for e in range(E):
        slow = compute_gae_slow(r[:, e], V[:, e], d[:, e], nv[e], nd[e], 0.97, 0.9)
        np.testing.assert_allclose(fast[:, e].numpy(), slow, atol=1e-10, err_msg="vectorised GAE sweep is wrong")
