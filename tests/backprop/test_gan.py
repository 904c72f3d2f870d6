"""The GAN of day 88: hand-written losses against torch's BCE-with-logits, the mode-coverage metric on hand-made
samples, the analytic optimal discriminator, and the claims the day makes from its committed training runs."""

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mechlearn.backprop.gan import (
    GanArgs,
    discriminator_loss,
    generator_loss_nonsaturating,
    generator_loss_saturating,
    log_sigmoid,
    mode_coverage,
    normal_pdf,
    optimal_discriminator,
    ring_means,
    train_gan,
)

DAY = next((Path(__file__).parents[2] / "daily_logs").glob("day-088-*"))
SETTINGS = {
    "nonsaturating": {},
    "saturating": {"loss": "saturating"},
    "nonsaturating_3d": {"d_steps": 3, "steps": 1500},
}


def logits(seed: int = 0, n: int = 64) -> torch.Tensor:
    """Logits spread over [-40, 40], where a naive log(sigmoid(x)) would give -inf."""
    x = torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 4
    return torch.cat([x, torch.tensor([-40.0, 40.0, 0.0], dtype=torch.float64)])


def test_log_sigmoid_equals_torch_and_stays_finite_at_large_logits():
    x = logits()
    torch.testing.assert_close(log_sigmoid(x), F.logsigmoid(x), atol=1e-12, rtol=1e-12)
    assert torch.isfinite(log_sigmoid(torch.tensor([-1000.0, 1000.0]))).all()


def test_discriminator_loss_equals_bce_with_real_labelled_1_and_fake_0():
    real, fake = logits(0), logits(1)
    expected = F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + F.binary_cross_entropy_with_logits(
        fake, torch.zeros_like(fake)
    )
    torch.testing.assert_close(discriminator_loss(real, fake), expected, atol=1e-12, rtol=1e-12)


