"""Tools for reading the bracket classifier, each against an independent reference."""

import numpy as np
import pytest
import torch
from mechlearn.interp.brackets import failure_class
from mechlearn.interp.brackets_mechanism import (
    minimal_pairs,
    open_fraction,
    prefix_fractions,
    r2_score,
    suffix_fractions,
)


@pytest.mark.parametrize("s", ["(()))(", ")", "((((", "()()()(("])
def test_prefix_and_suffix_fractions_against_slicing(s):
    n = len(s)
    slow_prefix = [s[: i + 1].count("(") / (i + 1) for i in range(n)]
    slow_suffix = [s[i:].count("(") / (n - i) for i in range(n)]
    assert np.allclose(prefix_fractions(s), slow_prefix, atol=1e-12), "prefix fraction off by one position"
    assert np.allclose(suffix_fractions(s), slow_suffix, atol=1e-12), "suffix fraction reversed or off by one"
    assert suffix_fractions(s)[0] == open_fraction(s) == prefix_fractions(s)[-1]


def test_r2_against_numpy_polyfit_per_dimension():
    """Pooled R^2 over 3 output dimensions, rebuilt from np.polyfit residuals (tolerance 1e-9, float64)."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(200, generator=g, dtype=torch.float64)
    y = torch.stack([2 * x + 1, -x, 0 * x], 1) + 0.1 * torch.randn(200, 3, generator=g, dtype=torch.float64)
    ss_res = ss_tot = 0.0
    for d in range(3):
        fit = np.polyval(np.polyfit(x.numpy(), y[:, d].numpy(), 1), x.numpy())
        ss_res += ((y[:, d].numpy() - fit) ** 2).sum()
        ss_tot += ((y[:, d].numpy() - y[:, d].numpy().mean()) ** 2).sum()
    assert abs(r2_score(x, y) - (1 - ss_res / ss_tot)) < 1e-9, "R^2 without an intercept, or not pooled"
    assert r2_score(x, torch.stack([3 * x - 2, x], 1)) > 1 - 1e-12, "exactly linear data must give R^2 = 1"


@pytest.mark.parametrize("kind", ["negative_prefix", "unclosed"])
def test_minimal_pairs_differ_in_one_place_and_have_the_right_classes(kind):
    clean, bad = minimal_pairs(30, 12, kind, seed=1)
    for c, b in zip(clean, bad, strict=True):
        assert len(c) == len(b) == 12 and failure_class(c) == "balanced" and failure_class(b) == kind
        diff = [i for i in range(12) if c[i] != b[i]]
        assert len(diff) == (2 if kind == "negative_prefix" else 1), "pairs differ in more than the intended spot"
