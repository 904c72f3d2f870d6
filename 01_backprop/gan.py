"""A GAN on a ring of eight Gaussians, where the answer is known (ARENA 0.5, Goodfellow et al. 2014).

The data is a mixture of `n_modes` equally weighted isotropic Gaussians whose means sit evenly on a circle; a
generator that has learned it puts its samples near every mean and nowhere else, so two numbers say how well it did:
how many modes it covers and what share of its samples are "high quality" (within 3 standard deviations of a mean).
The losses are written out by hand from log-sigmoids of the discriminator's logits; the tests check them against
`torch.nn.functional.binary_cross_entropy_with_logits`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from mechlearn.artefacts import cached_json

# ---------------------------------------------------------------------------------------------------------- data


def ring_means(n_modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    """The (n_modes, 2) means of the mixture, evenly spaced on a circle of `radius`, the first at angle 0."""
    angles = torch.arange(n_modes, dtype=torch.float32) * (2 * math.pi / n_modes)
    return radius * torch.stack([angles.cos(), angles.sin()], dim=1)


def sample_ring(
    n: int, generator: torch.Generator, n_modes: int = 8, radius: float = 2.0, std: float = 0.05
) -> torch.Tensor:
    """`n` samples from the ring mixture: a uniformly chosen mean plus N(0, std^2 I) noise."""
    modes = torch.randint(n_modes, (n,), generator=generator)
    return ring_means(n_modes, radius)[modes] + std * torch.randn(n, 2, generator=generator)


def mode_coverage(
    samples: torch.Tensor,
    n_modes: int = 8,
    radius: float = 2.0,
    std: float = 0.05,
    n_sigma: float = 3.0,
    min_share: float = 0.02,
) -> dict:
    """How well `samples` (N, 2) cover the ring mixture.

    A sample is *high quality* when it lies within `n_sigma` standard deviations (Euclidean distance n_sigma * std)
    of its nearest mean. A mode is *covered* when at least `min_share` of all samples are high-quality samples near
    it (a perfect generator puts 1/n_modes = 12.5% there, and 98.9% of a 2-D Gaussian's mass lies within 3 sigma).
    Returns the number of modes covered, the high-quality share and the share of samples at each mode.
    """
    means = ring_means(n_modes, radius).to(samples)
    dist = torch.cdist(samples.float(), means)  # (N, n_modes)
    nearest_dist, nearest = dist.min(dim=1)
    good = nearest_dist <= n_sigma * std
    per_mode = torch.bincount(nearest[good], minlength=n_modes).float() / max(len(samples), 1)
    return {
        "modes_covered": int((per_mode >= min_share).sum()),
        "high_quality": float(good.float().mean()),
        "per_mode": per_mode.tolist(),
    }


# -------------------------------------------------------------------------------------------------------- models


def mlp(d_in: int, d_hidden: int, d_out: int, n_hidden: int = 2) -> nn.Sequential:
    layers: list[nn.Module] = []
    d = d_in
    for _ in range(n_hidden):
        layers += [nn.Linear(d, d_hidden), nn.ReLU()]
        d = d_hidden
    layers.append(nn.Linear(d, d_out))
    return nn.Sequential(*layers)


class Generator(nn.Module):
    """z ~ N(0, I_latent) -> a point in the plane, through an MLP."""

    def __init__(self, latent_dim: int = 2, d_hidden: int = 128):
        super().__init__()
        self.latent_dim = latent_dim
        self.net = mlp(latent_dim, d_hidden, 2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return self(torch.randn(n, self.latent_dim, generator=generator))


class Discriminator(nn.Module):
    """A point -> the logit of "this is real data"; D(x) = sigmoid(logit)."""

    def __init__(self, d_in: int = 2, d_hidden: int = 128):
        super().__init__()
        self.net = mlp(d_in, d_hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


# -------------------------------------------------------------------------------------------------------- losses


def log_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """log sigmoid(x) = -log(1 + e^-x), computed as min(x, 0) - log(1 + e^-|x|) so it never overflows."""
    return torch.clamp(x, max=0) - torch.log1p(torch.exp(-x.abs()))


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-E[log D(x)] - E[log(1 - D(G(z)))]: the negated value function, with 1 - sigmoid(l) = sigmoid(-l)."""
    return -log_sigmoid(real_logits).mean() - log_sigmoid(-fake_logits).mean()


def generator_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """-E[log D(G(z))]: the generator's loss that Goodfellow et al. use in practice."""
    return -log_sigmoid(fake_logits).mean()


def generator_loss_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """E[log(1 - D(G(z)))]: the minimax game's own generator objective (minimised), flat where D(G(z)) is near 0."""
    return log_sigmoid(-fake_logits).mean()


GENERATOR_LOSSES = {"nonsaturating": generator_loss_nonsaturating, "saturating": generator_loss_saturating}


# ------------------------------------------------------------------------------------------------------ training


@dataclass
class GanArgs:
    steps: int = 2000  # generator steps; the ring is learned (or collapsed) well before this
    batch_size: int = 256
    lr_g: float = 1e-3
    lr_d: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.999)  # the DCGAN choice of Adam's first moment
    d_steps: int = 1  # discriminator updates per generator update
    loss: str = "nonsaturating"  # or "saturating"
    latent_dim: int = 2
    d_hidden: int = 128
    std: float = 0.05  # of each mixture component; the radius is 2
    seed: int = 0
    n_eval: int = 2000  # samples used by mode_coverage
    snapshot_every: int = 250  # generator steps between stored sample clouds
    n_snapshot: int = 300  # points per stored cloud


