"""Time limits in PPO: a truncated episode is bootstrapped from its final observation, a terminated one is not, and
an episode that does both on the same step is terminal."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from mechlearn.rl.advantages import compute_gae
from mechlearn.rl.ppo import PPOArgs, bootstrap_truncations, train_ppo
from mechlearn.rl.probes import Probe1, Probe3


class _Forever(gym.Env):
    """Observation [0.5], reward +1, never terminates: only a time limit ends it."""

    observation_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
    action_space = gym.spaces.Discrete(1)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        return np.full(1, 0.5, dtype=np.float32), {}

    def step(self, action):
        return np.full(1, 0.5, dtype=np.float32), 1.0, False, False, {}


class _StubCritic:
    """V(s) = 3 + 2 s: distinct values for each final observation, so the test sees which one was used."""

    @staticmethod
    def get_value(x):
        return 3.0 + 2.0 * x[:, 0]


def _one_vector_step(env_fns):
    envs = gym.vector.SyncVectorEnv(env_fns, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    envs.reset(seed=0)
    _, reward, terminated, truncated, infos = envs.step(np.zeros(len(env_fns), dtype=np.int64))
    envs.close()
    return reward, terminated, truncated, infos


def test_only_truncated_envs_are_bootstrapped_from_their_final_observation():
    """Four real envs, one vector step: Probe1 cut at 1 step (terminated and truncated), _Forever cut at 1 step
    (truncated only), Probe1 uncut (terminated only), Probe3 (neither). gamma = 0.5, V(s) = 3 + 2 s:
    only the truncated-only env gets 1 + 0.5 * V(0.5) = 1 + 0.5 * 4 = 3."""
    reward, terminated, truncated, infos = _one_vector_step(
        [
            lambda: gym.wrappers.TimeLimit(Probe1(), max_episode_steps=1),
            lambda: gym.wrappers.TimeLimit(_Forever(), max_episode_steps=1),
            lambda: Probe1(),
            lambda: Probe3(),
        ]
    )
    assert terminated.tolist() == [True, False, True, False] and truncated.tolist() == [True, True, False, False]
    got = bootstrap_truncations(reward, terminated, truncated, infos, _StubCritic(), gamma=0.5)
    assert got.dtype == torch.float32, "rewards must match the float32 rollout buffer"
    assert got.tolist() == pytest.approx([1.0, 3.0, 1.0, 0.0]), (
        "terminated+truncated must not bootstrap; truncated-only must add gamma * V(final_obs)"
    )


def test_a_step_where_every_truncation_is_also_a_termination_does_not_crash():
    """The CartPole crash (`need at least one array to stack`): an episode hit the 500-step limit on the step the
    pole fell, and no other env was only truncated."""
    reward, terminated, truncated, infos = _one_vector_step(
        [lambda: gym.wrappers.TimeLimit(Probe1(), max_episode_steps=1), lambda: Probe3()]
    )
    assert (terminated & truncated).tolist() == [True, False]
    got = bootstrap_truncations(reward, terminated, truncated, infos, _StubCritic(), gamma=0.5)
    assert got.tolist() == [1.0, 0.0], "no env was only truncated: the rewards must come back unchanged"


def test_value_targets_stop_at_termination_and_bootstrap_through_truncation():
    """The value target (GAE return) of a final step is r for a terminal step and r + gamma V(s_final) for a
    truncation, whatever the value of the next episode's first observation (here 100)."""
    reward, terminated, truncated, infos = _one_vector_step(
        [
            lambda: gym.wrappers.TimeLimit(Probe1(), max_episode_steps=1),
            lambda: gym.wrappers.TimeLimit(_Forever(), max_episode_steps=1),
        ]
    )
    rewards = bootstrap_truncations(reward, terminated, truncated, infos, _StubCritic(), gamma=0.5)[None]
    values = torch.tensor([[0.25, 0.75]])
    next_done = torch.tensor(np.logical_or(terminated, truncated), dtype=torch.float32)
    advantages = compute_gae(rewards, values, torch.zeros(1, 2), torch.full((2,), 100.0), next_done, 0.5, 0.9)
    assert (advantages + values)[0].tolist() == pytest.approx([1.0, 3.0]), "wrong value target at an episode end"


def test_ppo_learns_terminal_value_when_termination_and_time_limit_coincide():
    """Probe1 with a 1-step limit: every step terminates and truncates. The episode is terminal, so V = 1; had the
    truncation won, the critic would chase 1 + gamma V, i.e. V = 1 / (1 - 0.98) = 50."""
    if "mechlearn-test/Probe1-limit1-v0" not in gym.registry:
        gym.register("mechlearn-test/Probe1-limit1-v0", entry_point=Probe1, max_episode_steps=1)
    agent, log = train_ppo(PPOArgs(env_id="mechlearn-test/Probe1-limit1-v0", total_timesteps=1024, seed=0))
    with torch.no_grad():
        V = agent.get_value(torch.zeros(1, 1)).item()
    assert len(log["episodes"]) == 1024
    assert abs(V - 1.0) < 0.05, f"V = {V:.3f}: a step that terminated was bootstrapped as a truncation"


def test_ppo_bootstraps_a_two_step_time_limit():
    """Reward 1 forever, cut after 2 steps, gamma = 0.5: the true value is 1 / (1 - 0.5) = 2. Were the cut terminal,
    the critic (blind to the step count) would fit the mean of the returns-to-go 1.5 and 1, i.e. 1.25. After 1024
    steps the critic is at 1.89; every episode has return 2 and length 2."""
    if "mechlearn-test/Forever-limit2-v0" not in gym.registry:
        gym.register("mechlearn-test/Forever-limit2-v0", entry_point=_Forever, max_episode_steps=2)
    agent, log = train_ppo(PPOArgs(env_id="mechlearn-test/Forever-limit2-v0", gamma=0.5, total_timesteps=1024, seed=0))
    with torch.no_grad():
        V = agent.get_value(torch.full((1, 1), 0.5)).item()
    assert V > 1.75, f"V = {V:.3f}: truncations are not bootstrapped with gamma * V(final_obs)"
    assert {(e["return"], e["length"]) for e in log["episodes"]} == {(2.0, 2)} and len(log["episodes"]) == 512
