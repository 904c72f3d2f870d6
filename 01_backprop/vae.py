"""An autoencoder and a variational autoencoder on the bundled 8x8 digits (ARENA 0.5; Kingma & Welling 2014).

Both are small MLPs: 64 pixels -> hidden -> latent -> hidden -> 64 pixel logits. The autoencoder's encoder gives one
code z per image. The VAE's encoder gives a Gaussian q(z|x) = N(mu, diag sigma^2) (as mu and log sigma), a code is
drawn as z = mu + sigma * eps with eps ~ N(0, I) (the reparameterisation, so gradients reach mu and log sigma), and
training maximises the ELBO

    E_q[log p(x|z)] - beta * KL(q(z|x) || N(0, I)),

with a Bernoulli decoder p(x|z) (pixel intensities in [0, 1] as the targets of a binary cross-entropy) and the KL in
closed form. beta = 1 is the VAE; other values give the beta-VAE trade-off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from mechlearn.backprop.train import load_digits_split
from torch import nn

from mechlearn.artefacts import cached_tensors


def gaussian_kl_to_standard(mu: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag sigma^2) || N(0, I)), summed over the last (latent) dimension.

    Per dimension: 1/2 (mu^2 + sigma^2 - 1) - log sigma.
    """
    return (0.5 * (mu**2 + torch.exp(2 * log_sigma) - 1) - log_sigma).sum(-1)


