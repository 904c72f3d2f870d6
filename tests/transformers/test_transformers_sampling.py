"""Sampling methods and the KV cache, each against a slow, obviously-correct version of the same idea."""

import itertools

import pytest
import torch
from mechlearn.transformers.config import Config
from mechlearn.transformers.loading import randomize_
from mechlearn.transformers.model import DemoTransformer
from mechlearn.transformers.sampling import (
    apply_frequency_penalty,
    beam_search,
    generate,
    sample_next,
    top_k_mask,
    top_p_mask,
)

CFG = Config(d_model=32, n_layers=2, n_heads=4, d_head=8, d_mlp=64, d_vocab=23, n_ctx=40)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return randomize_(DemoTransformer(CFG), std=0.3, seed=0).eval()


def test_greedy_generation_is_argmax_decoding(model):
    prompt = torch.tensor([[1, 2, 3]])
    out = generate(model, prompt, 10, temperature=0)
    tokens = prompt
    for _ in range(10):  # the slow loop: full forward, argmax of the last position
        tokens = torch.cat([tokens, model(tokens)[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(out, tokens), "temperature=0 generation is not argmax decoding"


def test_small_temperature_equals_greedy(model):
    prompt = torch.tensor([[4, 5], [6, 7]])
    greedy = generate(model, prompt, 12, temperature=0)
    for seed in range(3):
        cold = generate(model, prompt, 12, temperature=1e-4, seed=seed)
        assert torch.equal(cold, greedy), "temperature -> 0 should concentrate all mass on the argmax"


def test_top_k_never_leaves_the_top_k():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 50, generator=generator)
    top5 = logits.topk(5, dim=-1).indices
    for _ in range(200):
        token = sample_next(logits, top_k=5, temperature=2.0, generator=generator)
        assert (top5 == token[:, None]).any(-1).all(), "top-k sampled a token outside the k most likely"


def test_top_p_keeps_the_smallest_set_with_enough_mass():
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(6, 9, generator=generator) * 2
    probs = logits.softmax(-1)
    for p in (0.1, 0.5, 0.9, 0.999):
        keep = top_p_mask(logits, p)
        for row in range(6):
            # brute force over every subset: the smallest size with a subset of mass >= p
            sizes = [
                m
                for m in range(1, 10)
                if any(probs[row, list(s)].sum() >= p for s in itertools.combinations(range(9), m))
            ]
            kept = keep[row].nonzero().flatten()
            assert len(kept) == sizes[0], f"p={p}: kept {len(kept)} tokens, the smallest sufficient set has {sizes[0]}"
            assert probs[row, kept].sum() >= p - 1e-6, f"p={p}: kept mass below p"
            dropped = probs[row, ~keep[row]]
            assert len(dropped) == 0 or probs[row, kept].min() >= dropped.max(), "kept a less likely token"


def test_top_k_mask_and_frequency_penalty_by_hand():
    logits = torch.tensor([[0.0, 3.0, 1.0, 2.0]])
    assert top_k_mask(logits, 2).tolist() == [[False, True, False, True]]
    penalised = apply_frequency_penalty(logits, torch.tensor([[1, 1, 2]]), penalty=0.5)
    assert penalised.tolist() == [[0.0, 2.0, 0.5, 2.0]], "penalty should be 0.5 x count of each token"


def test_top_p_stops_once_the_mass_before_a_token_reaches_p():
    """Four equally likely tokens and p = 0.5: two of them hold exactly 0.5 (exact in float32), so the third, whose
    mass before it is already 0.5, is not needed (a `<=` in place of `<` keeps 3)."""
    keep = top_p_mask(torch.zeros(1, 4), 0.5)
    assert keep.sum().item() == 2, f"top_p=0.5 kept {keep.sum().item()} of 4 equally likely tokens"


def test_top_k_keeps_exactly_k_tokens_when_logits_tie():
    """Four tokens tie at the 2nd-largest logit. Ours keeps exactly k, the ones `torch.topk` returns, so
    `top_k=2` never samples from more than 2 tokens. A threshold mask (`logits >= k-th largest`) keeps all tied
    tokens, 5 here: that is what TransformerLens' `sample_logits` and Hugging Face's `TopKLogitsWarper` do
    (`logits < topk(...).values[..., -1]` is removed), so they may sample from more than k tokens on ties."""
    logits = torch.tensor([[0.0, 2.0, 1.0, 1.0, -1.0, 1.0, 1.0], [5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0]])
    for k in (1, 2, 3):
        keep = top_k_mask(logits, k)
        assert keep.sum(-1).tolist() == [k, k], f"top_k={k} kept {keep.sum(-1).tolist()} tokens on tied logits"
        expected = torch.zeros_like(keep).scatter_(1, logits.topk(k, dim=-1).indices, True)
        assert torch.equal(keep, expected), "kept tokens are not torch.topk's"
    threshold = logits >= logits.topk(2, dim=-1).values[:, -1:]  # TransformerLens/HF: every token tied with the k-th
    assert threshold.sum(-1).tolist() == [5, 7] and (top_k_mask(logits, 2) <= threshold).all()
    draws = sample_next(logits[:1].expand(2000, 7), top_k=2, generator=torch.Generator().manual_seed(0))
    assert len(draws.unique()) == 2, "top_k=2 sampled from more than 2 tokens"


def test_sampling_follows_the_softmax():
    logits = torch.tensor([[0.0, 1.0, 2.0]])
    draws = sample_next(logits.expand(20000, 3), generator=torch.Generator().manual_seed(0))
    freq = torch.bincount(draws, minlength=3) / 20000
    assert (freq - logits.softmax(-1)[0]).abs().max() < 0.015, "sampled frequencies are not the softmax (4 sigma)"


def test_beam_width_one_is_greedy(model):
    prompt = torch.tensor([[3, 1, 4]])
    beam, _ = beam_search(model, prompt, 8, num_beams=1)
    assert torch.equal(beam, generate(model, prompt, 8, temperature=0)), "beam search with width 1 is not greedy"


def test_beam_search_finds_the_best_sequence_exhaustively(model):
    """With enough beams to hold every sequence, beam search is exhaustive search: compare with enumeration."""
    prompt = torch.tensor([[2, 7]])
    beam, score = beam_search(model, prompt, 2, num_beams=CFG.d_vocab**2)
    assert beam.shape == (1, 4), "beam search returns the single best sequence"
    with torch.no_grad():
        first = model(prompt)[0, -1].log_softmax(-1)
        pairs = torch.cartesian_prod(torch.arange(CFG.d_vocab), torch.arange(CFG.d_vocab))
        seqs = torch.cat([prompt.expand(len(pairs), 2), pairs], dim=1)
        second = model(seqs[:, :-1])[:, -1].log_softmax(-1).gather(1, seqs[:, -1:]).squeeze(1)
        totals = first[pairs[:, 0]] + second
    assert abs(score - totals.max().item()) < 1e-5, "beam search missed the most likely continuation"
    assert torch.equal(beam[0], seqs[totals.argmax()]), "beam search returned the wrong sequence"
    wide, wide_score = beam_search(model, prompt, 2, num_beams=3)
    assert wide_score <= score + 1e-6


@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float32, 1e-5), (torch.float64, 1e-12)])
@torch.no_grad()
def test_kv_cache_logits_equal_uncached_at_every_step(dtype, tolerance):
    """float64 shows the cache computes the same function; float32 adds only matmul-order rounding (~4e-6 here)."""
    model = randomize_(DemoTransformer(CFG), std=0.3, seed=0).eval().to(dtype)
    tokens = torch.randint(0, CFG.d_vocab, (2, CFG.n_ctx), generator=torch.Generator().manual_seed(2))
    full = model(tokens)
    kv = model.empty_kv_cache(batch=2)
    step_logits = [model(tokens[:, :5], kv_cache=kv)]  # a 5-token prompt, then one token at a time
    step_logits += [model(tokens[:, i : i + 1], kv_cache=kv) for i in range(5, CFG.n_ctx)]
    cached = torch.cat(step_logits, dim=1)
    err = (cached - full).abs().max().item()
    assert err <= tolerance, f"KV-cached logits differ from the full forward by {err:.2e} (offset or mask bug)"
    assert kv[0].k.shape == (2, CFG.n_ctx, CFG.n_heads, CFG.d_head), "cache did not grow by one position a step"


