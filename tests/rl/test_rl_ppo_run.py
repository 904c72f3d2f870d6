"""What one tiny PPO run records, checked against what the rollout must have been (Probe 3: every episode is two
steps with return 1), and the learning-rate schedule and early stopping by hand."""

import numpy as np
import pytest
import torch
from mechlearn.rl import probes  # noqa: F401  (registers the probe environments)
from mechlearn.rl.ppo import PPOArgs, train_ppo


@pytest.fixture(scope="module")
def run():
    args = PPOArgs(env_id="mechlearn/Probe3-v0", num_envs=2, num_steps=4, total_timesteps=32, num_minibatches=2, seed=0)
    return args, *train_ppo(args)


def test_log_records_every_iteration_and_episode(run):
    args, _, log = run
    assert log["args"] == {**log["args"], "env_id": "mechlearn/Probe3-v0", "num_envs": 2, "total_timesteps": 32}
    assert [row["global_step"] for row in log["iterations"]] == [8, 16, 24, 32], "one row per 8-step rollout"
    # Probe 3: two steps per episode, return 0 + 1; 2 envs x 16 steps = 16 finished episodes
    assert [(e["return"], e["length"]) for e in log["episodes"]] == [(1.0, 2)] * 16, "episode bookkeeping is off"
    assert [e["global_step"] for e in log["episodes"]][:4] == [4, 4, 8, 8]
    keys = {"global_step", "learning_rate", "value_loss", "policy_loss", "entropy", "old_approx_kl", "approx_kl"}
    assert set(log["iterations"][0]) == keys | {"clipfrac", "explained_variance", "sps"}
    for row in log["iterations"]:
        assert 0.0 <= row["clipfrac"] <= 1.0 and row["approx_kl"] >= 0.0 and row["explained_variance"] <= 1.0
        assert row["entropy"] == pytest.approx(0.0, abs=1e-6), "one action: the policy's entropy is 0"
        assert row["value_loss"] > 0 and row["sps"] > 0


def test_learning_rate_anneals_linearly_to_zero():
    """lr at iteration i (from 1) of n is lr0 (1 - (i - 1)/n): 4 iterations of 2e-3 log 2e-3, 1.5e-3, 1e-3, 5e-4;
    without annealing the optimiser keeps lr0 (not Adam's default 1e-3)."""
    args = PPOArgs(env_id="mechlearn/Probe1-v0", num_envs=2, num_steps=4, total_timesteps=32, learning_rate=2e-3)
    lrs = [row["learning_rate"] for row in train_ppo(args)[1]["iterations"]]
    assert lrs == pytest.approx([2e-3, 1.5e-3, 1e-3, 5e-4], rel=1e-12), f"learning-rate schedule {lrs}"
    flat = [row["learning_rate"] for row in train_ppo(PPOArgs(**{**vars(args), "anneal_lr": False}))[1]["iterations"]]
    assert flat == [2e-3] * 4


def test_target_kl_stops_the_epochs_early():
    """A target KL of 0 stops after the first epoch whose last minibatch moved the policy at all: the approx KL
    logged then is the first positive one, and the run differs from one without early stopping."""
    base = dict(env_id="mechlearn/Probe4-v0", num_envs=4, num_steps=8, total_timesteps=64, learning_rate=0.05, seed=0)
    torch.manual_seed(0)
    stopped, _ = train_ppo(PPOArgs(**base, target_kl=0.0))
    full, _ = train_ppo(PPOArgs(**base))
    obs = torch.zeros(1, 1)
    with torch.no_grad():
        p_stopped = stopped.actor(obs).softmax(-1)[0, 1].item()
        p_full = full.actor(obs).softmax(-1)[0, 1].item()
    assert 0.5 < p_stopped < p_full, f"pi(good action): {p_stopped:.3f} stopped early vs {p_full:.3f} full"


