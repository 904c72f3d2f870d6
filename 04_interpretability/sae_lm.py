r"""Sparse autoencoders on day 17's character-level language model: activations in, spliced losses out.

**Where.** The SAEs read `HOOK`, the residual stream after block 0 (`blocks.0.hook_resid_post`, $d_\text{in} = 64$):
everything layer 1 and the unembedding see of the first layer's work, one vector per character.

**Data.** Activations come from seeded windows of `N_CTX` characters of the corpus' training split; held-out
activations and every loss from seeded windows of the validation split (`mechlearn.transformers.training`'s
90/10 cut), so an SAE is always judged on text neither it nor the language model trained on.

**Loss recovered.** Splicing replaces the activation by the SAE's reconstruction
$\hat x = \mathrm{dec}(\mathrm{enc}(x))$ for the rest of the forward pass. With $L_\text{clean}$ the model's
next-character loss, $L_\text{SAE}$ the spliced one and $L_\text{abl}$ the loss with the activation ablated,
$$\text{CE recovered} = \frac{L_\text{abl} - L_\text{SAE}}{L_\text{abl} - L_\text{clean}},$$
1 for a perfect reconstruction, 0 for one no better than the ablation. The headline baseline is **zero ablation**
($x \leftarrow 0$), the convention of SAELens' evaluations and most SAE papers; **mean ablation** ($x_p \leftarrow$
the batch mean at position $p$) is the harder baseline, since it keeps everything about $x$ that does not depend on
the text, and is reported beside it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache, partial
from pathlib import Path

import torch
from jaxtyping import Float, Int
from mechlearn.interp.sae import SAE, SAEConfig
from mechlearn.interp.sae_training import SAETrainArgs, load_sae, sae_metrics, sae_state, train_sae
from mechlearn.interp.sae_variants import make_sae
from mechlearn.transformers.loading import to_hooked_transformer
from mechlearn.transformers.tiny_lm import load_tiny_lm
from mechlearn.transformers.training import CharTokenizer, corpus_text, train_val_split
from torch import Tensor
from transformer_lens import HookedTransformer
from transformer_lens.hook_points import HookPoint

from mechlearn.artefacts import cached_json, cached_tensors

HOOK = "blocks.0.hook_resid_post"  # the residual stream between the two blocks
D_IN = 64  # the tiny model's d_model
N_CTX = 64  # characters per window: the model's context length
SAE_DAY = "day-052-sparse-autoencoders-on-the-tiny-language-model"


@dataclass
class ActivationArgs:
    n_train_windows: int = 2048  # 2048 x 64 = 131,072 training activations, sampled from the training split
    n_val_windows: int = 256  # 16,384 held-out activations from the validation split, for every evaluation
    seed: int = 52  # seeds the window starts (the validation windows use seed + 1)


def lm_and_tokenizer() -> tuple[HookedTransformer, CharTokenizer]:
    """Day 17's trained model as a TransformerLens `HookedTransformer` (eval mode), and its tokenizer."""
    model, tokenizer, _ = load_tiny_lm()
    return to_hooked_transformer(model).eval(), tokenizer


@lru_cache(maxsize=1)
def corpus_splits() -> dict[str, Int[Tensor, " n"]]:
    """The encoded corpus cut as day 17 cut it (the last 10% is "val"); encoded once per process."""
    train, val = train_val_split(CharTokenizer(corpus_text()).encode(corpus_text()))
    return {"train": train, "val": val}


def corpus_windows(n: int, split: str, seed: int, n_ctx: int = N_CTX) -> Int[Tensor, "n n_ctx"]:
    """`n` windows of `n_ctx` consecutive characters with seeded uniform starts in the `split` ("train"/"val")."""
    data = corpus_splits()[split]
    starts = torch.randint(0, len(data) - n_ctx + 1, (n,), generator=torch.Generator().manual_seed(seed))
    return torch.stack([data[s : s + n_ctx] for s in starts.tolist()])


def hook_layer(hook: str) -> int:
    return int(hook.split(".")[1])


@torch.no_grad()
def collect_activations(
    model: HookedTransformer, tokens: Int[Tensor, "n pos"], hook: str = HOOK, batch_size: int = 256
) -> Float[Tensor, "n_pos d_in"]:
    """The activation at `hook` for every position of every window, flattened to rows; the forward pass stops
    after the hook's block."""
    out = []
    for batch in tokens.split(batch_size):
        _, cache = model.run_with_cache(batch, names_filter=hook, stop_at_layer=hook_layer(hook) + 1)
        out.append(cache[hook].flatten(0, 1))  # (batch * pos, d_in)
    return torch.cat(out)


