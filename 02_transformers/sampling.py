r"""Choosing the next token from logits, and generating text with or without a KV cache (ARENA 1.1, part 4).

Every method transforms the last position's logits $\ell$ and then samples from $\operatorname{softmax}(\ell)$:
- greedy: $\arg\max_t \ell_t$;
- temperature $T$: $\ell / T$ ($T \to 0$ is greedy, $T = 1$ is the model's distribution);
- frequency penalty $\alpha$: $\ell_t - \alpha\,c_t$, where $c_t$ counts token $t$ in the text so far;
- top-k: keep the $k$ largest logits;
- top-p (nucleus): keep the smallest set of most likely tokens whose probability mass is $\ge p$;
- beam search: keep the `num_beams` sequences of highest total log-probability, extending each by its best tokens.
"""

from __future__ import annotations

import torch
from jaxtyping import Bool, Float, Int
from mechlearn.transformers.model import DemoTransformer
from torch import Tensor


def greedy(logits: Float[Tensor, "batch d_vocab"]) -> Int[Tensor, " batch"]:
    return logits.argmax(dim=-1)


def apply_frequency_penalty(
    logits: Float[Tensor, "batch d_vocab"], tokens: Int[Tensor, "batch pos"], penalty: float
) -> Float[Tensor, "batch d_vocab"]:
    counts = torch.zeros_like(logits).scatter_add_(1, tokens, torch.ones_like(tokens, dtype=logits.dtype))
    return logits - penalty * counts


def top_k_mask(logits: Float[Tensor, "batch d_vocab"], k: int) -> Bool[Tensor, "batch d_vocab"]:
    """True for the `k` largest logits of each row (ties broken by `torch.topk`)."""
    keep = torch.zeros_like(logits, dtype=torch.bool)
    return keep.scatter_(1, logits.topk(k, dim=-1).indices, True)


def top_p_mask(logits: Float[Tensor, "batch d_vocab"], p: float) -> Bool[Tensor, "batch d_vocab"]:
    """True for the smallest set of most likely tokens whose total probability is at least `p`.

    Sort the probabilities in decreasing order; token number $m$ (from 0) is kept if the mass before it,
    $\\sum_{r<m} \\pi_{(r)}$, is still below $p$, so the most likely token is always kept.
    """
    probs, order = logits.softmax(dim=-1).sort(dim=-1, descending=True)
    mass_before = probs.cumsum(dim=-1) - probs
    keep_sorted = mass_before < p
    return torch.zeros_like(keep_sorted).scatter_(1, order, keep_sorted)


def sample_next(
    logits: Float[Tensor, "batch d_vocab"],
    tokens: Int[Tensor, "batch pos"] | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    frequency_penalty: float = 0.0,
    generator: torch.Generator | None = None,
) -> Int[Tensor, " batch"]:
    """One token per row. `temperature=0` is greedy; the other options combine in the order listed above."""
    if frequency_penalty:
        logits = apply_frequency_penalty(logits, tokens, frequency_penalty)
    if temperature == 0:
        return greedy(logits)
    logits = logits / temperature
    if top_k is not None:
        logits = logits.masked_fill(~top_k_mask(logits, top_k), -torch.inf)
    if top_p is not None:
        logits = logits.masked_fill(~top_p_mask(logits, top_p), -torch.inf)
    return torch.multinomial(logits.softmax(dim=-1), 1, generator=generator).squeeze(-1)


@torch.no_grad()
def generate(
    model: DemoTransformer,
    prompt: Int[Tensor, "batch pos"],
    max_new_tokens: int,
    use_kv_cache: bool = True,
    seed: int = 0,
    **sampling,
) -> Int[Tensor, "batch pos_out"]:
    """Extend `prompt` by `max_new_tokens` tokens chosen by `sample_next(**sampling)`.

    Without a cache every step re-runs the model on the whole sequence: $O(n^2)$ positions processed for $n$
    tokens. With it, the prompt is processed once and each step feeds only the newest token, whose query attends to
    the cached keys and values. Sequences longer than `n_ctx` are not supported (positions are absolute).
    """
    if prompt.shape[1] + max_new_tokens > model.cfg.n_ctx:
        raise ValueError(f"prompt + new tokens exceed n_ctx={model.cfg.n_ctx}")
    generator = torch.Generator().manual_seed(seed)
    tokens = prompt
    kv_cache = model.empty_kv_cache(prompt.shape[0]) if use_kv_cache else None
    step_input = prompt
    for _ in range(max_new_tokens):
        logits = model(step_input, kv_cache=kv_cache) if use_kv_cache else model(tokens)
        next_token = sample_next(logits[:, -1], tokens, generator=generator, **sampling)
        tokens = torch.cat([tokens, next_token[:, None]], dim=1)
        step_input = next_token[:, None]
    return tokens


@torch.no_grad()
def beam_search(
    model: DemoTransformer, prompt: Int[Tensor, "1 pos"], max_new_tokens: int, num_beams: int
) -> tuple[Int[Tensor, "1 pos_out"], float]:
    """The highest-scoring sequence found keeping `num_beams` partial sequences, and its total log-probability.

    Each step scores every one-token extension of every beam by (beam log-prob + token log-prob) and keeps the best
    `num_beams` of them. With `num_beams=1` this is greedy decoding.
    """
    beams, scores = prompt, torch.zeros(1)
    for _ in range(max_new_tokens):
        logprobs = model(beams)[:, -1].log_softmax(dim=-1)  # (beam, d_vocab)
        candidates = (scores[:, None] + logprobs).flatten()  # (beam * d_vocab,)
        scores, flat_index = candidates.topk(min(num_beams, candidates.numel()))
        beam_index, token = flat_index // logprobs.shape[1], flat_index % logprobs.shape[1]
        beams = torch.cat([beams[beam_index], token[:, None]], dim=1)
    return beams[:1], float(scores[0])
