"""SAEs on day 17's language model: activations, splicing, CE loss recovered; the committed SAEs of day 52.

References: day 17's scratch `DemoTransformer` (its own cache and its own loss, no TransformerLens hooks), block 1
run by hand on a zero residual, and stand-in SAEs whose reconstructions are known (identity, zeros).
"""

import json

import pytest
import torch
from mechlearn.interp.sae_lm import (
    HOOK,
    N_CTX,
    baseline_losses,
    ce_loss_recovered,
    collect_activations,
    corpus_windows,
    loss_with,
    position_means,
    reconstruct,
)
from mechlearn.transformers.loading import to_hooked_transformer
from mechlearn.transformers.tiny_lm import load_tiny_lm
from mechlearn.transformers.training import corpus_text, train_val_split

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Identity:
    """A perfect SAE: the code is the activation itself."""

    def encode(self, x):
        return x

    def decode(self, f):
        return f


class Zeros(Identity):
    """An SAE whose reconstruction is always 0: exactly zero ablation."""

    def decode(self, f):
        return torch.zeros_like(f)


class Scaled(Identity):
    def decode(self, f):
        return 0.9 * f


@pytest.fixture(scope="module")
def lm():
    demo, tokenizer, _ = load_tiny_lm()
    tokens = corpus_windows(8, "val", seed=0)
    return demo, to_hooked_transformer(demo).eval(), tokenizer, tokens


def demo_loss(logits, tokens):
    return torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), tokens[:, 1:].flatten()).item()


def test_windows_are_seeded_substrings_of_their_split(lm):
    _, _, tokenizer, tokens = lm
    train, val = train_val_split(tokenizer.encode(corpus_text()))
    assert tokens.shape == (8, N_CTX)
    assert torch.equal(tokens, corpus_windows(8, "val", seed=0)), "windows must be reproducible"
    text = tokenizer.decode(val)
    assert all(tokenizer.decode(w) in text for w in tokens), "validation windows must come from the validation split"
    assert not torch.equal(corpus_windows(8, "train", seed=0), tokens), "train and val windows coincide"


def test_activations_match_the_scratch_models_cache(lm):
    """Catches a wrong hook, a wrong flattening order, or stopping the forward pass before the hook."""
    demo, model, _, tokens = lm
    with torch.no_grad():
        _, cache = demo.run_with_cache(tokens)
    acts = collect_activations(model, tokens, batch_size=3)  # 3 does not divide 8: the last batch is short
    torch.testing.assert_close(acts, cache[HOOK].flatten(0, 1), atol=1e-5, rtol=0)  # float32, different kernels


def test_clean_loss_is_the_scratch_models_loss(lm):
    demo, model, _, tokens = lm
    with torch.no_grad():
        expected = demo_loss(demo(tokens), tokens)
    assert loss_with(model, tokens) == pytest.approx(expected, abs=1e-5)


def test_identity_splice_leaves_the_loss_unchanged(lm):
    _, model, _, tokens = lm
    from functools import partial

    from mechlearn.interp.sae_lm import splice_hook

    assert loss_with(model, tokens, partial(splice_hook, sae=Identity())) == pytest.approx(
        loss_with(model, tokens), abs=1e-6
    )


def test_zero_ablation_is_block_1_run_on_zeros(lm):
    """The zero-ablated loss against block 1, the final LayerNorm and the unembedding run by hand on x = 0."""
    demo, model, _, tokens = lm
    with torch.no_grad():
        residual = demo.embed(tokens) * 0.0
        residual = demo.blocks[1](residual)
        expected = demo_loss(demo.unembed(demo.ln_final(residual)), tokens)
    assert baseline_losses(model, tokens)["zero"] == pytest.approx(expected, abs=1e-5)