def training_activations(model: HookedTransformer, args: ActivationArgs | None = None) -> Float[Tensor, "n_pos d_in"]:
    args = args or ActivationArgs()
    return collect_activations(model, corpus_windows(args.n_train_windows, "train", args.seed))


def heldout_tokens(args: ActivationArgs | None = None) -> Int[Tensor, "n pos"]:
    args = args or ActivationArgs()
    return corpus_windows(args.n_val_windows, "val", args.seed + 1)


def reconstruct(sae, x: Float[Tensor, "... d_in"]) -> Float[Tensor, "... d_in"]:
    """$\\mathrm{dec}(\\mathrm{enc}(x))$ for any leading shape (the SAE sees rows)."""
    return sae.decode(sae.encode(x.reshape(-1, x.shape[-1]))).reshape(x.shape)


def splice_hook(act: Float[Tensor, "batch pos d_in"], hook: HookPoint, sae) -> Float[Tensor, "batch pos d_in"]:
    """Replace the activation by the SAE's reconstruction of it."""
    return reconstruct(sae, act)


def replace_hook(
    act: Float[Tensor, "batch pos d_in"], hook: HookPoint, value: Float[Tensor, "pos d_in"] | float
) -> Float[Tensor, "batch pos d_in"]:
    """Replace the activation by `value` (0.0 for zero ablation, per-position means for mean ablation)."""
    return torch.zeros_like(act) + value


@torch.no_grad()
def loss_with(
    model: HookedTransformer, tokens: Int[Tensor, "batch pos"], fn: Callable | None = None, hook: str = HOOK
) -> float:
    """Mean next-character loss (nats) over `tokens`, with `fn` attached at `hook` (None: the clean model)."""
    hooks = [] if fn is None else [(hook, fn)]
    return model.run_with_hooks(tokens, return_type="loss", fwd_hooks=hooks).item()


@torch.no_grad()
def position_means(
    model: HookedTransformer, tokens: Int[Tensor, "batch pos"], hook: str = HOOK
) -> Float[Tensor, "pos d_in"]:
    _, cache = model.run_with_cache(tokens, names_filter=hook, stop_at_layer=hook_layer(hook) + 1)
    return cache[hook].mean(0)


@torch.no_grad()
def baseline_losses(model: HookedTransformer, tokens: Int[Tensor, "batch pos"], hook: str = HOOK) -> dict[str, float]:
    """The three losses an SAE is measured between: clean, zero-ablated and mean-ablated at `hook`."""
    means = position_means(model, tokens, hook)
    return {
        "clean": loss_with(model, tokens, None, hook),
        "zero": loss_with(model, tokens, partial(replace_hook, value=0.0), hook),
        "mean": loss_with(model, tokens, partial(replace_hook, value=means), hook),
    }


def recovered(ablated: float, spliced: float, clean: float) -> float:
    return (ablated - spliced) / (ablated - clean)


@torch.no_grad()
def ce_loss_recovered(
    model: HookedTransformer,
    sae,
    tokens: Int[Tensor, "batch pos"],
    baseline: str = "zero",
    baselines: dict[str, float] | None = None,
    hook: str = HOOK,
) -> float:
    """$(L_\\text{abl} - L_\\text{SAE}) / (L_\\text{abl} - L_\\text{clean})$ with the `baseline` ("zero" or "mean")
    ablation; pass `baselines` (from `baseline_losses` on the same tokens) to skip recomputing them."""
    baselines = baselines or baseline_losses(model, tokens, hook)
    spliced = loss_with(model, tokens, partial(splice_hook, sae=sae), hook)
    return recovered(baselines[baseline], spliced, baselines["clean"])


@torch.no_grad()
def evaluate_lm_sae(
    model: HookedTransformer,
    sae,
    activations: Float[Tensor, "n d_in"],
    tokens: Int[Tensor, "batch pos"],
    baselines: dict[str, float] | None = None,
    hook: str = HOOK,
) -> dict[str, float]:
    """Held-out L0, FVE, MSE and dead fraction (`sae_metrics`), the spliced loss and CE recovered against both
    baselines."""
    baselines = baselines or baseline_losses(model, tokens, hook)
    spliced = loss_with(model, tokens, partial(splice_hook, sae=sae), hook)
    metrics = {k: float(v) for k, v in sae_metrics(sae, activations).items()}
    return {
        **metrics,
        "loss_clean": baselines["clean"],
        "loss_spliced": spliced,
        "ce_recovered": recovered(baselines["zero"], spliced, baselines["clean"]),
        "ce_recovered_mean": recovered(baselines["mean"], spliced, baselines["clean"]),
    }


