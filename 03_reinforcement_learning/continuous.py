"""A Gaussian policy for continuous actions (CleanRL's `ppo_continuous_action.py` agent; ARENA 2.3's MuJoCo part).

The actor outputs a mean $\\mu_\\theta(s) \\in \\mathbb{R}^d$; the log standard deviation $\\log\\sigma \\in
\\mathbb{R}^d$ is a free parameter shared by all states (detail 1 of the continuous-action details in Huang et al.
2022). Action coordinates are independent, so the density factorises and the log-probability is a sum over them:
$$\\log \\pi(a \\mid s) = \\sum_{j=1}^{d} \\Bigl[-\\frac{(a_j - \\mu_j)^2}{2\\sigma_j^2} - \\log\\sigma_j
  - \\tfrac12 \\log 2\\pi\\Bigr], \\qquad
H[\\pi(\\cdot \\mid s)] = \\sum_{j=1}^{d} \\Bigl[\\tfrac12 \\log(2\\pi e) + \\log\\sigma_j\\Bigr].$$
The entropy does not depend on the state (only on $\\sigma$). Sampled actions are left unbounded; the environment's
`ClipAction` wrapper clips them, and the log-probability is that of the unclipped sample.
"""

from __future__ import annotations

import math

import torch
from jaxtyping import Float
from mechlearn.rl.ppo import layer_init
from torch import Tensor, nn


def gaussian_log_prob(
    mean: Float[Tensor, "batch act"], log_std: Float[Tensor, "batch act"], action: Float[Tensor, "batch act"]
) -> Float[Tensor, " batch"]:
    """$\\sum_j -\\frac{(a_j-\\mu_j)^2}{2\\sigma_j^2} - \\log\\sigma_j - \\frac12\\log 2\\pi$: one number per sample."""
    z = (action - mean) * torch.exp(-log_std)
    return (-0.5 * z**2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)


def gaussian_entropy(log_std: Float[Tensor, "batch act"]) -> Float[Tensor, " batch"]:
    """$\\sum_j \\frac12\\log(2\\pi e) + \\log\\sigma_j$."""
    return (0.5 * math.log(2 * math.pi * math.e) + log_std).sum(-1)


class GaussianAgent(nn.Module):
    """Separate tanh MLP critic and actor mean (64x64, orthogonal init), and a state-independent `actor_logstd`
    starting at 0 ($\\sigma = 1$). The mean head has gain 0.01, so the first policy is $\\approx \\mathcal N(0, I)$."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: int = 64):
        super().__init__()
        self.critic = nn.Sequential(
            layer_init(nn.Linear(obs_dim, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, 1), std=1.0),
        )
        self.actor_mean = nn.Sequential(
            layer_init(nn.Linear(obs_dim, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, act_dim), std=0.01),
        )
        self.actor_logstd = nn.Parameter(torch.zeros(1, act_dim))

    def get_value(self, x: Float[Tensor, "batch obs"]) -> Float[Tensor, " batch"]:
        return self.critic(x).squeeze(-1)

    def get_action_and_value(
        self, x: Float[Tensor, "batch obs"], action: Float[Tensor, "batch act"] | None = None
    ) -> tuple[Float[Tensor, "batch act"], Float[Tensor, " batch"], Float[Tensor, " batch"], Float[Tensor, " batch"]]:
        """Sample (or score the given) action: returns action, log pi(a|s), entropy, V(s)."""
        mean = self.actor_mean(x)
        log_std = self.actor_logstd.expand_as(mean)
        if action is None:
            action = mean + torch.exp(log_std) * torch.randn_like(mean)
        return action, gaussian_log_prob(mean, log_std, action), gaussian_entropy(log_std), self.get_value(x)

    @torch.no_grad()
    def act_deterministic(self, x: Float[Tensor, "batch obs"]) -> Float[Tensor, "batch act"]:
        """The mean action: how the trained policy is evaluated."""
        return self.actor_mean(x)


def agent_from_state_dict(state: dict[str, Tensor]) -> GaussianAgent:
    """Rebuild an agent from its saved weights (sizes read off the tensors)."""
    obs_dim = state["critic.0.weight"].shape[1]
    act_dim, hidden = state["actor_mean.4.weight"].shape
    agent = GaussianAgent(obs_dim, act_dim, hidden)
    agent.load_state_dict({k: v for k, v in state.items() if k in dict(agent.named_parameters())})
    return agent
