r"""Day 17's language model retrained on BPE tokens, and bits per character to compare it with the character model.

A model over tokens and a model over characters report losses in different units (nats per token, nats per
character). On the same validation text $T$ of $|T|$ characters, encoded as $N$ tokens, both become *bits per
character*:

$$\text{bpc} = \frac{1}{|T| \ln 2} \sum_{i} -\ln p(x_{i+1} \mid x_{\le i}),$$

the total code length of the text divided by its length. It is measured on every full window of `n_ctx` units of
the validation split (non-overlapping, so each unit is predicted once, with between 0 and `n_ctx - 1` units of
context), counting only the characters those predictions cover.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path

import torch
from jaxtyping import Int
from mechlearn.transformers.bpe import BPETokenizer
from mechlearn.transformers.model import DemoTransformer
from mechlearn.transformers.training import (
    TrainArgs,
    corpus_text,
    estimate_loss,
    get_batch,
    lm_loss,
    model_config,
    unigram_loss,
)
from torch import Tensor
from tqdm.auto import tqdm

from mechlearn.artefacts import cached_json, cached_tensors


def split_text(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    """The same cut as day 17 (`train_val_split` on characters): the last 10% of the characters are validation."""
    cut = int(len(text) * (1 - val_fraction))
    return text[:cut], text[cut:]


@torch.no_grad()
def bits_per_char(model: DemoTransformer, units: Int[Tensor, " n"], decode, n_ctx: int) -> float:
    """Code length of the validation split in bits per character, over non-overlapping windows of `n_ctx + 1`
    units (each window predicts its last `n_ctx` units). `decode(ids) -> str` turns units back into text, so the
    characters counted are exactly those predicted."""
    n_windows = (len(units) - 1) // n_ctx
    windows = units[: n_windows * n_ctx + 1].unfold(0, n_ctx + 1, n_ctx)  # (window, n_ctx + 1), sharing ends
    nats = sum(float(lm_loss(model, batch[:, :-1], batch[:, 1:])) * batch[:, 1:].numel() for batch in windows.split(64))
    chars = len(decode(units[1 : n_windows * n_ctx + 1].tolist()))
    return nats / chars / math.log(2)


def train_token_lm(tokenizer: BPETokenizer, args: TrainArgs, progress: bool = True) -> tuple[DemoTransformer, dict]:
    """Day 17's loop (AdamW, cosine decay to 10%, clipping at 1, single thread) on the BPE-encoded corpus."""
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    train_text, val_text = split_text(corpus_text())
    train_data = torch.tensor(tokenizer.encode(train_text))
    val_data = torch.tensor(tokenizer.encode(val_text))
    d_vocab = len(tokenizer.vocab)
    model = DemoTransformer(model_config(args, d_vocab))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    schedule = lambda step: 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / args.steps))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    generator = torch.Generator().manual_seed(args.seed)
    history = {"step": [], "val_loss": []}
    for step in tqdm(range(args.steps + 1), disable=not progress, desc="training on tokens"):
        if step % args.eval_every == 0 or step == args.steps:
            model.eval()
            history["step"].append(step)
            history["val_loss"].append(estimate_loss(model, val_data, args, seed=2))
            model.train()
        if step == args.steps:
            break
        loss = lm_loss(model, *get_batch(train_data, args.batch_size, args.n_ctx, generator))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
    history["unigram_val_loss"] = unigram_loss(train_data, val_data, d_vocab)
    history["args"] = asdict(args)
    history["vocab_size"] = d_vocab
    return model.eval(), history


def train_token_lm_cached(
    directory: Path, tokenizer: BPETokenizer, args: TrainArgs | None = None, progress: bool = True
) -> tuple[DemoTransformer, dict]:
    """`train_token_lm`, run once and kept in `directory` (`token_lm.safetensors`, `token_lm_history.json`)."""
    args = args or TrainArgs()
    made: dict = {}
    depends_on = [__name__, "mechlearn.transformers.bpe"]

    def make_weights() -> dict:
        model, made["history"] = train_token_lm(tokenizer, args, progress)
        return model.state_dict()

    weights = cached_tensors(Path(directory) / "token_lm.safetensors", make_weights, depends_on)
    history = cached_json(
        Path(directory) / "token_lm_history.json",
        lambda: made["history"] if made else train_token_lm(tokenizer, args, progress)[1],
        depends_on,
    )
    model = DemoTransformer(model_config(TrainArgs(**history["args"]), history["vocab_size"]))
    model.load_state_dict(weights)
    return model.eval(), history
