"""Observation and reward normalisation for continuous control, as gym wrappers (details 5-8 of Huang et al.'s
"37 implementation details of PPO", continuous-action section; gymnasium's `NormalizeObservation`/`NormalizeReward`).

Both keep running statistics with the parallel update of Chan et al. (1979): merging a batch of $n_b$ samples with
mean $\\mu_b$ and variance $\\sigma_b^2$ into $n_a$ seen so far ($\\delta = \\mu_b - \\mu_a$, $n = n_a + n_b$),
$$\\mu = \\mu_a + \\delta\\, n_b / n, \\qquad
\\sigma^2 = \\bigl(n_a \\sigma_a^2 + n_b \\sigma_b^2 + \\delta^2 n_a n_b / n\\bigr) / n,$$
which for $n_b = 1$ is Welford's one-sample update. The statistics start at mean 0, variance 1 and a pseudo-count
of `1e-4` (as gymnasium's), so the first observation is not divided by a zero variance.

- `NormalizeObservation`: $o \\mapsto \\mathrm{clip}\\bigl((o - \\mu) / \\sqrt{\\sigma^2 + \\epsilon}, \\pm c\\bigr)$.
- `NormalizeReward`: $r \\mapsto \\mathrm{clip}\\bigl(r / \\sqrt{\\sigma_G^2 + \\epsilon}, \\pm c\\bigr)$, where
  $\\sigma_G^2$ is the running variance of the discounted return $G_t = \\gamma G_{t-1} + r_t$, and $G$ is reset to 0
  after every episode end (terminated or truncated, as the pre-1.0 gym wrapper CleanRL used). gymnasium 1.x instead
  sets $G_t = r_t$ on a terminating step and carries $G$ over truncations; on one episode the two agree on every step
  but a terminating last one.

`update = False` freezes the statistics (evaluation uses the ones training ended with); `normaliser_state` and
`load_normaliser_state` move them in and out of a checkpoint.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np


class RunningMeanStd:
    """Running mean and (population) variance of a stream of arrays of shape `shape`, merged batch by batch."""

    def __init__(self, shape: tuple[int, ...] = (), epsilon: float = 1e-4):
        self.mean = np.zeros(shape, dtype=np.float64)
        self.var = np.ones(shape, dtype=np.float64)
        self.count = epsilon

    def update(self, x: np.ndarray) -> None:
        """Merge a batch `x` of shape `(n, *shape)`."""
        x = np.asarray(x, dtype=np.float64)
        n_b = x.shape[0]
        batch_mean = x.sum(axis=0) / n_b
        batch_var = np.square(x - batch_mean).sum(axis=0) / n_b
        delta = batch_mean - self.mean
        n = self.count + n_b
        self.mean = self.mean + delta * n_b / n
        self.var = (self.var * self.count + batch_var * n_b + delta**2 * self.count * n_b / n) / n
        self.count = n


class NormalizeObservation(gym.ObservationWrapper):
    """Standardise each observation coordinate by its running statistics, then clip to `[-clip, clip]`."""

    def __init__(self, env: gym.Env, epsilon: float = 1e-8, clip: float = 10.0):
        super().__init__(env)
        shape = env.observation_space.shape
        self.observation_space = gym.spaces.Box(-clip, clip, shape=shape, dtype=np.float32)
        self.obs_rms = RunningMeanStd(shape)
        self.epsilon, self.clip, self.update = epsilon, clip, True

    def observation(self, observation: np.ndarray) -> np.ndarray:
        if self.update:
            self.obs_rms.update(observation[None])
        normalised = (observation - self.obs_rms.mean) / np.sqrt(self.obs_rms.var + self.epsilon)
        return np.clip(normalised, -self.clip, self.clip).astype(np.float32)


class NormalizeReward(gym.Wrapper):
    """Divide each reward by the running std of the discounted return (no centring: the sign of a reward is kept),
    then clip to `[-clip, clip]`."""

    def __init__(self, env: gym.Env, gamma: float = 0.99, epsilon: float = 1e-8, clip: float = 10.0):
        super().__init__(env)
        self.return_rms = RunningMeanStd(())
        self.discounted_return = 0.0
        self.gamma, self.epsilon, self.clip, self.update = gamma, epsilon, clip, True

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.discounted_return = self.gamma * self.discounted_return + float(reward)
        if self.update:
            self.return_rms.update(np.array([self.discounted_return]))
        if terminated or truncated:
            self.discounted_return = 0.0
        scaled = float(reward) / np.sqrt(self.return_rms.var + self.epsilon)
        return obs, float(np.clip(scaled, -self.clip, self.clip)), terminated, truncated, info


def find_wrapper(env: gym.Env, cls: type) -> gym.Wrapper:
    """The wrapper of type `cls` in `env`'s stack."""
    while not isinstance(env, cls):
        env = env.env
    return env


def normaliser_state(env: gym.Env) -> dict[str, np.ndarray]:
    """The statistics that define the normalisation of a wrapped env: what a checkpoint must keep."""
    obs_rms = find_wrapper(env, NormalizeObservation).obs_rms
    return {"obs_mean": obs_rms.mean, "obs_var": obs_rms.var, "obs_count": np.array(obs_rms.count)}


def load_normaliser_state(env: gym.Env, state: dict[str, np.ndarray], update: bool = False) -> None:
    """Put saved observation statistics into `env`'s `NormalizeObservation` and freeze them (unless `update`)."""
    wrapper = find_wrapper(env, NormalizeObservation)
    wrapper.obs_rms.mean = np.asarray(state["obs_mean"], dtype=np.float64)
    wrapper.obs_rms.var = np.asarray(state["obs_var"], dtype=np.float64)
    wrapper.obs_rms.count = float(state["obs_count"])
    wrapper.update = update
