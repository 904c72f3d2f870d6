"""A small causal `HookedTransformer` language model trained on filler sentences mixed with IOI sentences.

Trained once in day 70's notebook (weights as safetensors, curve as JSON, via `mechlearn.artefacts`), loaded by
days 71–74 and the tests. The loss is next-token cross-entropy on every position of the stream
(`mechlearn.interp.ioi.training_stream`), so the IOI answer is one prediction among many; the metric of the task is
the logit difference at the final "to", $\\ell_\\text{IO} - \\ell_\\text{S}$ (Wang et al. 2023).
"""

from __future__ import annotations

import json
import random
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from jaxtyping import Float
from mechlearn.interp.ioi import VOCAB, IOIPrompts, split_prompts, training_stream
from safetensors.torch import load_file
from torch import Tensor
from tqdm.auto import tqdm

from mechlearn.artefacts import cached_json, cached_tensors

warnings.filterwarnings("ignore", message=".*HookedTransformer is deprecated.*")
from transformer_lens import HookedTransformer, HookedTransformerConfig  # noqa: E402

CHECKPOINT_DAY = "day-070-the-ioi-task-and-a-language-model-that-learns-it"
WEIGHTS, CURVE = "ioi_model.safetensors", "ioi_training_curve.json"
DEPENDS_ON = ["mechlearn.interp.ioi", "mechlearn.interp.ioi_model"]


@dataclass
class IOIModelConfig:
    n_layers: int = 3  # room for Wang et al.'s stages: duplicate/previous-token, S-inhibition, name movers
    n_heads: int = 4
    d_model: int = 64  # small: trained on a shared CPU core
    d_head: int = 16  # d_model / n_heads
    d_mlp: int = 256  # 4 d_model, as in GPT-2
    n_ctx: int = 32  # two or three sentences per row; an IOI prompt is 15 tokens
    p_ioi: float = 0.6  # share of sentences in the stream that are IOI sentences
    batch_size: int = 32
    steps: int = 2500
    lr: float = 3e-3
    weight_decay: float = 0.01
    seed: int = 0


def hooked_config(cfg: IOIModelConfig) -> HookedTransformerConfig:
    return HookedTransformerConfig(
        n_layers=cfg.n_layers,
        d_model=cfg.d_model,
        n_ctx=cfg.n_ctx,
        d_head=cfg.d_head,
        n_heads=cfg.n_heads,
        d_mlp=cfg.d_mlp,
        d_vocab=len(VOCAB),
        act_fn="gelu",
        normalization_type="LN",
        seed=cfg.seed,
        device="cpu",
    )


def make_model(cfg: IOIModelConfig, state_dict: dict[str, Tensor] | None = None) -> HookedTransformer:
    """A fresh seeded model, or one loaded with `state_dict` (LayerNorms unfolded, as `induction_model` does)."""
    model = HookedTransformer(hooked_config(cfg))
    if state_dict is not None:
        model.load_state_dict(state_dict, strict=False)
    return model.eval()


def io_s_logits(logits: Float[Tensor, "batch pos d_vocab"], prompts: IOIPrompts) -> tuple[Tensor, Tensor]:
    """$\\ell_\\text{IO}$ and $\\ell_\\text{S}$ at the last position, per prompt."""
    last = logits[:, -1]
    return last.gather(-1, prompts.io[:, None])[:, 0], last.gather(-1, prompts.s[:, None])[:, 0]


def ioi_metrics(model: HookedTransformer, prompts: IOIPrompts) -> dict[str, float]:
    """Mean logit difference IO − S, accuracy (IO above S) and top-1 accuracy (IO is the argmax of all tokens)."""
    with torch.no_grad():
        logits = model(prompts.tokens)
    io, s = io_s_logits(logits, prompts)
    return {
        "logit_diff": (io - s).mean().item(),
        "accuracy": (io > s).float().mean().item(),
        "top1": (logits[:, -1].argmax(-1) == prompts.io).float().mean().item(),
    }


def train_ioi_model(cfg: IOIModelConfig, progress: bool = True) -> tuple[dict[str, Tensor], dict]:
    """AdamW on fresh streams each step; every 100 steps the IOI metrics on 256 held-out-name prompts."""
    torch.manual_seed(cfg.seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = make_model(cfg).train()
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        rng = random.Random(cfg.seed)
        splits = ("train names, train templates", "held-out names")
        evals = {split: split_prompts(split, 256, seed=1)[0] for split in splits}
        curve = {"step": [], "loss": [], "config": asdict(cfg)} | {f"logit_diff/{s}": [] for s in evals}
        for step in tqdm(range(cfg.steps), disable=not progress, desc="train IOI LM"):
            loss = model(training_stream(cfg.batch_size, cfg.n_ctx, cfg.p_ioi, rng), return_type="loss")
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % 100 == 0 or step == cfg.steps - 1:
                model.eval()
                curve["step"].append(step)
                curve["loss"].append(loss.item())
                for split, prompts in evals.items():
                    curve[f"logit_diff/{split}"].append(ioi_metrics(model, prompts)["logit_diff"])
                model.train()
        model.eval()
        return {name: p.detach().clone() for name, p in model.named_parameters()}, curve
    finally:
        torch.set_num_threads(threads)


def checkpoint_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "daily_logs" / CHECKPOINT_DAY


def train_or_load(folder: Path | None = None, cfg: IOIModelConfig | None = None, progress: bool = True):
    """(weights, curve) from `folder` (day 70's by default) if current, else trained now and saved there."""
    folder, cfg = checkpoint_dir() if folder is None else Path(folder), cfg or IOIModelConfig()
    made: dict = {}

    def make_weights() -> dict:
        made["weights"], made["curve"] = train_ioi_model(cfg, progress=progress)
        return made["weights"]

    weights = cached_tensors(folder / WEIGHTS, make_weights, DEPENDS_ON)
    if made:  # just trained: an old curve belongs to the old weights
        (folder / CURVE).unlink(missing_ok=True)
    curve = cached_json(folder / CURVE, lambda: made["curve"], DEPENDS_ON)
    return weights, curve


def load_ioi_model(folder: Path | None = None) -> tuple[HookedTransformer, IOIModelConfig]:
    """The committed model (day 70's), with its config."""
    folder = checkpoint_dir() if folder is None else Path(folder)
    cfg = IOIModelConfig(**json.loads((folder / CURVE).read_text())["config"])
    return make_model(cfg, load_file(str(folder / WEIGHTS))), cfg
