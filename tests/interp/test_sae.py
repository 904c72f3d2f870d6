"""SAEs (standard, gated, JumpReLU, TopK), their trainer, resampling and metrics.

References: per-input, per-latent Python loops for every encoder; the JumpReLU paper's pseudo-derivative formulas
written out; hand-built SAEs whose reconstructions are known (perfect, the mean); and SAELens 6.x's classes loaded
with our state dicts (tolerance 1e-6: the same float32 operations in the same order give equal results).
"""

import math

import pytest
import torch
from mechlearn.interp.sae import SAEConfig, StandardSAE
from mechlearn.interp.sae_training import (
    SAETrainArgs,
    load_sae,
    resample_dead_latents_,
    sae_metrics,
    sae_state,
    train_sae,
)
from mechlearn.interp.sae_variants import GatedSAE, JumpReLUFunction, JumpReLUSAE, StepFunction, TopKSAE, make_sae

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # sae_lens imports transformer_lens.utils

VARIANTS = ["standard", "gated", "jumprelu", "topk"]
TOL = 1e-6


def perturbed(variant: str, d_in: int = 3, d_sae: int = 6, seed: int = 0, **cfg_kwargs):
    """An SAE with every parameter moved off its (often zero) initial value, so each one matters."""
    cfg = SAEConfig(d_in=d_in, d_sae=d_sae, k=2, seed=seed, **cfg_kwargs)
    sae = make_sae(variant, cfg)
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in sae.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=generator))
        if variant == "jumprelu":
            sae.threshold.abs_()
    return sae


def inputs(n: int = 16, d_in: int = 3, seed: int = 2) -> torch.Tensor:
    return torch.randn(n, d_in, generator=torch.Generator().manual_seed(seed))


def loop_encode(sae, x: torch.Tensor) -> torch.Tensor:
    """Each variant's activation written per input and per latent, from the papers' formulas."""
    f = torch.zeros(x.shape[0], sae.cfg.d_sae)
    for n in range(x.shape[0]):
        xc = x[n] - sae.b_dec
        pre = [float(xc @ sae.W_enc[:, i]) for i in range(sae.cfg.d_sae)]
        for i in range(sae.cfg.d_sae):
            if sae.architecture == "standard":
                f[n, i] = max(0.0, pre[i] + float(sae.b_enc[i]))
            elif sae.architecture == "gated":
                gate = pre[i] + float(sae.b_gate[i])
                mag = pre[i] * math.exp(float(sae.r_mag[i])) + float(sae.b_mag[i])
                f[n, i] = max(0.0, mag) if gate > 0 else 0.0
            elif sae.architecture == "jumprelu":
                z = pre[i] + float(sae.b_enc[i])
                f[n, i] = z if z > float(sae.threshold[i]) else 0.0
        if sae.architecture == "topk":
            z = [pre[i] + float(sae.b_enc[i]) for i in range(sae.cfg.d_sae)]
            for i in sorted(range(sae.cfg.d_sae), key=lambda i: -z[i])[: sae.cfg.k]:
                f[n, i] = max(0.0, z[i])
    return f


@pytest.mark.parametrize("variant", VARIANTS)
def test_encode_and_decode_match_a_per_latent_loop(variant):
    sae, x = perturbed(variant), inputs()
    with torch.no_grad():
        f = sae.encode(x)
        want = loop_encode(sae, x)
        assert (f > 0).any() and (f == 0).any(), "the case must have both active and inactive latents"
        assert torch.allclose(f, want, atol=1e-5), f"{variant}: wrong activation (forgot x - b_dec? wrong gate?)"
        x_hat = torch.stack([sum(f[n, i] * sae.W_dec[i] for i in range(6)) + sae.b_dec for n in range(len(x))])
        assert torch.allclose(sae(x), x_hat, atol=1e-5), "decode must be sum_i f_i W_dec[i] + b_dec"


def test_topk_keeps_exactly_k_and_zeroes_negative_winners():
    sae = perturbed("topk", d_sae=8)
    with torch.no_grad():
        assert ((sae.encode(inputs()) > 0).sum(-1) <= 2).all(), "at most k latents may be active"
        sae.b_enc.fill_(-100.0)
        assert (sae.encode(inputs()) == 0).all(), "negative top-k pre-activations must be ReLU'd to zero"


