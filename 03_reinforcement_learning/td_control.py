"""Tabular TD control on a gymnasium toy-text environment: SARSA (on-policy) and Q-learning (off-policy).

Both update $Q(S, A) \\leftarrow Q(S, A) + \\alpha\\,[\\text{target} - Q(S, A)]$ after every step; they differ only in
the target (Sutton & Barto, ch. 6):
- SARSA: $R + \\gamma Q(S', A')$ with $A'$ the action the epsilon-greedy policy will actually take;
- Q-learning: $R + \\gamma \\max_a Q(S', a)$, the greedy policy's value, whatever is taken next.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np


@dataclass
class TDArgs:
    env_id: str = "CliffWalking-v1"
    """gymnasium id of a toy-text environment with discrete states and actions"""
    n_episodes: int = 500
    """episodes of learning"""
    alpha: float = 0.5
    """step size (Sutton & Barto's Example 6.6 uses 0.5 on the cliff)"""
    gamma: float = 1.0
    """undiscounted: every step costs -1, so the shortest safe path is best"""
    epsilon: float = 0.1
    """behaviour policy's exploration rate, kept constant"""
    max_steps: int = 1000
    """cap on one episode's length, so an early bad policy cannot loop forever"""
    seed: int = 0
    """seeds the exploration and the environment"""


def epsilon_greedy(Q: np.ndarray, s: int, epsilon: float, rng: np.random.Generator) -> int:
    if rng.random() < epsilon:
        return int(rng.integers(Q.shape[1]))
    best = np.flatnonzero(Q[s] == Q[s].max())
    return int(rng.choice(best))


def td_control(method: str, args: TDArgs) -> tuple[np.ndarray, list[float]]:
    """Learn Q with `method` in {"sarsa", "q_learning"}; returns Q and the return of each training episode."""
    rng = np.random.default_rng(args.seed)
    env = gym.make(args.env_id)
    Q = np.zeros((env.observation_space.n, env.action_space.n))
    episode_returns = []
    for episode in range(args.n_episodes):
        s, _ = env.reset(seed=args.seed + episode)
        a = epsilon_greedy(Q, s, args.epsilon, rng)
        G = 0.0
        for _ in range(args.max_steps):
            s2, r, terminated, truncated, _ = env.step(a)
            G += r
            a2 = epsilon_greedy(Q, s2, args.epsilon, rng)
            if terminated:
                target = r
            elif method == "sarsa":
                target = r + args.gamma * Q[s2, a2]
            elif method == "q_learning":
                target = r + args.gamma * Q[s2].max()
            else:
                raise ValueError(f"unknown method {method!r}")
            Q[s, a] += args.alpha * (target - Q[s, a])
            s, a = s2, a2
            if terminated or truncated:
                break
        episode_returns.append(G)
    env.close()
    return Q, episode_returns


def greedy_return(Q: np.ndarray, env_id: str = "CliffWalking-v1", max_steps: int = 200) -> float:
    """Return of one episode following argmax Q (the environment is deterministic, so one episode suffices)."""
    env = gym.make(env_id)
    s, _ = env.reset(seed=0)
    G = 0.0
    for _ in range(max_steps):
        s, r, terminated, truncated, _ = env.step(int(Q[s].argmax()))
        G += r
        if terminated or truncated:
            break
    env.close()
    return G