def test_generator_losses_equal_bce_nonsaturating_labels_fake_1_saturating_is_minus_bce_with_0():
    fake = logits(2)
    ns = F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
    sat = -F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    torch.testing.assert_close(generator_loss_nonsaturating(fake), ns, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(generator_loss_saturating(fake), sat, atol=1e-12, rtol=1e-12)


def test_saturating_loss_gradient_vanishes_where_discriminator_rejects_fakes():
    """d/dl log(1 - sigmoid(l)) = -sigmoid(l) -> 0 as l -> -inf; d/dl -log sigmoid(l) = sigmoid(l) - 1 -> -1."""
    fake = torch.tensor([-8.0], requires_grad=True)
    generator_loss_saturating(fake).backward()
    assert abs(fake.grad.item() + 1 / (1 + math.exp(8))) < 1e-7
    fake.grad = None
    generator_loss_nonsaturating(fake).backward()
    assert abs(fake.grad.item() - (1 / (1 + math.exp(8)) - 1)) < 1e-7


def test_ring_means_lie_on_the_circle_evenly_spaced():
    m = ring_means(8, 2.0)
    torch.testing.assert_close(m.norm(dim=1), torch.full((8,), 2.0))
    torch.testing.assert_close((m[1:] - m[:-1]).norm(dim=1), torch.full((7,), 2 * 2.0 * math.sin(math.pi / 8)))


def test_mode_coverage_counts_all_one_and_no_modes():
    means = ring_means()
    all_modes = means.repeat(10, 1) + 0.1  # every point 0.14 from its mean: within 3 sigma = 0.15
    cov = mode_coverage(all_modes)
    assert cov["modes_covered"] == 8 and cov["high_quality"] == 1.0
    assert cov["per_mode"] == pytest.approx([1 / 8] * 8)
    assert mode_coverage(means[3].repeat(50, 1))["modes_covered"] == 1
    off_ring = ring_means(radius=1.0)  # radius 1: 1 unit from every mean
    cov = mode_coverage(torch.cat([off_ring, torch.zeros(5, 2)]))
    assert cov["modes_covered"] == 0 and cov["high_quality"] == 0.0


def test_mode_coverage_threshold_is_three_sigma_and_two_percent():
    means = ring_means()
    inside, outside = means[0] + torch.tensor([0.149, 0.0]), means[0] + torch.tensor([0.151, 0.0])
    assert mode_coverage(inside[None])["high_quality"] == 1.0
    assert mode_coverage(outside[None])["high_quality"] == 0.0
    # 2 of 100 samples at mode 5 covers it; 1 of 100 does not
    rest = torch.zeros(98, 2)
    assert mode_coverage(torch.cat([rest, means[5].repeat(2, 1)]))["modes_covered"] == 1
    assert mode_coverage(torch.cat([rest, torch.zeros(1, 2), means[5][None]]))["modes_covered"] == 0


def test_optimal_discriminator_is_one_half_where_densities_meet_and_follows_the_ratio():
    x = torch.tensor([0.75, 0.0, 3.0])
    p, q = normal_pdf(x, 0.0, 1.0), normal_pdf(x, 1.5, 1.0)  # equal variances: the densities meet at the midpoint
    d = optimal_discriminator(x, p, q)
    assert abs(d[0].item() - 0.5) < 1e-6
    assert d[1] > 0.5 > d[2]
    torch.testing.assert_close(d / (1 - d), p / q)  # D*/(1-D*) is the density ratio


def load(name: str) -> dict:
    return json.loads((DAY / name).read_text())


def test_committed_runs_saturating_covers_all_8_modes_and_three_d_steps_collapse():
    """The day's table: the minimax loss covers 8/8 in every seed, 3 discriminator steps per generator step at most 6,
    the non-saturating loss 6-7."""
    covered = {s: [load(f"gan_{s}_seed{k}.json")["final"]["modes_covered"] for k in range(3)] for s in SETTINGS}
    assert covered["saturating"] == [8, 8, 8]
    assert max(covered["nonsaturating_3d"]) <= 6
    assert all(6 <= c <= 7 for c in covered["nonsaturating"])


def test_committed_saturating_runs_were_never_starved_of_gradient():
    """The day's explanation: mean D(G(z)), the saturating loss's gradient scale, stayed >= 0.27 at every snapshot."""
    d_fake = [v for k in range(3) for v in load(f"gan_saturating_seed{k}.json")["history"]["d_fake"]]
    assert min(d_fake) >= 0.265


def test_committed_1d_discriminator_is_close_to_the_analytic_optimum_where_there_is_data():
    r = load("discriminator_1d.json")
    x, d, d_star = (torch.tensor(r[k]) for k in ("x", "d_learned", "d_star"))
    mass = torch.tensor(r["p_data"]) + torch.tensor(r["p_g"])
    where = mass > 0.05
    assert (d - d_star)[where].abs().max() < 0.05


def test_committed_digits_samples_are_images_near_every_class_mean():
    """500 generated 8x8 images in [0, 1]; a nearest-class-mean classifier (independent of the day's logistic
    regression) finds every digit among them, none with fewer than 10 images: no class entirely dropped."""
    import numpy as np
    from mechlearn.backprop.train import load_digits_split

    samples = np.array(load("digits_gan.json")["samples"])
    assert samples.shape == (500, 64) and samples.min() >= 0 and samples.max() <= 1
    digits = load_digits_split(0)
    means = np.stack([digits.X_train[digits.y_train == k].mean(0) for k in range(10)])
    nearest = ((samples[:, None, :] - means[None]) ** 2).sum(-1).argmin(1)
    assert np.bincount(nearest, minlength=10).min() >= 10


@pytest.mark.slow
def test_retraining_from_seed_reproduces_the_committed_run():
    committed = load("gan_saturating_seed0.json")
    again = train_gan(GanArgs(**{**committed["args"], "betas": tuple(committed["args"]["betas"])}))
    assert again["final"]["modes_covered"] == committed["final"]["modes_covered"]
    assert again["final"]["high_quality"] == pytest.approx(committed["final"]["high_quality"], abs=0.02)
