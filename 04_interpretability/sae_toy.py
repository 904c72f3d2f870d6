r"""SAEs on a toy model of superposition, where the true features are known: recovery and shrinkage.

The toy model (`mechlearn.interp.superposition`) writes feature $i$ along the column $W_{:,i}$ of its hidden space,
$h = W x$. An SAE trained on $h$ *recovers* feature $i$ when one of its decoder rows points along $W_{:,i}$:

$$\text{recovery}_i = \max_j \cos(W_{\text{dec},j}, W_{:,i}),$$

and we count a feature as found when this is at least 0.99 (an angle under 8.1 degrees).

**Shrinkage.** On inputs with exactly one feature present, $h = a\,W_{:,i}$, the SAE should return $h$ itself. The
fraction of it that comes back along $h$ is

$$\rho = \frac{\langle \hat h - \hat h(0),\, h\rangle}{\lVert h\rVert^2},$$

with $\hat h(0)$ the reconstruction of the zero input (what the SAE outputs when no feature is present): $\rho = 1$
is exact, $\rho < 1$ is the L1 penalty's shrinkage. It is averaged over the inputs the SAE detects at all.
"""

from __future__ import annotations

from pathlib import Path

import torch
from jaxtyping import Float
from mechlearn.interp.sae import SAE, SAEConfig
from mechlearn.interp.sae_training import SAETrainArgs, sae_metrics, sae_state, train_sae
from mechlearn.interp.sae_variants import make_sae
from mechlearn.interp.superposition import ToyConfig, ToyModel
from torch import Tensor

# Day 50 trains the toy model once (5 features in 2 dimensions, each present with probability 0.025) and commits it;
# day 51 reads the same model and the same activations.
TOY_DAY = "day-050-a-sparse-autoencoder-recovers-the-toy-model-s"
TOY_CFG = ToyConfig(n_inst=1, n_features=5, d_hidden=2)
TOY_FEATURE_PROBABILITY = 0.025
TOY_WEIGHTS = "toy_model.safetensors"


def load_toy(folder: Path | None = None) -> ToyModel:
    """Day 50's committed toy model, found from this file so it resolves from a copy of a notebook run elsewhere."""
    from safetensors.torch import load_file

    folder = Path(__file__).resolve().parents[1] / "daily_logs" / TOY_DAY if folder is None else Path(folder)
    toy = ToyModel(TOY_CFG, feature_probability=TOY_FEATURE_PROBABILITY)
    toy.load_state_dict(load_file(str(folder / TOY_WEIGHTS)))
    return toy


@torch.no_grad()
def toy_activations(
    model: ToyModel, n: int, seed: int, inst: int = 0
) -> tuple[Float[Tensor, "n d_hidden"], Float[Tensor, "n feats"]]:
    """`n` fresh inputs x from the model's own feature distribution and their hidden activations h = W x."""
    x = model.generate_batch(n, torch.Generator().manual_seed(seed))
    return model.hidden(x)[:, inst], x[:, inst]


def feature_cosines(sae: SAE, W: Float[Tensor, "d_hidden feats"]) -> Float[Tensor, "d_sae feats"]:
    """Cosine similarity of every decoder row with every true feature direction."""
    rows = sae.W_dec.detach() / sae.W_dec.detach().norm(dim=-1, keepdim=True)
    return rows @ (W / W.norm(dim=0, keepdim=True))


def max_cosines(sae: SAE, W: Float[Tensor, "d_hidden feats"]) -> Float[Tensor, " feats"]:
    r"""$\max_j \cos(W_{\text{dec},j}, W_{:,i})$ for each feature $i$."""
    return feature_cosines(sae, W).max(0).values


@torch.no_grad()
def shrinkage(sae: SAE, h: Float[Tensor, "n d_hidden"], x: Float[Tensor, "n feats"]) -> dict[str, float]:
    r"""On the inputs with exactly one feature present: "detected", the fraction whose reconstruction differs from
    the zero input's (by more than 1e-6), and "rho", the mean $\rho$ (module docstring) over those detected ones, so
    that a feature too faint to cross a threshold counts as missed rather than as shrunk."""
    single = (x > 0).sum(-1) == 1
    h1 = h[single]
    h_hat = sae(h1) - sae(torch.zeros_like(h1[:1]))
    detected = h_hat.norm(dim=-1) > 1e-6
    rho = (h_hat * h1).sum(-1) / h1.pow(2).sum(-1)
    return {"detected": detected.float().mean().item(), "rho": rho[detected].mean().item()}


@torch.no_grad()
def untie_encoder_(sae: SAE, seed: int) -> None:
    r"""Replace the encoder's transposed-decoder start with an independent Xavier-uniform draw,
    $U(-a, a)$ with $a = \sqrt{6 / (d_\text{in} + d_\text{sae})}$: how ARENA's toy SAE starts, for comparison
    with the tied start (Conerly et al. 2024) that `SAE` uses."""
    cfg = sae.cfg
    bound = (6.0 / (cfg.d_in + cfg.d_sae)) ** 0.5
    generator = torch.Generator().manual_seed(seed)
    sae.W_enc.copy_((2 * torch.rand(sae.W_enc.shape, generator=generator) - 1) * bound)


def train_runs(
    runs: dict[str, tuple[str, SAEConfig, SAETrainArgs, bool]],
    h: Float[Tensor, "n d_hidden"],
    W: Float[Tensor, "d_hidden feats"],
) -> tuple[dict[str, Tensor], dict[str, dict]]:
    """Train every run `name -> (variant, cfg, args, untie)` on `h`; returns all their parameters as one flat dict
    ("name/param", for `cached_tensors`) and per run its history, final metrics and per-feature max cosines (for
    `cached_json`)."""
    tensors, logs = {}, {}
    for name, (variant, cfg, args, untie) in runs.items():
        sae = make_sae(variant, cfg)
        if untie:
            untie_encoder_(sae, seed=100 + cfg.seed)
        history = train_sae(sae, h, args, progress=False)
        tensors |= {f"{name}/{key}": value for key, value in sae_state(sae).items()}
        logs[name] = {"history": history, "metrics": sae_metrics(sae, h), "max_cos": max_cosines(sae, W).tolist()}
    return tensors, logs


def load_runs(tensors: dict[str, Tensor], runs: dict[str, tuple[str, SAEConfig, SAETrainArgs, bool]]) -> dict:
    """The trained SAEs back from `train_runs`' flat dict."""
    saes = {}
    for name, (variant, cfg, _, _) in runs.items():
        sae = make_sae(variant, cfg)
        sae.load_state_dict({k.split("/", 1)[1]: v for k, v in tensors.items() if k.split("/", 1)[0] == name})
        saes[name] = sae
    return saes
