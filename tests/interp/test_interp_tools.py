"""Circuits, ablation, patching, DLA and probes on tiny random models, each against an independent computation."""

import warnings

import pytest
import torch
from sklearn.linear_model import LogisticRegression

warnings.filterwarnings("ignore", message=".*deprecated.*")
from mechlearn.interp.ablation import ablation_hooks, ablation_table, head_means, run_ablated  # noqa: E402
from mechlearn.interp.circuits import composition_score, composition_scores, top1_copying_accuracy  # noqa: E402
from mechlearn.interp.patching import (  # noqa: E402
    direct_logit_attribution,
    logit_diff,
    normalised,
    patch_block_outputs,
    patch_head_outputs,
    patch_residual_stream,
)
from mechlearn.interp.probes import chance_accuracy, train_probe  # noqa: E402
from mechlearn.interp.scores import induction_score  # noqa: E402
from transformer_lens import FactoredMatrix, HookedTransformer, HookedTransformerConfig  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def tiny_model(attn_only: bool = True) -> HookedTransformer:
    cfg = HookedTransformerConfig(
        n_layers=2, d_model=16, n_ctx=9, d_head=4, n_heads=4, d_vocab=11, attn_only=attn_only,
        d_mlp=None if attn_only else 32, act_fn=None if attn_only else "gelu",
        normalization_type="LN", seed=0, device="cpu",
    )  # fmt: skip
    torch.manual_seed(0)
    model = HookedTransformer(cfg)
    # random init is near-degenerate (LN weights 1, biases 0): perturb so every path carries signal
    sd = {k: v + 0.3 * torch.randn_like(v) for k, v in model.named_parameters()}
    model.load_state_dict(sd, strict=False)
    return model.eval()


def test_composition_score_of_projections_is_known():
    P = torch.diag(torch.tensor([1.0, 1, 1, 0, 0, 0]))  # rank-3 projection
    Q = torch.diag(torch.tensor([0.0, 0, 0, 1, 1, 0]))  # orthogonal to it
    assert abs(composition_score(P, P).item() - 3**-0.5) < 1e-6, "||PP||/(||P|| ||P||) = sqrt(3)/3 for rank 3"
    assert composition_score(P, Q).item() < 1e-7, "orthogonal subspaces must not compose"


def test_k_composition_matches_dense_matrices():
    model = tiny_model()
    got = composition_scores(model, "K")
    for h0 in range(4):
        W_OV = model.W_V[0, h0] @ model.W_O[0, h0]
        for h1 in range(4):
            W_QK = model.W_Q[1, h1] @ model.W_K[1, h1].T
            dense = torch.linalg.norm(W_OV @ W_QK.T) / (torch.linalg.norm(W_OV) * torch.linalg.norm(W_QK))
            assert abs(got[h0, h1] - dense) < 1e-5, "K-composition must use W_OV(h0) then W_QK(h1)^T"


def test_copying_accuracy_of_identity_and_derangement():
    eye = FactoredMatrix(torch.eye(6), torch.eye(6))
    shift = FactoredMatrix(torch.eye(6), torch.roll(torch.eye(6), 1, dims=1))
    assert top1_copying_accuracy(eye) == 1.0, "identity OV copies every token"
    assert top1_copying_accuracy(shift) == 0.0, "a derangement copies no token"


def test_zero_ablation_equals_deleting_the_heads_output_weights():
    model = tiny_model()
    tokens = torch.randint(0, 11, (4, 9), generator=torch.Generator().manual_seed(1))
    loss, _ = run_ablated(model, tokens, ablation_hooks(1, 2, "zero"), seq_len=4)
    with torch.no_grad():
        model.blocks[1].attn.W_O[2] = 0.0
        reference = model(tokens, return_type="loss", loss_per_token=True).mean(0)
    assert torch.allclose(loss, reference, atol=1e-6), "zero-ablation hook does not remove the head's output"


def test_mean_ablation_with_one_sequence_changes_nothing():
    model = tiny_model()
    tokens = torch.randint(0, 11, (1, 9), generator=torch.Generator().manual_seed(2))
    loss, _ = run_ablated(model, tokens, ablation_hooks(0, 1, "mean", head_means(model, tokens)), seq_len=4)
    with torch.no_grad():
        clean = model(tokens, return_type="loss", loss_per_token=True).mean(0)
    assert torch.allclose(loss, clean, atol=1e-6), "mean of one sequence is itself: mean ablation must be a no-op"


