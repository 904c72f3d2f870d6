"""Vanilla policy gradients: REINFORCE with a learned baseline, and advantage actor-critic (A2C).

Policy gradient theorem (Sutton et al. 2000; Williams 1992):
$$\\nabla_\\theta J(\\theta) = \\mathbb E_{\\pi_\\theta}\\Bigl[
\\sum_t \\nabla_\\theta \\log \\pi_\\theta(a_t \\mid s_t)\\,
\\bigl(G_t - b(s_t)\\bigr)\\Bigr]$$
for any baseline $b$ that does not depend on the action. REINFORCE uses the Monte Carlo return $G_t$ and
$b = V_\\phi$; A2C replaces $G_t - V_\\phi(s_t)$ by a bootstrapped advantage (GAE), updating after a few steps
instead of whole episodes. Both reuse PPO's actor-critic `Agent` and are the "one epoch, no clip" special case.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import gymnasium as gym
import numpy as np
import torch
from mechlearn.rl.advantages import compute_gae, discounted_returns
from mechlearn.rl.ppo import Agent
from torch import nn
from tqdm.auto import tqdm


@dataclass
class ReinforceArgs:
    env_id: str = "CartPole-v1"
    """gymnasium id of the environment"""
    seed: int = 1
    """seeds torch and the environment"""
    total_timesteps: int = 100_000
    """environment steps; training stops at the first whole batch past this"""
    episodes_per_batch: int = 4
    """whole episodes averaged into one gradient estimate"""
    learning_rate: float = 2e-3
    """Adam's step size for actor and critic"""
    gamma: float = 0.99
    """discount factor"""
    use_baseline: bool = True
    """subtract the critic's V(s_t) from G_t (False: plain REINFORCE)"""
    hidden: int = 64
    """hidden width of actor and critic"""


def reinforce_loss(agent: Agent, obs, actions, returns, use_baseline: bool):
    """Surrogate whose gradient is the REINFORCE estimate, plus the critic's regression loss.
    The advantage is detached: the baseline must not receive the policy's gradient."""
    _, logprob, _, value = agent.get_action_and_value(obs, actions)
    advantage = returns - value.detach() if use_baseline else returns
    pg_loss = -(logprob * advantage).mean()
    v_loss = 0.5 * ((value - returns) ** 2).mean()
    return pg_loss, v_loss


def train_reinforce(args: ReinforceArgs, progress: bool = False) -> tuple[Agent, dict]:
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    env = gym.make(args.env_id)
    agent = Agent(env.observation_space.shape[0], env.action_space.n, args.hidden)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate)
    log: dict = {"args": asdict(args), "episodes": []}
    global_step, n_episode = 0, 0
    bar = tqdm(total=args.total_timesteps, disable=not progress, desc="REINFORCE")
    while global_step < args.total_timesteps:
        b_obs, b_actions, b_returns = [], [], []
        for _ in range(args.episodes_per_batch):
            obs, _ = env.reset(seed=args.seed * 100_000 + n_episode)
            n_episode += 1
            rewards, done = [], False
            while not done:
                obs_t = torch.tensor(obs, dtype=torch.float32)
                with torch.no_grad():
                    action = agent.get_action_and_value(obs_t[None])[0].item()
                obs, r, terminated, truncated, _ = env.step(action)
                b_obs.append(obs_t)
                b_actions.append(action)
                rewards.append(r)
                done = terminated or truncated
            global_step += len(rewards)
            bar.update(len(rewards))
            b_returns += discounted_returns(rewards, args.gamma)
            log["episodes"].append({"global_step": global_step, "return": sum(rewards), "length": len(rewards)})
        pg_loss, v_loss = reinforce_loss(
            agent, torch.stack(b_obs), torch.tensor(b_actions), torch.tensor(b_returns), args.use_baseline
        )
        optimizer.zero_grad()
        (pg_loss + v_loss).backward()
        optimizer.step()
    bar.close()
    env.close()
    return agent, log


