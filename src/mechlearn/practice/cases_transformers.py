"""Cases for the transformer exercises: attention against torch's SDPA and TransformerLens on the same random
weights (float32, 1e-5, as tests/transformers), LayerNorm and GELU against torch.nn.functional, sampling masks
by hand and by brute force."""

from __future__ import annotations

import itertools
import math
from functools import cache as memo

import numpy as np

from mechlearn.practice.cases import case, engine_vs_torch, expect, expect_close, expect_equal

ATOL = 1e-5  # float32 activations against TransformerLens, as tests/transformers/test_transformers_parity.py


def _cfg(**overrides):
    from mechlearn.transformers.config import Config

    base = dict(d_model=16, n_layers=1, n_heads=2, d_head=8, d_mlp=32, d_vocab=11, n_ctx=8)
    return Config(**{**base, **overrides})


@memo
def _reference():
    """A 1-layer TransformerLens model with random weights (std 0.3), one cached run of it, and its tokens."""
    import warnings

    import torch

    from mechlearn.transformers.loading import hooked_config, randomize_

    warnings.filterwarnings("ignore", message="HookedTransformer is deprecated")
    from transformer_lens import HookedTransformer

    cfg = _cfg()
    reference = randomize_(HookedTransformer(hooked_config(cfg)), std=0.3, seed=0).eval()
    tokens = torch.randint(0, cfg.d_vocab, (2, 6), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        _, cache = reference.run_with_cache(tokens)
    return cfg, reference, cache


def _load(module, reference_module):
    weights = {k: v for k, v in reference_module.state_dict().items() if not k.endswith(("mask", "IGNORE"))}
    module.load_state_dict(weights)
    return module.eval()


# ---- attention --------------------------------------------------------------------------------------------------


@case("scaled_dot_product_attention")
def sdpa_matches_torch(fn):
    """Q, K, V of shape (2, 3, 2): Z and its gradients against torch's causal scaled_dot_product_attention."""
    import torch

    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(2, 3, 2)) for _ in range(3)]
    engine_vs_torch(
        "attention Z",
        lambda q, k, v: fn(q, k, v)[0],
        lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True),
        arrays,
    )


@case("scaled_dot_product_attention")
def pattern_is_causal_and_rows_sum_to_one(fn):
    """The pattern puts no weight on later keys and each row sums to 1."""
    from mechlearn.backprop.tensor import Tensor

    rng = np.random.default_rng(1)
    q, k, v = (Tensor(rng.normal(size=(3, 4))) for _ in range(3))
    _, pattern = fn(q, k, v)
    expect_close("pattern above the diagonal", np.triu(pattern.data, 1), np.zeros((3, 3)), {"q": q.data}, 0)
    expect_close("pattern row sums", pattern.data.sum(-1), np.ones(3), {"q": q.data}, 1e-12)


@case("causal_mask")
def hides_the_future(fn):
    """3 queries, 3 keys, no offset: IGNORE strictly above the diagonal, the scores elsewhere."""
    import torch

    from mechlearn.transformers.attention import IGNORE

    scores = torch.arange(9.0).reshape(1, 3, 3)
    expected = torch.tensor([[[0.0, IGNORE, IGNORE], [3.0, 4.0, IGNORE], [6.0, 7.0, 8.0]]])
    before = scores.clone()
    expect_equal("causal_mask(scores)", fn(scores), expected, {"scores": scores})
    expect_equal("scores after the call (changed in place?)", scores, before, {"scores": before})


@case("causal_mask")
def offset_for_cached_keys(fn):
    """One new query at absolute position 3 with 5 keys (offset 3): it sees keys 0..3, not key 4."""
    import torch

    from mechlearn.transformers.attention import IGNORE

    scores = torch.zeros(1, 5)
    expected = torch.tensor([[0.0, 0.0, 0.0, 0.0, IGNORE]])
    expect_equal("causal_mask(scores, offset=3)", fn(scores, 3), expected, {"scores": scores, "offset": 3})


@case("Attention.forward")
def attention_matches_transformer_lens(fn):
    """A 2-head attention layer loaded with TransformerLens' random weights, fed its ln1 output: hook_attn_out."""
    import torch

    from mechlearn.transformers.attention import Attention

    cfg, ref, cache = _reference()
    block = ref.blocks[0]
    x = cache["blocks.0.ln1.hook_normalized"] * block.ln1.w + block.ln1.b
    with torch.no_grad():
        out = fn(_load(Attention(cfg), block.attn), x)
    expect_close("attention output", out, cache["blocks.0.hook_attn_out"], {"x": x}, ATOL)