def test_standard_l1_term_is_activations_times_decoder_row_norms():
    sae, x = perturbed("standard"), inputs()
    with torch.no_grad():
        sae.W_dec.mul_(torch.linspace(0.5, 2.0, 6)[:, None])  # rows of different norms, so the weighting shows
    f = sae.encode(x).detach()
    want = sum(float(f[n, i]) * float(sae.W_dec[i].detach().norm()) for n in range(len(x)) for i in range(6)) / len(x)
    got = sae.training_loss(x)["sparsity"].item()
    assert abs(got - sae.cfg.l1_coefficient * want) < 1e-5, "L1 must weight f_i by ||W_dec,i|| (mean over batch)"


def test_training_loss_terms_add_up_and_mse_sums_over_d_in():
    sae, x = perturbed("gated"), inputs()
    losses = sae.training_loss(x, sparsity_scale=0.5)
    mse = ((sae(x) - x) ** 2).sum(-1).mean()
    assert abs(losses["mse"].item() - mse.item()) < 1e-5, "mse: sum over d_in, mean over the batch (SAELens)"
    total = losses["mse"] + losses["sparsity"] + losses["aux"]
    assert abs(losses["loss"].item() - total.item()) < 1e-5, "loss must be the sum of its reported terms"
    full = sae.training_loss(x, sparsity_scale=1.0)["sparsity"].item()
    assert abs(losses["sparsity"].item() - 0.5 * full) < 1e-6, "warm-up scale must multiply the sparsity term"


def test_gated_auxiliary_loss_trains_the_gate_not_the_decoder():
    sae, x = perturbed("gated"), inputs()
    sae.aux_loss(x, sae(x), None).backward()
    assert sae.W_dec.grad is None or sae.W_dec.grad.abs().max() == 0, "the aux reconstruction uses a frozen decoder"
    assert sae.b_gate.grad.abs().max() > 0, "the aux loss must reach the gate"
    sae.zero_grad()
    (sae(x) - x).pow(2).sum().backward()
    assert sae.b_gate.grad is None or sae.b_gate.grad.abs().max() == 0, "the Heaviside gate passes no gradient"
    assert sae.r_mag.grad.abs().max() > 0, "reconstruction must train the magnitude path"


def test_jumprelu_threshold_gradient_is_the_rectangle_pseudo_derivative():
    eps = 0.5
    z = torch.tensor([[0.10, 0.90, 1.30], [0.60, 0.20, 2.00]])
    theta = torch.tensor([0.30, 1.00, 1.00], requires_grad=True)
    w = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])  # upstream gradient
    zz = z.clone().requires_grad_(True)
    (JumpReLUFunction.apply(zz, theta, eps) * w).sum().backward()
    # d/dtheta = sum_b -(theta/eps) K((z - theta)/eps) w_b, K(u) = 1[|u| < 1/2]
    K = ((z - theta.detach()).abs() / eps < 0.5).float()
    want = (-(theta.detach() / eps) * K * w).sum(0)
    assert torch.allclose(theta.grad, want, atol=TOL), "threshold gradient: -(theta/eps) K((z-theta)/eps)"
    assert torch.allclose(zz.grad, (z > theta.detach()).float() * w), "towards z: H(z - theta), no estimator"
    theta.grad = None
    (StepFunction.apply(z, theta, eps) * w).sum().backward()
    assert torch.allclose(theta.grad, (-(1 / eps) * K * w).sum(0), atol=TOL), "L0: -(1/eps) K((z-theta)/eps)"


def test_jumprelu_l0_penalty_counts_active_latents_and_moves_thresholds():
    sae, x = perturbed("jumprelu", l0_coefficient=0.25, jumprelu_bandwidth=10.0), inputs()
    sparsity = sae.training_loss(x)["sparsity"]
    assert abs(sparsity.item() - 0.25 * (sae.encode(x) != 0).sum(-1).float().mean().item()) < 1e-6
    sparsity.backward()
    assert (sae.threshold.grad < 0).all(), "raising a threshold must lower L0: its gradient is negative"


