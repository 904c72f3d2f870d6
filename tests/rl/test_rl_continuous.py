"""The Gaussian policy against torch.distributions, the normalisation wrappers against gymnasium's and numpy, and
the continuous probe's reward (days 89-90)."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.wrappers import NormalizeObservation as GymNormalizeObservation
from gymnasium.wrappers import NormalizeReward as GymNormalizeReward
from gymnasium.wrappers import TransformObservation, TransformReward
from gymnasium.wrappers.utils import RunningMeanStd as GymRunningMeanStd
from mechlearn.rl.continuous import GaussianAgent, agent_from_state_dict, gaussian_entropy, gaussian_log_prob
from mechlearn.rl.evaluation_continuous import quiet_mujoco
from mechlearn.rl.normalisation import (
    NormalizeObservation,
    NormalizeReward,
    RunningMeanStd,
    load_normaliser_state,
    normaliser_state,
)
from mechlearn.rl.probes_continuous import PROBE_ID, probe_target
from torch.distributions import Normal

quiet_mujoco()  # no deprecation warning about the bundled XML files, and no MUJOCO_LOG.TXT in the working directory


def _gaussian_batch(seed=0, batch=64, act=3):
    g = torch.Generator().manual_seed(seed)
    mean = torch.randn(batch, act, generator=g, dtype=torch.float64)
    log_std = 0.5 * torch.randn(batch, act, generator=g, dtype=torch.float64)
    action = mean + 2 * torch.randn(batch, act, generator=g, dtype=torch.float64)
    return mean.requires_grad_(), log_std.requires_grad_(), action


def test_log_prob_and_its_gradients_match_torch_normal_summed_over_action_dims():
    """Catches a log-prob not summed over action dims, a missing -log(sigma) or 1/2 log(2 pi) term, sigma^2 for sigma.
    float64, tolerance 1e-12."""
    mean, log_std, action = _gaussian_batch()
    ours = gaussian_log_prob(mean, log_std, action)
    ref = Normal(mean, log_std.exp()).log_prob(action).sum(-1)
    assert ours.shape == (64,)
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-12)
    g_ours = torch.autograd.grad(ours.sum(), (mean, log_std))
    g_ref = torch.autograd.grad(ref.sum(), (mean, log_std))
    for a, b in zip(g_ours, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_entropy_matches_torch_normal_and_the_monte_carlo_mean_of_minus_log_prob():
    """H = sum_j 1/2 log(2 pi e) + log sigma_j, against torch (1e-12) and against E[-log pi(a)] over 20,000 samples
    from the agent's own sampler (within 4 standard errors): catches a sampler whose spread is not exp(log_std)."""
    _, log_std, _ = _gaussian_batch()
    torch.testing.assert_close(
        gaussian_entropy(log_std),
        Normal(torch.zeros_like(log_std), log_std.exp()).entropy().sum(-1),
        rtol=0,
        atol=1e-12,
    )
    torch.manual_seed(0)
    agent = GaussianAgent(obs_dim=4, act_dim=3)
    with torch.no_grad():
        agent.actor_logstd.copy_(torch.tensor([[-0.5, 0.0, 0.7]]))
        action, logprob, entropy, _ = agent.get_action_and_value(torch.zeros(20_000, 4))
    neg_logp = -logprob.double()
    stderr = neg_logp.std() / np.sqrt(len(neg_logp))
    assert abs(neg_logp.mean() - entropy[0]) < 4 * stderr, "samples are not drawn with std = exp(actor_logstd)"
    assert torch.allclose(action.std(0), agent.actor_logstd.exp()[0], rtol=0.03)


def test_fresh_agent_is_a_near_standard_normal_and_round_trips_through_its_state_dict():
    """Gain 0.01 on the mean head and log-std 0: the first policy is ~N(0, I) (catches a default-gain head)."""
    torch.manual_seed(0)
    agent = GaussianAgent(obs_dim=17, act_dim=6)
    obs = torch.randn(256, 17)
    assert agent.act_deterministic(obs).abs().max() < 0.1
    assert torch.equal(agent.actor_logstd, torch.zeros(1, 6))
    copy = agent_from_state_dict(agent.state_dict())
    assert torch.equal(copy.act_deterministic(obs), agent.act_deterministic(obs))
    assert torch.equal(copy.get_value(obs), agent.get_value(obs))


def test_running_stats_equal_numpy_on_the_whole_stream_and_gymnasium_batch_by_batch():
    """Batches of uneven sizes (1 to 40) merged by the parallel update: mean and variance equal numpy's over the whole
    stream up to the 1e-4 pseudo-count prior (relative 1e-6 at 2,000 samples), and gymnasium's RunningMeanStd fed
    the same batches to 1e-12. Catches Welford's update with the wrong count or a missing delta^2 term."""
    rng = np.random.default_rng(0)
    stream = rng.normal(3.0, 2.0, size=(2000, 5)) * np.arange(1, 6)
    ours, gyms = RunningMeanStd((5,)), GymRunningMeanStd(shape=(5,))
    cuts = np.cumsum(rng.integers(1, 41, size=200))
    for batch in np.split(stream, cuts[cuts < len(stream)]):
        ours.update(batch)
        gyms.update(batch)
    np.testing.assert_allclose(ours.mean, stream.mean(0), rtol=1e-6)
    np.testing.assert_allclose(ours.var, stream.var(0), rtol=1e-6)
    np.testing.assert_allclose(ours.mean, gyms.mean, rtol=1e-12)
    np.testing.assert_allclose(ours.var, gyms.var, rtol=1e-12)


