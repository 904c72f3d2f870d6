"""A probe environment for continuous actions (in the spirit of day 30's discrete probes, `mechlearn.rl.probes`).

One step per episode. The observation $o$ is drawn uniformly from $[-1, 1]^2$, the action $a \\in [-1, 1]^2$, and the
reward is $r = -\\lVert a - o/2 \\rVert^2$. The best action is known in closed form, $a^*(o) = o/2$, so a Gaussian
policy must move its mean to $\\mu(o) = o/2$ (both coordinates: it needs the log-probability summed over action
dimensions) and shrink its standard deviation, since
$\\mathbb E[r] = -\\lVert \\mu - o/2 \\rVert^2 - \\sum_j \\sigma_j^2$.

Importing this module registers it as `mechlearn/ContinuousProbe-v0`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor


def probe_target(obs: np.ndarray) -> np.ndarray:
    """The optimal action $a^*(o) = o / 2$."""
    return 0.5 * obs


class ContinuousProbe(gym.Env):
    def __init__(self):
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.o = self.np_random.uniform(-1.0, 1.0, size=2).astype(np.float32)
        return self.o, {}

    def step(self, action):
        reward = -float(np.sum((np.asarray(action) - probe_target(self.o)) ** 2))
        return np.zeros(2, dtype=np.float32), reward, True, False, {}


PROBE_ID = "mechlearn/ContinuousProbe-v0"
if PROBE_ID not in gym.registry:
    gym.register(PROBE_ID, entry_point=ContinuousProbe)


# Settings that learn the probe in a few seconds: many one-step envs, a large learning rate, no normalisers (the
# observation and reward are already of unit scale).
PROBE_ARGS = dict(
    env_id=PROBE_ID,
    total_timesteps=7680,
    num_envs=64,
    num_steps=4,
    num_minibatches=2,
    update_epochs=10,
    learning_rate=3e-3,
    anneal_lr=False,
    norm_obs=False,
    norm_reward=False,
)


def log_prob_first_dim_only(mean: Tensor, log_std: Tensor, action: Tensor) -> Tensor:
    """A planted bug for the probe's negative control: the log-density of action coordinate 0 alone (as if the sum
    over action dimensions were forgotten), so coordinate 1 gets no policy gradient."""
    z = (action[..., 0] - mean[..., 0]) * torch.exp(-log_std[..., 0])
    return -0.5 * z**2 - log_std[..., 0] - 0.5 * math.log(2 * math.pi)


def train_probe(seed: int = 0, log_prob: Callable | None = None) -> dict:
    """PPO on the probe with `PROBE_ARGS`; with `log_prob`, the agent scores actions with it instead of the true
    Gaussian log-density. Returns the learned mean action on a grid of observations, the target, the final std,
    the per-iteration diagnostics and the mean episode return of each iteration."""
    from mechlearn.rl import continuous
    from mechlearn.rl.ppo_continuous import ContinuousPPOArgs, train_ppo_continuous

    original = continuous.gaussian_log_prob
    continuous.gaussian_log_prob = log_prob or original
    try:
        agent, log, _ = train_ppo_continuous(ContinuousPPOArgs(seed=seed, **PROBE_ARGS))
    finally:
        continuous.gaussian_log_prob = original
    grid = torch.linspace(-1, 1, 21)
    obs = torch.stack([grid, grid.flip(0)], dim=1)  # (21, 2): both coordinates sweep [-1, 1]
    return {
        "obs": obs.tolist(),
        "mean_action": agent.act_deterministic(obs).tolist(),
        "target": probe_target(obs.numpy()).tolist(),
        "action_std": agent.actor_logstd.exp()[0].tolist(),
        "iterations": log["iterations"],
        # every step ends a one-step episode, so each iteration holds the same number of episodes
        "mean_return": np.array([e["return"] for e in log["episodes"]])
        .reshape(len(log["iterations"]), -1)
        .mean(1)
        .tolist(),
    }