def test_topk_auxk_loss_reconstructs_the_residual_with_dead_latents():
    sae, x = perturbed("topk", d_in=4, aux_loss_coefficient=0.5), inputs(d_in=4)
    dead = torch.tensor([True, False, True, True, False, False])
    with torch.no_grad():
        x_hat = sae(x)
        got = sae.aux_loss(x, x_hat, dead).item()
        pre = sae.hidden_pre(x)
        want = 0.0
        for n in range(len(x)):  # k_aux = d_in // 2 = 2 of the 3 dead latents, largest pre-activations
            top = sorted([0, 2, 3], key=lambda i: -pre[n, i])[:2]
            e_hat = sum(max(0.0, float(pre[n, i])) * sae.W_dec[i] for i in top)
            want += float(((x[n] - x_hat[n]) - e_hat).pow(2).sum()) / len(x)
    assert abs(got - 0.5 * 1.0 * want) < 1e-5, "AuxK: top-k_aux dead latents fit the residual, no b_dec"
    assert sae.aux_loss(x, x_hat, torch.zeros(6, dtype=torch.bool)).item() == 0, "no dead latents: no AuxK"


def test_post_step_normalises_decoder_rows_and_clamps_thresholds():
    sae = perturbed("jumprelu")
    with torch.no_grad():
        sae.W_dec.mul_(3.0)
        sae.threshold[0] = -1.0
    sae.post_step_()
    assert torch.allclose(sae.W_dec.norm(dim=-1), torch.ones(6), atol=TOL), "decoder rows must have unit norm"
    assert sae.threshold.min() >= 0, "a negative threshold would pass negative pre-activations"


def test_parallel_decoder_gradient_is_removed():
    sae, x = perturbed("standard"), inputs()
    sae.normalise_decoder_()
    sae.training_loss(x)["loss"].backward()
    sae.remove_parallel_decoder_grad_()
    assert (sae.W_dec.grad * sae.W_dec).sum(-1).abs().max() < 1e-6, "gradient must be orthogonal to each row"


def test_metrics_of_a_perfect_and_a_mean_reconstruction():
    x = inputs(n=32, d_in=2) + torch.tensor([1.0, -2.0])
    perfect = StandardSAE(SAEConfig(d_in=2, d_sae=5))
    with torch.no_grad():  # +-e1, +-e2 latents: relu(x) - relu(-x) = x exactly; latent 4 points nowhere
        basis = torch.tensor([[1.0, 0], [-1, 0], [0, 1], [0, -1], [1, 0]])
        perfect.W_dec.copy_(basis), perfect.W_enc.copy_(basis.T), perfect.b_dec.zero_()
        perfect.b_enc.copy_(torch.tensor([0, 0, 0, 0, -1e6]))
    m = sae_metrics(perfect, x)
    assert abs(m["fve"] - 1) < TOL and m["mse"] < 1e-10, "a perfect reconstruction explains all the variance"
    assert abs(m["l0"] - 2.0) < TOL, "generic 2-d points activate one of each +-pair"
    assert abs(m["dead_fraction"] - 0.2) < TOL, "latent 4 never fires: 1 of 5 dead"
    mean = StandardSAE(SAEConfig(d_in=2, d_sae=3))
    with torch.no_grad():
        mean.b_enc.fill_(-1e6), mean.b_dec.copy_(x.mean(0))
    m = sae_metrics(mean, x)
    assert abs(m["fve"]) < 1e-5 and m["dead_fraction"] == 1 and m["l0"] == 0, "predicting the mean: fve = 0"


def dead_latent_case():
    """Data along two directions; an SAE with two good latents and two dead ones (negative bias, never fire)."""
    g = torch.Generator().manual_seed(0)
    which = torch.randint(0, 2, (256,), generator=g)
    x = torch.rand(256, generator=g)[:, None] * torch.eye(2)[which]
    sae = StandardSAE(SAEConfig(d_in=2, d_sae=4, l1_coefficient=0.01))
    with torch.no_grad():
        sae.W_dec.copy_(torch.tensor([[1.0, 0], [1.0, 0], [0.6, 0.8], [0.6, 0.8]]))
        sae.W_enc.copy_(sae.W_dec.T)
        sae.b_enc.copy_(torch.tensor([0.0, -5.0, -5.0, -5.0]))
    return sae, x