def train_gan(args: GanArgs) -> dict:
    """Alternate `d_steps` discriminator updates and one generator update; returns curves, clouds and coverage."""
    torch.manual_seed(args.seed)
    data_gen = torch.Generator().manual_seed(args.seed + 10_000)
    noise_gen = torch.Generator().manual_seed(args.seed + 20_000)
    eval_gen = torch.Generator().manual_seed(12345)  # the same latents for every snapshot
    G, D = Generator(args.latent_dim, args.d_hidden), Discriminator(2, args.d_hidden)
    opt_g = torch.optim.Adam(G.parameters(), lr=args.lr_g, betas=args.betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=args.lr_d, betas=args.betas)
    g_loss_fn = GENERATOR_LOSSES[args.loss]
    z_eval = torch.randn(args.n_eval, args.latent_dim, generator=eval_gen)
    history: dict = {"step": [], "modes_covered": [], "high_quality": [], "d_loss": [], "g_loss": [], "clouds": []}
    history["d_fake"] = []  # mean D(G(z)): the size of the saturating loss's gradient in the logit is D(G(z))

    def snapshot(step: int, d_loss: float, g_loss: float) -> None:
        with torch.no_grad():
            x = G(z_eval)
        cov = mode_coverage(x, std=args.std)
        history["step"].append(step)
        history["modes_covered"].append(cov["modes_covered"])
        history["high_quality"].append(cov["high_quality"])
        history["d_loss"].append(d_loss)
        history["g_loss"].append(g_loss)
        with torch.no_grad():
            history["d_fake"].append(torch.sigmoid(D(x)).mean().item())
        history["clouds"].append([[round(v, 4) for v in p] for p in x[: args.n_snapshot].tolist()])

    snapshot(0, float("nan"), float("nan"))
    for step in range(1, args.steps + 1):
        for _ in range(args.d_steps):
            real = sample_ring(args.batch_size, data_gen, std=args.std)
            with torch.no_grad():
                fake = G.sample(args.batch_size, noise_gen)
            d_loss = discriminator_loss(D(real), D(fake))
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
        g_loss = g_loss_fn(D(G.sample(args.batch_size, noise_gen)))
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        if step % args.snapshot_every == 0:
            snapshot(step, d_loss.item(), g_loss.item())

    with torch.no_grad():
        final = mode_coverage(G(z_eval), std=args.std)
    return {"args": asdict(args), "final": final, "history": history}


def trained_gan(args: GanArgs, directory: Path, name: str) -> dict:
    """`train_gan(args)`, cached as JSON at `directory / name` (remade when this module changes)."""
    return cached_json(Path(directory) / name, lambda: train_gan(args), [__name__])


# ---------------------------------------------------------------------------------- the optimal discriminator, 1-D