def test_mean_ablation_replaces_each_position_by_its_batch_mean(lm):
    demo, model, _, tokens = lm
    with torch.no_grad():
        _, cache = demo.run_with_cache(tokens)
        means = cache[HOOK].mean(0)
        torch.testing.assert_close(position_means(model, tokens), means, atol=1e-5, rtol=0)
        residual = demo.blocks[1](means.expand(len(tokens), -1, -1))
        expected = demo_loss(demo.unembed(demo.ln_final(residual)), tokens)
    assert baseline_losses(model, tokens)["mean"] == pytest.approx(expected, abs=1e-5)


def test_ce_recovered_is_one_for_a_perfect_sae_and_zero_for_a_zero_output(lm):
    _, model, _, tokens = lm
    baselines = baseline_losses(model, tokens)
    assert baselines["zero"] > baselines["mean"] > baselines["clean"] + 0.1, "ablations must hurt the model"
    assert ce_loss_recovered(model, Identity(), tokens, baselines=baselines) == pytest.approx(1.0, abs=1e-5)
    assert ce_loss_recovered(model, Zeros(), tokens, baselines=baselines) == pytest.approx(0.0, abs=1e-6)
    assert ce_loss_recovered(model, Zeros(), tokens, "mean", baselines) < 0, "zeros are worse than the means"
    partial_score = ce_loss_recovered(model, Scaled(), tokens, baselines=baselines)
    assert ce_loss_recovered(model, Scaled(), tokens) == pytest.approx(partial_score, abs=1e-6)
    assert 0 < partial_score < 1


def test_reconstruct_keeps_the_leading_shape(lm):
    x = torch.randn(2, 3, 64)
    assert torch.equal(reconstruct(Identity(), x), x)


# Day 52's committed SAEs: their recorded held-out metrics are those of the committed weights, and the day's claims.


@pytest.fixture(scope="module")
def committed():
    from mechlearn.interp.sae_lm import SETTING, load_lm_sae, run_name, sae_dir

    saes = {v: load_lm_sae(v) for v in ("standard", "gated", "jumprelu", "topk")}
    records = {
        v: json.loads((sae_dir() / "sweep" / f"{run_name(v, getattr(sae.cfg, SETTING[v]))}.json").read_text())
        for v, sae in saes.items()
    }
    return saes, records


@pytest.mark.slow
def test_committed_sae_metrics_are_those_of_the_committed_weights(lm, committed):
    """Catches weights and sweep records from different runs (the cache keeps them together)."""
    from mechlearn.interp.sae_lm import heldout_tokens
    from mechlearn.interp.sae_training import sae_metrics

    saes, records = committed
    held = collect_activations(lm[1], heldout_tokens())
    for variant, sae in saes.items():
        metrics = sae_metrics(sae, held)
        for key in ("l0", "fve", "dead_fraction"):
            assert metrics[key] == pytest.approx(records[variant][key], abs=1e-4), (variant, key)


def test_default_sae_is_topk_8_and_best_at_its_sparsity(committed):
    from mechlearn.interp.sae_lm import load_lm_sae

    saes, records = committed
    default = load_lm_sae()
    assert default.architecture == "topk" and default.cfg.k == 8 and default.cfg.d_sae == 512
    topk = records["topk"]
    assert topk["l0"] == 8.0
    assert topk["ce_recovered"] > 0.95 and topk["fve"] > 0.9
    others = [r for v, r in records.items() if v != "topk"]
    assert all(r["loss_spliced"] > topk["loss_spliced"] for r in others), "TopK adds the least loss of the four"


@pytest.mark.slow
def test_default_sae_retrains_from_its_seeds(lm):
    from mechlearn.interp.sae_lm import load_lm_sae, train_lm_sae, training_activations

    torch.manual_seed(0)
    retrained = train_lm_sae("topk", 8, training_activations(lm[1]))
    committed = load_lm_sae()
    for name, p in committed.state_dict().items():
        torch.testing.assert_close(retrained.state_dict()[name], p, atol=1e-5, rtol=0)
