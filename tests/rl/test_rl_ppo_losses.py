"""PPO's clipped objective, the KL estimators and explained variance, against hand-computed values."""

import numpy as np
import pytest
import torch
from mechlearn.rl.ppo import clipped_surrogate, explained_variance, kl_estimators
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
