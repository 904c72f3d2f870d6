"""Our SAEs against SAELens: same weights give the same codes, the same settings give the same objective, and its
trainer runs on our activations with our batches."""

import pytest
import torch
from mechlearn.interp.sae import SAEConfig
from mechlearn.interp.sae_lens_bridge import (
    TRAINING,
    batches,
    to_sae_lens,
    train_with_sae_lens,
    training_config,
)
from mechlearn.interp.sae_training import SAETrainArgs, sae_state, train_sae
from mechlearn.interp.sae_variants import VARIANTS, make_sae
from sae_lens.saes.sae import TrainStepInput

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CFG = dict(d_in=8, d_sae=32, l1_coefficient=0.3, l0_coefficient=0.2, k=3, aux_loss_coefficient=0.5)


def random_sae(variant: str, seed: int = 0):
    """An SAE with every parameter moved off its initial value, so biases, thresholds and gates all matter."""
    sae = make_sae(variant, SAEConfig(**CFG, seed=seed))
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in sae.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=generator))
        if variant == "jumprelu":
            sae.threshold.copy_(torch.rand(sae.cfg.d_sae, generator=generator) * 0.5)
        sae.normalise_decoder_()
    return sae


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_to_sae_lens_gives_the_same_codes_and_reconstructions(variant):
    """Catches a parameter loaded under the wrong name, a transposed matrix, or b_dec not subtracted before encoding
    (tolerance 1e-5: the same float32 operations, possibly fused differently)."""
    sae = random_sae(variant)
    theirs = to_sae_lens(sae)
    x = torch.randn(200, CFG["d_in"], generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        ours_f, theirs_f = sae.encode(x), theirs.encode(x)
        assert (ours_f > 0).float().mean() > 0.01, "the test needs active latents"
        torch.testing.assert_close(theirs_f, ours_f, atol=1e-5, rtol=0)
        torch.testing.assert_close(theirs.decode(ours_f), sae.decode(ours_f), atol=1e-5, rtol=0)
        torch.testing.assert_close(theirs(x), sae(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_same_settings_give_the_same_training_loss(variant):
    """SAELens' training SAE built by `training_config`, holding our weights, computes our loss: catches a coefficient
    passed to the wrong field or a default (k_aux, AuxK scale) that differs (tolerance 1e-4 relative)."""
    sae = random_sae(variant, seed=1)
    cfg_theirs = training_config(variant, sae.cfg, SAETrainArgs())
    theirs = TRAINING[variant][0](cfg_theirs)
    theirs.load_state_dict(sae_state(sae), strict=True)
    x = torch.randn(64, CFG["d_in"], generator=torch.Generator().manual_seed(6))
    dead = torch.arange(CFG["d_sae"]) % 3 == 0  # a third dead, so AuxK counts
    coefficients = {name: c.value for name, c in theirs.get_coefficients().items()}
    step = TrainStepInput(
        sae_in=x, coefficients=coefficients, dead_neuron_mask=dead, n_training_steps=0, is_logging_step=False
    )
    expected = sae.training_loss(x, dead=dead)["loss"].item()
    assert theirs.training_forward_pass(step).loss.item() == pytest.approx(expected, rel=1e-4)


def test_batches_are_the_ones_train_sae_draws():
    acts = torch.randn(500, CFG["d_in"], generator=torch.Generator().manual_seed(7))
    sae = make_sae("standard", SAEConfig(**CFG))
    seen = []
    original = sae.training_loss

    def recording(x, **kwargs):
        seen.append(x.clone())
        return original(x, **kwargs)

    sae.training_loss = recording
    train_sae(sae, acts, SAETrainArgs(steps=3, batch_size=16, seed=4, init_b_dec_to_mean=False), progress=False)
    provider = batches(acts, 16, seed=4)
    for x in seen:
        assert torch.equal(next(provider), x), "SAELens must see the batches our trainer sees, in order"


def fit_and_error(variant: str, steps: int):
    acts = torch.randn(2000, CFG["d_in"], generator=torch.Generator().manual_seed(8))
    args = SAETrainArgs(steps=steps, batch_size=64, lr=3e-3, dead_window=5)
    trained = train_with_sae_lens(variant, SAEConfig(**CFG), acts, args)
    untrained = TRAINING[variant][0](training_config(variant, SAEConfig(**CFG), args))
    with torch.no_grad():
        err = lambda s: (s.decode(s.encode(acts)) - acts).pow(2).sum(-1).mean().item()
        return trained, err(trained), err(untrained)


def test_sae_lens_trainer_fits_an_activations_tensor():
    """SAELens' trainer runs from our in-memory tensor (no model, no dataset) and lowers the reconstruction error."""
    _, trained, untrained = fit_and_error("topk", steps=12)
    assert trained < untrained


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_sae_lens_trainer_is_seeded_and_learns_every_variant(variant):
    first, trained, untrained = fit_and_error(variant, steps=60)
    again, _, _ = fit_and_error(variant, steps=60)
    torch.testing.assert_close(first.W_enc, again.W_enc, atol=0, rtol=0)  # seeded: identical runs
    assert trained < untrained


def test_sae_lens_auxk_uses_signed_dead_pre_activations():
    """The one known difference of objectives (day 53): when every dead pre-activation is negative, our AuxK (which
    applies the TopK ReLU) reconstructs nothing, so its loss is the whole residual's; SAELens' uses them as they are."""
    sae = random_sae("topk", seed=2)
    dead = torch.arange(CFG["d_sae"]) % 2 == 0
    with torch.no_grad():
        sae.b_enc[dead] = -100.0  # dead latents' pre-activations all negative
    theirs = TRAINING["topk"][0](training_config("topk", sae.cfg, SAETrainArgs()))
    theirs.load_state_dict(sae_state(sae), strict=True)
    x = torch.randn(64, CFG["d_in"], generator=torch.Generator().manual_seed(9))
    step = TrainStepInput(sae_in=x, coefficients={}, dead_neuron_mask=dead, n_training_steps=0, is_logging_step=False)
    with torch.no_grad():
        ours = sae.training_loss(x, dead=dead)
        out = theirs.training_forward_pass(step)
        residual = (x - sae(x)).pow(2).sum(-1).mean().item()
    assert ours["aux"].item() == pytest.approx(CFG["aux_loss_coefficient"] * residual, rel=1e-5)  # n_dead > k_aux
    assert out.losses["auxiliary_reconstruction_loss"].item() > 10 * ours["aux"].item()
    assert out.losses["mse_loss"].item() == pytest.approx(ours["mse"].item(), rel=1e-5)
