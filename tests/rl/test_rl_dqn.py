"""DQN's pieces: replay buffer, epsilon schedule, TD target; and a short run that learns."""

import numpy as np
import pytest
import torch
from mechlearn.rl.dqn import DQNArgs, ReplayBuffer, linear_schedule, td_target, train_dqn


def test_replay_buffer_shapes_and_wraparound():
    rb = ReplayBuffer(buffer_size=5, obs_dim=3, seed=0)
    for i in range(7):
        rb.add(np.full(3, i), i % 2, float(i), np.full(3, i + 1), i == 6)
    assert len(rb) == 5, "buffer must cap at buffer_size"
    # slots hold transitions 5, 6, 2, 3, 4: the two oldest (0, 1) were overwritten
    assert sorted(rb.rewards.tolist()) == [2.0, 3.0, 4.0, 5.0, 6.0], "circular overwrite is wrong"
    batch = rb.sample(16)
    assert batch["obs"].shape == (16, 3) and batch["next_obs"].shape == (16, 3)
    assert batch["actions"].shape == (16,) and batch["actions"].dtype == torch.int64
    assert batch["rewards"].shape == (16,) and batch["terminated"].shape == (16,)
    torch.testing.assert_close(batch["next_obs"], batch["obs"] + 1), "obs and next_obs come from different transitions"


def test_replay_buffer_samples_only_filled_slots():
    rb = ReplayBuffer(buffer_size=100, obs_dim=1, seed=0)
    for i in range(3):
        rb.add([i], 0, 1.0, [i], False)
    assert set(rb.sample(200)["obs"].squeeze(1).tolist()) == {0.0, 1.0, 2.0}, "sampled an empty slot"


def test_linear_schedule_by_hand():
    assert linear_schedule(1.0, 0.1, 10, 0) == 1.0
    assert linear_schedule(1.0, 0.1, 10, 5) == pytest.approx(0.55)
    assert linear_schedule(1.0, 0.1, 10, 50) == pytest.approx(0.1), "epsilon must stop at end_e"


def test_td_target_by_hand():
    target_q = torch.tensor([[1.0, 3.0], [2.0, -1.0]])
    y = td_target(target_q, torch.tensor([1.0, 1.0]), torch.tensor([0.0, 1.0]), gamma=0.5)
    # 1 + 0.5 * max(1, 3) = 2.5; terminated: just the reward
    assert y.tolist() == [2.5, 1.0], "bootstrap must use max over actions and stop at terminal states"


def test_dqn_learns_probe_5s_action_values():
    """Probe 5: one-step episodes, reward +1 for the action matching the observation's sign, -1 otherwise, so
    Q(o, a) = +-1 exactly. A wrong TD target (bootstrapping past a terminal, the online net as target, the max
    over the wrong axis) moves these values."""
    import mechlearn.rl.probes  # noqa: F401  (registers the probe environments)

    args = DQNArgs(env_id="mechlearn/Probe5-v0", total_timesteps=800, learning_starts=200, seed=1)
    q, _ = train_dqn(args)
    with torch.no_grad():
        values = q(torch.tensor([[-1.0], [1.0]]))
    expected = torch.tensor([[1.0, -1.0], [-1.0, 1.0]])
    assert (values - expected).abs().max() < 0.05, f"Q on probe 5: {values.tolist()}, expected {expected.tolist()}"


@pytest.mark.slow
def test_dqn_short_run_learns():
    args = DQNArgs(total_timesteps=8_000, learning_starts=1_000, exploration_fraction=0.3, seed=1)
    _, log = train_dqn(args)
    returns = [e["return"] for e in log["episodes"]]
    first, last = np.mean(returns[:20]), np.mean(returns[-10:])
    assert last > 2 * first, f"DQN did not improve: first 20 episodes {first:.1f}, last 10 {last:.1f}"