@dataclass
class A2CArgs:
    env_id: str = "CartPole-v1"
    """gymnasium id of the environment"""
    seed: int = 1
    """seeds torch and every environment"""
    total_timesteps: int = 100_000
    """environment steps over all envs"""
    num_envs: int = 8
    """parallel environments"""
    num_steps: int = 8
    """steps per env between updates (the n of n-step bootstrapping)"""
    learning_rate: float = 1e-3
    """Adam's step size"""
    gamma: float = 0.98
    """discount factor"""
    gae_lambda: float = 0.9
    """GAE's lambda (0: one-step TD advantage, 1: n-step return minus V)"""
    ent_coef: float = 0.0
    """entropy bonus"""
    vf_coef: float = 0.5
    """weight of the value loss"""
    max_grad_norm: float = 0.5
    """global gradient-norm clip"""
    hidden: int = 64
    """hidden width of actor and critic"""


def train_a2c(args: A2CArgs, progress: bool = False) -> tuple[Agent, dict]:
    """Synchronous advantage actor-critic: one gradient step per rollout of num_envs * num_steps transitions.
    Unlike PPO here, a time-limit truncation is treated as termination (CleanRL's simplification)."""
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    envs = gym.vector.SyncVectorEnv(
        [lambda: gym.make(args.env_id) for _ in range(args.num_envs)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )
    obs_dim = envs.single_observation_space.shape[0]
    agent = Agent(obs_dim, envs.single_action_space.n, args.hidden)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate)
    shape = (args.num_steps, args.num_envs)
    obs, rewards, dones = torch.zeros(shape + (obs_dim,)), torch.zeros(shape), torch.zeros(shape)
    actions = torch.zeros(shape, dtype=torch.long)
    next_obs = torch.tensor(envs.reset(seed=[args.seed + i for i in range(args.num_envs)])[0], dtype=torch.float32)
    next_done, ep_return, ep_length = torch.zeros(args.num_envs), np.zeros(args.num_envs), np.zeros(args.num_envs)
    log: dict = {"args": asdict(args), "episodes": [], "iterations": []}
    global_step, start_time = 0, time.time()
    n_iterations = args.total_timesteps // (args.num_envs * args.num_steps)
    for _ in tqdm(range(n_iterations), disable=not progress, desc="A2C"):
        for step in range(args.num_steps):
            global_step += args.num_envs
            obs[step], dones[step] = next_obs, next_done
            with torch.no_grad():
                actions[step] = agent.get_action_and_value(next_obs)[0]
            next_obs_np, r, terminated, truncated, _ = envs.step(actions[step].numpy())
            rewards[step] = torch.tensor(r, dtype=torch.float32)
            next_done = torch.tensor(terminated | truncated, dtype=torch.float32)
            next_obs = torch.tensor(next_obs_np, dtype=torch.float32)
            ep_return, ep_length = ep_return + r, ep_length + 1
            for i in np.flatnonzero(terminated | truncated):
                log["episodes"].append(
                    {"global_step": global_step, "return": float(ep_return[i]), "length": int(ep_length[i])}
                )
                ep_return[i], ep_length[i] = 0.0, 0

        b_obs, b_actions = obs.reshape(-1, obs_dim), actions.reshape(-1)  # (num_steps * num_envs, ...)
        _, logprob, entropy, value = agent.get_action_and_value(b_obs, b_actions)
        with torch.no_grad():
            values = value.reshape(shape)
            advantages = compute_gae(
                rewards, values, dones, agent.get_value(next_obs), next_done, args.gamma, args.gae_lambda
            )
            b_advantages, b_returns = advantages.reshape(-1), (advantages + values).reshape(-1)
        pg_loss = -(logprob * b_advantages).mean()
        v_loss = 0.5 * ((value - b_returns) ** 2).mean()
        loss = pg_loss + args.vf_coef * v_loss - args.ent_coef * entropy.mean()
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
        optimizer.step()
        log["iterations"].append(
            {"global_step": global_step, "value_loss": v_loss.item(), "entropy": entropy.mean().item()}
        )
    log["sps"] = global_step / (time.time() - start_time)
    envs.close()
    return agent, log
