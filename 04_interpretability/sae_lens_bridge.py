"""Our SAEs in SAELens' classes, and SAELens' own trainer run on our activations [@bloom2024saelens].

**Same weights.** Our parameters carry SAELens 6.x's names and shapes, so `to_sae_lens` is a strict
`load_state_dict` into the inference class of the same architecture (`StandardSAE`, `GatedSAE`, `JumpReLUSAE`,
`TopKSAE`) with `apply_b_dec_to_input=True` (we subtract $b_\\text{dec}$ before encoding too) and no activation
normalisation.

**Same recipe, its trainer.** `train_with_sae_lens` builds SAELens' training SAE of the same architecture with every
field our `SAEConfig` / `SAETrainArgs` has an equivalent for (d_sae, the L1/L0 coefficient or k, the JumpReLU
threshold and bandwidth, the AuxK weight, the sparsity warm-up, the dead-latent window, steps, batch size, Adam's
learning rate) and leaves the rest at SAELens' defaults — which is where the two recipes differ: its decoder starts
with rows of norm 0.1 and is never renormalised (the L1 penalty is weighted by the row norms instead),
$b_\\text{dec}$ starts at zero, the gated auxiliary loss reaches the live decoder (ours goes through a frozen copy),
TopK ranks latents by pre-activation times decoder norm and feeds AuxK the dead pre-activations without a ReLU, and
gradients are clipped to norm 1. `SAETrainer.fit` reads batches from any iterator of activation tensors (its
`DataProvider`), so it trains on our in-memory tensor with no model, dataset or download; the iterator below draws
exactly the batches our `train_sae` draws (same generator, same calls).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from unittest import mock

import torch
from jaxtyping import Float
from mechlearn.interp.sae import SAE, SAEConfig
from mechlearn.interp.sae_lm import lm_sae_config, lm_train_args, run_name
from mechlearn.interp.sae_training import SAETrainArgs, sae_state
from sae_lens import (
    GatedSAE,
    GatedSAEConfig,
    GatedTrainingSAE,
    GatedTrainingSAEConfig,
    JumpReLUSAE,
    JumpReLUSAEConfig,
    JumpReLUTrainingSAE,
    JumpReLUTrainingSAEConfig,
    StandardSAE,
    StandardSAEConfig,
    StandardTrainingSAE,
    StandardTrainingSAEConfig,
    TopKSAE,
    TopKSAEConfig,
    TopKTrainingSAE,
    TopKTrainingSAEConfig,
)
from sae_lens.config import SAETrainerConfig
from sae_lens.training import sae_trainer
from torch import Tensor

from mechlearn.artefacts import cached_json, cached_tensors

DEPENDS_ON = ["mechlearn.interp.sae_lens_bridge"]  # imports sae_lm and sae_training, so their hashes count too

INFERENCE = {
    "standard": (StandardSAE, StandardSAEConfig),
    "gated": (GatedSAE, GatedSAEConfig),
    "jumprelu": (JumpReLUSAE, JumpReLUSAEConfig),
    "topk": (TopKSAE, TopKSAEConfig),
}
TRAINING = {
    "standard": (StandardTrainingSAE, StandardTrainingSAEConfig),
    "gated": (GatedTrainingSAE, GatedTrainingSAEConfig),
    "jumprelu": (JumpReLUTrainingSAE, JumpReLUTrainingSAEConfig),
    "topk": (TopKTrainingSAE, TopKTrainingSAEConfig),
}


def to_sae_lens(sae: SAE):
    """The SAELens inference SAE holding exactly `sae`'s parameters (strict load: every name must match)."""
    cls, cfg_cls = INFERENCE[sae.architecture]
    extra = {"k": sae.cfg.k} if sae.architecture == "topk" else {}
    out = cls(cfg_cls(d_in=sae.cfg.d_in, d_sae=sae.cfg.d_sae, apply_b_dec_to_input=True, **extra))
    out.load_state_dict(sae_state(sae), strict=True)
    return out.eval()


