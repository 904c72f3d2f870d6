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
from mechlearn.interp.induction_model import loss_per_position, make_model, repeated_tokens, train_induction_model
from mechlearn.interp.patching import (
    direct_logit_attribution,
    logit_diff,
    normalised,
    patch_head_outputs,
    patch_residual_stream,
)
from mechlearn.interp.patching_data import induction_patching_pair
from mechlearn.interp.probes import probe_per_hook

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


def test_previous_token_is_linearly_readable_after_layer_0_only(trained):
    model, cfg, *_ = trained
    g = torch.Generator().manual_seed(38)
    # day 38's 1,000 sequences, of which half suffice here: 10,500 probe examples for 63 classes give 0.958 (day 38's
    # full set: 0.952) in half the time
    tokens = torch.randint(1, cfg.d_vocab, (1000, cfg.n_ctx), generator=g)[:500]
    tokens[:, 0] = 0
    labels = torch.roll(tokens, 1, dims=1) - 1  # class of the previous token
    positions = torch.arange(cfg.seq_len, cfg.n_ctx)
    hooks = ["blocks.0.hook_resid_pre", "blocks.1.hook_resid_pre"]
    n = cfg.d_vocab - 1
    trained_acc = probe_per_hook(model, tokens, labels, positions, hooks, n)
    # the controls need only show chance level, which a quarter of day 38's data shows as well
    few = slice(0, 250)
    random_acc = probe_per_hook(make_model(cfg), tokens[few], labels[few], positions, hooks[1:], n)
    shuffled_acc = probe_per_hook(model, tokens[few], labels[few], positions, hooks[1:], n, shuffle_labels=True)
    assert trained_acc[hooks[1]].test_accuracy >= 0.95, "previous token not readable after layer 0"
    assert trained_acc[hooks[0]].test_accuracy < 0.05, "probe reads the previous token before any attention (leak)"
    assert random_acc[hooks[1]].test_accuracy < 0.1, "control: a random model should not carry the previous token"
    assert shuffled_acc[hooks[1]].test_accuracy < 0.05, "control: shuffled labels must be at chance"


def test_patching_and_dla_single_out_the_induction_heads(trained):
    model, cfg, _, _, scores = trained
    clean, corrupted, answer, wrong = induction_patching_pair(
        50, cfg.seq_len, cfg.d_vocab, 10, torch.Generator().manual_seed(39)
    )
    with torch.no_grad():
        clean_logits, cache = model.run_with_cache(clean)
        lo, hi = logit_diff(model(corrupted), answer, wrong), logit_diff(clean_logits, answer, wrong)

    def metric(logits):
        return normalised(logit_diff(logits, answer, wrong), hi, lo)

    resid = patch_residual_stream(model, corrupted, cache, metric)
    assert abs(resid[-1, -1] - 1) < 1e-4, "the full clean residual stream at the last layer must recover 100%"
    heads = patch_head_outputs(model, corrupted, cache, metric)
    induction_heads = scores["induction"][1] >= 0.5
    assert torch.equal(heads[1] > 0.1, induction_heads), "patching and induction scores disagree on layer 1"
    prev_head = int(scores["previous_token"][0].argmax())
    assert abs(heads[0, prev_head]) < 0.05, "the previous-token head's output at the query cannot carry the answer"
    dla, labels, constant = direct_logit_attribution(model, cache, answer, wrong)
    layer1 = dla[[labels.index(f"L1H{h}") for h in range(cfg.n_heads)]]
    assert abs(dla.sum() + constant - hi) < 1e-3, "DLA must add up to the logit difference"
    assert layer1[induction_heads].sum() > 0.9 * hi, "the induction heads should write most of the answer directly"


def test_rotary_variant_of_day_42_uses_a_lag_10_circuit_the_induction_score_misses():
    folder = checkpoint_dir().parent / "day-042-a-rotary-position-variant-and-the-circuit-it"
    model, cfg = load_trained_model(folder)
    L = cfg.seq_len
    tokens = repeated_tokens(200, L, cfg.d_vocab, torch.Generator().manual_seed(42))
    loss, scores = run_ablated(model, tokens, [], L)
    assert loss[L + 1 :].mean() < 0.5, "the rotary model should still predict the repeated half"
    assert scores["induction"][1].max() < 0.05, "the rotary model's layer-1 heads are not offset-(L-1) heads"
    _, cache = model.run_with_cache(tokens, names_filter=lambda name: name.endswith("hook_pattern"))
    q = torch.arange(L + 1, 2 * L + 1)
    lag10 = cache["pattern", 1][:, :, q, q - 10].mean((0, 2))  # layer-1 attention at offset L - s, s = 10
    assert lag10.min() > 0.5, "layer-1 heads should attend at offset 10 (lag-10 induction)"
    ablated, _ = run_ablated(model, tokens, ablation_hooks(0, 1, "zero"), L)
    assert ablated[L + 1 :].mean() > 3.0, "head 0.1 (the lag-10 head) should be indispensable"


def test_previous_token_head_feeds_keys_and_self_attending_heads_feed_values(trained):
    from mechlearn.interp.path_ablation import path_ablated_loss

    model, cfg, tokens, loss, scores = trained
    L = cfg.seq_len
    clean = loss[L + 1 :].mean()
    prev_head = int(scores["previous_token"][0].argmax())

    def cost(head, path):
        return path_ablated_loss(model, tokens, head, (path,))[L + 1 :].mean() - clean

    assert cost(prev_head, "k") > 1.0, "the previous-token head must K-compose (removing it from keys breaks induction)"
    assert cost(prev_head, "v") < 0.1, "the previous-token head should not matter for the values"
    value_heads = [h for h in range(cfg.n_heads) if h != prev_head and cost(h, "v") > 0.3]
    assert value_heads, "some layer-0 head should feed the induction heads' values (day 39's patching signal)"


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