@case("Attention.forward")
def caches_every_intermediate(fn):
    """With a cache dict: hook_q, hook_k, hook_v, hook_attn_scores, hook_pattern, hook_z as TransformerLens does."""
    import torch

    from mechlearn.transformers.attention import Attention

    cfg, ref, cache = _reference()
    block = ref.blocks[0]
    x = cache["blocks.0.ln1.hook_normalized"] * block.ln1.w + block.ln1.b
    ours: dict = {}
    with torch.no_grad():
        fn(_load(Attention(cfg), block.attn), x, ours, "blocks.0.attn.")
    for name in ("hook_q", "hook_k", "hook_v", "hook_pattern", "hook_z"):
        key = "blocks.0.attn." + name
        expect(key in ours, f"nothing cached under {key}", {"x": x}, sorted(cache), sorted(ours))
        expect_close(key, ours[key], cache[key], {"x": x}, ATOL)


@case("Attention.forward")
def kv_cache_equals_one_pass(fn):
    """Four positions at once, or three then one through a KVCacheEntry: the same outputs (float64, 1e-12)."""
    import torch

    from mechlearn.transformers.attention import Attention, KVCacheEntry
    from mechlearn.transformers.loading import randomize_

    cfg = _cfg()
    attn = randomize_(Attention(cfg), std=0.5, seed=2).double()
    x = torch.randn(2, 4, cfg.d_model, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    empty = torch.zeros(2, 0, cfg.n_heads, cfg.d_head, dtype=torch.float64)
    kv = KVCacheEntry(empty, empty.clone())
    with torch.no_grad():
        full = fn(attn, x)
        stepped = torch.cat([fn(attn, x[:, :3], kv=kv), fn(attn, x[:, 3:], kv=kv)], dim=1)
    expect_close("outputs with the KV cache", stepped, full, {"x": x}, 1e-12)


@case("LayerNorm.forward")
def layernorm_matches_torch(fn):
    """(2, 3, 16) residuals with gain and bias, against F.layer_norm (biased variance, eps inside the root)."""
    import torch

    from mechlearn.transformers.layers import LayerNorm

    cfg = _cfg()
    g = torch.Generator().manual_seed(4)
    ln = LayerNorm(cfg)
    with torch.no_grad():
        ln.w.copy_(1 + 0.3 * torch.randn(cfg.d_model, generator=g))
        ln.b.copy_(0.3 * torch.randn(cfg.d_model, generator=g))
    x = 3 * torch.randn(2, 3, cfg.d_model, generator=g) + 1
    expected = torch.nn.functional.layer_norm(x, (cfg.d_model,), ln.w, ln.b, cfg.layer_norm_eps)
    cache: dict = {}
    with torch.no_grad():
        out = fn(ln, x, cache, "ln1.")
    expect_close("LayerNorm(x)", out, expected, {"x": x}, ATOL)
    expected_scale = (x.var(-1, unbiased=False, keepdim=True) + cfg.layer_norm_eps).sqrt()
    expect("ln1.hook_scale" in cache, "nothing cached under ln1.hook_scale", {"x": x}, "ln1.hook_scale", sorted(cache))
    expect_close("cache['ln1.hook_scale']", cache["ln1.hook_scale"], expected_scale, {"x": x}, ATOL)


@case("gelu_new")
def gelu_matches_torch_tanh_approximation(fn):
    """On [-4, 4]: torch's gelu(approximate='tanh'), not the exact erf GELU (they differ by up to 5e-4)."""
    import torch

    x = torch.linspace(-4, 4, 33, dtype=torch.float64)
    expect_close("gelu_new(x)", fn(x), torch.nn.functional.gelu(x, approximate="tanh"), {"x": x}, 1e-12)


@case("TransformerBlock.forward")
def block_matches_transformer_lens(fn):
    """The whole block on TransformerLens' resid_pre: resid_post and the cached resid_mid."""
    import torch

    from mechlearn.transformers.model import TransformerBlock

    cfg, ref, cache = _reference()
    x = cache["blocks.0.hook_resid_pre"]
    ours: dict = {}
    with torch.no_grad():
        out = fn(_load(TransformerBlock(cfg), ref.blocks[0]), x, ours, "blocks.0.")
    expect_close("resid_post", out, cache["blocks.0.hook_resid_post"], {"resid_pre": x}, ATOL)
    key = "blocks.0.hook_resid_mid"
    expect(key in ours, f"nothing cached under {key}", {"resid_pre": x}, key, sorted(ours))
    expect_close(key, ours[key], cache[key], {"resid_pre": x}, ATOL)


@case("TransformerBlock.forward")
def attention_only_block_has_no_mlp(fn):
    """cfg.attn_only: resid_post = resid_pre + attention output, nothing else."""
    import torch

    from mechlearn.transformers.loading import randomize_
    from mechlearn.transformers.model import TransformerBlock

    cfg = _cfg(attn_only=True)
    block = randomize_(TransformerBlock(cfg), std=0.3, seed=5).eval()
    x = torch.randn(1, 4, cfg.d_model, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        expected = x + block.attn(block.ln1(x))
        out = fn(block, x)
    expect_close("resid_post (attn_only)", out, expected, {"resid_pre": x}, ATOL)


# ---- sampling ---------------------------------------------------------------------------------------------------


@case("top_k_mask")
def top_k_by_hand(fn):
    """Logits [0, 3, 1, 2] with k = 2 keep tokens 1 and 3."""
    import torch

    logits = torch.tensor([[0.0, 3.0, 1.0, 2.0]])
    expect_equal("top_k_mask(k=2)", fn(logits, 2), torch.tensor([[False, True, False, True]]), {"logits": logits})


@case("top_k_mask")
def top_k_keeps_exactly_k_on_ties(fn):
    """Four tokens tie at the 2nd-largest logit: still exactly k kept, the ones torch.topk returns."""
    import torch

    logits = torch.tensor([[0.0, 2.0, 1.0, 1.0, -1.0, 1.0, 1.0]])
    for k in (1, 2, 3):
        expected = torch.zeros_like(logits, dtype=torch.bool).scatter_(1, logits.topk(k, dim=-1).indices, True)
        expect_equal(f"top_k_mask(k={k})", fn(logits, k), expected, {"logits": logits, "k": k})


@case("top_p_mask")
def top_p_is_the_smallest_sufficient_set(fn):
    """Against brute force over every subset: the kept set is the smallest whose mass reaches p."""
    import torch

    logits = torch.randn(3, 6, generator=torch.Generator().manual_seed(7)) * 2
    probs = logits.softmax(-1)
    for p in (0.1, 0.5, 0.9):
        keep = fn(logits, p)
        for row in range(3):
            subsets = itertools.chain.from_iterable(itertools.combinations(range(6), m) for m in range(1, 7))
            sizes = [len(s) for s in subsets if probs[row, list(s)].sum() >= p]  # by size: sizes[0] is the smallest
            kept = keep[row].nonzero().flatten()
            inputs = {"probs": probs[row], "p": p}
            expect(len(kept) == sizes[0], f"p={p}: kept {len(kept)} tokens", inputs, sizes[0], len(kept))
            expect(probs[row, kept].sum() >= p - 1e-6, f"p={p}: kept mass below p", inputs, p, probs[row, kept].sum())


@case("top_p_mask")
def top_p_stops_when_the_mass_before_reaches_p(fn):
    """Four equally likely tokens and p = 0.5: two hold exactly 0.5, so the third is not needed."""
    import torch

    logits = torch.zeros(1, 4)
    expect_equal("tokens kept", fn(logits, 0.5).sum(), torch.tensor(2), {"logits": logits, "p": 0.5})


@case("apply_frequency_penalty")
def penalty_by_hand(fn):
    """Logits [0, 3, 1, 2], text [1, 1, 2], penalty 0.5: [0, 2, 0.5, 2]."""
    import torch

    logits, tokens = torch.tensor([[0.0, 3.0, 1.0, 2.0]]), torch.tensor([[1, 1, 2]])
    inputs = {"logits": logits, "tokens": tokens, "penalty": 0.5}
    expect_close("penalised", fn(logits, tokens, 0.5), torch.tensor([[0.0, 2.0, 0.5, 2.0]]), inputs, 1e-7)


@memo
def _small_model():
    from mechlearn.transformers.loading import randomize_
    from mechlearn.transformers.model import DemoTransformer

    return randomize_(DemoTransformer(_cfg(d_vocab=7, n_ctx=10)), std=0.3, seed=0).eval()


@case("beam_search")
def one_beam_is_greedy(fn):
    """num_beams = 1 must equal argmax decoding (a full forward pass and argmax per step)."""
    import torch

    model, prompt = _small_model(), torch.tensor([[3, 1]])
    tokens = prompt
    with torch.no_grad():
        for _ in range(4):
            tokens = torch.cat([tokens, model(tokens)[:, -1].argmax(-1, keepdim=True)], dim=1)
        beam, _ = fn(model, prompt, 4, 1)
    expect_equal("beam_search(num_beams=1)", beam, tokens, {"prompt": prompt, "max_new_tokens": 4})


@case("beam_search")
def enough_beams_is_exhaustive_search(fn):
    """With d_vocab^2 beams and 2 new tokens, beam search must return the best of all 49 continuations."""
    import torch

    model, prompt = _small_model(), torch.tensor([[2, 5]])
    V = model.cfg.d_vocab
    with torch.no_grad():
        beam, score = fn(model, prompt, 2, V * V)
        first = model(prompt)[0, -1].log_softmax(-1)
        pairs = torch.cartesian_prod(torch.arange(V), torch.arange(V))
        seqs = torch.cat([prompt.expand(len(pairs), 2), pairs], dim=1)
        second = model(seqs[:, :-1])[:, -1].log_softmax(-1).gather(1, seqs[:, -1:]).squeeze(1)
        totals = first[pairs[:, 0]] + second
    inputs = {"prompt": prompt, "num_beams": V * V}
    expect_equal("best sequence", beam, seqs[totals.argmax()][None], inputs)
    expect(math.isclose(score, totals.max().item(), abs_tol=1e-5), "its score", inputs, totals.max().item(), score)