def reparameterise(mu: torch.Tensor, log_sigma: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A sample z = mu + sigma * eps of N(mu, diag sigma^2), differentiable in mu and log sigma."""
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
    return mu + torch.exp(log_sigma) * eps


def bernoulli_log_likelihood(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """sum_i [x_i log p_i + (1 - x_i) log(1 - p_i)] with p = sigmoid(logits), summed over the pixels (last dim)."""
    return -nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Autoencoder(nn.Module):
    """64 -> hidden -> latent (one code per image) -> hidden -> 64 pixel logits."""

    def __init__(self, latent: int = 2, hidden: int = 256, pixels: int = 64):
        super().__init__()
        self.encoder = _mlp([pixels, hidden, hidden, latent])
        self.decoder = _mlp([latent, hidden, hidden, pixels])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class VAE(nn.Module):
    """The encoder outputs (mu, log sigma) of q(z|x); the decoder maps a sampled z to 64 pixel logits."""

    def __init__(self, latent: int = 2, hidden: int = 256, pixels: int = 64):
        super().__init__()
        self.latent = latent
        self.encoder = _mlp([pixels, hidden, hidden, 2 * latent])
        self.decoder = _mlp([latent, hidden, hidden, pixels])

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_sigma = self.encoder(x).split(self.latent, dim=-1)
        return mu, log_sigma

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        mu, log_sigma = self.encode(x)
        return self.decode(reparameterise(mu, log_sigma, generator)), mu, log_sigma


def elbo_terms(
    model: VAE, x: torch.Tensor, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image: a one-sample estimate of E_q[log p(x|z)], and KL(q(z|x) || N(0, I)) in closed form (nats)."""
    logits, mu, log_sigma = model(x, generator)
    return bernoulli_log_likelihood(logits, x), gaussian_kl_to_standard(mu, log_sigma)


@dataclass
class VAEArgs:
    kind: str = "vae"  # "vae" or "ae"
    latent: int = 2  # 2 to plot the codes; 8 for the beta table
    hidden: int = 256
    beta: float = 1.0  # weight of the KL term (VAE only); 1 is the ELBO
    epochs: int = 150  # ~3,450 Adam steps over the 1,437 training digits
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0  # initialisation, minibatch order and the reparameterisation noise


def make_model(args: VAEArgs) -> nn.Module:
    if args.kind == "ae":
        return Autoencoder(args.latent, args.hidden)
    if args.kind == "vae":
        return VAE(args.latent, args.hidden)
    raise ValueError(f"kind {args.kind!r}: 'ae' or 'vae'")


def train_vae(args: VAEArgs) -> dict[str, torch.Tensor]:
    """Train with Adam; returns the state dict (keys `model.*`) and the mean training loss per epoch (`epoch_loss`)."""
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    X = torch.tensor(load_digits_split(0).X_train)
    model = make_model(args)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    order = torch.Generator().manual_seed(args.seed)
    noise = torch.Generator().manual_seed(args.seed + 1)
    epoch_loss = []
    for _ in range(args.epochs):
        total = 0.0
        for batch in torch.randperm(len(X), generator=order).split(args.batch_size):
            x = X[batch]
            if args.kind == "ae":
                loss = -bernoulli_log_likelihood(model(x), x).mean()
            else:
                recon, kl = elbo_terms(model, x, noise)
                loss = (-recon + args.beta * kl).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        epoch_loss.append(total / len(X))
    out = {f"model.{k}": v for k, v in model.state_dict().items()}
    out["epoch_loss"] = torch.tensor(epoch_loss)
    return out


def artefact_name(args: VAEArgs) -> str:
    beta = "" if args.kind == "ae" else f"_beta{args.beta:g}"
    return f"{args.kind}_z{args.latent}{beta}_seed{args.seed}.safetensors"


def trained_vae(directory: Path, args: VAEArgs) -> tuple[nn.Module, list[float]]:
    """`train_vae`, cached in `directory`; returns the model (in eval mode) and its per-epoch training loss."""
    state = cached_tensors(Path(directory) / artefact_name(args), lambda: train_vae(args), [__name__])
    model = make_model(args)
    model.load_state_dict({k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")})
    return model.eval(), state["epoch_loss"].tolist()


@torch.no_grad()
def evaluate(model: nn.Module, X: torch.Tensor, n_samples: int = 10, seed: int = 0) -> dict[str, float]:
    """Mean per-image numbers in nats on `X`: the reconstruction log-likelihood log p(x | z) at the code (AE) or the
    mean code mu (VAE); for a VAE also E_q[log p(x|z)] over `n_samples` draws, the KL, and the ELBO."""
    if isinstance(model, Autoencoder):
        return {"recon_at_code": bernoulli_log_likelihood(model(X), X).mean().item()}
    generator = torch.Generator().manual_seed(seed)
    mu, log_sigma = model.encode(X)
    sampled = torch.stack(
        [bernoulli_log_likelihood(model.decode(reparameterise(mu, log_sigma, generator)), X) for _ in range(n_samples)]
    ).mean(0)
    kl = gaussian_kl_to_standard(mu, log_sigma)
    return {
        "recon_at_code": bernoulli_log_likelihood(model.decode(mu), X).mean().item(),
        "recon_sampled": sampled.mean().item(),
        "kl": kl.mean().item(),
        "elbo": (sampled - kl).mean().item(),
    }


@torch.no_grad()
def importance_log_likelihood(model: VAE, X: torch.Tensor, k: int = 200, seed: int = 0) -> torch.Tensor:
    """Per-image estimate of log p(x) = log E_q[p(x|z) p(z) / q(z|x)] with `k` samples from q (Burda et al.'s bound;
    it rises towards log p(x) as k grows, and is the ELBO at k = 1 in expectation)."""
    generator = torch.Generator().manual_seed(seed)
    mu, log_sigma = model.encode(X)
    log_w = []
    for _ in range(k):
        z = reparameterise(mu, log_sigma, generator)
        log_prior = (-0.5 * z**2 - 0.5 * math.log(2 * math.pi)).sum(-1)
        log_q = (-0.5 * ((z - mu) / torch.exp(log_sigma)) ** 2 - log_sigma - 0.5 * math.log(2 * math.pi)).sum(-1)
        log_w.append(bernoulli_log_likelihood(model.decode(z), X) + log_prior - log_q)
    return torch.logsumexp(torch.stack(log_w), 0) - math.log(k)
