r"""Gated, JumpReLU and TopK SAEs: three answers to the L1 penalty's shrinkage, as small subclasses of `SAE`.

An L1 penalty on $f$ both decides *which* latents fire and pulls the *size* of every active latent towards zero,
so a standard SAE under-reconstructs (shrinkage). The variants separate the two jobs:

- **Gated** [@rajamanoharan2024gated]: a gate path decides which latents fire, a magnitude path (sharing
  $W_\text{enc}$ up to a per-latent scale $e^{r_\text{mag}}$) says how much; the L1 penalty and an auxiliary
  reconstruction through a frozen decoder train only the gate.
- **JumpReLU** [@rajamanoharan2024jumprelu]: a per-latent threshold $\theta$ zeroes small pre-activations and
  passes the rest unshrunk; the penalty is the L0 count itself, trained through a straight-through estimator.
- **TopK** [@gao2024scaling]: keep the $k$ largest pre-activations; no sparsity penalty at all, and an AuxK loss
  lets dead latents learn the residual.

Names and shapes follow SAELens 6.x (`b_gate`, `r_mag`, `b_mag`; `threshold`; `k`), so state dicts load there.
"""

from __future__ import annotations

from typing import Any

import torch
from jaxtyping import Bool, Float
from mechlearn.interp.sae import SAE, SAEConfig, StandardSAE
from torch import Tensor, nn


class GatedSAE(SAE):
    r"""$\pi_\text{gate} = \tilde x W_\text{enc} + b_\text{gate}$, $\pi_\text{mag} = \tilde x (W_\text{enc} \odot
    e^{r_\text{mag}}) + b_\text{mag}$, $f = \mathbf 1[\pi_\text{gate} > 0] \odot \mathrm{ReLU}(\pi_\text{mag})$,
    with $\tilde x = x - b_\text{dec}$.

    Loss: $\lVert x - \hat x\rVert^2 + \lambda \sum_i \mathrm{ReLU}(\pi_{\text{gate},i}) \lVert W_{\text{dec},i}\rVert
    + \lVert x - \hat x_\text{frozen}(\mathrm{ReLU}(\pi_\text{gate}))\rVert^2$, the last through detached copies of
    $W_\text{dec}, b_\text{dec}$ (the paper's frozen decoder). The step $\mathbf 1[\cdot]$ passes no gradient, so the
    gate learns only from the last two terms and the magnitudes only from the first."""

    architecture = "gated"
    has_b_enc = False

    def __init__(self, cfg: SAEConfig):
        super().__init__(cfg)
        self.b_gate = nn.Parameter(torch.zeros(cfg.d_sae))
        self.r_mag = nn.Parameter(torch.zeros(cfg.d_sae))
        self.b_mag = nn.Parameter(torch.zeros(cfg.d_sae))

    def latent_params(self) -> dict[str, float]:
        return {"b_gate": 0.0, "r_mag": 0.0, "b_mag": 0.0}

    def gate_pre(self, x: Float[Tensor, "... d_in"]) -> Float[Tensor, "... d_sae"]:
        return (x - self.b_dec) @ self.W_enc + self.b_gate

    def hidden_pre(self, x: Float[Tensor, "... d_in"]) -> Float[Tensor, "... d_sae"]:
        """The magnitude path's pre-activation (SAELens hooks this one as `hook_sae_acts_pre`)."""
        return (x - self.b_dec) @ (self.W_enc * self.r_mag.exp()) + self.b_mag

    def encode(self, x: Float[Tensor, "... d_in"]) -> Float[Tensor, "... d_sae"]:
        active = (self.gate_pre(x) > 0).to(x.dtype)
        return active * torch.relu(self.hidden_pre(x))

    def sparsity_loss(self, x: Float[Tensor, "batch d_in"], f: Float[Tensor, "batch d_sae"]) -> Tensor:
        gate = torch.relu(self.gate_pre(x))
        return self.cfg.l1_coefficient * (gate * self.W_dec.norm(dim=-1)).sum(-1).mean()

    def aux_loss(
        self, x: Float[Tensor, "batch d_in"], x_hat: Float[Tensor, "batch d_in"], dead: Bool[Tensor, " d_sae"] | None
    ) -> Tensor:
        via_gate = torch.relu(self.gate_pre(x)) @ self.W_dec.detach() + self.b_dec.detach()
        return (via_gate - x).pow(2).sum(-1).mean()


def rectangle(u: Tensor) -> Tensor:
    r"""The kernel $K(u) = \mathbf 1[-\tfrac12 < u < \tfrac12]$."""
    return ((u > -0.5) & (u < 0.5)).to(u.dtype)


def _sum_to_latents(g: Float[Tensor, "... d_sae"]) -> Float[Tensor, " d_sae"]:
    return g.reshape(-1, g.shape[-1]).sum(0)


class JumpReLUFunction(torch.autograd.Function):
    r"""$\mathrm{JumpReLU}_\theta(z) = z\, H(z - \theta)$ with the paper's pseudo-derivative for $\theta$:

    $$\frac{\eth}{\eth \theta} \mathrm{JumpReLU}_\theta(z) = -\frac{\theta}{\varepsilon} K\!\left(\frac{z - \theta}
    {\varepsilon}\right);$$

    towards $z$ the ordinary derivative $H(z - \theta)$ (no estimator, as in DeepMind's version)."""

    @staticmethod
    def forward(ctx: Any, z: Tensor, threshold: Tensor, bandwidth: float) -> Tensor:
        ctx.save_for_backward(z, threshold)
        ctx.bandwidth = bandwidth
        return z * (z > threshold).to(z.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, Tensor, None]:
        z, threshold = ctx.saved_tensors
        eps = ctx.bandwidth
        grad_threshold = -(threshold / eps) * rectangle((z - threshold) / eps) * grad
        return (z > threshold).to(z.dtype) * grad, _sum_to_latents(grad_threshold), None


