"""The committed 2-layer induction model (day 32's checkpoint) does what the days claim; slow: retraining does too."""

import math

import pytest
import torch
from mechlearn.interp.ablation import ablation_hooks, run_ablated
from mechlearn.interp.checkpoint import checkpoint_dir, load_trained_model
from mechlearn.interp.circuits import (
    composition_scores,
    full_ov_circuit,
    random_composition_baseline,
    top1_copying_accuracy,
)
from mechlearn.interp.induction_model import loss_per_position, repeated_tokens, train_induction_model

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def trained():
    model, cfg = load_trained_model()
    tokens = repeated_tokens(200, cfg.seq_len, cfg.d_vocab, torch.Generator().manual_seed(123))
    loss, scores = run_ablated(model, tokens, [], cfg.seq_len)
    return model, cfg, tokens, loss, scores


def test_second_half_loss_is_far_below_the_random_first_half(trained):
    _, cfg, _, loss, _ = trained
    L = cfg.seq_len
    first, second = loss[1:L].mean().item(), loss[L + 1 :].mean().item()
    assert abs(first - math.log(cfg.d_vocab - 1)) < 0.5, "first half is uniform noise: loss should be ~ln(V-1)"
    assert second < 0.1 * first, f"no induction: second-half loss {second:.3f} vs first half {first:.3f}"


def test_previous_token_and_induction_heads_pass_the_bar(trained):
    *_, scores = trained
    assert scores["previous_token"][0].max() >= 0.8, "no layer-0 previous-token head"
    assert scores["induction"][1].max() >= 0.8, "no layer-1 induction head"


def test_ablating_the_previous_token_head_breaks_induction(trained):
    model, cfg, tokens, loss, scores = trained
    prev_head = int(scores["previous_token"][0].argmax())
    for mode in ("zero", "mean"):
        means = None
        if mode == "mean":
            from mechlearn.interp.ablation import head_means

            means = head_means(model, tokens)
        ablated_loss, ablated = run_ablated(model, tokens, ablation_hooks(0, prev_head, mode, means), cfg.seq_len)
        assert ablated["induction"][1].max() < 0.2, f"{mode}-ablating head 0.{prev_head} left induction intact"
        assert ablated_loss[cfg.seq_len + 1 :].mean() > 5 * loss[cfg.seq_len + 1 :].mean(), "induction loss unharmed"


def test_k_composition_and_copying(trained):
    model, _, _, _, scores = trained
    prev_head = int(scores["previous_token"][0].argmax())
    ind_head = int(scores["induction"][1].argmax())
    k_comp = composition_scores(model, "K")
    baseline = random_composition_baseline(model, n_samples=50)
    assert int(k_comp[:, ind_head].argmax()) == prev_head, "induction keys read another layer-0 head more"
    assert k_comp[prev_head, ind_head] > 1.5 * baseline, "K-composition no stronger than for random matrices"
    assert top1_copying_accuracy(full_ov_circuit(model, 1, ind_head)) > 0.9, "induction head's OV does not copy"


def test_checkpoint_files_are_committed_beside_day_32():
    for name in ("induction_model.safetensors", "training_curve.json", "induction_model.safetensors.provenance.json"):
        assert (checkpoint_dir() / name).is_file(), f"{name} missing: run day 32 and commit its artefacts"


@pytest.mark.slow
def test_retraining_with_the_same_seed_reproduces_the_checkpoint():
    import json

    _, cfg = load_trained_model()
    weights, curve = train_induction_model(cfg, progress=False)
    committed = json.loads((checkpoint_dir() / "training_curve.json").read_text())
    worst = max(abs(a - b) for a, b in zip(curve["loss"], committed["loss"], strict=True))
    assert worst < 1e-3, "training with the same seed does not reproduce the committed curve"
    model, _ = load_trained_model()
    model.load_state_dict(weights, strict=False)
    tokens = repeated_tokens(200, cfg.seq_len, cfg.d_vocab, torch.Generator().manual_seed(7))
    _, scores = run_ablated(model, tokens, [], cfg.seq_len)
    assert scores["previous_token"][0].max() >= 0.8 and scores["induction"][1].max() >= 0.8
    second = loss_per_position(model, tokens)[cfg.seq_len + 1 :].mean()
    assert second < 0.5, "retrained model does not do induction"
