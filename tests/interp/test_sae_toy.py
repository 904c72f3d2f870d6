"""SAEs on the toy model: recovery and shrinkage measures by hand, and days 50-51's claims from their artefacts.

References: cosines written as a double loop; SAEs built by hand whose reconstructions are known (exact, and shrunk
by a known amount); the committed weights of days 50 and 51, re-measured here rather than read from their logs.
"""

import json
from pathlib import Path

import pytest
import torch
from mechlearn.interp.sae import SAEConfig, StandardSAE
from mechlearn.interp.sae_toy import (
    TOY_DAY,
    feature_cosines,
    load_runs,
    load_toy,
    max_cosines,
    shrinkage,
    toy_activations,
    untie_encoder_,
)
from mechlearn.interp.sae_training import SAETrainArgs, sae_state
from safetensors.torch import load_file

DAYS = Path(__file__).resolve().parents[2] / "daily_logs"
DAY50 = DAYS / TOY_DAY
DAY51 = DAYS / "day-051-gated-jumprelu-and-topk-saes-on-the-same-toy"


def axis_sae(bias: float = 0.0) -> StandardSAE:
    """Latents along +-e1, +-e2 with encoder bias `bias`: exact for bias 0, each active code shrunk by |bias|."""
    sae = StandardSAE(SAEConfig(d_in=2, d_sae=4))
    basis = torch.tensor([[1.0, 0], [-1, 0], [0, 1], [0, -1]])
    with torch.no_grad():
        sae.W_dec.copy_(basis), sae.W_enc.copy_(basis.T), sae.b_dec.zero_(), sae.b_enc.fill_(bias)
    return sae


def test_feature_cosines_match_a_double_loop():
    sae = StandardSAE(SAEConfig(d_in=3, d_sae=4, seed=1))
    with torch.no_grad():
        sae.W_dec.mul_(torch.tensor([[2.0], [0.5], [1.0], [3.0]]))  # unnormalised rows must not matter
    W = torch.randn(3, 5, generator=torch.Generator().manual_seed(0))
    got = feature_cosines(sae, W)
    for j in range(4):
        for i in range(5):
            want = torch.nn.functional.cosine_similarity(sae.W_dec[j].detach(), W[:, i], dim=0)
            assert abs(got[j, i] - want) < 1e-6, "cosine of decoder row j with feature column i"
    assert torch.allclose(max_cosines(sae, W), got.max(0).values)


def test_shrinkage_is_one_for_an_exact_sae_and_measures_a_known_shrink():
    x = torch.zeros(4, 2)
    x[0, 0], x[1, 1], x[2, 0], x[3] = 0.5, 2.0, 0.1, torch.tensor([1.0, 1.0])  # the last has two features
    h = x.clone()  # features along the axes: W = identity
    exact = shrinkage(axis_sae(0.0), h, x)
    assert exact == {"detected": 1.0, "rho": pytest.approx(1.0)}, "an exact SAE returns every input unshrunk"
    shrunk = shrinkage(axis_sae(-0.2), h, x)  # codes a - 0.2: rho = (a - 0.2) / a; a = 0.1 is below threshold
    assert shrunk["detected"] == pytest.approx(2 / 3), "the 0.1 input is not detected at all"
    assert shrunk["rho"] == pytest.approx(((0.5 - 0.2) / 0.5 + (2.0 - 0.2) / 2.0) / 2), "mean (a - 0.2)/a"


def test_untie_encoder_changes_only_the_encoder():
    sae = StandardSAE(SAEConfig(d_in=2, d_sae=8))
    before = sae_state(sae)
    untie_encoder_(sae, seed=0)
    after = sae_state(sae)
    assert not torch.allclose(before["W_enc"], after["W_enc"]), "the encoder must be redrawn"
    assert all(torch.equal(before[k], after[k]) for k in before if k != "W_enc")
    assert after["W_enc"].abs().max() <= (6 / 10) ** 0.5, "Xavier-uniform bound sqrt(6 / (d_in + d_sae))"


def day50_runs():
    seeds = range(5)
    arms = {"tied start": False, "independent start": True, "independent start + resampling": True}
    cfg = SAEConfig(d_in=2, d_sae=8, l1_coefficient=0.3)
    return {
        f"{arm} seed {s}": ("standard", SAEConfig(**{**cfg.__dict__, "seed": s}), SAETrainArgs(), untie)
        for arm, untie in arms.items()
        for s in seeds
    }


def test_day50_resampled_saes_recover_every_toy_feature_and_without_resampling_one_seed_does_not():
    toy = load_toy()
    W = toy.W[0].detach()
    saes = load_runs(load_file(str(DAY50 / "saes.safetensors")), day50_runs())
    logs = json.loads((DAY50 / "runs.json").read_text())
    for name, sae in saes.items():
        assert torch.allclose(max_cosines(sae, W), torch.tensor(logs[name]["max_cos"]), atol=1e-6), "log = weights"
    resampled = [max_cosines(saes[f"independent start + resampling seed {s}"], W).min() for s in range(5)]
    assert min(resampled) >= 0.99, "with resampling every feature has a decoder row within cos 0.99"
    h, _ = toy_activations(toy, n=50_000, seed=1)
    missed = [s for s in range(5) if max_cosines(saes[f"independent start seed {s}"], W).min() < 0.99]
    assert missed, "without resampling some seed must miss a feature (the day's contrast)"
    for s in missed:
        dead = ~(saes[f"independent start seed {s}"].encode(h) > 0).any(0)
        assert dead.any(), "the seeds that miss features have dead latents"


def day51_runs():
    knobs = {"standard": {"l1_coefficient": 0.3}, "gated": {"l1_coefficient": 1.0},
             "jumprelu": {"l0_coefficient": 0.1}, "topk": {"k": 1}}  # fmt: skip
    return {
        f"{v} seed {s}": (v, SAEConfig(d_in=2, d_sae=8, seed=s, **knob), SAETrainArgs(), False)
        for v, knob in knobs.items()
        for s in (0, 1)
    }


def test_day51_standard_sae_shrinks_and_the_other_variants_do_not():
    toy = load_toy()
    h, x = toy_activations(toy, n=20_000, seed=1)
    saes = load_runs(load_file(str(DAY51 / "saes.safetensors")), day51_runs())
    rho = {name: shrinkage(sae, h, x)["rho"] for name, sae in saes.items()}
    standard = max(rho[f"standard seed {s}"] for s in (0, 1))
    others = min(rho[f"{v} seed {s}"] for v in ("gated", "jumprelu", "topk") for s in (0, 1))
    assert standard < 0.9 < others, f"L1 shrinks (standard rho {standard:.3f}), the variants do not ({others:.3f})"