def normal_pdf(x: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def optimal_discriminator(x: torch.Tensor, p_data: torch.Tensor, p_g: torch.Tensor) -> torch.Tensor:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)), given both densities evaluated at x."""
    return p_data / (p_data + p_g)


@dataclass
class Discriminator1dArgs:
    data_mean: float = 0.0
    data_std: float = 1.0
    gen_mean: float = 1.5
    gen_std: float = 0.7
    steps: int = 1500
    batch_size: int = 512
    lr: float = 3e-3
    d_hidden: int = 64
    seed: int = 0


def train_discriminator_1d(args: Discriminator1dArgs) -> dict:
    """Train a discriminator alone against two fixed 1-D normals; return its D(x) and the analytic D*(x) on a grid."""
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed + 1)
    D = Discriminator(1, args.d_hidden)
    opt = torch.optim.Adam(D.parameters(), lr=args.lr)
    for _ in range(args.steps):
        real = args.data_mean + args.data_std * torch.randn(args.batch_size, 1, generator=gen)
        fake = args.gen_mean + args.gen_std * torch.randn(args.batch_size, 1, generator=gen)
        loss = discriminator_loss(D(real), D(fake))
        opt.zero_grad()
        loss.backward()
        opt.step()
    x = torch.linspace(-3, 4, 141)
    with torch.no_grad():
        d_learned = torch.sigmoid(D(x[:, None]))
    p, q = normal_pdf(x, args.data_mean, args.data_std), normal_pdf(x, args.gen_mean, args.gen_std)
    return {
        "args": asdict(args),
        "x": x.tolist(),
        "d_learned": d_learned.tolist(),
        "d_star": optimal_discriminator(x, p, q).tolist(),
        "p_data": p.tolist(),
        "p_g": q.tolist(),
    }


def trained_discriminator_1d(args: Discriminator1dArgs, directory: Path, name: str) -> dict:
    return cached_json(Path(directory) / name, lambda: train_discriminator_1d(args), [__name__])


# ------------------------------------------------------------------------------------------------- digits (8x8)


@dataclass
class DigitsGanArgs:
    steps: int = 4000  # generator steps (about 20 s on one core)
    batch_size: int = 128
    lr: float = 1e-3  # both networks
    betas: tuple[float, float] = (0.5, 0.999)
    loss: str = "nonsaturating"
    latent_dim: int = 16
    d_hidden: int = 256
    seed: int = 0
    n_samples: int = 500  # generated images stored at the end


def train_digits_gan(args: DigitsGanArgs) -> dict:
    """The same game on scikit-learn's 8x8 digits (training split of `load_digits_split(0)`, pixels in [0, 1]); the
    generator ends in a sigmoid. Returns `n_samples` generated images (N, 64), rounded to 3 decimals."""
    from mechlearn.backprop.train import load_digits_split

    torch.manual_seed(args.seed)
    X = torch.tensor(load_digits_split(0).X_train)
    data_gen = torch.Generator().manual_seed(args.seed + 10_000)
    noise_gen = torch.Generator().manual_seed(args.seed + 20_000)
    G = nn.Sequential(mlp(args.latent_dim, args.d_hidden, 64), nn.Sigmoid())
    D = Discriminator(64, args.d_hidden)
    opt_g = torch.optim.Adam(G.parameters(), lr=args.lr, betas=args.betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=args.lr, betas=args.betas)
    g_loss_fn = GENERATOR_LOSSES[args.loss]
    for _ in range(args.steps):
        real = X[torch.randint(len(X), (args.batch_size,), generator=data_gen)]
        with torch.no_grad():
            fake = G(torch.randn(args.batch_size, args.latent_dim, generator=noise_gen))
        d_loss = discriminator_loss(D(real), D(fake))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = g_loss_fn(D(G(torch.randn(args.batch_size, args.latent_dim, generator=noise_gen))))
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
    with torch.no_grad():
        z = torch.randn(args.n_samples, args.latent_dim, generator=torch.Generator().manual_seed(12345))
        samples = G(z)
    return {"args": asdict(args), "samples": [[round(v, 3) for v in row] for row in samples.tolist()]}


def trained_digits_gan(args: DigitsGanArgs, directory: Path, name: str) -> dict:
    return cached_json(Path(directory) / name, lambda: train_digits_gan(args), [__name__])
