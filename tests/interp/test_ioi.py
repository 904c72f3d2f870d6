"""IOI data (templates, ABBA/BABA, ABC) and circuit mean ablation against hand-computed answers."""

import random
import warnings

import pytest
import torch
from mechlearn.interp.ioi import (
    BOS,
    HELDOUT_NAMES,
    NAMES,
    POS_A,
    POS_B,
    POS_END,
    POS_S2,
    TEMPLATES,
    TOKEN,
    TRAIN_NAMES,
    VOCAB,
    decode,
    ioi_prompts,
    split_prompts,
    training_stream,
)
from mechlearn.interp.ioi_circuit import attention_to, circuit_logit_diff, mean_ablation_hooks, template_means

warnings.filterwarnings("ignore", message=".*HookedTransformer is deprecated.*")
from transformer_lens import HookedTransformer, HookedTransformerConfig  # noqa: E402


@pytest.fixture(scope="module")
def prompts():
    return ioi_prompts(40, TRAIN_NAMES, list(range(len(TEMPLATES))), seed=0)


def test_every_name_and_word_is_one_token_and_templates_share_the_slot_layout():
    assert len(set(VOCAB)) == len(VOCAB) and len(set(NAMES)) == len(NAMES) == 300
    assert not set(TRAIN_NAMES) & set(HELDOUT_NAMES)
    for t in TEMPLATES:
        words = t.split()
        assert len(words) == POS_END and words[-1] == "to"
        assert (words[POS_A - 1], words[POS_B - 1], words[POS_S2 - 1]) == ("{A}", "{B}", "{S}"), t


def test_names_sit_at_the_io_s1_s2_positions_in_abba_and_baba(prompts):
    """Catches swapped IO/S slots in one order: ABBA puts IO first, BABA puts S first; S2 is always S."""
    clean, _ = prompts
    rows = torch.arange(len(clean.io))
    assert (clean.tokens[rows, clean.io_pos] == clean.io).all()
    assert (clean.tokens[rows, clean.s1_pos] == clean.s).all()
    assert (clean.tokens[:, POS_S2] == clean.s).all()
    assert (clean.io != clean.s).all()
    assert clean.abba.sum() == (~clean.abba).sum() == 20
    assert (clean.io_pos[clean.abba] == POS_A).all() and (clean.io_pos[~clean.abba] == POS_B).all()
    assert (clean.tokens[:, 0] == TOKEN[BOS]).all() and clean.tokens.shape[1] == POS_END + 1


def test_abc_prompts_keep_the_words_and_use_three_new_distinct_names(prompts):
    """Catches a corruption that changes the place or object, or reuses a clean name (then IO or S leaks)."""
    clean, abc = prompts
    slots = [POS_A, POS_B, POS_S2]
    other = [p for p in range(POS_END + 1) if p not in slots]
    assert (abc.tokens[:, other] == clean.tokens[:, other]).all(), "the corruption changed a non-name word"
    for row, io, s in zip(abc.tokens, clean.io, clean.s, strict=True):
        names = row[slots].tolist()
        assert len(set(names)) == 3 and io.item() not in names and s.item() not in names, decode(row)


def test_held_out_splits_draw_only_held_out_names_and_templates():
    clean, _ = split_prompts("both held out", 30, seed=1)
    held = {TOKEN[n] for n in HELDOUT_NAMES}
    assert set(clean.io.tolist()) <= held and set(clean.s.tolist()) <= held
    assert (clean.template >= 12).all()


def test_training_stream_holds_only_training_templates_and_names_in_ioi_sentences():
    """A held-out template's words ('tossed', 'returned', 'together') never occur in training text."""
    stream = training_stream(50, 32, 0.5, random.Random(0))
    assert stream.shape == (50, 32) and (stream[:, 0] == TOKEN[BOS]).all()
    held_words = {TOKEN[w] for w in ("tossed", "returned", "together", "cleaned", "painted", "visited")}
    assert not held_words & set(stream.flatten().tolist())


def test_mean_ablating_all_but_one_head_matches_the_hand_sum():
    """One attention-only layer, no LayerNorm: logits = (embed + pos + sum of heads' z W_O + b_O) W_U + b_U, so
    replacing the heads outside the circuit by their template means can be summed by hand. Tolerance 1e-4.
    Catches means taken over the wrong template or ablating the kept head."""
    cfg = HookedTransformerConfig(
        n_layers=1, d_model=8, n_ctx=4, d_head=2, n_heads=3, d_vocab=6, attn_only=True, normalization_type=None, seed=1
    )
    model = HookedTransformer(cfg).eval()
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 6, (6, 4), generator=g)
    template = torch.tensor([0, 1, 0, 1, 0, 1])

    class Abc:  # the fields `template_means` reads
        pass

    abc = Abc()
    abc.tokens, abc.template = torch.randint(0, 6, (6, 4), generator=g), template
    means = template_means(model, abc, n_templates=2)
    _, cache = model.run_with_cache(tokens)
    _, abc_cache = model.run_with_cache(abc.tokens)
    z = cache["z", 0].clone()  # (batch, pos, head, d_head)
    for t in (0, 1):
        z[template == t, :, 0] = abc_cache["z", 0][template == t, :, 0].mean(0)
        z[template == t, :, 2] = abc_cache["z", 0][template == t, :, 2].mean(0)
    resid = model.W_E[tokens] + model.W_pos[None] + torch.einsum("bphd,hdm->bpm", z, model.W_O[0]) + model.b_O[0]
    expected = resid @ model.W_U + model.b_U
    with torch.no_grad():
        got = model.run_with_hooks(tokens, fwd_hooks=mean_ablation_hooks(model, means, template, keep={(0, 1)}))
    assert torch.allclose(got, expected, atol=1e-4)

    class Prompts:
        pass

    p = Prompts()
    p.tokens, p.template, p.io, p.s = tokens, template, torch.full((6,), 2), torch.full((6,), 3)
    full = circuit_logit_diff(model, p, means, keep={(0, 0), (0, 1), (0, 2)})
    direct = (model(tokens)[:, -1, 2] - model(tokens)[:, -1, 3]).mean().item()
    assert full == pytest.approx(direct, abs=1e-5), "keeping every head must leave the model unchanged"


def test_attention_to_reads_each_prompts_own_query_and_key_position():
    """Pattern = one-hot on key 1 for prompt 0 and key 2 for prompt 1 (every layer and head, query 3): attention to
    keys (1, 2) is 1 and to keys (2, 1) is 0. Catches averaging over the wrong axis or a shared key position."""
    patterns = torch.zeros(2, 2, 3, 4, 4)  # (layer, batch, head, q, k)
    patterns[:, 0, :, 3, 1] = 1.0
    patterns[:, 1, :, 3, 2] = 1.0
    patterns[1, :, 0, 3] = 0.25  # layer 1 head 0 attends uniformly
    query = torch.tensor([3, 3])
    got = attention_to(patterns, query, torch.tensor([1, 2]))
    expected = torch.tensor([[1.0, 1.0, 1.0], [0.25, 1.0, 1.0]])
    assert got.shape == (2, 3) and torch.allclose(got, expected)
    assert torch.allclose(attention_to(patterns, query, torch.tensor([2, 1])), torch.tensor([[0.0] * 3, [0.25, 0, 0]]))