class StepFunction(torch.autograd.Function):
    r"""$H(z - \theta)$ with $\frac{\eth}{\eth\theta} H(z - \theta) = -\frac1\varepsilon K(\frac{z - \theta}
    {\varepsilon})$ and no gradient towards $z$: the L0 penalty moves only the thresholds."""

    @staticmethod
    def forward(ctx: Any, z: Tensor, threshold: Tensor, bandwidth: float) -> Tensor:
        ctx.save_for_backward(z, threshold)
        ctx.bandwidth = bandwidth
        return (z > threshold).to(z.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, Tensor, None]:
        z, threshold = ctx.saved_tensors
        eps = ctx.bandwidth
        grad_threshold = -(1.0 / eps) * rectangle((z - threshold) / eps) * grad
        return torch.zeros_like(z), _sum_to_latents(grad_threshold), None


class JumpReLUSAE(SAE):
    r"""$f = \mathrm{JumpReLU}_\theta(\text{hidden\_pre})$, loss $\lVert x - \hat x\rVert^2 + \lambda \lVert f
    \rVert_0$.

    The threshold is the parameter itself (SAELens 6's `threshold`, not the paper's $\log\theta$), kept
    non-negative by `post_step_`; with $\theta \ge 0$ this equals SAELens' $\mathrm{ReLU}(z)\,\mathbf 1[z > \theta]$."""

    architecture = "jumprelu"

    def __init__(self, cfg: SAEConfig):
        super().__init__(cfg)
        self.threshold = nn.Parameter(torch.full((cfg.d_sae,), cfg.jumprelu_init_threshold))

    def latent_params(self) -> dict[str, float]:
        return {"b_enc": 0.0, "threshold": self.cfg.jumprelu_init_threshold}

    def encode(self, x: Float[Tensor, "... d_in"]) -> Float[Tensor, "... d_sae"]:
        return JumpReLUFunction.apply(self.hidden_pre(x), self.threshold, self.cfg.jumprelu_bandwidth)

    def sparsity_loss(self, x: Float[Tensor, "batch d_in"], f: Float[Tensor, "batch d_sae"]) -> Tensor:
        # Recomputes hidden_pre rather than threading it through training_loss: at these sizes it costs nothing.
        active = StepFunction.apply(self.hidden_pre(x), self.threshold, self.cfg.jumprelu_bandwidth)
        return self.cfg.l0_coefficient * active.sum(-1).mean()

    @torch.no_grad()
    def post_step_(self) -> None:
        super().post_step_()
        self.threshold.clamp_(min=0.0)


class TopKSAE(SAE):
    r"""$f = \mathrm{ReLU}(\mathrm{TopK}_k(\text{hidden\_pre}))$: the $k$ largest pre-activations, others zero.

    No sparsity penalty (L0 is $k$ by construction). AuxK [@gao2024scaling]: the `k_aux` largest pre-activations
    among dead latents reconstruct the residual $e = x - \hat x$ (detached) through $W_\text{dec}$ without bias,
    weighted by $\alpha \cdot \min(1, n_\text{dead} / k_\text{aux})$ as in SAELens."""

    architecture = "topk"

    def encode(self, x: Float[Tensor, "... d_in"]) -> Float[Tensor, "... d_sae"]:
        pre = self.hidden_pre(x)
        top = pre.topk(self.cfg.k, dim=-1)
        return torch.zeros_like(pre).scatter(-1, top.indices, torch.relu(top.values))

    def sparsity_loss(self, x: Float[Tensor, "batch d_in"], f: Float[Tensor, "batch d_sae"]) -> Tensor:
        return x.new_zeros(())

    def aux_loss(
        self, x: Float[Tensor, "batch d_in"], x_hat: Float[Tensor, "batch d_in"], dead: Bool[Tensor, " d_sae"] | None
    ) -> Tensor:
        n_dead = 0 if dead is None else int(dead.sum())
        if n_dead == 0 or self.cfg.aux_loss_coefficient == 0:
            return x.new_zeros(())
        k_aux_max = self.cfg.k_aux or max(1, self.cfg.d_in // 2)
        k_aux = min(k_aux_max, n_dead)
        pre = self.hidden_pre(x).masked_fill(~dead, -torch.inf)  # only dead latents compete
        top = pre.topk(k_aux, dim=-1)
        aux_acts = torch.zeros_like(pre).scatter(-1, top.indices, torch.relu(top.values))
        residual = (x - x_hat).detach()
        loss = (aux_acts @ self.W_dec - residual).pow(2).sum(-1).mean()
        return self.cfg.aux_loss_coefficient * min(1.0, n_dead / k_aux_max) * loss


VARIANTS: dict[str, type[SAE]] = {
    "standard": StandardSAE,
    "gated": GatedSAE,
    "jumprelu": JumpReLUSAE,
    "topk": TopKSAE,
}


def make_sae(variant: str, cfg: SAEConfig) -> SAE:
    """A fresh SAE of the named architecture ("standard", "gated", "jumprelu" or "topk")."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown SAE variant {variant!r}; choose one of {sorted(VARIANTS)}")
    return VARIANTS[variant](cfg)