# Day 52's sweep: every variant at a few sparsity settings (the notebook lists them), each run seeded and about a
# minute on one core. The settings whose weights are kept are the notebook's choice too: the weights file carries
# the run's name, so choosing another point keeps this module, and so every cached run, unchanged.
D_SAE = 512  # 8 x d_in latents
SETTING = {"standard": "l1_coefficient", "gated": "l1_coefficient", "jumprelu": "l0_coefficient", "topk": "k"}
DEFAULT_VARIANT = "topk"  # what `load_lm_sae()` returns: L0 fixed at k, no shrinkage of the active latents
DEPENDS_ON = ["mechlearn.interp.sae_lm", "mechlearn.interp.sae_training"]


def lm_train_args() -> SAETrainArgs:
    """The recipe every sweep run uses: 2,000 Adam steps of 512 activations (1M samples, ~8 passes over the
    131,072 training activations), no resampling (TopK has AuxK; the others are compared as they come)."""
    return SAETrainArgs(steps=2000, batch_size=512, lr=1e-3, dead_window=500, log_every=100, seed=0)


def lm_sae_config(variant: str, value: float) -> SAEConfig:
    setting = {SETTING[variant]: int(value) if variant == "topk" else float(value)}
    return SAEConfig(d_in=D_IN, d_sae=D_SAE, seed=0, **setting)


def run_name(variant: str, value: float) -> str:
    return f"{variant}_{SETTING[variant]}_{value:g}"


def train_lm_sae(variant: str, value: float, activations: Float[Tensor, "n d_in"], progress: bool = False) -> SAE:
    sae = make_sae(variant, lm_sae_config(variant, value))
    train_sae(sae, activations, lm_train_args(), progress=progress)
    return sae.eval()


def sweep_run(
    folder: Path,
    variant: str,
    value: float,
    activations: Float[Tensor, "n d_in"],
    evaluate: Callable[[SAE], dict[str, float]],
    keep_weights: bool = False,
    progress: bool = False,
) -> dict:
    """One sweep point, cached in `folder`/sweep/<run name>.json: its config, training time and held-out metrics
    (`evaluate`); with `keep_weights` also its weights, `folder`/sae_<run name>.safetensors."""
    made: dict = {}

    def train() -> SAE:
        if "sae" not in made:
            start = time.perf_counter()
            made["sae"] = train_lm_sae(variant, value, activations, progress)
            made["seconds"] = time.perf_counter() - start
        return made["sae"]

    def make_record() -> dict:
        sae = train()
        cfg = asdict(sae.cfg)
        return {"variant": variant, "value": value, "config": cfg, "seconds": made["seconds"], **evaluate(sae)}

    name = run_name(variant, value)
    path = Path(folder) / "sweep" / f"{name}.json"
    if keep_weights:
        cached_tensors(Path(folder) / f"sae_{name}.safetensors", lambda: sae_state(train()), DEPENDS_ON)
    if made:  # the weights were just trained: the metrics must come from the same run
        path.unlink(missing_ok=True)
    return cached_json(path, make_record, DEPENDS_ON)


def sae_dir() -> Path:
    """Day 52's folder (found from this file, like `checkpoint.checkpoint_dir`), where the chosen SAEs live."""
    return Path(__file__).resolve().parents[1] / "daily_logs" / SAE_DAY


def load_lm_sae(variant: str = DEFAULT_VARIANT, folder: Path | None = None) -> SAE:
    """The committed SAE of `variant` ("standard", "gated", "jumprelu", "topk") trained on `HOOK` (day 52 keeps
    the weights of one sweep point per variant), in eval mode."""
    from safetensors.torch import load_file

    folder = sae_dir() if folder is None else Path(folder)
    found = sorted(folder.glob(f"sae_{variant}_*.safetensors"))
    if len(found) != 1:
        raise FileNotFoundError(f"expected one committed {variant} SAE in {folder.name}, found {len(found)}")
    name = found[0].name.removeprefix("sae_").removesuffix(".safetensors")
    record = json.loads((folder / "sweep" / f"{name}.json").read_text())
    return load_sae(variant, SAEConfig(**record["config"]), load_file(str(found[0]))).eval()
