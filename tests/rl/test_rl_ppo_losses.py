"""PPO's clipped objective, the KL estimators and explained variance, against hand-computed values."""

import numpy as np
import pytest
import torch
from mechlearn.rl import probes  # noqa: F401  (registers the probe environments)
from mechlearn.rl.ppo import PPOArgs, clipped_surrogate, explained_variance, kl_estimators, ppo_loss, train_ppo
from torch.distributions import Categorical, kl_divergence


@pytest.mark.parametrize(
    "ratio, advantage, expected",
    [
        (1.1, 2.0, 2.2),  # inside the clip range: r A
        (1.5, 2.0, 2.4),  # A > 0, r above 1 + eps: capped at (1 + eps) A
        (0.5, 2.0, 1.0),  # A > 0, r below 1 - eps: min picks r A, not clipped
        (0.5, -2.0, -1.6),  # A < 0, r below 1 - eps: capped at (1 - eps) A
        (1.5, -2.0, -3.0),  # A < 0, r above 1 + eps: min picks r A (pessimistic)
        (0.9, -1.0, -0.9),  # inside: r A
    ],
)
def test_clipped_surrogate_values(ratio, advantage, expected):
    out = clipped_surrogate(torch.tensor([ratio]), torch.tensor([advantage]), clip_coef=0.2)
    assert out.item() == pytest.approx(expected, abs=1e-6), "clip applied on the wrong side or min/max swapped"


def test_clipped_surrogate_gradient_vanishes_only_where_clipped():
    ratio = torch.tensor([1.1, 1.5, 0.5, 0.5, 1.5], requires_grad=True)
    A = torch.tensor([2.0, 2.0, 2.0, -2.0, -2.0])
    clipped_surrogate(ratio, A, 0.2).sum().backward()
    # d/dr = A where r A is chosen, 0 where the clipped (constant) term is chosen
    assert ratio.grad.tolist() == pytest.approx([2.0, 0.0, 2.0, 0.0, -2.0]), "gradient leaks through the clip"


def test_kl_estimators_by_hand():
    logratio = torch.tensor([np.log(2.0), np.log(0.5)], dtype=torch.float64)
    k1, k3 = kl_estimators(logratio)
    # k1 = mean(-log r) = 0; k3 = mean((r - 1) - log r) = ((1 - ln 2) + (-0.5 + ln 2)) / 2 = 0.25
    assert k1.item() == pytest.approx(0.0, abs=1e-12)
    assert k3.item() == pytest.approx(0.25, abs=1e-12), "k3 estimator formula is wrong"


def test_kl_estimators_are_unbiased():
    """Sampling a ~ p, both estimators average to KL(p || q) (torch's exact value); k3 is never negative."""
    g = torch.Generator().manual_seed(0)
    p = Categorical(logits=torch.tensor([0.2, -0.5, 1.0, 0.0]))
    q = Categorical(logits=torch.tensor([0.0, 0.1, 0.6, 0.3]))
    a = torch.multinomial(p.probs, 200_000, replacement=True, generator=g)
    logratio = q.log_prob(a) - p.log_prob(a)
    k1, k3 = kl_estimators(logratio)
    exact = kl_divergence(p, q).item()
    # standard error of the means here is about 1e-3; 5e-3 is a 5-sigma tolerance
    assert k1.item() == pytest.approx(exact, abs=5e-3), "k1 is not an unbiased KL(old || new) estimate"
    assert k3.item() == pytest.approx(exact, abs=5e-3), "k3 is not an unbiased KL(old || new) estimate"
    assert ((logratio.exp() - 1) - logratio).min() >= 0


def test_explained_variance_by_hand():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert explained_variance(y, y) == 1.0
    assert explained_variance(np.full(4, 2.5), y) == pytest.approx(0.0), "a constant predictor explains nothing"
    # residual [0.5, -0.5, 0.5, -0.5] has variance 0.25; Var y = 1.25 -> 1 - 0.2 = 0.8
    assert explained_variance(y - np.array([0.5, -0.5, 0.5, -0.5]), y) == pytest.approx(0.8)
    unit = np.array([-1.0, 1.0])  # variance exactly 1
    assert explained_variance(unit, unit) == 1.0 and explained_variance(np.zeros(2), unit) == 0.0
    assert np.isnan(explained_variance(y, np.full(4, 3.0))), "constant targets: explained variance is undefined"


def _t(*values):
    return torch.tensor(values, dtype=torch.float64)