def test_same_seed_same_run():
    args = PPOArgs(env_id="mechlearn/Probe2-v0", num_envs=2, num_steps=4, total_timesteps=16, seed=3)
    (a, log_a), (b, log_b) = train_ppo(args), train_ppo(args)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    strip = [{k: v for k, v in row.items() if k != "sps"} for row in log_a["iterations"]]
    assert strip == [{k: v for k, v in row.items() if k != "sps"} for row in log_b["iterations"]]
    assert np.isfinite([row["value_loss"] for row in log_a["iterations"]]).all()


def test_agent_is_initialised_orthogonally_with_the_37_details_gains():
    """Hidden layers gain sqrt(2), critic head gain 1, actor head gain 0.01 (near-uniform first policy), zero
    biases; widths from `hidden` (default 64, PPOArgs' default)."""
    from mechlearn.rl.ppo import Agent

    torch.manual_seed(0)
    agent = Agent(4, 3)
    assert agent.critic[0].out_features == agent.actor[2].in_features == PPOArgs().hidden == 64
    for net in (agent.critic, agent.actor):
        for layer, gain in ((net[0], 2**0.5), (net[2], 2**0.5)):
            W = layer.weight  # (out, in): orthogonal columns (out >= in) scaled by the gain
            eye = torch.eye(W.shape[1])
            assert torch.allclose(W.T @ W, gain**2 * eye, atol=1e-5) and not layer.bias.any()
    assert torch.allclose(agent.critic[4].weight.norm(), torch.tensor(1.0), atol=1e-5)
    actor_head = agent.actor[4].weight  # (3, 64): orthonormal rows times 0.01
    assert torch.allclose(actor_head @ actor_head.T, 1e-4 * torch.eye(3), atol=1e-9)
    assert Agent(4, 3, hidden=8).critic[0].out_features == 8
    small, _ = train_ppo(PPOArgs(env_id="mechlearn/Probe1-v0", num_envs=2, num_steps=4, total_timesteps=8, hidden=8))
    assert small.critic[0].out_features == small.actor[0].out_features == 8, "train_ppo ignored args.hidden"


def test_a_policy_that_barely_moves_clips_nothing():
    """With a learning rate of 1e-9 every ratio stays within 1 +- eps, so clipfrac is exactly 0 and KL ~ 0 (float32)."""
    args = PPOArgs(env_id="mechlearn/Probe4-v0", num_envs=2, num_steps=8, total_timesteps=32, learning_rate=1e-9)
    for row in train_ppo(args)[1]["iterations"]:
        assert row["clipfrac"] == 0.0 and abs(row["approx_kl"]) < 1e-6 and abs(row["old_approx_kl"]) < 1e-6


def test_each_update_sees_one_shuffled_minibatch(monkeypatch):
    """batch 16 = 2 envs x 8 steps, 4 minibatches, 3 epochs: 12 loss evaluations of 4 samples each, and each epoch's
    four minibatches partition the batch (every sample once per epoch)."""
    import mechlearn.rl.ppo as ppo

    seen = []

    def recording_loss(ratio, entropy, newvalue, mb_advantages, mb_returns, mb_values, args):
        seen.append(mb_values.detach().clone())
        return ppo_loss(ratio, entropy, newvalue, mb_advantages, mb_returns, mb_values, args)

    ppo_loss = ppo.ppo_loss
    monkeypatch.setattr(ppo, "ppo_loss", recording_loss)
    args = PPOArgs(env_id="mechlearn/Probe2-v0", num_envs=2, num_steps=8, total_timesteps=16, num_minibatches=4)
    train_ppo(PPOArgs(**{**vars(args), "update_epochs": 3}))
    assert [tuple(v.shape) for v in seen] == [(4,)] * 12, "updates did not use minibatches of batch_size / 4"
    for epoch in range(3):
        together = torch.cat(seen[4 * epoch : 4 * epoch + 4]).sort().values
        assert torch.equal(together, torch.cat(seen[:4]).sort().values), "an epoch skipped or repeated samples"