@pytest.mark.parametrize("layer, head", [(1, 2), (1, 0), (0, 3)])
def test_mean_ablation_subtracts_the_heads_deviation_from_its_batch_mean(layer, head):
    """Independent route: mean-ablating head h of layer l changes attn_out by -(z_h - E_batch z_h) W_O^h, so
    patch `hook_attn_out` by that amount (means and z from the clean run) and compare losses. Catches replacing
    with another layer's mean (e.g. always layer 0's), a mean over positions instead of the batch, or a mean taken
    from an ablated run."""
    model = tiny_model()
    tokens = torch.randint(0, 11, (6, 9), generator=torch.Generator().manual_seed(7))
    loss, _ = run_ablated(model, tokens, ablation_hooks(layer, head, "mean", head_means(model, tokens)), seq_len=4)
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens)
        z = cache["z", layer][:, :, head]  # (batch, pos, d_head)
        shift = torch.einsum("b p d, d m -> b p m", z - z.mean(0), model.W_O[layer, head])

        def subtract(attn_out, hook):
            return attn_out - shift

        reference = model.run_with_hooks(
            tokens, return_type="loss", loss_per_token=True, fwd_hooks=[(f"blocks.{layer}.hook_attn_out", subtract)]
        ).mean(0)
        clean = model(tokens, return_type="loss", loss_per_token=True).mean(0)
    assert not torch.allclose(reference, clean, atol=1e-3), "the head barely matters here: the test checks nothing"
    assert torch.allclose(loss, reference, atol=1e-5), f"mean ablation of L{layer}H{head} is not z -> E_batch[z]"


def test_zero_ablation_table_matches_models_with_each_heads_W_O_deleted():
    """Entry (l, h) of the table: mean loss over the second half (positions seq_len.., the repeated tokens) and the
    best induction score of any head, with head (l, h) removed by zeroing its W_O in a copy of the model."""
    model = tiny_model()
    tokens = torch.randint(0, 11, (3, 9), generator=torch.Generator().manual_seed(9))
    table = ablation_table(model, tokens, seq_len=4, mode="zero")
    assert table["induction_loss"].shape == table["max_induction_score"].shape == (2, 4)
    for layer in range(2):
        for head in range(4):
            copy = tiny_model()
            with torch.no_grad():
                copy.blocks[layer].attn.W_O[head] = 0.0
                loss, cache = copy.run_with_cache(tokens, return_type="loss", loss_per_token=True)
            best = max(induction_score(cache["pattern", lyr], 4).max() for lyr in range(2))
            assert abs(table["induction_loss"][layer, head] - loss.mean(0)[4:].mean()) < 1e-5, "wrong loss entry"
            assert abs(table["max_induction_score"][layer, head] - best) < 1e-6, "wrong induction entry"


def test_mean_ablation_table_matches_the_attn_out_reference():
    """Mean mode of the table, entry by entry, against subtracting (z_h - E_batch z_h) W_O^h from attn_out."""
    model = tiny_model()
    tokens = torch.randint(0, 11, (4, 9), generator=torch.Generator().manual_seed(10))
    table = ablation_table(model, tokens, seq_len=4, mode="mean")
    with torch.no_grad():
        _, clean = model.run_with_cache(tokens)
        for layer in range(2):
            for head in range(4):
                z = clean["z", layer][:, :, head]
                shift = torch.einsum("b p d, d m -> b p m", z - z.mean(0), model.W_O[layer, head])
                hook = (f"blocks.{layer}.hook_attn_out", lambda out, hook, shift=shift: out - shift)
                with model.hooks(fwd_hooks=[hook]):
                    loss, cache = model.run_with_cache(tokens, return_type="loss", loss_per_token=True)
                best = max(induction_score(cache["pattern", lyr], 4).max() for lyr in range(2))
                assert abs(table["induction_loss"][layer, head] - loss.mean(0)[4:].mean()) < 1e-5, "wrong loss"
                assert abs(table["max_induction_score"][layer, head] - best) < 1e-5, "wrong induction entry"


def test_direct_logit_attribution_without_layernorm_weights():
    """With LNPre (a final LayerNorm with no weight or bias), DLA still sums to the logit difference."""
    cfg = HookedTransformerConfig(
        n_layers=2, d_model=16, n_ctx=9, d_head=4, n_heads=4, d_vocab=11, attn_only=True,
        normalization_type="LNPre", seed=0, device="cpu",
    )  # fmt: skip
    torch.manual_seed(0)
    model = HookedTransformer(cfg).eval()
    tokens = torch.randint(0, 11, (3, 9), generator=torch.Generator().manual_seed(11))
    answer, wrong = torch.tensor([1, 2, 3]), torch.tensor([4, 5, 6])
    with torch.no_grad():
        logits, cache = model.run_with_cache(tokens)
    dla, _, constant = direct_logit_attribution(model, cache, answer, wrong)
    assert abs(dla.sum() + constant - logit_diff(logits, answer, wrong)) < 1e-4


