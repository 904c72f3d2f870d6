r"""One trainer for every SAE variant, dead-latent resampling, metrics, and save/load.

Training follows Bricken et al. 2023 [@bricken2023monosemanticity]: Adam on minibatches drawn from a fixed set of
activations, $b_\text{dec}$ started at the data mean, the decoder gradient's component along each row removed and
the rows renormalised after every step (`SAE.post_step_`), the sparsity coefficient warmed up linearly.

**Resampling.** A latent that has not fired for `dead_window` steps is dead: it gets no gradient from the
reconstruction and never comes back by itself. Every `resample_dead_every` steps (until `resample_until` of the
run) each dead latent is re-initialised towards an input the SAE reconstructs badly: inputs are drawn with
probability proportional to the square of their squared reconstruction error; the latent's decoder row becomes that
input (minus $b_\text{dec}$) normalised, its encoder column the same direction times `resample_scale` times the
mean encoder norm of the live latents, its per-latent biases their initial values, and Adam's moment estimates for
all of these entries are reset to zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Bool, Float
from mechlearn.interp.sae import SAE, SAEConfig
from mechlearn.interp.sae_variants import make_sae
from torch import Tensor
from tqdm.auto import tqdm


@dataclass
class SAETrainArgs:
    steps: int = 10_000  # Adam steps
    batch_size: int = 1024  # activations per step, drawn with replacement from the given set
    lr: float = 1e-3  # Adam learning rate (constant)
    l1_warm_up_steps: int = 0  # linear ramp of the sparsity coefficient from 0 (Conerly et al. 2024); 0 = none
    resample_dead_every: int = 0  # steps between resamplings of dead latents; 0 = never
    resample_until: float = 0.5  # fraction of the run after which no more resampling, so the last ones settle
    resample_scale: float = 0.2  # encoder norm of a resampled latent, relative to the mean live one (Bricken)
    dead_window: int = 500  # a latent idle for this many steps counts as dead (resampling and AuxK)
    init_b_dec_to_mean: bool = True  # start b_dec at the data mean, so the first latents see centred inputs
    log_every: int = 100  # steps between history records
    seed: int = 0  # seeds the batches and the resampling draws (the SAE's own seed sets its initialisation)


def reset_adam_state_(optimizer: torch.optim.Optimizer, param: Tensor, index: tuple) -> None:
    """Zero Adam's first and second moments of `param[index]`, so a re-initialised entry starts afresh."""
    state = optimizer.state.get(param)
    if state:
        state["exp_avg"][index] = 0.0
        state["exp_avg_sq"][index] = 0.0


@torch.no_grad()
def resample_dead_latents_(
    sae: SAE,
    optimizer: torch.optim.Optimizer,
    activations: Float[Tensor, "n d_in"],
    dead: Bool[Tensor, " d_sae"],
    generator: torch.Generator,
    resample_scale: float = 0.2,
) -> int:
    """Re-initialise the `dead` latents towards badly reconstructed inputs (see the module docstring); returns
    how many were resampled."""
    idx = dead.nonzero().squeeze(-1)
    if len(idx) == 0:
        return 0
    err = (sae(activations) - activations).pow(2).sum(-1)  # (n,) squared reconstruction error
    weights = err.pow(2)
    if weights.sum() <= 0:  # everything reconstructed exactly: nothing to aim the latents at
        return 0
    chosen = torch.multinomial(weights, len(idx), replacement=True, generator=generator)
    direction = activations[chosen] - sae.b_dec
    direction = direction / direction.norm(dim=-1, keepdim=True).clamp(min=1e-8)  # (n_dead, d_in)
    alive = ~dead
    enc_norm = sae.W_enc[:, alive].norm(dim=0).mean().item() if alive.any() else 1.0
    sae.W_dec[idx] = direction
    sae.W_enc[:, idx] = direction.T * enc_norm * resample_scale
    reset_adam_state_(optimizer, sae.W_dec, (idx,))
    reset_adam_state_(optimizer, sae.W_enc, (slice(None), idx))
    for name, value in sae.latent_params().items():
        param = getattr(sae, name)
        param[idx] = value
        reset_adam_state_(optimizer, param, (idx,))
    return len(idx)


