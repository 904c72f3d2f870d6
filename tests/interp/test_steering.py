"""Activation steering (mechlearn.interp.steering) and inference-time intervention (mechlearn.interp.iti): the
behaviour score and prompt rule on hand-written text, the hooks on hand-built tensors and a tiny random model, fast
paths against loops, and the claims of days 79-81 against their committed artefacts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from mechlearn.interp.iti import head_shift_hook, iti_hooks, shift_directions, top_heads
from mechlearn.interp.steering import (
    add_hook,
    code_share,
    crossing,
    generate,
    line_kinds,
    mean_difference,
    random_like,
    steer,
    window_ends,
)
from transformer_lens import HookedTransformer, HookedTransformerConfig

DAYS = Path(__file__).resolve().parents[2] / "daily_logs"


@pytest.fixture(scope="module")
def tiny() -> HookedTransformer:
    cfg = HookedTransformerConfig(
        n_layers=2, d_model=16, n_ctx=12, d_head=4, n_heads=2, d_vocab=11, act_fn="gelu", seed=0
    )
    return HookedTransformer(cfg).eval()


def test_code_share_counts_code_characters_over_all_characters():
    assert code_share(">>> d = {'a': 1}") == 6 / 16, "counts the wrong set, or divides by the code characters"
    assert code_share("Return the value.") == 0.0
    assert code_share("") == 0.0, "an empty continuation must score 0, not divide by zero"


def test_line_kinds_reads_prompt_markers_after_indentation():
    text = "Prose line.\n   >>> x = 1\n   ... y\n  indented\n>>>x"
    kinds = "".join({"code": "c", "prose": "p", None: "."}[k] for k in line_kinds(text))
    assert kinds == "p" * 11 + "." + "c" * 12 + "." + "c" * 8 + "." + "." * 10 + "." + "....", (
        "indented '>>> ' lines must be code; indented text and '>>>' without a space are neither; newlines are None"
    )


def test_window_ends_needs_both_ends_on_lines_of_the_kind():
    text = "abc\n>>> 1"  # kinds: ppp . ccccc
    assert window_ends(text, "code", 3) == [7, 8, 9], "a window starting on the newline or prose must not count"
    assert window_ends(text, "prose", 3) == [3], "a window ending on the newline must not count"


def test_add_hook_adds_exactly_c_v_at_the_chosen_positions_only():
    act = torch.randn(2, 5, 3, generator=torch.Generator().manual_seed(0))
    v = torch.tensor([1.0, -2.0, 0.5])
    expected = act.clone()
    expected[:, 1:3] += 2.5 * v
    out = add_hook(v, 2.5, slice(1, 3))(act, None)
    assert torch.equal(out, expected), "adds at the wrong positions or with the wrong scale"
    assert torch.equal(add_hook(v, 2.5)(act, None), act + 2.5 * v), "the default must be every position"


def test_steering_at_coefficient_zero_leaves_logits_bit_identical(tiny):
    tokens = torch.randint(0, 11, (3, 12), generator=torch.Generator().manual_seed(1))
    v = torch.randn(16, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        clean = tiny(tokens)
        with tiny.hooks(fwd_hooks=steer("blocks.1.hook_resid_pre", v, 0.0)):
            steered = tiny(tokens)
        with tiny.hooks(fwd_hooks=steer("blocks.1.hook_resid_pre", v, 1.0)):
            moved = tiny(tokens)
    assert torch.equal(clean, steered), "c = 0 must change nothing"
    assert not torch.allclose(clean, moved), "the hook must reach the forward pass"


def test_mean_difference_matches_a_loop_over_prompts():
    g = torch.Generator().manual_seed(3)
    pos, neg = torch.randn(7, 5, generator=g, dtype=torch.float64), torch.randn(4, 5, generator=g, dtype=torch.float64)
    loop = sum(pos[i] for i in range(7)) / 7 - sum(neg[j] for j in range(4)) / 4
    torch.testing.assert_close(mean_difference(pos, neg), loop, rtol=0, atol=1e-12)


def test_random_control_has_the_vector_norm_and_depends_on_seed():
    v = torch.tensor([3.0, 4.0, 0.0])
    r0, r1 = random_like(v, 0), random_like(v, 1)
    assert abs(r0.norm().item() - 5.0) < 1e-5 and not torch.equal(r0, r1)


def test_generation_is_seeded_and_sees_the_hooks(tiny):
    prompts = torch.randint(0, 11, (4, 6), generator=torch.Generator().manual_seed(4))
    a, b = generate(tiny, prompts, [], n_new=6, seed=0), generate(tiny, prompts, [], n_new=6, seed=0)
    assert torch.equal(a, b), "generation must be reproducible from its seed"
    big = steer("ln_final.hook_normalized", 50 * tiny.W_U[:, 7], 1.0)  # pushes the logit of token 7 up
    assert (generate(tiny, prompts, big, n_new=6, seed=0) == 7).all(), "the hooks must be active while generating"


def test_head_shift_moves_only_the_masked_heads_by_alpha_shift():
    shifts = torch.arange(2 * 3 * 2, dtype=torch.float32).view(2, 3, 2)  # (layer, head, d_head)
    mask = torch.tensor([[False, True, False], [False, False, False]])
    hooks = iti_hooks(shifts, mask, 2.0)
    assert [name for name, _ in hooks] == ["blocks.0.attn.hook_z"], "a layer without chosen heads needs no hook"
    z = torch.zeros(1, 4, 3, 2)
    out = hooks[0][1](z, None)
    expected = torch.zeros(1, 4, 3, 2)
    expected[:, :, 1] = 2.0 * torch.tensor([2.0, 3.0])
    assert torch.equal(out, expected), "shifts an unchosen head, or the chosen one by the wrong amount"
    assert torch.equal(head_shift_hook(shifts[0], 0.0)(z, None), z)


def test_shift_direction_is_unit_mean_difference_times_projected_std():
    pos = torch.tensor([[[[2.0, 0.0]]], [[[4.0, 0.0]]]])  # (n, layer, head, d_head): mean (3, 0)
    neg = torch.tensor([[[[0.0, 1.0]]], [[[0.0, -1.0]]]])  # mean (0, 0)
    shift = shift_directions(pos, neg)[0, 0]
    projections = torch.tensor([2.0, 4.0, 0.0, 0.0])
    torch.testing.assert_close(shift, projections.std() * torch.tensor([1.0, 0.0]), rtol=0, atol=1e-6)


def test_top_heads_picks_the_k_best_heads():
    acc = torch.tensor([[0.5, 0.9, 0.7], [0.95, 0.6, 0.7]])
    assert top_heads(acc, 2).tolist() == [[False, True, False], [True, False, False]]
    assert top_heads(acc, 3).sum() == 3 and top_heads(acc, 3)[0, 2], "ties must go to the lower index"


def _results(day: str) -> dict:
    folder = next(DAYS.glob(f"day-{day}-*"))
    return {k: v["value"] for k, v in json.loads((folder / "results.json").read_text()).items()}, folder


def test_day79_caa_moves_the_score_and_random_directions_do_not():
    results, folder = _results("079")
    curves = json.loads((folder / "caa_layers.json").read_text())
    k = curves["blocks.1.hook_resid_post"]["caa"]["coef"].index(2)
    for hook, c in curves.items():
        assert c["caa"]["score"][k] == results[f"caa_score_c2_{hook.split('hook_')[1]}{hook.split('.')[1]}"]
        assert c["caa"]["score"][0] == results["unsteered_score"], "c = 0 must be the unsteered run"
        assert c["caa"]["score"][k] > max(r["score"][k] for r in c["random"]), "CAA must beat every random draw"
    assert results["caa_score_c2_resid_post1"] > 3 * results["unsteered_score"]


def test_crossing_interpolates_between_the_points_around_the_first_crossing():
    xs, ys = [0.0, 1.0, 2.0, 4.0], [1.0, 1.5, 3.0, 6.0]
    assert crossing(xs, ys, 2.0) == pytest.approx(4 / 3, abs=1e-12), "interpolates on the wrong segment"
    assert crossing(xs, ys, 2.0, zs=[0.0, 10.0, 20.0, 40.0]) == pytest.approx(40 / 3, abs=1e-12)
    assert crossing(xs, ys, 0.5) == 0.0 and crossing(xs, ys, 9.0) is None
    assert crossing([0, 1, 2], [0.0, 2.0, 0.0], 1.0) == 0.5, "must take the first crossing of a curve that falls back"


def test_day80_caa_beats_every_single_corpus_pair_at_equal_loss():
    results, folder = _results("080")
    curves = json.loads((folder / "actadd_vs_caa.json").read_text())
    clean = curves["CAA, 256 pairs"]["loss"][0]

    def at(name):
        return crossing(curves[name]["loss"], curves[name]["loss"], clean + 1.0, zs=curves[name]["score"])

    assert at("CAA, 256 pairs") == pytest.approx(results["caa_score_at_plus1nat"], abs=1e-9)
    assert at("hand pair") == pytest.approx(results["hand_pair_score_at_plus1nat"], abs=1e-9)
    singles = [at(f"pair {k}") for k in range(5)]
    assert sum(singles) / 5 == pytest.approx(results["actadd_score_at_plus1nat"], abs=1e-6)  # float32 mean
    assert max(singles) < at("CAA, 256 pairs") < at("hand pair"), "the page's ordering of the three"


def test_day80_embedding_vector_does_not_transfer_and_negative_steering_removes_code():
    results, folder = _results("080")
    unsteered = _results("079")[0]["unsteered_score"]
    transfer = json.loads((folder / "transfer.json").read_text())
    pre0 = transfer["blocks.0.hook_resid_pre"]
    assert pre0["blocks.1.hook_resid_post"] == results["transfer_pre0_to_post1"]
    assert max(pre0["blocks.1.hook_resid_pre"], pre0["blocks.1.hook_resid_post"]) < unsteered + 0.01
    on_code = json.loads((folder / "code_prompts.json").read_text())
    negative = [s for c, s in zip(on_code["coef"], on_code["score"], strict=True) if c < 0]
    assert max(negative) < unsteered < on_code["score"][on_code["coef"].index(0)]


def test_day81_top_heads_reach_the_code_level_cheaper_than_caa_and_worst_heads_never():
    results, folder = _results("081")
    iti = json.loads((folder / "iti_sweep.json").read_text())
    caa = json.loads((next(DAYS.glob("day-079-*")) / "caa_layers.json").read_text())
    level = _results("078")[0]["corpus_score_code"]

    def loss_at(curve):
        return crossing(curve["score"], curve["score"], level, zs=curve["loss"])

    iti_losses = [loss_at(iti[f"top {k}"]) for k in (1, 2, 4, 8)]
    caa_losses = [x for x in (loss_at(c["caa"]) for c in caa.values()) if x is not None]
    assert min(iti_losses) == pytest.approx(results["iti_loss_at_code_level"], abs=1e-9)
    assert min(caa_losses) == pytest.approx(results["caa_loss_at_code_level"], abs=1e-9)
    assert min(iti_losses) < min(caa_losses), "ITI must be the cheaper at matched behaviour, as the page says"
    assert loss_at(iti["worst 2"]) is None, "the worst-read heads must never reach the level"
    assert results["best_head_probe_acc"] > 0.85 > 0.55 > results["shuffled_probe_acc_max"]


@pytest.mark.slow
def test_day79_cached_point_regenerates_bit_for_bit():
    from mechlearn.interp.sae_lm import lm_and_tokenizer
    from mechlearn.interp.steering import prompt_sets, score_and_loss, steering_vector

    results, folder = _results("079")
    model, tokenizer = lm_and_tokenizer()
    sets = prompt_sets(tokenizer)
    hook = "blocks.1.hook_resid_post"
    v = steering_vector(model, sets["code"], sets["prose"], hook)
    point = score_and_loss(model, tokenizer, sets["val_prose"], sets["text"], steer(hook, v, 2.0))
    assert point["score"] == results["caa_score_c2_resid_post1"], "the seeded generation must reproduce the cache"
    assert point["loss"] == pytest.approx(results["caa_loss_c2_resid_post1"], abs=1e-5)
