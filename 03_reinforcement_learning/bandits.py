"""The k-armed bandit testbed (Sutton & Barto, ch. 2): epsilon-greedy, optimistic initial values and UCB.

Every run of the testbed draws true action values $q_*(a) \\sim \\mathcal N(0, 1)$; pulling arm a pays
$R \\sim \\mathcal N(q_*(a), 1)$. All runs advance together (arrays of shape `(n_runs, k)`), so 2000 runs cost one
NumPy operation per step. The value estimate is the incremental mean $Q \\leftarrow Q + \\alpha (R - Q)$ with
$\\alpha = 1/N(a)$ (sample average) or a constant $\\alpha$. Regret after T steps: $\\sum_t q_*(a^*) - q_*(A_t)$.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class BanditAgent:
    """One action-selection rule; the three classic ones are settings of these fields."""

    epsilon: float = 0.0
    """probability of a uniformly random arm (exploration by dithering)"""
    initial_value: float = 0.0
    """Q_1(a) for every arm: a value far above any q_* makes a greedy agent try every arm ("optimism")"""
    step_size: float | None = None
    """constant alpha; None means the sample average alpha = 1 / N(a)"""
    ucb_c: float | None = None
    """if set, pick argmax Q(a) + c sqrt(ln t / N(a)) (untried arms first) instead of epsilon-greedy"""

    def select(self, Q: np.ndarray, N: np.ndarray, t: int, rng: np.random.Generator) -> np.ndarray:
        """Arm index per run, from estimates Q and counts N (both `(n_runs, k)`) at step t = 1, 2, ..."""
        n_runs, k = Q.shape
        if self.ucb_c is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                bonus = np.where(N == 0, np.inf, self.ucb_c * np.sqrt(np.log(t) / N))  # untried arms win
            return argmax_random_ties(Q + bonus, rng)
        greedy = argmax_random_ties(Q, rng)
        explore = rng.random(n_runs) < self.epsilon
        return np.where(explore, rng.integers(k, size=n_runs), greedy)


def argmax_random_ties(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row-wise argmax, breaking ties uniformly at random (np.argmax would always favour arm 0)."""
    is_max = x == x.max(axis=1, keepdims=True)
    return (is_max * rng.random(x.shape)).argmax(axis=1)


def run_testbed(agent: BanditAgent, k: int = 10, n_runs: int = 2000, n_steps: int = 1000, seed: int = 0) -> dict:
    """Average reward, fraction of optimal actions and cumulative regret per step, averaged over runs."""
    rng = np.random.default_rng(seed)
    q_star = rng.normal(size=(n_runs, k))
    best = q_star.argmax(axis=1)
    Q = np.full((n_runs, k), agent.initial_value, dtype=float)
    N = np.zeros((n_runs, k))
    rows = np.arange(n_runs)
    rewards, optimal, regret = np.zeros(n_steps), np.zeros(n_steps), np.zeros(n_steps)
    for t in range(1, n_steps + 1):
        A = agent.select(Q, N, t, rng)
        R = rng.normal(q_star[rows, A], 1.0)
        N[rows, A] += 1
        alpha = 1.0 / N[rows, A] if agent.step_size is None else agent.step_size
        # $Q_{n+1} = Q_n + \alpha (R_n - Q_n)$
        Q[rows, A] += alpha * (R - Q[rows, A])
        rewards[t - 1] = R.mean()
        optimal[t - 1] = (A == best).mean()
        regret[t - 1] = (q_star[rows, best] - q_star[rows, A]).mean()
    return {"reward": rewards, "optimal": optimal, "regret": np.cumsum(regret)}
