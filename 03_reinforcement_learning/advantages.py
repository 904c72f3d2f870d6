"""Discounted returns and generalised advantage estimation (GAE), fast and as a slow readable loop.

Conventions (CleanRL's): rollouts are time-major, `(num_steps, num_envs)`. `dones[t]` says that the observation
at step t *starts a new episode* (the previous step ended one), so step t-1 must not bootstrap from step t.

GAE (Schulman et al. 2016, eq. 16):
$$\\delta_t = r_t + \\gamma (1 - d_{t+1}) V(s_{t+1}) - V(s_t), \\qquad
\\hat A_t = \\delta_t + \\gamma \\lambda (1 - d_{t+1}) \\hat A_{t+1}.$$
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor


def discounted_returns(rewards: list[float], gamma: float) -> list[float]:
    """$G_t = \\sum_{k \\ge 0} \\gamma^k r_{t+k}$ for one finished episode, by the backward recursion
    $G_t = r_t + \\gamma G_{t+1}$."""
    returns, G = [], 0.0
    for r in reversed(rewards):
        G = r + gamma * G
        returns.append(G)
    return returns[::-1]


@torch.no_grad()
def compute_gae(
    rewards: Float[Tensor, "num_steps num_envs"],
    values: Float[Tensor, "num_steps num_envs"],
    dones: Float[Tensor, "num_steps num_envs"],
    next_value: Float[Tensor, " num_envs"],
    next_done: Float[Tensor, " num_envs"],
    gamma: float,
    gae_lambda: float,
) -> Float[Tensor, "num_steps num_envs"]:
    """GAE advantages by one backward sweep; the returns (value targets) are `advantages + values`."""
    num_steps = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    lastgaelam = torch.zeros_like(next_value)
    for t in reversed(range(num_steps)):
        if t == num_steps - 1:
            nextnonterminal, nextvalues = 1.0 - next_done, next_value
        else:
            nextnonterminal, nextvalues = 1.0 - dones[t + 1], values[t + 1]
        delta = rewards[t] + gamma * nextvalues * nextnonterminal - values[t]
        lastgaelam = delta + gamma * gae_lambda * nextnonterminal * lastgaelam
        advantages[t] = lastgaelam
    return advantages


def compute_gae_slow(
    rewards: list[float], values: list[float], dones: list[bool], next_value: float, next_done: bool, gamma, gae_lambda
) -> list[float]:
    """One environment, straight from the definition $\\hat A_t = \\sum_l (\\gamma\\lambda)^l \\delta_{t+l}$, summed
    forwards until the episode ends (the reference the fast sweep is tested against)."""
    T = len(rewards)
    values_ext, dones_ext = list(values) + [next_value], list(dones) + [next_done]
    deltas = [rewards[t] + gamma * values_ext[t + 1] * (1.0 - dones_ext[t + 1]) - values_ext[t] for t in range(T)]
    advantages = []
    for t in range(T):
        A, weight = 0.0, 1.0
        for k in range(t, T):
            A += weight * deltas[k]
            if dones_ext[k + 1]:
                break
            weight *= gamma * gae_lambda
        advantages.append(A)
    return advantages
