"""A 3-layer `HookedTransformer` trained on the in-context-learning tasks of `mechlearn.interp.icl_tasks`.

Each training sequence holds `k` demonstrations of one task and a query; the loss is the cross-entropy of every label
given what precedes it, so one sequence trains predictions from 0, 1, …, k demonstrations at once. The model is
trained once (day 75's notebook) and cached there as safetensors + a JSON curve with `mechlearn.artefacts`, keyed on
this module and the task module, as `mechlearn.interp.checkpoint` does for the induction model.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from mechlearn.interp.icl_tasks import D_VOCAB, TASK_NAMES, icl_batch, training_batch
from torch import Tensor
from tqdm.auto import tqdm

from mechlearn.artefacts import cached_json, cached_tensors

warnings.filterwarnings("ignore", message=".*HookedTransformer is deprecated.*")
from transformer_lens import HookedTransformer, HookedTransformerConfig  # noqa: E402

FV_DAY = "day-075-an-in-context-learning-model-and-its-tasks"
WEIGHTS, CURVE = "icl_model.safetensors", "icl_training_curve.json"
DEPENDS_ON = ["mechlearn.interp.fv_model", "mechlearn.interp.icl_tasks"]


@dataclass
class ICLConfig:
    n_demos: int = 5  # demonstrations per training sequence (n_ctx = 4 * n_demos + 3)
    n_layers: int = 3  # a "read the pairs" stage, a "pool over demonstrations" stage and an "apply" stage
    n_heads: int = 4
    d_model: int = 64  # small: 2 CPU cores are shared by several jobs
    d_head: int = 16  # d_model / n_heads
    d_mlp: int = 256  # the MLPs store the lookups (x+1, antonyms, case) the heads cannot
    batch_size: int = 32  # fresh sequences every step, each with n_demos + 1 labels
    steps: int = 2000  # a few minutes on one core
    lr: float = 2e-3
    weight_decay: float = 0.01
    seed: int = 0

    @property
    def n_ctx(self) -> int:
        return 4 * self.n_demos + 3


def hooked_config(cfg: ICLConfig) -> HookedTransformerConfig:
    return HookedTransformerConfig(
        n_layers=cfg.n_layers,
        d_model=cfg.d_model,
        n_ctx=cfg.n_ctx,
        d_head=cfg.d_head,
        n_heads=cfg.n_heads,
        d_mlp=cfg.d_mlp,
        d_vocab=D_VOCAB,
        act_fn="gelu",
        normalization_type="LN",
        seed=cfg.seed,
        device="cpu",
    )


def make_model(cfg: ICLConfig, state_dict: dict[str, Tensor] | None = None) -> HookedTransformer:
    model = HookedTransformer(hooked_config(cfg))
    if state_dict is not None:
        model.load_state_dict(state_dict, strict=False)
    return model.eval()


def answer_loss(logits: Float[Tensor, "batch pos d_vocab"], targets: Int[Tensor, "batch pos"]) -> Tensor:
    """Cross-entropy on the label positions only (`targets` is -1 elsewhere)."""
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-1)


@torch.no_grad()
def icl_accuracy(
    model: HookedTransformer, task: str, k: int, n: int = 256, seed: int = 1, form: str = "clean"
) -> float:
    """Top-1 accuracy on the answer of `n` fresh prompts of `task` with `k` demonstrations."""
    b = icl_batch(task, n, k, torch.Generator().manual_seed(seed), form)
    return (model(b.tokens)[:, -1].argmax(-1) == b.answers).float().mean().item()


def train_icl_model(cfg: ICLConfig, progress: bool = True) -> tuple[dict[str, Tensor], dict]:
    """AdamW on fresh sequences every step; returns (state_dict, curve). The curve holds the training loss and the
    held-out accuracy of each task with 0, 1, 2 and `n_demos` demonstrations."""
    torch.manual_seed(cfg.seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 2 shared cores; a model this size gains little from a second thread
    try:
        model = make_model(cfg).train()
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 200))  # warm-up only
        gen = torch.Generator().manual_seed(cfg.seed)
        shown = [0, 1, 2, cfg.n_demos]
        curve = {"step": [], "loss": [], "accuracy": {t: {str(k): [] for k in shown} for t in TASK_NAMES}}
        curve["config"] = asdict(cfg)
        for step in tqdm(range(cfg.steps), disable=not progress, desc="train ICL model"):
            tokens, targets = training_batch(cfg.batch_size, cfg.n_demos, gen)
            loss = answer_loss(model(tokens), targets)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if step % 100 == 0 or step == cfg.steps - 1:
                model.eval()
                curve["step"].append(step)
                curve["loss"].append(loss.item())
                for t in TASK_NAMES:
                    for k in shown:
                        curve["accuracy"][t][str(k)].append(icl_accuracy(model, t, k, n=32, seed=10_000 + k))
                model.train()
        return {name: p.detach().clone() for name, p in model.named_parameters()}, curve
    finally:
        torch.set_num_threads(threads)


def checkpoint_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "daily_logs" / FV_DAY


def train_or_load(folder: Path | None = None, cfg: ICLConfig | None = None, progress: bool = True) -> tuple[dict, dict]:
    """(weights, curve) from `folder` (day 75's by default) if current, else trained now and saved there."""
    folder = checkpoint_dir() if folder is None else Path(folder)
    cfg = ICLConfig() if cfg is None else cfg
    made: dict = {}

    def make_weights() -> dict:
        made["weights"], made["curve"] = train_icl_model(cfg, progress=progress)
        return made["weights"]

    weights = cached_tensors(folder / WEIGHTS, make_weights, DEPENDS_ON)
    if made:  # just trained: an old curve belongs to the old weights
        (folder / CURVE).unlink(missing_ok=True)
    curve = cached_json(folder / CURVE, lambda: made["curve"], DEPENDS_ON)
    return weights, curve


def load_icl_model(folder: Path | None = None) -> tuple[HookedTransformer, ICLConfig]:
    """The committed checkpoint with its config."""
    from safetensors.torch import load_file

    folder = checkpoint_dir() if folder is None else Path(folder)
    cfg = ICLConfig(**json.loads((folder / CURVE).read_text())["config"])
    return make_model(cfg, load_file(str(folder / WEIGHTS))), cfg