def _rollout(env, n_steps, seed=0):
    """Observations and rewards of `env` under a fixed sequence of random actions."""
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    out_obs, out_rew, ends = [obs], [], []
    for _ in range(n_steps):
        obs, reward, terminated, truncated, _ = env.step(rng.uniform(-1, 1, size=env.action_space.shape))
        out_obs.append(obs)
        out_rew.append(reward)
        ends.append(terminated or truncated)
        if terminated or truncated:
            break
    return np.array(out_obs), np.array(out_rew), ends


def test_observation_wrapper_equals_gymnasium_normalize_observation_then_clip():
    """A 100-step HalfCheetah episode: same normalised observations as gymnasium's wrapper followed by a +-10 clip,
    reset observation included (float32 outputs: tolerance 1e-6). Catches normalising with the statistics from before
    the update, or forgetting the reset observation."""
    ours = NormalizeObservation(gym.make("HalfCheetah-v5", max_episode_steps=100))
    ref = TransformObservation(
        GymNormalizeObservation(gym.make("HalfCheetah-v5", max_episode_steps=100)), lambda o: np.clip(o, -10, 10), None
    )
    o_ours, _, _ = _rollout(ours, 100)
    o_ref, _, _ = _rollout(ref, 100)
    assert o_ours.shape == (101, 17)
    np.testing.assert_allclose(o_ours, o_ref, rtol=0, atol=1e-6)
    assert np.abs(o_ours).max() <= 10.0


@pytest.mark.parametrize("env_id", ["HalfCheetah-v5", "Hopper-v5"])
def test_reward_wrapper_equals_gymnasium_normalize_reward_then_clip(env_id):
    """One episode: equal scaled rewards (1e-12) on every step of a truncated HalfCheetah episode and on every step
    but the terminating last one of a Hopper episode, where gymnasium 1.x restarts the discounted return at the
    reward instead of continuing it (documented in the module). Catches scaling by the reward's own std, or centring."""
    ours = NormalizeReward(gym.make(env_id, max_episode_steps=100), gamma=0.99)
    ref = TransformReward(
        GymNormalizeReward(gym.make(env_id, max_episode_steps=100), gamma=0.99), lambda r: np.clip(r, -10, 10)
    )
    _, r_ours, ends = _rollout(ours, 100)
    _, r_ref, _ = _rollout(ref, 100)
    terminated_early = len(r_ours) < 100
    assert terminated_early == (env_id == "Hopper-v5"), "the Hopper episode under random actions should fall"
    n = len(r_ours) - 1 if terminated_early else len(r_ours)
    np.testing.assert_allclose(r_ours[:n], r_ref[:n], rtol=0, atol=1e-12)
    assert ours.discounted_return == 0.0, "the discounted return must restart after an episode end"


def test_frozen_statistics_are_the_ones_evaluation_uses():
    """`update = False` leaves the statistics untouched and normalises with them; loading the saved statistics into
    a fresh env reproduces the training env's normalised observations exactly (catches evaluation re-estimating
    statistics from its own episodes, or loading them unfrozen)."""
    train_env = NormalizeObservation(gym.make("HalfCheetah-v5", max_episode_steps=50))
    _rollout(train_env, 50, seed=1)
    state = {k: np.copy(v) for k, v in normaliser_state(train_env).items()}
    train_env.update = False
    o_train, _, _ = _rollout(train_env, 20, seed=2)
    for k, v in normaliser_state(train_env).items():
        np.testing.assert_array_equal(v, state[k])

    eval_env = NormalizeObservation(gym.make("HalfCheetah-v5", max_episode_steps=50))
    load_normaliser_state(eval_env, state)
    o_eval, _, _ = _rollout(eval_env, 20, seed=2)
    np.testing.assert_array_equal(o_eval, o_train)
    raw, _, _ = _rollout(gym.make("HalfCheetah-v5", max_episode_steps=50), 20, seed=2)
    expected = np.clip((raw - state["obs_mean"]) / np.sqrt(state["obs_var"] + 1e-8), -10, 10).astype(np.float32)
    np.testing.assert_allclose(o_eval, expected, rtol=0, atol=1e-6)
    assert eval_env.obs_rms.count == float(state["obs_count"])


def test_continuous_probe_rewards_the_known_optimum():
    """r = -|a - o/2|^2: zero exactly at the target, negative elsewhere, one step per episode."""
    env = gym.make(PROBE_ID)
    obs, _ = env.reset(seed=0)
    _, r_best, terminated, _, _ = env.step(probe_target(obs))
    assert r_best == 0.0 and terminated
    env.reset(seed=0)
    _, r_off, _, _, _ = env.step(probe_target(obs) + np.array([0.1, -0.2], dtype=np.float32))
    assert r_off == pytest.approx(-(0.1**2 + 0.2**2), rel=1e-5)