def test_cached_and_uncached_generation_agree(model):
    prompt = torch.tensor([[1, 2, 3, 4]])
    kwargs = dict(temperature=0.8, top_k=10, top_p=0.9, frequency_penalty=0.3, seed=7)
    with_cache = generate(model, prompt, 20, use_kv_cache=True, **kwargs)
    without = generate(model, prompt, 20, use_kv_cache=False, **kwargs)
    assert torch.equal(with_cache, without), "the KV cache changed what was sampled"


def test_top_p_sampling_never_leaves_the_nucleus():
    """sample_next(top_p=0.6) on probabilities (0.5, 0.3, 0.1, 0.1): the nucleus is the first two tokens."""
    logits = torch.tensor([[0.5, 0.3, 0.1, 0.1]]).log().expand(500, 4)
    draws = sample_next(logits, top_p=0.6, generator=torch.Generator().manual_seed(0))
    assert set(draws.tolist()) == {0, 1}, f"top_p sampled {sorted(set(draws.tolist()))}"


def test_generate_fills_the_context_exactly_and_refuses_more(model):
    prompt = torch.tensor([[1, 2, 3]])
    out = generate(model, prompt, CFG.n_ctx - 3, temperature=0)
    assert out.shape == (1, CFG.n_ctx)
    with pytest.raises(ValueError, match=f"^prompt \\+ new tokens exceed n_ctx={CFG.n_ctx}$"):
        generate(model, prompt, CFG.n_ctx - 2, temperature=0)
    assert torch.equal(generate(model, prompt, 5), generate(model, prompt, 5, seed=0)), "the default seed is 0"


def test_causal_mask_without_an_offset_hides_the_future():
    from mechlearn.transformers.attention import IGNORE, causal_mask

    masked = causal_mask(torch.zeros(2, 3, 3))
    assert torch.equal(masked[0], torch.tensor([[0.0, IGNORE, IGNORE], [0.0, 0.0, IGNORE], [0.0, 0.0, 0.0]]))


def test_layers_called_alone_cache_under_bare_hook_names():
    """Without a prefix a layer writes TransformerLens' bare hook names, so it can be compared with one block."""
    from mechlearn.transformers.attention import Attention
    from mechlearn.transformers.layers import MLP, LayerNorm

    x = torch.randn(1, 3, CFG.d_model, generator=torch.Generator().manual_seed(0))
    for layer, names in [
        (LayerNorm(CFG), {"hook_scale", "hook_normalized"}),
        (MLP(CFG), {"hook_pre", "hook_post"}),
        (Attention(CFG), {"hook_q", "hook_k", "hook_v", "hook_attn_scores", "hook_pattern", "hook_z"}),
    ]:
        cache = {}
        layer(x, cache)
        assert set(cache) == names, f"{type(layer).__name__} cached {sorted(cache)}"