def test_ppo_loss_subtracts_the_entropy_bonus():
    """Every other test runs with ent_coef = 0. Here ratio 1 and advantages (1, -1) give a policy loss of 0; values
    equal to the old ones (no clipping) and returns 0 give L^V = 0.5 mean(1, 4) = 1.25; mean entropy 0.6. So
    L = 0 + 0.5 * 1.25 - 0.1 * 0.6 = 0.565 (a bonus with the wrong sign gives 0.685)."""
    args = PPOArgs(ent_coef=0.1, vf_coef=0.5, norm_adv=False)
    entropy = _t(0.5, 0.7).requires_grad_()
    loss, pg, v, H = ppo_loss(_t(1.0, 1.0), entropy, _t(1.0, 2.0), _t(1.0, -1.0), _t(0.0, 0.0), _t(1.0, 2.0), args)
    assert (pg.item(), v.item(), H.item()) == pytest.approx((0.0, 1.25, 0.6))
    assert loss.item() == pytest.approx(0.565), "the entropy bonus has the wrong sign or scale"
    loss.backward()
    assert entropy.grad.tolist() == pytest.approx([-0.05, -0.05]), "minimising L must push entropy up"


def test_ppo_value_loss_clipping_by_hand():
    """V_old = 1, V = 2, R = 3, eps = 0.2: unclipped (2 - 3)^2 = 1; clipped V_old + 0.2 = 1.2 gives
    (1.2 - 3)^2 = 3.24; the pessimistic max -> L^V = 0.5 * 3.24 = 1.62. Unclipped, with R = 4: 0.5 * 4 = 2.
    With R = 1.5 instead, max(0.25, 0.09) -> 0.125 (a min would give 0.045)."""
    new, old = _t(2.0), _t(1.0)
    clipped = PPOArgs(clip_coef=0.2, norm_adv=False)
    assert ppo_loss(_t(1.0), _t(0.0), new, _t(0.0), _t(3.0), old, clipped)[2].item() == pytest.approx(1.62)
    assert ppo_loss(_t(1.0), _t(0.0), new, _t(0.0), _t(1.5), old, clipped)[2].item() == pytest.approx(0.125)
    plain = PPOArgs(clip_vloss=False, norm_adv=False)
    assert ppo_loss(_t(1.0), _t(0.0), new, _t(0.0), _t(4.0), old, plain)[2].item() == pytest.approx(2.0)
    # the clip acts downwards too: V = 0 is 1 below V_old, clipped to 0.8; with R = -3 the clipped error wins,
    # (0.8 + 3)^2 = 14.44 > 9, so L^V = 7.22
    assert ppo_loss(_t(1.0), _t(0.0), _t(0.0), _t(0.0), _t(-3.0), old, clipped)[2].item() == pytest.approx(7.22)
    # vf_coef scales it into the total: 0.5 * 1.62
    assert ppo_loss(_t(1.0), _t(0.0), new, _t(0.0), _t(3.0), old, clipped)[0].item() == pytest.approx(0.81)


def test_ppo_loss_normalises_advantages_per_minibatch():
    """Advantages (1, 3) normalise to (-1, 1) / sqrt(2) (unbiased std sqrt(2)); with ratios (1.1, 1):
    L^CLIP = mean(1.1 * -0.70711, 0.70711) = -0.035355, so the policy loss is +0.035355."""
    pg = ppo_loss(_t(1.1, 1.0), _t(0.0, 0.0), _t(0.0, 0.0), _t(1.0, 3.0), _t(0.0, 0.0), _t(0.0, 0.0), PPOArgs())[1]
    assert pg.item() == pytest.approx(0.1 / 2**0.5 / 2, abs=1e-7), "advantages not normalised (or not per batch)"


def test_positive_entropy_coefficient_keeps_the_policy_more_random():
    """Probe 4 rewards action 1, so the policy sharpens; a positive ent_coef must slow that (entropy after 512 steps
    0.48 with ent_coef = 0.2 vs 0.36 with 0), a negative one speed it up (0.25)."""
    entropy = {}
    for c in (-0.2, 0.0, 0.2):
        _, log = train_ppo(PPOArgs(env_id="mechlearn/Probe4-v0", total_timesteps=512, ent_coef=c, seed=0))
        entropy[c] = log["iterations"][-1]["entropy"]
    assert entropy[0.2] > entropy[0.0] + 0.05 > entropy[-0.2] + 0.1, f"entropy by ent_coef: {entropy}"