def test_head_and_block_patching_match_hand_written_hooks():
    """Patching head (l, h) must copy that head's clean z only (every position), and patch_block_outputs defaults
    to attn_out: both against hooks written out here."""
    model = tiny_model()
    g = torch.Generator().manual_seed(12)
    clean, corrupted = torch.randint(0, 11, (2, 9), generator=g), torch.randint(0, 11, (2, 9), generator=g)
    answer, wrong = torch.tensor([1, 2]), torch.tensor([3, 4])
    with torch.no_grad():
        _, cache = model.run_with_cache(clean)

    def metric(logits):
        return logit_diff(logits, answer, wrong)

    heads = patch_head_outputs(model, corrupted, cache, metric)
    for layer in range(2):
        for head in range(4):

            def one_head(z, hook, head=head):
                z = z.clone()
                z[:, :, head] = cache[hook.name][:, :, head]
                return z

            hook = (f"blocks.{layer}.attn.hook_z", one_head)
            with torch.no_grad():
                expected = metric(model.run_with_hooks(corrupted, fwd_hooks=[hook]))
            assert abs(heads[layer, head] - expected) < 1e-5, f"patching L{layer}H{head} touched other heads"
    assert len(set(heads.flatten().tolist())) == 8, "every head's patch should give a different metric here"
    default = patch_block_outputs(model, corrupted, cache, metric)
    assert torch.equal(default, patch_block_outputs(model, corrupted, cache, metric, "attn_out"))


def test_bad_modes_and_components_are_refused_in_one_line():
    with pytest.raises(ValueError, match=r"^mode must be 'zero' or 'mean', not 'max'$"):
        ablation_hooks(0, 0, "max")
    model = tiny_model()
    with torch.no_grad():
        _, cache = model.run_with_cache(torch.zeros(1, 9, dtype=torch.long))
    with pytest.raises(ValueError, match=r"^component must be 'attn_out' or 'mlp_out', not 'resid'$"):
        patch_block_outputs(model, torch.zeros(1, 9, dtype=torch.long), cache, lambda x: 0.0, "resid")


@pytest.mark.parametrize("attn_only", [True, False])
def test_patching_recovers_known_fractions(attn_only):
    model = tiny_model(attn_only)
    g = torch.Generator().manual_seed(3)
    clean = torch.randint(0, 11, (2, 9), generator=g)
    corrupted = clean.clone()
    corrupted[:, 4] = (clean[:, 4] + 1) % 11  # differs at position 4 only
    answer, wrong = torch.tensor([1, 2]), torch.tensor([3, 4])
    with torch.no_grad():
        clean_logits, cache = model.run_with_cache(clean)
        lo = logit_diff(model(corrupted), answer, wrong)
    hi = logit_diff(clean_logits, answer, wrong)

    def metric(logits):
        return normalised(logit_diff(logits, answer, wrong), hi, lo)

    resid = patch_residual_stream(model, corrupted, cache, metric)
    assert abs(resid[0, 4] - 1) < 1e-4, "patching the only corrupted embedding must restore the clean run"
    assert resid[0, :4].abs().max() < 1e-4, "positions before the corruption are identical: nothing to restore"
    assert abs(resid[-1, -1] - 1) < 1e-4, "the final residual at the last position fixes the logits"
    assert resid[-1, :-1].abs().max() < 1e-4, "other final positions cannot change the last logits"
    # in the last layer, attention (and MLP) outputs plus the layer's input give its output exactly
    heads = patch_head_outputs(model, corrupted, cache, metric)
    attn = patch_block_outputs(model, corrupted, cache, metric, "attn_out")
    assert heads.shape == (2, 4) and attn.shape == (2,)
    if not attn_only:
        mlp = patch_block_outputs(model, corrupted, cache, metric, "mlp_out")
        assert mlp.shape == (2,) and not torch.allclose(mlp, torch.zeros(2)), "MLP patching had no effect"
    if attn_only:
        # attn_out is a function of the heads' z only, so patching every head's z at once equals patching attn_out

        def patch_all_z(z, hook):
            return cache[hook.name]

        with torch.no_grad():
            all_heads = metric(model.run_with_hooks(corrupted, fwd_hooks=[("blocks.1.attn.hook_z", patch_all_z)]))
        assert abs(all_heads - attn[1]) < 1e-4, "patching every head's z must equal patching attn_out"


def test_direct_logit_attribution_sums_to_the_logit_difference():
    model = tiny_model()  # LayerNorm weights and biases perturbed away from (1, 0), so both terms are exercised
    tokens = torch.randint(0, 11, (3, 9), generator=torch.Generator().manual_seed(4))
    answer, wrong = torch.tensor([1, 2, 3]), torch.tensor([4, 5, 6])
    with torch.no_grad():
        logits, cache = model.run_with_cache(tokens)
    dla, labels, constant = direct_logit_attribution(model, cache, answer, wrong)
    total = dla.sum() + constant
    assert "L1H3" in labels and len(labels) == dla.shape[0]
    assert abs(total - logit_diff(logits, answer, wrong)) < 1e-4, "components must add up to the logit diff"


