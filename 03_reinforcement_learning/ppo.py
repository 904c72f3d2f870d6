"""Proximal Policy Optimisation for discrete actions, in one file read top to bottom (CleanRL's `ppo.py`).

Schulman et al. 2017, "Proximal Policy Optimization Algorithms"; the implementation details follow Huang et al.
2022, "The 37 Implementation Details of PPO": vectorised environments, orthogonal initialisation, GAE, shuffled
minibatches over several epochs, advantage normalisation, the clipped surrogate objective, value clipping, an
entropy bonus, global gradient-norm clipping, learning-rate annealing, and separate actor and critic networks.
One addition: a time-limit truncation is not a failure, so its reward is bootstrapped with $\\gamma V(s_{final})$.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import gymnasium as gym
import numpy as np
import torch
from jaxtyping import Float, Int
from mechlearn.rl.advantages import compute_gae
from torch import Tensor, nn
from torch.distributions import Categorical
from tqdm.auto import tqdm


@dataclass
class PPOArgs:
    """Defaults solve CartPole-v1 in 100k steps (the tuning follows rl-baselines3-zoo's CartPole entry)."""

    env_id: str = "CartPole-v1"
    """gymnasium id of the environment"""
    seed: int = 1
    """seeds torch, numpy and every environment"""
    total_timesteps: int = 100_000
    """environment steps over all envs: the whole training budget"""
    learning_rate: float = 1e-3
    """Adam's step size at the start (annealed linearly to 0 if `anneal_lr`)"""
    num_envs: int = 8
    """parallel environments: decorrelated samples for each update"""
    num_steps: int = 32
    """steps per env per rollout; batch_size = num_envs * num_steps"""
    anneal_lr: bool = True
    """decay the learning rate linearly to 0 over training: late updates become small"""
    gamma: float = 0.98
    """discount factor $\\gamma$: the horizon 1/(1-gamma) = 50 steps is enough to value balancing"""
    gae_lambda: float = 0.8
    """GAE's $\\lambda$: trades the bias of one-step TD (0) against the variance of Monte Carlo (1)"""
    num_minibatches: int = 4
    """minibatches per epoch"""
    update_epochs: int = 10
    """passes over each rollout; the clip limits how far they move the policy from the one that collected it"""
    norm_adv: bool = True
    """normalise advantages per minibatch to zero mean, unit variance"""
    clip_coef: float = 0.2
    """$\\epsilon$ in the clipped surrogate; ratios outside [1 - eps, 1 + eps] get no gradient"""
    clip_vloss: bool = True
    """clip the value update around the old value prediction, as the PPO implementations do"""
    ent_coef: float = 0.0
    """entropy bonus coefficient (CartPole needs no extra exploration)"""
    vf_coef: float = 0.5
    """weight of the value loss in the total loss"""
    max_grad_norm: float = 0.5
    """clip the global gradient norm of all parameters to this"""
    target_kl: float | None = None
    """stop the epochs early when approx KL exceeds this (None: never)"""
    hidden: int = 64
    """width of the two hidden layers of both actor and critic"""

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.num_steps

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches

    @property
    def num_iterations(self) -> int:
        return self.total_timesteps // self.batch_size


def layer_init(layer: nn.Linear, std: float = np.sqrt(2), bias_const: float = 0.0) -> nn.Linear:
    """Orthogonal weights with gain `std`, zero biases (detail 2 of the 37)."""
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias_const)
    return layer


class Agent(nn.Module):
    """Separate actor and critic MLPs; the actor's last layer has gain 0.01 so the first policy is near uniform."""

    def __init__(self, obs_dim: int, n_actions: int, hidden: int = 64):
        super().__init__()
        self.critic = nn.Sequential(
            layer_init(nn.Linear(obs_dim, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, 1), std=1.0),
        )
        self.actor = nn.Sequential(
            layer_init(nn.Linear(obs_dim, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, n_actions), std=0.01),
        )

    def get_value(self, x: Float[Tensor, "batch obs"]) -> Float[Tensor, " batch"]:
        return self.critic(x).squeeze(-1)

    def get_action_and_value(self, x: Float[Tensor, "batch obs"], action: Int[Tensor, " batch"] | None = None):
        """Sample (or score the given) action: returns action, log pi(a|s), entropy, V(s)."""
        probs = Categorical(logits=self.actor(x))
        if action is None:
            action = probs.sample()
        return action, probs.log_prob(action), probs.entropy(), self.get_value(x)


