"""Deep Q-learning (Mnih et al. 2015) on a discrete-action gymnasium env, in the style of CleanRL's `dqn.py`.

Three things turn Q-learning's update into one that a network survives:
- a **replay buffer**: minibatches sampled uniformly from the last `buffer_size` transitions break the correlation
  of consecutive steps;
- a **target network** $Q_{\\theta^-}$, copied from $Q_\\theta$ every `target_network_frequency` steps, so the
  regression target $y = r + \\gamma (1 - d) \\max_{a'} Q_{\\theta^-}(s', a')$ holds still while $Q_\\theta$ fits it;
- an **epsilon schedule** decaying linearly from `start_e` to `end_e`: explore first, exploit later.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn
from tqdm.auto import tqdm


@dataclass
class DQNArgs:
    env_id: str = "CartPole-v1"
    """gymnasium id of the environment"""
    seed: int = 1
    """seeds torch, numpy, the buffer and the environment"""
    total_timesteps: int = 50_000
    """environment steps (a single env)"""
    learning_rate: float = 2.5e-4
    """Adam's step size"""
    buffer_size: int = 10_000
    """transitions kept in the replay buffer"""
    gamma: float = 0.99
    """discount factor"""
    target_network_frequency: int = 500
    """steps between copies of the online network into the target network"""
    batch_size: int = 128
    """transitions per gradient step"""
    start_e: float = 1.0
    """initial exploration rate"""
    end_e: float = 0.05
    """final exploration rate"""
    exploration_fraction: float = 0.5
    """fraction of total_timesteps over which epsilon decays"""
    learning_starts: int = 5_000
    """steps of pure exploration that fill the buffer before learning starts"""
    train_frequency: int = 4
    """environment steps per gradient step"""
    hidden: int = 120
    """width of the hidden layers (CleanRL: 120 then 84)"""


class ReplayBuffer:
    """A circular buffer of transitions with uniform sampling."""

    def __init__(self, buffer_size: int, obs_dim: int, seed: int):
        self.obs = np.zeros((buffer_size, obs_dim), dtype=np.float32)
        self.next_obs = np.zeros((buffer_size, obs_dim), dtype=np.float32)
        self.actions = np.zeros(buffer_size, dtype=np.int64)
        self.rewards = np.zeros(buffer_size, dtype=np.float32)
        self.terminated = np.zeros(buffer_size, dtype=np.float32)
        self.buffer_size, self.pos, self.full = buffer_size, 0, False
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.buffer_size if self.full else self.pos

    def add(self, obs, action: int, reward: float, next_obs, terminated: bool) -> None:
        i = self.pos
        self.obs[i], self.actions[i], self.rewards[i] = obs, action, reward
        self.next_obs[i], self.terminated[i] = next_obs, terminated
        self.pos = (self.pos + 1) % self.buffer_size
        self.full = self.full or self.pos == 0

    def sample(self, batch_size: int) -> dict[str, Tensor]:
        """A dict of tensors: obs/next_obs `(batch, obs_dim)`, actions/rewards/terminated `(batch,)`."""
        idx = self.rng.integers(len(self), size=batch_size)
        return {
            "obs": torch.from_numpy(self.obs[idx]),
            "actions": torch.from_numpy(self.actions[idx]),
            "rewards": torch.from_numpy(self.rewards[idx]),
            "next_obs": torch.from_numpy(self.next_obs[idx]),
            "terminated": torch.from_numpy(self.terminated[idx]),
        }


class QNetwork(nn.Module):
    def __init__(self, obs_dim: int, n_actions: int, hidden: int = 120):
        super().__init__()
        self.network = nn.Sequential(
            nn.Linear(obs_dim, hidden), nn.ReLU(), nn.Linear(hidden, 84), nn.ReLU(), nn.Linear(84, n_actions)
        )

    def forward(self, x: Float[Tensor, "batch obs"]) -> Float[Tensor, "batch action"]:
        return self.network(x)


def linear_schedule(start_e: float, end_e: float, duration: int, t: int) -> float:
    """Epsilon at step t: linear from start_e at t = 0 to end_e at t = duration, constant after."""
    slope = (end_e - start_e) / duration
    return max(slope * t + start_e, end_e)


def td_target(
    target_q: Float[Tensor, "batch action"],
    rewards: Float[Tensor, " batch"],
    terminated: Float[Tensor, " batch"],
    gamma: float,
) -> Float[Tensor, " batch"]:
    """$y = r + \\gamma (1 - d) \\max_{a'} Q_{\\theta^-}(s', a')$ from the target network's values at s'."""
    return rewards + gamma * (1 - terminated) * target_q.max(dim=1).values


def train_dqn(args: DQNArgs, progress: bool = False) -> tuple[QNetwork, dict]:
    """Train a Q-network; returns it with a log of every finished episode and the TD loss every 100 steps."""
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    env = gym.make(args.env_id)
    obs_dim, n_actions = env.observation_space.shape[0], env.action_space.n
    q_network = QNetwork(obs_dim, n_actions, args.hidden)
    target_network = QNetwork(obs_dim, n_actions, args.hidden)
    target_network.load_state_dict(q_network.state_dict())
    optimizer = torch.optim.Adam(q_network.parameters(), lr=args.learning_rate)
    rb = ReplayBuffer(args.buffer_size, obs_dim, args.seed)

    log: dict = {"args": asdict(args), "episodes": [], "losses": []}
    obs, _ = env.reset(seed=args.seed)
    ep_return, ep_length, start_time = 0.0, 0, time.time()
    for global_step in tqdm(range(args.total_timesteps), disable=not progress, desc="DQN"):
        epsilon = linear_schedule(
            args.start_e, args.end_e, int(args.exploration_fraction * args.total_timesteps), global_step
        )
        if rng.random() < epsilon:
            action = int(rng.integers(n_actions))
        else:
            with torch.no_grad():
                action = int(q_network(torch.tensor(obs, dtype=torch.float32)[None]).argmax())
        next_obs, reward, terminated, truncated, _ = env.step(action)
        # only termination zeroes the bootstrap: a truncated episode's next state still has value
        rb.add(obs, action, reward, next_obs, terminated)
        ep_return, ep_length = ep_return + reward, ep_length + 1
        obs = next_obs
        if terminated or truncated:
            log["episodes"].append({"global_step": global_step, "return": ep_return, "length": ep_length})
            obs, _ = env.reset()
            ep_return, ep_length = 0.0, 0

        if global_step >= args.learning_starts and global_step % args.train_frequency == 0:
            data = rb.sample(args.batch_size)
            with torch.no_grad():
                y = td_target(target_network(data["next_obs"]), data["rewards"], data["terminated"], args.gamma)
            q_taken = q_network(data["obs"]).gather(1, data["actions"][:, None]).squeeze(1)
            loss = F.mse_loss(q_taken, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if global_step % 100 == 0:
                log["losses"].append(
                    {"global_step": global_step, "td_loss": loss.item(), "q_values": q_taken.mean().item()}
                )
        if global_step % args.target_network_frequency == 0:
            target_network.load_state_dict(q_network.state_dict())
    log["sps"] = args.total_timesteps / (time.time() - start_time)
    env.close()
    return q_network, log
