"""Grokking modular addition (days 56–60): the Fourier basis, the progress measures, the fast forward, the split."""

from __future__ import annotations

import math

import pytest
import torch
from mechlearn.interp.grokking import (
    GrokkingConfig,
    all_pairs,
    last_position_logits,
    make_model,
    train_test_split,
)
from mechlearn.interp.grokking_fourier import (
    excluded_logits,
    fourier_basis,
    frequency_norms,
    gini,
    key_frequencies,
    restricted_and_excluded_loss,
    restricted_logits,
)

P = 13  # a small odd modulus: every identity below holds for any odd p


def test_fourier_basis_is_orthonormal_not_just_orthogonal():
    """Catches a missing sqrt(2/p) (or 1/sqrt(p)) normalisation. Tolerance 1e-12 (float64)."""
    F = fourier_basis(P)
    assert torch.allclose(F @ F.T, torch.eye(P, dtype=torch.float64), atol=1e-12)


def test_fourier_coefficients_agree_with_torch_fft():
    """Catches cos/sin rows swapped or a sign flip on sin: row 2k-1 = sqrt(2/p) Re rfft_k, row 2k = -sqrt(2/p) Im
    rfft_k, row 0 = rfft_0 / sqrt(p). Tolerance 1e-10."""
    x = torch.randn(P, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    coeffs, spectrum = fourier_basis(P) @ x, torch.fft.rfft(x)
    assert torch.allclose(coeffs[0], spectrum[0].real / math.sqrt(P), atol=1e-10)
    assert torch.allclose(coeffs[1::2], math.sqrt(2 / P) * spectrum[1:].real, atol=1e-10)
    assert torch.allclose(coeffs[2::2], -math.sqrt(2 / P) * spectrum[1:].imag, atol=1e-10)


def test_frequency_norms_put_a_pure_wave_at_its_own_frequency():
    """Catches an off-by-one between basis rows and frequencies (row 2k-1/2k is frequency k, not k-1)."""
    x = torch.arange(P, dtype=torch.float64)
    W = torch.stack([torch.cos(2 * math.pi * 4 * x / P + 0.3), 2 * torch.sin(2 * math.pi * 2 * x / P)], dim=1)
    norms = frequency_norms(W)
    assert torch.allclose(norms[[3, 1]], torch.tensor([P / 2, 4 * P / 2], dtype=torch.float64), atol=1e-9)
    assert norms.sum() == pytest.approx(float(W.pow(2).sum()), abs=1e-9)
    assert key_frequencies(W) == [2, 4]


def test_gini_matches_the_pairwise_definition():
    """Catches the sorted-rank formula with ranks from 0 or unsorted input: G = sum_ij |x_i - x_j| / (2 n sum x)."""
    x = torch.rand(20, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    pairwise = float((x[:, None] - x[None, :]).abs().sum() / (2 * len(x) * x.sum()))
    assert gini(x) == pytest.approx(pairwise, abs=1e-12)
    assert gini(torch.ones(7)) == pytest.approx(0.0, abs=1e-12)


def test_cos_of_a_plus_b_minus_c_identity():
    """The identity the logit reading rests on: cos(w(a+b-c)) = cos(w(a+b))cos(wc) + sin(w(a+b))sin(wc)."""
    a, b, c = torch.meshgrid(*(torch.arange(P, dtype=torch.float64),) * 3, indexing="ij")
    w = 2 * math.pi * 3 / P
    rhs = torch.cos(w * (a + b)) * torch.cos(w * c) + torch.sin(w * (a + b)) * torch.sin(w * c)
    assert torch.allclose(torch.cos(w * (a + b - c)), rhs, atol=1e-12)


def _planted_logits(freqs, alphas, nuisance_scale):
    """logits[(a, b), c] = sum_k alpha_k cos(w_k (a+b-c)) + a term in a alone (orthogonal to every cos/sin(w(a+b)))."""
    a, b, c = torch.meshgrid(*(torch.arange(P, dtype=torch.float64),) * 3, indexing="ij")
    clean = sum(al * torch.cos(2 * math.pi * k / P * (a + b - c)) for k, al in zip(freqs, alphas, strict=True))
    nuisance = nuisance_scale * torch.cos(2 * math.pi * 5 * (a - c) / P)
    return clean.reshape(P * P, P), nuisance.reshape(P * P, P)


def test_restricted_keeps_the_planted_algorithm_and_excluded_keeps_the_rest():
    """Catches directions built with the wrong (a, b) flattening or left unnormalised. Tolerance 1e-9."""
    clean, nuisance = _planted_logits([2, 3], [4.0, 2.5], 1.7)
    logits = clean + nuisance + 0.4  # + a constant, which restricted keeps and excluded leaves alone
    assert torch.allclose(restricted_logits(logits, [2, 3]), clean + 0.4, atol=1e-9)
    assert torch.allclose(excluded_logits(logits, [2, 3]), nuisance + 0.4, atol=1e-9)


def test_restricted_and_excluded_losses_on_a_hand_built_case():
    """Pure algorithm logits: restricted loss = the full loss, excluded loss = ln p (uniform). Tolerance 1e-9."""
    clean, _ = _planted_logits([1, 4, 6], [3.0, 3.0, 3.0], 0.0)
    _, labels = all_pairs(P)
    train_idx = torch.arange(0, P * P, 3)
    restricted, excluded = restricted_and_excluded_loss(clean, labels, train_idx, [1, 4, 6])
    full = float(torch.nn.functional.cross_entropy(clean, labels))
    assert restricted == pytest.approx(full, abs=1e-9)
    assert excluded == pytest.approx(math.log(P), abs=1e-9)


def test_split_is_disjoint_complete_and_seeded():
    """Catches test pairs leaking into training (overlap) and an unseeded permutation."""
    cfg = GrokkingConfig(p=P)
    train, test = train_test_split(cfg)
    assert len(train) == int(0.3 * P * P) and len(train) + len(test) == P * P
    assert set(train.tolist()).isdisjoint(test.tolist())
    assert torch.equal(train, train_test_split(cfg)[0])
    tokens, labels = all_pairs(P)
    assert torch.equal(labels, (tokens[:, 0] + tokens[:, 1]) % P) and bool((tokens[:, 2] == P).all())


def test_last_position_fast_path_equals_transformer_lens():
    """Catches a missing attention scale, bias or residual term in the fast path: values and gradients against
    `HookedTransformer.forward`, with random non-zero biases. Tolerance 1e-5 (float32)."""
    cfg = GrokkingConfig(p=P, d_model=16, n_heads=2, d_head=8, d_mlp=32)
    model = make_model(cfg)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            if not param.requires_grad:
                param.copy_(torch.randn(param.shape, generator=gen))
    tokens, labels = all_pairs(P)
    grads = []
    for logits_fn in (lambda: model(tokens)[:, -1], lambda: last_position_logits(model, tokens)):
        model.zero_grad()
        logits = logits_fn()
        torch.nn.functional.cross_entropy(logits, labels).backward()
        grads.append((logits.detach(), [p.grad.clone() for p in model.parameters() if p.requires_grad]))
    assert torch.allclose(grads[0][0], grads[1][0], atol=1e-5)
    for g_ref, g_fast in zip(grads[0][1], grads[1][1], strict=True):
        assert torch.allclose(g_ref, g_fast, atol=1e-5)
