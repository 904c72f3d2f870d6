"""The tiny character-level LM: a smoke run, the caching round trip, and the committed checkpoint's claim."""

import json
from dataclasses import replace

import pytest
import torch
from mechlearn.transformers.model import DemoTransformer
from mechlearn.transformers.tiny_lm import TINY_LM_DIR
from mechlearn.transformers.training import (
    CharTokenizer,
    TrainArgs,
    corpus_text,
    model_config,
    train,
    train_cached,
    train_val_split,
    unigram_loss,
)

DAY = TINY_LM_DIR  # day 17, where the committed checkpoint lives
TINY = TrainArgs(d_model=16, n_heads=2, n_ctx=16, batch_size=4, steps=6, eval_every=3, eval_batches=1)


def test_tokenizer_round_trips_the_corpus():
    text = corpus_text()
    tokenizer = CharTokenizer(text)
    assert len(text) > 100_000, "the corpus (pydoc_data.topics) should hold the whole Language Reference"
    assert tokenizer.decode(tokenizer.encode(text[:5000])) == text[:5000]


def test_unigram_loss_by_hand():
    train_tokens, val_tokens = torch.tensor([0, 0, 0, 1]), torch.tensor([0, 1])
    # add-one smoothing over 3 symbols: p = (4/7, 2/7, 1/7)
    expected = -(torch.log(torch.tensor(4 / 7)) + torch.log(torch.tensor(2 / 7))) / 2
    assert abs(unigram_loss(train_tokens, val_tokens, 3) - expected.item()) < 1e-6


def test_smoke_training_lowers_the_loss_and_caches(tmp_path):
    model, history = train(replace(TINY, steps=30, eval_every=30, lr=1e-2), progress=False)
    assert history["val_loss"][-1] < history["val_loss"][0] - 0.5, "30 steps should already learn character counts"
    first, h1 = train_cached(tmp_path, TINY, progress=False)
    again, h2 = train_cached(tmp_path, TINY, progress=False)
    assert h1 == h2 and (tmp_path / "tiny_lm.safetensors").is_file()
    for p, q in zip(first.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(p, q), "the cached checkpoint did not reload the same weights"


def committed():
    history = json.loads((DAY / "tiny_lm_history.json").read_text())
    from safetensors.torch import load_file

    args = TrainArgs(**history["args"])
    model = DemoTransformer(model_config(args, len(history["vocab"])))
    model.load_state_dict(load_file(str(DAY / "tiny_lm.safetensors")))
    return model.eval(), history, args


@torch.no_grad()
def test_committed_checkpoint_beats_unigram_by_the_stated_margin():
    """Day 17's claim, re-measured from the committed weights on the whole validation split (1.5 nats)."""
    model, history, args = committed()
    text = corpus_text()
    tokenizer = CharTokenizer(text)
    assert "".join(tokenizer.chars) == history["vocab"], "the corpus changed since the checkpoint was trained"
    train_tokens, val_tokens = train_val_split(tokenizer.encode(text))
    baseline = unigram_loss(train_tokens, val_tokens, len(tokenizer.chars))
    windows = val_tokens[: (len(val_tokens) - 1) // args.n_ctx * args.n_ctx + 1]
    inputs, targets = windows[:-1].reshape(-1, args.n_ctx), windows[1:].reshape(-1, args.n_ctx)
    loss = torch.nn.functional.cross_entropy(model(inputs).flatten(0, 1), targets.flatten()).item()
    assert baseline - loss >= 1.5, f"validation {loss:.3f} is not 1.5 nats below the unigram baseline {baseline:.3f}"


@pytest.mark.slow
def test_retraining_reproduces_the_committed_history():
    _, history, args = committed()
    _, fresh = train(args, progress=False)
    assert abs(fresh["val_loss"][-1] - history["val_loss"][-1]) < 0.05, "retraining no longer reaches the same loss"