def test_resampling_points_dead_latents_at_badly_reconstructed_inputs_and_resets_adam():
    sae, x = dead_latent_case()
    optimizer = torch.optim.Adam(sae.parameters(), lr=1e-3)
    sae.training_loss(x)["loss"].backward()
    optimizer.step()  # creates Adam state; dead latents got zero gradients, so plant non-zero moments everywhere
    for state in optimizer.state.values():
        state["exp_avg"].fill_(1.0), state["exp_avg_sq"].fill_(1.0)
    dead = ~(sae.encode(x) > 0).any(0)
    assert dead.tolist() == [False, True, True, True]
    count = resample_dead_latents_(sae, optimizer, x, dead, torch.Generator().manual_seed(0))
    assert count == 3
    with torch.no_grad():
        assert ((sae.encode(x) > 0).any(0)).all(), "resampled latents must fire again"
        # only e2 inputs are badly reconstructed (no live latent covers them): the new rows must point along e2
        assert (sae.W_dec[1:] @ (torch.tensor([0.0, 1]) - sae.b_dec) > 0).all()
        assert torch.allclose(sae.W_dec[1:].norm(dim=-1), torch.ones(3), atol=1e-5), "resampled rows: unit norm"
    for p, index in ((sae.W_dec, (slice(1, 4),)), (sae.W_enc, (slice(None), slice(1, 4))), (sae.b_enc, (slice(1, 4),))):
        state = optimizer.state[p]
        assert state["exp_avg"][index].abs().max() == 0 and state["exp_avg_sq"][index].abs().max() == 0, "reset Adam"
    assert (optimizer.state[sae.W_enc]["exp_avg_sq"][:, 0] == 1).all(), "live latents keep their Adam state"


def test_training_with_resampling_revives_dead_latents_without_it_they_stay_dead():
    args = dict(steps=60, batch_size=64, lr=1e-2, dead_window=10, log_every=20)
    without, x = dead_latent_case()
    train_sae(without, x, SAETrainArgs(**args), progress=False)
    assert sae_metrics(without, x)["dead_fraction"] == 0.75, "dead latents get no gradient and stay dead"
    with_, _ = dead_latent_case()
    history = train_sae(with_, x, SAETrainArgs(**args, resample_dead_every=20, resample_until=0.5), progress=False)
    assert history["resampled"] and history["resampled"][0][1] == 3, "the three dead latents must be resampled"
    assert sae_metrics(with_, x)["dead_fraction"] < 0.75, "resampling must revive dead latents"


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_trains_and_round_trips_through_its_state(variant):
    x = inputs(n=128, d_in=3)
    sae = make_sae(variant, SAEConfig(d_in=3, d_sae=6, k=2))
    history = train_sae(sae, x, SAETrainArgs(steps=30, batch_size=32, lr=1e-2, log_every=10), progress=False)
    assert history["loss"][-1] < history["loss"][0], f"{variant}: training must lower the loss"
    assert torch.allclose(sae.W_dec.norm(dim=-1), torch.ones(6), atol=1e-5), "rows renormalised after each step"
    again = load_sae(variant, sae.cfg, sae_state(sae))
    with torch.no_grad():
        assert torch.equal(again(x), sae(x)), "save/load must give the same SAE"


def test_make_sae_rejects_unknown_variants():
    with pytest.raises(ValueError):
        make_sae("batchtopk", SAEConfig())


@pytest.mark.parametrize("variant", VARIANTS)
def test_encodings_and_reconstructions_equal_saelens_with_our_state_dict(variant):
    import sae_lens

    classes = {
        "standard": (sae_lens.StandardSAE, sae_lens.StandardSAEConfig, {}),
        "gated": (sae_lens.GatedSAE, sae_lens.GatedSAEConfig, {}),
        "jumprelu": (sae_lens.JumpReLUSAE, sae_lens.JumpReLUSAEConfig, {}),
        "topk": (sae_lens.TopKSAE, sae_lens.TopKSAEConfig, {"k": 2}),
    }
    sae_class, cfg_class, extra = classes[variant]
    ours, x = perturbed(variant), inputs()
    theirs = sae_class(cfg_class(d_in=3, d_sae=6, **extra))
    theirs.load_state_dict(sae_state(ours), strict=True)  # strict: same names, same shapes, nothing missing
    with torch.no_grad():
        assert (ours.encode(x) - theirs.encode(x)).abs().max() <= TOL, f"{variant}: codes differ from SAELens"
        assert (ours(x) - theirs(x)).abs().max() <= TOL, f"{variant}: reconstructions differ from SAELens"


def test_variant_classes_are_the_named_ones():
    assert isinstance(make_sae("gated", SAEConfig()), GatedSAE)
    assert isinstance(make_sae("jumprelu", SAEConfig()), JumpReLUSAE)
    assert isinstance(make_sae("topk", SAEConfig()), TopKSAE)
