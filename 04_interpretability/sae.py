r"""Sparse autoencoders (SAEs): the shared base and the standard ReLU + L1 variant.

An SAE writes an activation $x \in \mathbb R^{d_\text{in}}$ as a sparse, non-negative combination of $d_\text{sae}$
learned directions (the rows of $W_\text{dec}$) plus a bias [@bricken2023monosemanticity; @cunningham2023sparse]:

$$f(x) = \sigma\big((x - b_\text{dec}) W_\text{enc} + b_\text{enc}\big), \qquad
\hat x = f(x)\, W_\text{dec} + b_\text{dec}.$$

Subtracting $b_\text{dec}$ before encoding (SAELens' `apply_b_dec_to_input`) ties the pre-encoder bias to the
decoder's. The variants differ only in $\sigma$ and in the sparsity penalty; `sae_variants` holds the gated, JumpReLU
and TopK ones. Parameter names and shapes are SAELens 6.x's [@bloom2024saelens] — `W_enc` (d_in, d_sae), `b_enc`
(d_sae), `W_dec` (d_sae, d_in), `b_dec` (d_in) — so a state dict of ours loads into its class of the same
architecture without renaming.

Every variant keeps the decoder rows at unit norm (`post_step_` after each optimiser step), as all four papers do:
otherwise an L1 penalty could be dodged by shrinking $f$ and growing $W_\text{dec}$, and a latent's decoder row is
directly comparable with a feature direction.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Bool, Float
from torch import Tensor, nn


@dataclass
class SAEConfig:
    d_in: int = 2  # width of the activations the SAE reads (the toy model's d_hidden)
    d_sae: int = 5  # latents: the dictionary size; at least the number of features we hope to find
    l1_coefficient: float = 0.1  # standard and gated: weight of the L1 penalty sum_i f_i ||W_dec,i||
    k: int = 1  # topk: latents kept per input (Gao et al.'s k)
    aux_loss_coefficient: float = 1 / 32  # topk: weight of AuxK, the dead latents' loss (Gao et al.'s alpha)
    k_aux: int = 0  # topk: dead latents AuxK uses per input; 0 = d_in // 2 (at least 1), SAELens' heuristic
    jumprelu_init_threshold: float = 0.01  # jumprelu: threshold at initialisation (SAELens' default)
    jumprelu_bandwidth: float = 0.05  # jumprelu: width epsilon of the rectangle kernel in the pseudo-derivative
    l0_coefficient: float = 1.0  # jumprelu: weight lambda of the L0 penalty
    seed: int = 0  # seeds the initialisation only (the trainer has its own seed for batches)


class SAE(nn.Module):
    """Shared parameters and the encode -> decode pipeline; a subclass supplies `encode` and `sparsity_loss`."""

    architecture = "base"
    has_b_enc = True  # the gated SAE has two encoder biases instead (b_gate, b_mag)

    W_enc: Float[Tensor, "d_in d_sae"]
    b_enc: Float[Tensor, " d_sae"]
    W_dec: Float[Tensor, "d_sae d_in"]
    b_dec: Float[Tensor, " d_in"]

    def __init__(self, cfg: SAEConfig):
        super().__init__()
        self.cfg = cfg
        generator = torch.Generator().manual_seed(cfg.seed)
        W_dec = torch.randn(cfg.d_sae, cfg.d_in, generator=generator)
        W_dec = W_dec / W_dec.norm(dim=-1, keepdim=True)
        self.W_dec = nn.Parameter(W_dec)
        # The encoder starts as the decoder's transpose, as in SAELens and Conerly et al. 2024.
        self.W_enc = nn.Parameter(W_dec.T.clone().contiguous())
        self.b_dec = nn.Parameter(torch.zeros(cfg.d_in))
        if self.has_b_enc:
            self.b_enc = nn.Parameter(torch.zeros(cfg.d_sae))

    def latent_params(self) -> dict[str, float]:
        """Per-latent vectors (besides W_enc's columns and W_dec's rows) and their initial values; resampling a
        dead latent resets its entries to these."""
        return {"b_enc": 0.0}

    def hidden_pre(self, x: Float[Tensor, "... d_in"]) -> Float[Tensor, "... d_sae"]:
        r"""$(x - b_\text{dec}) W_\text{enc} + b_\text{enc}$."""
        return (x - self.b_dec) @ self.W_enc + self.b_enc

    def encode(self, x: Float[Tensor, "... d_in"]) -> Float[Tensor, "... d_sae"]:
        raise NotImplementedError

    def decode(self, f: Float[Tensor, "... d_sae"]) -> Float[Tensor, "... d_in"]:
        r"""$\hat x = f W_\text{dec} + b_\text{dec}$."""
        return f @ self.W_dec + self.b_dec

    def forward(self, x: Float[Tensor, "... d_in"]) -> Float[Tensor, "... d_in"]:
        return self.decode(self.encode(x))

    def sparsity_loss(self, x: Float[Tensor, "batch d_in"], f: Float[Tensor, "batch d_sae"]) -> Tensor:
        """The variant's penalty (before the warm-up scale), averaged over the batch."""
        raise NotImplementedError

    def aux_loss(
        self, x: Float[Tensor, "batch d_in"], x_hat: Float[Tensor, "batch d_in"], dead: Bool[Tensor, " d_sae"] | None
    ) -> Tensor:
        """An auxiliary loss (gated: the frozen-decoder reconstruction; topk: AuxK); none by default."""
        return x.new_zeros(())

    def training_loss(
        self, x: Float[Tensor, "batch d_in"], sparsity_scale: float = 1.0, dead: Bool[Tensor, " d_sae"] | None = None
    ) -> dict[str, Tensor]:
        r"""{"loss", "mse", "sparsity", "aux"} with loss = mse + sparsity + aux, each term already weighted.

        mse is $\lVert x - \hat x\rVert^2$ summed over d_in and averaged over the batch (SAELens' `mse_loss`);
        `sparsity_scale` in [0, 1] is the warm-up factor on the sparsity coefficient; `dead` marks latents the
        trainer has seen idle for a while (AuxK uses it)."""
        f = self.encode(x)
        x_hat = self.decode(f)
        mse = (x_hat - x).pow(2).sum(-1).mean()
        sparsity = sparsity_scale * self.sparsity_loss(x, f)
        aux = self.aux_loss(x, x_hat, dead)
        return {"loss": mse + sparsity + aux, "mse": mse, "sparsity": sparsity, "aux": aux}

    @torch.no_grad()
    def normalise_decoder_(self) -> None:
        """Scale every decoder row to unit L2 norm."""
        self.W_dec.div_(self.W_dec.norm(dim=-1, keepdim=True).clamp(min=1e-8))

    @torch.no_grad()
    def remove_parallel_decoder_grad_(self) -> None:
        """Drop the part of W_dec's gradient along each row: it would only change the norm that `post_step_` then
        undoes (Bricken et al. 2023)."""
        if self.W_dec.grad is None:
            return
        W = self.W_dec / self.W_dec.norm(dim=-1, keepdim=True).clamp(min=1e-8)
        self.W_dec.grad -= (self.W_dec.grad * W).sum(-1, keepdim=True) * W

    @torch.no_grad()
    def post_step_(self) -> None:
        """Restore the constraints after an optimiser step."""
        self.normalise_decoder_()


class StandardSAE(SAE):
    r"""$f = \mathrm{ReLU}(\text{hidden\_pre})$ with penalty $\lambda \sum_i f_i \lVert W_{\text{dec},i}\rVert$.

    Weighting each activation by its decoder row's norm (SAELens, Conerly et al. 2024) makes the penalty
    indifferent to how scale is split between $f$ and $W_\text{dec}$; with unit rows it is the plain L1 norm."""

    architecture = "standard"

    def encode(self, x: Float[Tensor, "... d_in"]) -> Float[Tensor, "... d_sae"]:
        return torch.relu(self.hidden_pre(x))

    def sparsity_loss(self, x: Float[Tensor, "batch d_in"], f: Float[Tensor, "batch d_sae"]) -> Tensor:
        return self.cfg.l1_coefficient * (f * self.W_dec.norm(dim=-1)).sum(-1).mean()
