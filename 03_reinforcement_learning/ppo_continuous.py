"""PPO for continuous actions, read top to bottom (CleanRL's `ppo_continuous_action.py`; ARENA 2.3's MuJoCo part).

Same loop as `mechlearn.rl.ppo` (day 29) with a Gaussian policy (`mechlearn.rl.continuous`) and the continuous-action
details of Huang et al. 2022: a state-independent log-std, actions clipped by the environment only, observations
standardised and rewards scaled by running statistics (`mechlearn.rl.normalisation`), both clipped to +-10. The
losses, KL estimators, explained variance and truncation bootstrap are day 29's functions, reused unchanged.
Defaults are CleanRL's for MuJoCo: one env, 2048-step rollouts, 10 epochs of 32 minibatches, Adam 3e-4 annealed.
One difference from CleanRL: a time-limit truncation is bootstrapped with $\\gamma V(s_{final})$ (day 29's rule);
CleanRL treats it as a termination.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import gymnasium as gym
import numpy as np
import torch
from mechlearn.rl.advantages import compute_gae
from mechlearn.rl.continuous import GaussianAgent
from mechlearn.rl.normalisation import NormalizeObservation, NormalizeReward, normaliser_state
from mechlearn.rl.ppo import bootstrap_truncations, explained_variance, kl_estimators, ppo_loss
from torch import nn
from tqdm.auto import tqdm


@dataclass
class ContinuousPPOArgs:
    """CleanRL's `ppo_continuous_action.py` defaults (tuned for MuJoCo at 1M steps)."""

    env_id: str = "HalfCheetah-v5"
    """gymnasium id of the environment"""
    seed: int = 1
    """seeds torch, numpy and every environment"""
    total_timesteps: int = 1_000_000
    """environment steps over all envs: the whole training budget"""
    learning_rate: float = 3e-4
    """Adam's step size at the start (annealed linearly to 0 if `anneal_lr`)"""
    num_envs: int = 1
    """parallel environments (CleanRL uses one for MuJoCo)"""
    num_steps: int = 2048
    """steps per env per rollout; batch_size = num_envs * num_steps"""
    anneal_lr: bool = True
    """decay the learning rate linearly to 0 over training"""
    gamma: float = 0.99
    """discount factor $\\gamma$ (also the discount of the return whose std scales rewards)"""
    gae_lambda: float = 0.95
    """GAE's $\\lambda$"""
    num_minibatches: int = 32
    """minibatches per epoch: 64 samples each at the defaults"""
    update_epochs: int = 10
    """passes over each rollout"""
    norm_adv: bool = True
    """normalise advantages per minibatch"""
    clip_coef: float = 0.2
    """$\\epsilon$ of the clipped surrogate (and of the value clipping)"""
    clip_vloss: bool = True
    """clip the value update around the old prediction, as CleanRL does"""
    ent_coef: float = 0.0
    """no entropy bonus: the log-std is learned by the policy gradient alone"""
    vf_coef: float = 0.5
    """weight of the value loss"""
    max_grad_norm: float = 0.5
    """clip the global gradient norm to this"""
    target_kl: float | None = None
    """stop the epochs early when approx KL exceeds this (None: never)"""
    hidden: int = 64
    """width of the two tanh hidden layers of actor and critic"""
    norm_obs: bool = True
    """standardise observations by running statistics (then clip to +-10)"""
    norm_reward: bool = True
    """scale rewards by the running std of the discounted return (then clip to +-10)"""

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.num_steps

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches

    @property
    def num_iterations(self) -> int:
        return self.total_timesteps // self.batch_size


def make_env(env_id: str, gamma: float, norm_obs: bool = True, norm_reward: bool = True) -> gym.Env:
    """CleanRL's wrapper stack: episode statistics of the raw reward innermost, then action clipping, then the
    normalisers (the agent sees only normalised observations and rewards)."""
    env = gym.wrappers.RecordEpisodeStatistics(gym.make(env_id))
    env = gym.wrappers.ClipAction(env)
    if norm_obs:
        env = NormalizeObservation(env)
    if norm_reward:
        env = NormalizeReward(env, gamma=gamma)
    return env