def test_probe_matches_sklearn_and_shuffled_labels_are_at_chance():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(2000, 8, generator=g)
    w = torch.randn(8, 3, generator=g)
    y = (x @ w + 0.5 * torch.randn(2000, 3, generator=g)).argmax(-1)
    ours = train_probe(x, y, 3, seed=0)
    order = torch.randperm(2000, generator=torch.Generator().manual_seed(0))
    test, train = order[:500], order[500:]
    # same objective: sklearn's C * sum(CE) + |W|^2 / 2 is ours, mean(CE) + l2 |W|^2, times C N when C = 1/(2 l2 N);
    # our probe standardises x first, so give sklearn the standardised training features too
    mu, sd = x[train].mean(0), x[train].std(0)
    sk = LogisticRegression(C=1 / (2 * 1e-3 * len(train)), max_iter=2000).fit(
        ((x[train] - mu) / sd).numpy(), y[train].numpy()
    )
    sk_acc = sk.score(((x[test] - mu) / sd).numpy(), y[test].numpy())
    assert abs(ours.test_accuracy - sk_acc) < 0.01, f"probe {ours.test_accuracy:.3f} vs sklearn {sk_acc:.3f}"
    raw = ((x[test] @ ours.W + ours.b).argmax(-1) == y[test]).float().mean().item()
    assert abs(raw - ours.test_accuracy) < 1e-6, "folding the standardisation into (W, b) changed the probe"
    shuffled = y[torch.randperm(2000, generator=g)]
    assert train_probe(x, shuffled, 3).test_accuracy < chance_accuracy(shuffled) + 0.05, "probe memorises noise"


def test_probe_accuracy_is_measured_on_held_out_examples():
    """200 examples in 120 dimensions with random labels: a linear probe fits its 100 training examples (train
    accuracy 1) but cannot predict the 100 it never saw (test accuracy near chance, 1/2, standard deviation 0.05).
    A probe that reported its training accuracy, or trained on the test examples too, would report near 1 here."""
    g = torch.Generator().manual_seed(8)
    x = torch.randn(200, 120, generator=g)
    y = torch.randint(0, 2, (200,), generator=g)
    result = train_probe(x, y, 2, test_fraction=0.5, l2=1e-6, seed=0)
    assert result.train_accuracy > 0.95, f"train accuracy {result.train_accuracy:.2f}: the probe did not fit"
    assert abs(result.test_accuracy - 0.5) < 0.2, f"test accuracy {result.test_accuracy:.2f} on random labels"


def test_transformer_lens_fold_ln_changes_this_models_outputs():
    """Documents why make_model does not fold LayerNorms: in TransformerLens 3.9 folding a non-identity final
    LayerNorm into W_U changes the log-probabilities of this attention-only model. If this starts failing, TL has
    fixed it and folding can be offered again."""
    from mechlearn.interp.induction_model import InductionConfig, hooked_config, repeated_tokens

    cfg = InductionConfig()
    torch.manual_seed(0)
    reference = HookedTransformer(hooked_config(cfg))
    sd = {k: v + 0.3 * torch.randn_like(v) for k, v in reference.named_parameters()}
    reference.load_state_dict(sd, strict=False)
    folded = HookedTransformer(hooked_config(cfg))
    folded.load_and_process_state_dict(
        dict(sd), fold_ln=True, center_writing_weights=False, center_unembed=False, fold_value_biases=False
    )
    tokens = repeated_tokens(4, cfg.seq_len, cfg.d_vocab, torch.Generator().manual_seed(0))
    with torch.no_grad():
        gap = (folded(tokens).log_softmax(-1) - reference.eval()(tokens).log_softmax(-1)).abs().max().item()
    assert gap > 0.1, f"fold_ln now preserves the model (gap {gap:.1e}): make_model could offer it again"


def test_path_ablation_of_every_path_equals_zero_ablation():
    from mechlearn.interp.path_ablation import path_ablated_loss

    model = tiny_model()
    tokens = torch.randint(0, 11, (4, 9), generator=torch.Generator().manual_seed(6))
    for head in range(4):
        everything = path_ablated_loss(model, tokens, head, ("q", "k", "v", "direct"))
        zero, _ = run_ablated(model, tokens, ablation_hooks(0, head, "zero"), seq_len=4)
        assert torch.allclose(everything, zero, atol=1e-5), "the four paths must be all a layer-0 head can reach"
        nothing = path_ablated_loss(model, tokens, head, ())
        clean, _ = run_ablated(model, tokens, [], seq_len=4)
        assert torch.allclose(nothing, clean, atol=1e-6), "split qkv input must not change the forward pass"
    assert not model.cfg.use_split_qkv_input, "path ablation must restore the model's setting"