def clipped_surrogate(
    ratio: Float[Tensor, " batch"], advantages: Float[Tensor, " batch"], clip_coef: float
) -> Float[Tensor, " batch"]:
    """PPO's objective per sample, to be maximised:
    $L^{CLIP} = \\min\\bigl(r A,\\ \\mathrm{clip}(r, 1-\\epsilon, 1+\\epsilon) A\\bigr)$."""
    return torch.min(ratio * advantages, torch.clamp(ratio, 1 - clip_coef, 1 + clip_coef) * advantages)


def ppo_loss(
    ratio: Float[Tensor, " mb"],
    entropy: Float[Tensor, " mb"],
    newvalue: Float[Tensor, " mb"],
    mb_advantages: Float[Tensor, " mb"],
    mb_returns: Float[Tensor, " mb"],
    mb_values: Float[Tensor, " mb"],
    args: PPOArgs,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The loss one minibatch step minimises, and its parts (policy loss, value loss, mean entropy):
    $L = -L^{CLIP} + c_v L^{V} - c_e H[\\pi]$, so a positive `ent_coef` rewards entropy (keeps exploring).

    $L^V = \\tfrac12 \\max\\bigl((V - R)^2, (V_{old} + \\mathrm{clip}(V - V_{old}, \\pm\\epsilon) - R)^2\\bigr)$ with
    `clip_vloss` (pessimistic, like the policy term), else $\\tfrac12 (V - R)^2$; $R$ are the GAE returns.
    """
    if args.norm_adv:
        mb_advantages = (mb_advantages - mb_advantages.mean()) / (mb_advantages.std() + 1e-8)
    pg_loss = -clipped_surrogate(ratio, mb_advantages, args.clip_coef).mean()

    if args.clip_vloss:
        v_loss_unclipped = (newvalue - mb_returns) ** 2
        v_clipped = mb_values + torch.clamp(newvalue - mb_values, -args.clip_coef, args.clip_coef)
        v_loss_clipped = (v_clipped - mb_returns) ** 2
        v_loss = 0.5 * torch.max(v_loss_unclipped, v_loss_clipped).mean()
    else:
        v_loss = 0.5 * ((newvalue - mb_returns) ** 2).mean()

    entropy_loss = entropy.mean()
    loss = pg_loss - args.ent_coef * entropy_loss + v_loss * args.vf_coef
    return loss, pg_loss, v_loss, entropy_loss


def kl_estimators(logratio: Float[Tensor, " batch"]) -> tuple[Tensor, Tensor]:
    """Two estimators of KL(pi_old || pi_new) from samples a ~ pi_old, with $r = \\pi_{new}/\\pi_{old}$
    (Schulman, "Approximating KL divergence"): k1 = E[-log r] (unbiased, can go negative) and
    k3 = E[(r - 1) - log r] (unbiased and always >= 0: the `approx_kl` CleanRL logs)."""
    ratio = logratio.exp()
    return (-logratio).mean(), ((ratio - 1) - logratio).mean()


def explained_variance(y_pred: np.ndarray, y_true: np.ndarray) -> float:
    """$1 - \\mathrm{Var}[y - \\hat y] / \\mathrm{Var}[y]$: 1 is a perfect critic, 0 no better than a constant."""
    var_y = np.var(y_true)
    return float("nan") if var_y == 0 else float(1 - np.var(y_true - y_pred) / var_y)


def bootstrap_truncations(
    env_reward: np.ndarray, terminated: np.ndarray, truncated: np.ndarray, infos: dict, agent: Agent, gamma: float
) -> Float[Tensor, " num_envs"]:
    """The rewards of one vector step, with $\\gamma V(s_{final})$ added where a time limit cut an episode short.

    A truncated episode did not end, so its last reward is followed by the value of the state it stopped in; the
    step is still marked done, which stops GAE from reading the next episode's first observation. An env that
    terminated on the same step is terminal (nothing follows a terminal state, whatever the clock says): no
    bootstrap.
    """
    reward = torch.tensor(env_reward, dtype=torch.float32)
    idx = np.flatnonzero(truncated & ~terminated)
    if idx.size:
        final_obs = torch.tensor(np.stack(infos["final_obs"][idx]), dtype=torch.float32)
        with torch.no_grad():
            reward[idx] += gamma * agent.get_value(final_obs)
    return reward


def make_envs(env_id: str, num_envs: int) -> gym.vector.SyncVectorEnv:
    # SAME_STEP autoreset: the step that ends an episode already returns the next episode's first observation,
    # with the last one in info["final_obs"] (needed to bootstrap truncations).
    return gym.vector.SyncVectorEnv(
        [lambda: gym.make(env_id) for _ in range(num_envs)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
    )


def train_ppo(args: PPOArgs, progress: bool = False) -> tuple[Agent, dict]:
    """Train an agent; returns it with a log: one row of diagnostics per iteration and every finished episode."""
    torch.set_num_threads(1)  # a tiny MLP: threads cost more than they give on shared cores
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    envs = make_envs(args.env_id, args.num_envs)
    obs_dim, n_actions = envs.single_observation_space.shape[0], envs.single_action_space.n
    agent = Agent(obs_dim, n_actions, args.hidden)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)

    obs = torch.zeros((args.num_steps, args.num_envs, obs_dim))
    actions = torch.zeros((args.num_steps, args.num_envs), dtype=torch.long)
    logprobs = torch.zeros((args.num_steps, args.num_envs))
    rewards = torch.zeros((args.num_steps, args.num_envs))
    dones = torch.zeros((args.num_steps, args.num_envs))
    values = torch.zeros((args.num_steps, args.num_envs))

    log: dict = {"args": asdict(args), "iterations": [], "episodes": []}
    global_step, start_time = 0, time.time()
    next_obs = torch.tensor(envs.reset(seed=[args.seed + i for i in range(args.num_envs)])[0], dtype=torch.float32)
    envs.action_space.seed(args.seed)
    next_done = torch.zeros(args.num_envs)
    ep_return, ep_length = np.zeros(args.num_envs), np.zeros(args.num_envs, dtype=int)

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

            next_obs_np, env_reward, terminated, truncated, infos = envs.step(action.numpy())
            rewards[step] = bootstrap_truncations(env_reward, terminated, truncated, infos, agent, args.gamma)
            next_done = torch.tensor(np.logical_or(terminated, truncated), dtype=torch.float32)
            next_obs = torch.tensor(next_obs_np, dtype=torch.float32)

            ep_return += env_reward
            ep_length += 1
            for i in np.flatnonzero(terminated | truncated):
                episode = {"global_step": global_step, "return": float(ep_return[i]), "length": int(ep_length[i])}
                log["episodes"].append(episode)
                ep_return[i], ep_length[i] = 0.0, 0

        next_value = agent.get_value(next_obs).detach()
        advantages = compute_gae(rewards, values, dones, next_value, next_done, args.gamma, args.gae_lambda)
        returns = advantages + values

        # flatten the rollout: b_ = the whole batch
        b_obs = obs.reshape(-1, obs_dim)  # (num_steps * num_envs, obs_dim)
        b_logprobs, b_actions = logprobs.reshape(-1), actions.reshape(-1)
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
                "old_approx_kl": old_approx_kl.item(),
                "approx_kl": approx_kl.item(),
                "clipfrac": float(np.mean(clipfracs)),
                "explained_variance": explained_variance(b_values.numpy(), b_returns.numpy()),
                "sps": global_step / (time.time() - start_time),
            }
        )
    envs.close()
    return agent, log