def make_envs(args: ContinuousPPOArgs) -> gym.vector.SyncVectorEnv:
    # SAME_STEP autoreset, as day 29: the final observation of an episode is in info["final_obs"] for bootstrapping.
    return gym.vector.SyncVectorEnv(
        [lambda: make_env(args.env_id, args.gamma, args.norm_obs, args.norm_reward) for _ in range(args.num_envs)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )


def train_ppo_continuous(
    args: ContinuousPPOArgs, progress: bool = False
) -> tuple[GaussianAgent, dict, dict[str, np.ndarray]]:
    """Train; returns the agent, a log (diagnostics per iteration, raw return of every finished episode) and the
    observation statistics of env 0 at the end (what evaluation must normalise with)."""
    torch.set_num_threads(1)  # a tiny MLP on shared cores
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    envs = make_envs(args)
    obs_dim, act_dim = envs.single_observation_space.shape[0], envs.single_action_space.shape[0]
    agent = GaussianAgent(obs_dim, act_dim, args.hidden)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5, foreach=True)

    obs = torch.zeros((args.num_steps, args.num_envs, obs_dim))
    actions = torch.zeros((args.num_steps, args.num_envs, act_dim))
    logprobs = torch.zeros((args.num_steps, args.num_envs))
    rewards = torch.zeros((args.num_steps, args.num_envs))
    dones = torch.zeros((args.num_steps, args.num_envs))
    values = torch.zeros((args.num_steps, args.num_envs))

    log: dict = {"args": asdict(args), "iterations": [], "episodes": []}
    global_step, start_time = 0, time.time()
    next_obs = torch.tensor(envs.reset(seed=[args.seed + i for i in range(args.num_envs)])[0], dtype=torch.float32)
    next_done = torch.zeros(args.num_envs)

    for iteration in tqdm(range(1, args.num_iterations + 1), disable=not progress, desc="PPO"):
        if args.anneal_lr:
            frac = 1.0 - (iteration - 1.0) / args.num_iterations
            optimizer.param_groups[0]["lr"] = frac * args.learning_rate

        for step in range(args.num_steps):
            global_step += args.num_envs
            obs[step], dones[step] = next_obs, next_done
            with torch.no_grad():
                action, logprob, _, value = agent.get_action_and_value(next_obs)
            values[step], actions[step], logprobs[step] = value, action, logprob

            # the env clips the action; the buffer keeps the unclipped sample whose log-prob was taken
            next_obs_np, reward, terminated, truncated, infos = envs.step(action.numpy())
            rewards[step] = bootstrap_truncations(reward, terminated, truncated, infos, agent, args.gamma)
            next_done = torch.tensor(np.logical_or(terminated, truncated), dtype=torch.float32)
            next_obs = torch.tensor(next_obs_np, dtype=torch.float32)

            for i in np.flatnonzero(terminated | truncated):
                stats = infos["final_info"]["episode"]
                log["episodes"].append(
                    {"global_step": global_step, "return": float(stats["r"][i]), "length": int(stats["l"][i])}
                )

        next_value = agent.get_value(next_obs).detach()
        advantages = compute_gae(rewards, values, dones, next_value, next_done, args.gamma, args.gae_lambda)
        returns = advantages + values

        b_obs = obs.reshape(-1, obs_dim)  # (num_steps * num_envs, obs_dim)
        b_actions = actions.reshape(-1, act_dim)  # (num_steps * num_envs, act_dim)
        b_logprobs = logprobs.reshape(-1)
        b_advantages, b_returns, b_values = advantages.reshape(-1), returns.reshape(-1), values.reshape(-1)

        b_inds = np.arange(args.batch_size)
        clipfracs, approx_kl = [], torch.tensor(0.0)
        for _epoch in range(args.update_epochs):
            np.random.shuffle(b_inds)
            for start in range(0, args.batch_size, args.minibatch_size):
                mb_inds = b_inds[start : start + args.minibatch_size]
                _, newlogprob, entropy, newvalue = agent.get_action_and_value(b_obs[mb_inds], b_actions[mb_inds])
                logratio = newlogprob - b_logprobs[mb_inds]
                ratio = logratio.exp()
                with torch.no_grad():
                    old_approx_kl, approx_kl = kl_estimators(logratio)
                    clipfracs.append(((ratio - 1.0).abs() > args.clip_coef).float().mean().item())

                loss, pg_loss, v_loss, entropy_loss = ppo_loss(
                    ratio, entropy, newvalue, b_advantages[mb_inds], b_returns[mb_inds], b_values[mb_inds], args
                )
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                optimizer.step()

            if args.target_kl is not None and approx_kl > args.target_kl:
                break

        log["iterations"].append(
            {
                "global_step": global_step,
                "learning_rate": optimizer.param_groups[0]["lr"],
                "value_loss": v_loss.item(),
                "policy_loss": pg_loss.item(),
                "entropy": entropy_loss.item(),
                "action_std": agent.actor_logstd.exp().mean().item(),
                "old_approx_kl": old_approx_kl.item(),
                "approx_kl": approx_kl.item(),
                "clipfrac": float(np.mean(clipfracs)),
                "explained_variance": explained_variance(b_values.numpy(), b_returns.numpy()),
                "sps": global_step / (time.time() - start_time),
            }
        )
    stats = normaliser_state(envs.envs[0]) if args.norm_obs else {}
    envs.close()
    return agent, log, stats
