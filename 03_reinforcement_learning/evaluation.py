"""Evaluate a policy on fresh episodes: one episode per environment copy, all stepped together."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor


@torch.no_grad()
def evaluate(
    act: Callable[[Float[Tensor, "batch obs"]], Int[Tensor, " batch"]],
    env_id: str = "CartPole-v1",
    n_episodes: int = 100,
    seed: int = 10_000,
) -> list[float]:
    """Return of `n_episodes` episodes of the policy `act` (obs batch -> action batch), env i seeded `seed + i`:
    seeds that training (seeded from 1) never used."""
    torch.set_num_threads(1)
    envs = gym.vector.SyncVectorEnv([lambda: gym.make(env_id) for _ in range(n_episodes)])
    obs = torch.tensor(envs.reset(seed=[seed + i for i in range(n_episodes)])[0], dtype=torch.float32)
    returns, running = np.zeros(n_episodes), np.ones(n_episodes, dtype=bool)
    while running.any():
        next_obs, reward, terminated, truncated, _ = envs.step(act(obs).numpy())
        returns += reward * running  # envs that already finished have auto-reset: ignore them
        running &= ~(terminated | truncated)
        obs = torch.tensor(next_obs, dtype=torch.float32)
    envs.close()
    return returns.tolist()
