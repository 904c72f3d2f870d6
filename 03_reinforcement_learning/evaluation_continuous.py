"""Evaluate a trained Gaussian policy: deterministic mean actions on seeded episodes, observations normalised with
the statistics training ended with (frozen), returns in the environment's own (unnormalised) reward."""

from __future__ import annotations

import sys

import gymnasium as gym
import numpy as np
import torch
from mechlearn.rl.continuous import GaussianAgent
from mechlearn.rl.normalisation import NormalizeObservation, load_normaliser_state


def quiet_mujoco() -> None:
    """Drop MuJoCo's warning that the bundled HalfCheetah/Hopper XML files use the deprecated `settotalmass` (about
    the model files, not the simulation; MuJoCo would print it to stderr and to MUJOCO_LOG.TXT on every load), and
    pass every other MuJoCo warning on to stderr."""
    import mujoco

    def handler(message: str) -> None:
        if "settotalmass" not in message:
            sys.stderr.write(f"MuJoCo warning: {message}\n")

    mujoco.set_mju_user_warning(handler)


def make_eval_env(env_id: str, obs_stats: dict[str, np.ndarray] | None) -> gym.Env:
    """The training stack less the reward normaliser, with the observation statistics loaded and frozen."""
    env = gym.wrappers.ClipAction(gym.make(env_id))
    if obs_stats:
        env = NormalizeObservation(env)
        load_normaliser_state(env, obs_stats, update=False)
    return env


@torch.no_grad()
def evaluate_continuous(
    agent: GaussianAgent,
    obs_stats: dict[str, np.ndarray] | None,
    env_id: str = "HalfCheetah-v5",
    n_episodes: int = 10,
    seed: int = 10_000,
    deterministic: bool = True,
) -> list[float]:
    """Return of `n_episodes` episodes, env i seeded `seed + i` (seeds training never used), all stepped together.
    `deterministic=False` samples from the Gaussian instead of taking its mean."""
    torch.set_num_threads(1)
    envs = gym.vector.SyncVectorEnv([lambda: make_eval_env(env_id, obs_stats) for _ in range(n_episodes)])
    obs = torch.tensor(envs.reset(seed=[seed + i for i in range(n_episodes)])[0], dtype=torch.float32)
    returns, running = np.zeros(n_episodes), np.ones(n_episodes, dtype=bool)
    while running.any():
        action = agent.act_deterministic(obs) if deterministic else agent.get_action_and_value(obs)[0]
        next_obs, reward, terminated, truncated, _ = envs.step(action.numpy())
        returns += reward * running  # envs that already finished have auto-reset: ignore them
        running &= ~(terminated | truncated)
        obs = torch.tensor(next_obs, dtype=torch.float32)
    envs.close()
    return returns.tolist()
