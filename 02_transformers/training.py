r"""Training a tiny character-level GPT on text that ships with Python itself.

**Corpus.** `pydoc_data.topics` is a module of CPython's standard library holding the text of the Python Language
Reference that `help("if")` prints: about 465,000 characters of English prose and code examples. It needs no
download (it is installed with every CPython), its text is fixed for a given Python version, and it is real
writing with structure a small model can learn (words, indentation, grammar rules, `>>>` examples). We
work at the character level so there is no tokenizer to download or train: the vocabulary is the set of characters
of the corpus. The topics are joined in sorted order; the last 10% of characters are the validation split.

**Objective.** Next-character cross-entropy $\mathcal L = -\frac1N \sum_i \log p_\theta(x_{i+1} \mid x_{\le i})$ in
nats. The baseline it must beat is the unigram model: predict every character with its training-set frequency,
whose validation loss is the cross-entropy $-\sum_c \hat q_\text{val}(c) \log \hat p_\text{train}(c)$.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from jaxtyping import Int
from mechlearn.transformers.config import Config
from mechlearn.transformers.model import DemoTransformer
from torch import Tensor
from tqdm.auto import tqdm

from mechlearn.artefacts import cached_json, cached_tensors


def corpus_text() -> str:
    from pydoc_data.topics import topics

    return "\n\n".join(topics[name] for name in sorted(topics))


class CharTokenizer:
    def __init__(self, text: str):
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def encode(self, text: str) -> Int[Tensor, " pos"]:
        return torch.tensor([self.index[c] for c in text], dtype=torch.long)

    def decode(self, tokens) -> str:
        return "".join(self.chars[int(t)] for t in tokens)


def train_val_split(tokens: Int[Tensor, " n"], val_fraction: float = 0.1) -> tuple[Tensor, Tensor]:
    cut = int(len(tokens) * (1 - val_fraction))
    return tokens[:cut], tokens[cut:]


def unigram_loss(train: Int[Tensor, " n"], val: Int[Tensor, " m"], d_vocab: int) -> float:
    """Validation cross-entropy (nats) of predicting each character with its training frequency (add-one smoothed)."""
    counts = torch.bincount(train, minlength=d_vocab).double() + 1.0
    log_p = (counts / counts.sum()).log()
    return float(-log_p[val].mean())


@dataclass
class TrainArgs:
    d_model: int = 64  # residual width: enough to beat the unigram baseline by a wide margin; ~0.5 MB on disk
    n_layers: int = 2  # two layers allow induction-like copying of words seen earlier in the context
    n_heads: int = 4  # heads per layer, d_head = d_model / n_heads
    n_ctx: int = 64  # characters of context per training sequence
    batch_size: int = 32  # sequences per step
    steps: int = 1500  # optimiser steps; about two minutes on one CPU core
    lr: float = 3e-3  # AdamW learning rate (small models tolerate a large one), cosine-decayed to 10%
    weight_decay: float = 0.01  # AdamW decoupled weight decay
    eval_every: int = 100  # steps between validation estimates
    eval_batches: int = 4  # batches averaged for each loss estimate
    seed: int = 0  # seeds the initialisation and the batch sampler


def model_config(args: TrainArgs, d_vocab: int) -> Config:
    d_head = args.d_model // args.n_heads
    return Config(
        d_model=args.d_model,
        n_layers=args.n_layers,
        n_heads=args.n_heads,
        d_head=d_head,
        d_mlp=4 * args.d_model,
        d_vocab=d_vocab,
        n_ctx=args.n_ctx,
    )


def get_batch(data: Tensor, batch_size: int, n_ctx: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    start = torch.randint(0, len(data) - n_ctx - 1, (batch_size,), generator=generator)
    windows = torch.stack([data[s : s + n_ctx + 1] for s in start.tolist()])  # (batch, n_ctx + 1)
    return windows[:, :-1], windows[:, 1:]


def lm_loss(model: DemoTransformer, inputs: Tensor, targets: Tensor) -> Tensor:
    logits = model(inputs)
    return torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())


@torch.no_grad()
def estimate_loss(model: DemoTransformer, data: Tensor, args: TrainArgs, seed: int) -> float:
    generator = torch.Generator().manual_seed(seed)  # the same batches at every evaluation
    losses = [
        lm_loss(model, *get_batch(data, args.batch_size, args.n_ctx, generator)) for _ in range(args.eval_batches)
    ]
    return float(torch.stack(losses).mean())


def train(args: TrainArgs, progress: bool = True) -> tuple[DemoTransformer, dict]:
    """Train on the corpus; returns the model and a JSON-able history (losses, baseline, args)."""
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)  # the machines are shared; one core keeps the run reproducible and polite
    text = corpus_text()
    tokenizer = CharTokenizer(text)
    train_data, val_data = train_val_split(tokenizer.encode(text))
    model = DemoTransformer(model_config(args, len(tokenizer.chars)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    schedule = lambda step: 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / args.steps))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    generator = torch.Generator().manual_seed(args.seed)
    history = {"step": [], "train_loss": [], "val_loss": [], "batch_loss": []}
    bar = tqdm(range(args.steps + 1), disable=not progress, desc="training")
    for step in bar:
        if step % args.eval_every == 0 or step == args.steps:
            model.eval()
            history["step"].append(step)
            history["train_loss"].append(estimate_loss(model, train_data, args, seed=1))
            history["val_loss"].append(estimate_loss(model, val_data, args, seed=2))
            model.train()
            bar.set_postfix(val=f"{history['val_loss'][-1]:.3f}")
        if step == args.steps:
            break
        loss = lm_loss(model, *get_batch(train_data, args.batch_size, args.n_ctx, generator))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        history["batch_loss"].append(loss.item())
    history["unigram_val_loss"] = unigram_loss(train_data, val_data, len(tokenizer.chars))
    history["args"] = asdict(args)
    history["vocab"] = "".join(tokenizer.chars)
    return model.eval(), history


def train_cached(directory: Path, args: TrainArgs | None = None, progress: bool = True) -> tuple[DemoTransformer, dict]:
    """`train`, run once: the weights (`tiny_lm.safetensors`) and the history (`tiny_lm_history.json`) are saved in
    `directory` and loaded from there until this module, or one it imports, changes (`mechlearn.artefacts`).
    Training is seeded and single-threaded, so remaking either file alone reproduces the other's run."""
    args = args or TrainArgs()
    made: dict = {}

    def make_weights() -> dict:
        model, made["history"] = train(args, progress)
        return model.state_dict()

    def make_history() -> dict:
        return made["history"] if "history" in made else train(args, progress)[1]

    weights = cached_tensors(Path(directory) / "tiny_lm.safetensors", make_weights, [__name__])
    history = cached_json(Path(directory) / "tiny_lm_history.json", make_history, [__name__])
    model = DemoTransformer(model_config(TrainArgs(**history["args"]), len(history["vocab"])))
    model.load_state_dict(weights)
    return model.eval(), history