def train_sae(
    sae: SAE, activations: Float[Tensor, "n d_in"], args: SAETrainArgs, progress: bool = True
) -> dict[str, list]:
    """Train `sae` in place on rows of `activations`; returns the history.

    history: "step", "loss", "mse", "sparsity", "aux", "l0" (mean active latents in the batch), "dead_fraction"
    (idle for `dead_window` steps), "frequency" (per latent, the fraction of inputs it fired on since the last
    record), and "resampled" (the steps at which latents were resampled and how many)."""
    generator = torch.Generator().manual_seed(args.seed)
    if args.init_b_dec_to_mean:
        with torch.no_grad():
            sae.b_dec.copy_(activations.mean(0))
    optimizer = torch.optim.Adam(sae.parameters(), lr=args.lr)
    n, d_sae = activations.shape[0], sae.cfg.d_sae
    idle_steps = torch.zeros(d_sae, dtype=torch.long)
    fired_count, seen = torch.zeros(d_sae), 0
    keys = ["step", "loss", "mse", "sparsity", "aux", "l0", "dead_fraction", "frequency", "resampled"]
    history: dict[str, list] = {key: [] for key in keys}
    for step in tqdm(range(args.steps), disable=not progress, desc=f"{sae.architecture} SAE"):
        x = activations[torch.randint(0, n, (args.batch_size,), generator=generator)]
        scale = min(1.0, (step + 1) / args.l1_warm_up_steps) if args.l1_warm_up_steps else 1.0
        dead = idle_steps >= args.dead_window
        losses = sae.training_loss(x, sparsity_scale=scale, dead=dead)
        optimizer.zero_grad()
        losses["loss"].backward()
        sae.remove_parallel_decoder_grad_()
        optimizer.step()
        sae.post_step_()

        with torch.no_grad():
            fired = sae.encode(x) > 0  # after the step: what the updated SAE does with this batch
        idle_steps = torch.where(fired.any(0), 0, idle_steps + 1)
        fired_count += fired.sum(0)
        seen += args.batch_size
        resample_due = args.resample_dead_every and (step + 1) % args.resample_dead_every == 0
        if resample_due and step + 1 <= args.resample_until * args.steps:
            dead = idle_steps >= args.dead_window
            count = resample_dead_latents_(sae, optimizer, activations, dead, generator, args.resample_scale)
            if count:
                history["resampled"].append([step + 1, count])
                idle_steps[dead] = 0
        if step % args.log_every == 0 or step == args.steps - 1:
            history["step"].append(step)
            for key in ("loss", "mse", "sparsity", "aux"):
                history[key].append(losses[key].item())
            history["l0"].append(fired.sum(-1).float().mean().item())
            history["dead_fraction"].append((idle_steps >= args.dead_window).float().mean().item())
            history["frequency"].append((fired_count / seen).tolist())
            fired_count, seen = torch.zeros(d_sae), 0
    return history


@torch.no_grad()
def sae_metrics(sae: SAE, activations: Float[Tensor, "n d_in"]) -> dict[str, float]:
    r"""On the given activations:

    - l0: mean number of active latents per input;
    - fve: fraction of variance explained, $1 - \sum_n \lVert x_n - \hat x_n\rVert^2 / \sum_n \lVert x_n - \bar x
      \rVert^2$ (1 for a perfect reconstruction, 0 for predicting the mean);
    - mse: mean over inputs of $\lVert x - \hat x\rVert^2$;
    - dead_fraction: fraction of latents active on none of the inputs."""
    f = sae.encode(activations)
    x_hat = sae.decode(f)
    residual = (activations - x_hat).pow(2).sum(-1)
    variance = (activations - activations.mean(0)).pow(2).sum()
    return {
        "l0": (f > 0).sum(-1).float().mean().item(),
        "fve": (1 - residual.sum() / variance).item(),
        "mse": residual.mean().item(),
        "dead_fraction": (~(f > 0).any(0)).float().mean().item(),
    }


def sae_state(sae: SAE) -> dict[str, Tensor]:
    """The SAE's parameters by SAELens name, detached copies (for `cached_tensors` and `load_sae`)."""
    return {name: value.detach().clone().contiguous() for name, value in sae.state_dict().items()}


def load_sae(variant: str, cfg: SAEConfig, tensors: dict[str, Tensor]) -> SAE:
    """An SAE of `variant` with exactly the parameters in `tensors` (every name must match)."""
    sae = make_sae(variant, cfg)
    sae.load_state_dict(tensors, strict=True)
    return sae
