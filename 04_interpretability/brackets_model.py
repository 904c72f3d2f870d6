"""A bidirectional 3-layer `HookedTransformer` that classifies bracket strings, read CLS-style at [START].

ARENA 1.5.1's size: 3 layers, 2 heads of $d_\\text{head}=28$, $d_\\text{model}=d_\\text{mlp}=56$, LayerNorm, ReLU,
non-causal attention; two output logits (index 0 = unbalanced, 1 = balanced) read from position 0.

Padding: TransformerLens applies `attention_mask` only to causal attention, so the mask is two permanent hooks
(as ARENA does): `hook_tokens` stores which key positions hold [PAD], and every `hook_attn_scores` sets those
scores to $-10^5$ before the softmax, so no query attends to padding and a padded position's content cannot reach
the real positions. Permanent hooks survive `run_with_hooks`, `run_with_cache` and `reset_hooks`, so patching and
ablation code written for other models runs unchanged.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from mechlearn.interp.brackets import CLASSES, MAX_LEN, PAD, failure_class, is_balanced, tokenize, train_test_split
from safetensors.torch import load_file
from torch import Tensor

from mechlearn.artefacts import cached_json, cached_tensors

warnings.filterwarnings("ignore", message=".*HookedTransformer is deprecated.*")
from transformer_lens import HookedTransformer, HookedTransformerConfig  # noqa: E402

MASKED_SCORE = -1e5  # finite, so a row can never be all -inf (every query sees at least [START])
WEIGHTS, CURVE = "brackets_model.safetensors", "training_curve.json"
DEPENDS_ON = ["mechlearn.interp.brackets", "mechlearn.interp.brackets_model"]


@dataclass
class BracketsConfig:
    d_model: int = 56  # ARENA's model
    n_heads: int = 2
    d_head: int = 28
    d_mlp: int = 56
    n_layers: int = 3
    n_train: int = 100_000  # strings; the generator over-represents near-balanced ones
    n_test: int = 5_000  # held out: none occurs in the training list
    batch_size: int = 256
    epochs: int = 20  # per cycle: 7,813 steps, about 20 minutes on one core (4 epochs stopped at 91.6 %)
    cycles: int = 2  # warm restarts: the second cycle starts from the first one's weights with a fresh AdamW
    lr: float = 3e-3  # peak; 5% linear warm-up, then cosine decay to 0
    warmup: float = 0.05
    weight_decay: float = 0.01
    eval_every: int = 100  # steps between held-out checks (on a fifth of the held-out set)
    seed: int = 0


def hooked_config(cfg: BracketsConfig) -> HookedTransformerConfig:
    return HookedTransformerConfig(
        n_layers=cfg.n_layers,
        d_model=cfg.d_model,
        d_head=cfg.d_head,
        n_heads=cfg.n_heads,
        d_mlp=cfg.d_mlp,
        d_vocab=5,  # START PAD END ( )
        d_vocab_out=2,  # unbalanced, balanced
        n_ctx=MAX_LEN + 2,
        act_fn="relu",
        normalization_type="LN",
        attention_dir="bidirectional",
        use_hook_tokens=True,
        seed=cfg.seed,
        device="cpu",
    )


def add_padding_mask(model: HookedTransformer) -> HookedTransformer:
    """Permanent hooks that stop every query from attending to [PAD] keys."""

    def store_mask(tokens: Int[Tensor, "batch pos"], hook) -> None:
        hook.ctx["pad"] = (tokens == PAD)[:, None, None, :]  # (batch, 1 head, 1 query, key)

    def mask_scores(scores: Float[Tensor, "batch head query key"], hook) -> Tensor:
        return scores.masked_fill(model.hook_dict["hook_tokens"].ctx["pad"], MASKED_SCORE)

    model.hook_dict["hook_tokens"].add_perma_hook(store_mask)
    for layer in range(model.cfg.n_layers):
        model.hook_dict[f"blocks.{layer}.attn.hook_attn_scores"].add_perma_hook(mask_scores)
    return model


def make_model(cfg: BracketsConfig, state_dict: dict[str, Tensor] | None = None) -> HookedTransformer:
    """A fresh (seeded) model with the padding mask, or one loaded with `state_dict`."""
    model = add_padding_mask(HookedTransformer(hooked_config(cfg)))
    if state_dict is not None:
        model.load_state_dict(state_dict, strict=False)
    return model.eval()


def class_logits(model: HookedTransformer, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch 2"]:
    """(unbalanced, balanced) logits read at [START]."""
    return model(tokens)[:, 0]


@torch.no_grad()
def balanced_logit_diff(model: HookedTransformer, strings: list[str], batch: int = 2048) -> Float[Tensor, " n"]:
    """logit(balanced) - logit(unbalanced) per string; > 0 means 'balanced'."""
    out = []
    for i in range(0, len(strings), batch):
        chunk = strings[i : i + batch]
        logits = class_logits(model, tokenize(chunk, n_ctx=max(map(len, chunk)) + 2))
        out.append(logits[:, 1] - logits[:, 0])
    return torch.cat(out)


@torch.no_grad()
def predict(model: HookedTransformer, strings: list[str]) -> Tensor:
    """Boolean 'balanced' predictions."""
    return balanced_logit_diff(model, strings) > 0


def accuracy_per_class(model: HookedTransformer, strings: list[str]) -> dict[str, float]:
    """Accuracy overall and on each failure class (classes absent from `strings` are left out)."""
    correct = (predict(model, strings) == torch.tensor([is_balanced(s) for s in strings])).float()
    classes = [failure_class(s) for s in strings]
    out = {"all": correct.mean().item()}
    for c in CLASSES:
        mask = torch.tensor([k == c for k in classes])
        if mask.any():
            out[c] = correct[mask].mean().item()
    return out


def warmup_cosine(step: int, total: int, warmup: float) -> float:
    """Learning-rate factor: linear from 0 to 1 over `warmup * total` steps, then $\\frac{1}{2}(1 + \\cos \\pi t)$."""
    n_warm = max(1, int(warmup * total))
    if step < n_warm:
        return step / n_warm
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - n_warm) / max(1, total - n_warm))))


def length_batches(lengths: Int[Tensor, " n"], batch_size: int, gen: torch.Generator) -> list[Tensor]:
    """Shuffled batches of indices of similar length (sorted within pools of 16 batches), so each batch is cut to
    its own longest string instead of `n_ctx`: about half the compute, with the order still random."""
    order = torch.randperm(len(lengths), generator=gen)
    pools = order.split(16 * batch_size)
    batches = [b for pool in pools for b in pool[lengths[pool].argsort(stable=True)].split(batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=gen)]


def train_brackets_model(
    cfg: BracketsConfig,
    resume: tuple[dict[str, Tensor], dict, int] | None = None,
    progress: bool = False,
    data: tuple[list[str], list[str]] | None = None,
) -> tuple[dict[str, Tensor], dict]:
    """AdamW on cross-entropy of the [START] logits; returns (state_dict, curve with held-out accuracy per class).

    Training runs `cfg.cycles` warm restarts (Loshchilov and Hutter's SGDR): each cycle is `cfg.epochs` epochs with
    a fresh AdamW, its own warm-up and cosine decay. `resume = (weights, curve, cycles_done)` continues a run after
    `cycles_done` cycles, replaying the data order of the skipped cycles, so it ends where a run from scratch would.
    `data = (train, test)` replaces the generated split (day 64 trains on a mix with adversarial strings).
    """
    torch.manual_seed(cfg.seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 2 shared cores: one is plenty for a model this size
    try:
        train, test = train_test_split(cfg.n_train, cfg.n_test, cfg.seed) if data is None else data
        tokens = tokenize(train)
        labels = torch.tensor([is_balanced(s) for s in train], dtype=torch.long)
        lengths = torch.tensor([len(s) for s in train])
        monitor = test[: cfg.n_test // 5]
        model = make_model(cfg).train()
        gen = torch.Generator().manual_seed(cfg.seed)
        per_cycle = cfg.epochs * -(-len(train) // cfg.batch_size)
        curve: dict = {"step": [], "loss": [], "test_accuracy": []}
        done = 0
        if resume is not None:
            weights, old, done = resume
            model.load_state_dict(weights, strict=False)
            curve = {k: list(old[k]) for k in ("step", "loss", "test_accuracy")}
        curve["config"] = asdict(cfg)
        for cycle in range(cfg.cycles):
            if cycle < done:
                for _ in range(cfg.epochs):
                    length_batches(lengths, cfg.batch_size, gen)  # the same draws as the skipped cycle made
                continue
            opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
            sched = torch.optim.lr_scheduler.LambdaLR(opt, partial(warmup_cosine, total=per_cycle, warmup=cfg.warmup))
            step = cycle * per_cycle
            for _ in range(cfg.epochs):
                for idx in length_batches(lengths, cfg.batch_size, gen):
                    width = int(lengths[idx].max()) + 2  # the rest is [PAD] for every string: masked, so cut it
                    loss = F.cross_entropy(class_logits(model, tokens[idx, :width]), labels[idx])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    sched.step()
                    if step % cfg.eval_every == 0:
                        curve["step"].append(step)
                        curve["loss"].append(loss.item())
                        curve["test_accuracy"].append(accuracy_per_class(model.eval(), monitor)["all"])
                        if progress:
                            print(f"step {step}: loss {loss.item():.4f}, held-out {curve['test_accuracy'][-1]:.4f}")
                        model.train()
                    step += 1
        model.eval()
        curve["final"] = accuracy_per_class(model, test)
        return {name: p.detach().clone() for name, p in model.named_parameters()}, curve
    finally:
        torch.set_num_threads(threads)


def train_or_load(folder: Path, cfg: BracketsConfig, progress: bool = False) -> tuple[HookedTransformer, dict]:
    """(model, curve) from the artefacts in `folder` if they are current, else trained now and saved there."""
    made: dict = {}

    def make_weights() -> dict:
        made["weights"], made["curve"] = train_brackets_model(cfg, progress=progress)
        return made["weights"]

    weights = cached_tensors(Path(folder) / WEIGHTS, make_weights, DEPENDS_ON)
    if made:  # just trained: an old curve belongs to old weights
        (Path(folder) / CURVE).unlink(missing_ok=True)
    curve = cached_json(Path(folder) / CURVE, lambda: made["curve"], DEPENDS_ON)
    return make_model(cfg, weights), curve


CHECKPOINT_DAY = "day-061-a-balanced-bracket-classifier-data-model-and"


def checkpoint_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "daily_logs" / CHECKPOINT_DAY


def load_trained_model(folder: Path | None = None) -> tuple[HookedTransformer, BracketsConfig]:
    """The committed checkpoint (day 61's), with its config."""
    folder = checkpoint_dir() if folder is None else Path(folder)
    cfg = BracketsConfig(**json.loads((folder / CURVE).read_text())["config"])
    return make_model(cfg, load_file(str(folder / WEIGHTS))), cfg