def training_config(variant: str, cfg: SAEConfig, args: SAETrainArgs):
    """SAELens' training config for `variant` with our settings where it has a field for them."""
    cfg_cls = TRAINING[variant][1]
    common = {"d_in": cfg.d_in, "d_sae": cfg.d_sae, "apply_b_dec_to_input": True}
    per_variant = {
        "standard": {"l1_coefficient": cfg.l1_coefficient, "l1_warm_up_steps": args.l1_warm_up_steps},
        "gated": {"l1_coefficient": cfg.l1_coefficient, "l1_warm_up_steps": args.l1_warm_up_steps},
        "jumprelu": {
            "l0_coefficient": cfg.l0_coefficient,
            "l0_warm_up_steps": args.l1_warm_up_steps,
            "jumprelu_init_threshold": cfg.jumprelu_init_threshold,
            "jumprelu_bandwidth": cfg.jumprelu_bandwidth,
        },
        "topk": {"k": cfg.k, "aux_loss_coefficient": cfg.aux_loss_coefficient},
    }[variant]
    return cfg_cls(**common, **per_variant)


def batches(activations: Float[Tensor, "n d_in"], batch_size: int, seed: int) -> Iterator[Tensor]:
    """Endless minibatches drawn with replacement, exactly as `train_sae` draws them (same seed, same calls)."""
    generator = torch.Generator().manual_seed(seed)
    while True:
        yield activations[torch.randint(0, len(activations), (batch_size,), generator=generator)]


@contextmanager
def _quiet_progress_bar():
    """`SAETrainer.fit` always draws a tqdm bar; notebooks must not store one."""
    with mock.patch.object(sae_trainer, "tqdm", partial(sae_trainer.tqdm, disable=True)):
        yield


def train_with_sae_lens(
    variant: str,
    cfg: SAEConfig,
    activations: Float[Tensor, "n d_in"],
    args: SAETrainArgs,
    progress: bool = False,
):
    """SAELens' training SAE of `variant`, initialised from `torch.manual_seed(cfg.seed)` and trained by its
    `SAETrainer` for `args.steps` steps on `activations`; returns it in eval mode."""
    if args.resample_dead_every:
        raise ValueError("SAELens 6 has no dead-latent resampling; train with resample_dead_every=0 to compare")
    torch.manual_seed(cfg.seed)
    cls = TRAINING[variant][0]
    sae = cls(training_config(variant, cfg, args))
    trainer_cfg = SAETrainerConfig(
        total_training_samples=args.steps * args.batch_size,
        train_batch_size_samples=args.batch_size,
        lr=args.lr,
        lr_end=args.lr / 10,  # what SAELens' runner config fills in; unused by the constant schedule
        dead_feature_window=args.dead_window,
        device="cpu",
    )
    trainer = sae_trainer.SAETrainer(trainer_cfg, sae, batches(activations, args.batch_size, args.seed))
    if progress:
        trainer.fit()
    else:
        with _quiet_progress_bar():
            trainer.fit()
    return sae.eval()


def load_sae_lens_training(variant: str, cfg: SAEConfig, tensors: dict[str, Tensor], args: SAETrainArgs):
    """A SAELens training SAE of `variant` holding `tensors` (what `train_with_sae_lens` returned, saved)."""
    sae = TRAINING[variant][0](training_config(variant, cfg, args))
    sae.load_state_dict(tensors, strict=True)
    return sae.eval()


def sae_lens_run(
    folder: Path,
    variant: str,
    value: float,
    activations: Float[Tensor, "n d_in"],
    evaluate: Callable[[object], dict[str, float]],
) -> tuple[object, dict]:
    """Day 52's sweep point (`variant`, `value`) trained by SAELens' trainer instead of ours, cached in `folder`:
    weights `sae_lens_<run name>.safetensors`, metrics (`evaluate`) and training time `sae_lens_<run name>.json`."""
    cfg, args = lm_sae_config(variant, value), lm_train_args()
    made: dict = {}

    def train() -> dict:
        start = time.perf_counter()
        made["sae"] = train_with_sae_lens(variant, cfg, activations, args)
        made["seconds"] = time.perf_counter() - start
        return {name: p.detach().clone() for name, p in made["sae"].state_dict().items()}

    name = f"sae_lens_{run_name(variant, value)}"
    tensors = cached_tensors(Path(folder) / f"{name}.safetensors", train, DEPENDS_ON)
    sae = made.get("sae") or load_sae_lens_training(variant, cfg, tensors, args)
    if made:  # just trained: the metrics must come from this run
        (Path(folder) / f"{name}.json").unlink(missing_ok=True)
    record = cached_json(
        Path(folder) / f"{name}.json",
        lambda: {"variant": variant, "value": value, "seconds": made.get("seconds"), **evaluate(sae)},
        DEPENDS_ON,
    )
    return sae, record
