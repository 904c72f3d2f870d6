"""Latent dashboards (mechlearn.interp.latent_dashboard) and latent attribution, ablation and steering
(mechlearn.interp.latent_tools), on a tiny random HookedTransformer and a random SAE."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
import torch
from mechlearn.interp.latent_dashboard import Context, activations_along, dashboard_html, logit_effects, top_contexts
from mechlearn.interp.latent_tools import (
    ablation_effects,
    best_threshold,
    latent_attribution,
    logit_difference,
    precision_recall,
    steered_greedy,
    steered_logits,
    steering_effect,
    steering_hook,
)
from transformer_lens import HookedTransformer, HookedTransformerConfig


class ToySAE(torch.nn.Module):
    """A random ReLU SAE with SAELens' names and shapes; biases make about half the latents active."""

    def __init__(self, d_in: int, d_sae: int, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.W_enc = torch.randn(d_in, d_sae, generator=g) / d_in**0.5
        self.b_enc = 0.1 * torch.randn(d_sae, generator=g)
        self.W_dec = torch.randn(d_sae, d_in, generator=g) / d_in**0.5
        self.b_dec = 0.1 * torch.randn(d_in, generator=g)

    def encode(self, x):
        return torch.relu((x - self.b_dec) @ self.W_enc + self.b_enc)


@pytest.fixture(scope="module")
def model():
    cfg = HookedTransformerConfig(
        n_layers=2, d_model=16, n_heads=2, d_head=8, d_mlp=32, d_vocab=11, n_ctx=12, act_fn="gelu",
        normalization_type="LN", seed=0,
    )  # fmt: skip
    return HookedTransformer(cfg).eval()


@pytest.fixture(scope="module")
def tokens():
    return torch.randint(0, 11, (3, 12), generator=torch.Generator().manual_seed(1))


class _Rows(HTMLParser):
    """The text of each `ld-row` (as a browser shows it), of the outlined character, and every attribute name."""

    def __init__(self):
        super().__init__()
        self.rows, self.centres, self.attribute_names = [], [], set()
        self._depth, self._row_depth, self._centre_depth = 0, None, None

    def handle_starttag(self, tag, attrs):
        self.attribute_names |= {name for name, _ in attrs}
        classes = (dict(attrs).get("class") or "").split()
        self._depth += 1
        if "ld-row" in classes:
            self.rows.append("")
            self._row_depth = self._depth
        if "ld-centre" in classes:
            self.centres.append("")
            self._centre_depth = self._depth

    def handle_endtag(self, tag):
        if self._depth == self._row_depth:
            self._row_depth = None
        if self._depth == self._centre_depth:
            self._centre_depth = None
        self._depth -= 1

    def handle_data(self, data):
        if self._row_depth is not None:
            self.rows[-1] += data
        if self._centre_depth is not None:
            self.centres[-1] += data


def _dashboard(text, acts, k=3, after=2, **kwargs):
    contexts = top_contexts(text, torch.tensor(acts), k=k, before=4, after=after)
    vocab = sorted(set(text))
    return dashboard_html("latent <7> & co", contexts, torch.arange(len(vocab), dtype=torch.float), vocab, **kwargs)


def test_dashboard_escapes_html_and_markdown_characters():
    text = 'x<b>&y "q"*_`$[x]{y}#|~^@\\'
    page = _dashboard(text, [0.0] * 4 + [2.0] + [0.0] * (len(text) - 5), k=1, after=30, stats={"a<b": "1&2"})
    parser = _Rows()
    parser.feed(page)
    assert parser.rows[0] == "2.00" + text.replace(" ", "·"), "corpus characters must reach the reader as text"
    outside_tags = re.sub(r"&#\d+;", "", re.sub(r"<[^>]*>", "", page))
    assert not set(outside_tags) & set("<>&*_`$[]{}#|~^@\\\"'"), "pandoc would read these as Markdown or HTML"
    assert "\n" not in page, "a blank line would end the HTML block inside Markdown"


def test_dashboard_outlines_the_character_of_each_top_activation():
    text = "abcdefghij"
    acts = [0.0, 0.1, 0.0, 0.0, 3.0, 0.0, 0.0, 2.0, 0.0, 0.0]
    parser = _Rows()
    parser.feed(_dashboard(text, acts, k=5))
    assert parser.centres == ["e", "h", "b"], "largest first, the outlined character is the activating one"
    assert len(parser.rows) == 3, "positions where the latent is zero are not top activations"
    assert parser.rows[0].startswith("3.00") and "abcdefg" in parser.rows[0]


def test_dashboard_draws_whitespace_and_loads_nothing():
    page = _dashboard("a b\n\tc", [0.0, 0.0, 0.0, 1.0, 0.0, 0.0])
    parser = _Rows()
    parser.feed(page)
    assert parser.centres == ["↵"] and "a·b↵⇥" in parser.rows[0]
    assert parser.attribute_names == {"class", "style", "title"}, "a quote inside an attribute ends it early"
    assert page.count("<div") == 1, "pandoc puts each div's inline content in its own spaced-out paragraph"
    for forbidden in ("http://", "https://", "<script", "<link", "@import", "url(", "<table"):
        assert forbidden not in page.lower(), f"the dashboard must be self-contained ({forbidden})"


def test_top_contexts_clip_at_the_ends_of_the_text():
    contexts = top_contexts("abc", torch.tensor([5.0, 0.0, 4.0]), k=2, before=4, after=2)
    assert [(c.text, c.centre) for c in contexts] == [("abc", 0), ("abc", 2)]
    assert isinstance(contexts[0], Context) and contexts[0].acts == [5.0, 0.0, 4.0]


def test_logit_effects_are_the_direct_path_with_the_layernorm_scale_frozen(model, tokens):
    """Reference: TransformerLens' own final LayerNorm and unembedding, `d` added to the last residual stream and
    the LayerNorm's scale held at its clean value by a hook. Exact up to float32 rounding (tolerance 1e-5)."""
    d = torch.randn(16, generator=torch.Generator().manual_seed(2))
    _, cache = model.run_with_cache(tokens)
    clean_scale = cache["ln_final.hook_scale"]
    hooks = [
        ("blocks.1.hook_resid_post", lambda act, hook: act + d),
        ("ln_final.hook_scale", lambda s, hook: clean_scale),
    ]
    with torch.no_grad():
        with model.hooks(fwd_hooks=hooks):
            steered = model(tokens)
        change = steered - model(tokens)
    for b, p in [(0, 0), (2, 7)]:
        predicted = logit_effects(d, model.W_U, model.ln_final.w, scale=1 / clean_scale[b, p].item())
        torch.testing.assert_close(change[b, p], predicted, atol=1e-5, rtol=1e-5)


def test_attribution_equals_exact_ablation_when_the_metric_is_linear_in_the_activation(model, tokens):
    """After the final LayerNorm's normalisation the logits are linear in the activation, so the first-order
    estimate is exact: attribution summed over positions = the effect of removing the latent everywhere (1e-4)."""
    sae = ToySAE(16, 40)
    metric = logit_difference(-1, 3, 5)
    attr, f = latent_attribution(model, sae, tokens, "ln_final.hook_normalized", metric)
    assert attr.shape == f.shape == (3, 12, 40) and (f > 0).float().mean() > 0.2
    exact = ablation_effects(model, sae, tokens, "ln_final.hook_normalized", metric, list(range(40)), chunk=7)
    torch.testing.assert_close(attr.sum(1).T, exact, atol=1e-4, rtol=1e-4)
    assert exact.abs().max() > 0.1, "the check must not pass on all-zero effects"


def test_batched_ablation_matches_one_latent_at_a_time(model, tokens):
    """Reference: a slow loop removing one latent per forward pass (catches latent-major/batch-major mix-ups in
    the repeated batch). Nonlinear hook point; tolerance 1e-5."""
    sae = ToySAE(16, 9, seed=3)
    metric = logit_difference(-1, 3, 5)
    latents = [8, 0, 4, 5]
    batched = ablation_effects(model, sae, tokens, "blocks.0.hook_resid_post", metric, latents, chunk=3)
    with torch.no_grad():
        clean = metric(model(tokens))
        for row, i in zip(batched, latents, strict=True):

            def remove(act, hook, i=i):
                return act - sae.encode(act)[..., i : i + 1] * sae.W_dec[i]

            with model.hooks(fwd_hooks=[("blocks.0.hook_resid_post", remove)]):
                torch.testing.assert_close(row, clean - metric(model(tokens)), atol=1e-5, rtol=1e-5)


def test_attribution_is_first_order_on_a_nonlinear_hook(model, tokens):
    """Attribution of a small-norm SAE approaches the exact effect (relative error < 5% for decoder norms 1e-3)."""
    sae = ToySAE(16, 12, seed=4)
    sae.W_dec = sae.W_dec * 1e-3
    metric = logit_difference(-1, 3, 5)
    attr, _ = latent_attribution(model, sae, tokens, "blocks.0.hook_resid_post", metric)
    exact = ablation_effects(model, sae, tokens, "blocks.0.hook_resid_post", metric, list(range(12)))
    assert (attr.sum(1).T - exact).abs().max() < 0.05 * exact.abs().max()


def test_steering_with_alpha_zero_changes_nothing(model, tokens):
    d = torch.randn(16)
    torch.testing.assert_close(steered_logits(model, tokens, "blocks.0.hook_resid_post", d, 0.0), model(tokens))


def test_steering_hook_adds_exactly_alpha_times_the_direction(model, tokens):
    """Read downstream at blocks.1.hook_resid_pre, which is blocks.0.hook_resid_post passed on unchanged."""
    d, alpha = torch.randn(16, generator=torch.Generator().manual_seed(5)), 2.5
    _, clean = model.run_with_cache(tokens)
    seen = {}
    hooks = [
        ("blocks.0.hook_resid_post", steering_hook(d, alpha)),
        ("blocks.1.hook_resid_pre", lambda act, hook: seen.setdefault("x", act.detach())),
    ]
    with torch.no_grad(), model.hooks(fwd_hooks=hooks):
        model(tokens)
    torch.testing.assert_close(seen["x"] - clean["blocks.0.hook_resid_post"], (alpha * d).expand(3, 12, 16))


def test_steered_greedy_at_alpha_zero_is_plain_greedy_with_a_sliding_context(model):
    prompt = torch.tensor([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    out = steered_greedy(model, prompt, "blocks.0.hook_resid_post", torch.zeros(16), 0.0, n_new=5)
    tokens = prompt.tolist()
    with torch.no_grad():
        for _ in range(5):
            tokens.append(int(model(torch.tensor([tokens[-12:]]))[0, -1].argmax()))
    assert out.tolist() == tokens[10:]


def test_steering_effect_at_alpha_zero_is_the_model_s_own_numbers(model, tokens):
    targets = [2, 7]
    prob, loss = steering_effect(model, tokens, "blocks.0.hook_resid_post", torch.randn(16), 0.0, targets)
    with torch.no_grad():
        p = model(tokens)[:, :-1].softmax(-1)
    nxt = tokens[:, 1:]
    keep = (nxt != 2) & (nxt != 7)
    assert prob == pytest.approx(float(p[..., targets].sum(-1).mean()), rel=1e-5)
    assert loss == pytest.approx(float(-p.gather(-1, nxt[..., None])[..., 0].log()[keep].mean()), rel=1e-5)


@pytest.mark.parametrize("n", [13, 31])
def test_activations_along_a_text_give_each_character_enough_context(model, n):
    """Reference: for every character, the model run on the window that starts at the text's start or at the last
    stride-multiple leaving at least `n_ctx - stride` characters before it, clipped to the text's end, read at the
    character's own position (all windows in one batch; tolerance 1e-5)."""
    text = torch.randint(0, 11, (n,), generator=torch.Generator().manual_seed(n))
    acts = activations_along(model, text, "blocks.0.hook_resid_post", stride=4)
    assert acts.shape == (n, 16)
    starts = [0 if p < 12 else min(4 * ((p - 12) // 4 + 1), n - 12) for p in range(n)]
    _, cache = model.run_with_cache(torch.stack([text[s : s + 12] for s in starts]))
    expected = cache["blocks.0.hook_resid_post"][torch.arange(n), torch.tensor(starts).neg() + torch.arange(n)]
    torch.testing.assert_close(acts, expected, atol=1e-5, rtol=1e-5)


def test_precision_and_recall_by_hand():
    fires = torch.tensor([1, 1, 0, 1, 0, 0], dtype=torch.bool)
    labels = torch.tensor([1, 0, 1, 1, 0, 0], dtype=torch.bool)
    assert precision_recall(fires, labels) == (2 / 3, 2 / 3)
    assert precision_recall(torch.zeros(3, dtype=torch.bool), torch.ones(3, dtype=torch.bool)) == (0.0, 0.0)


def test_best_threshold_matches_a_search_over_every_cut():
    """Reference: F1 of "score > t" for t midway between each pair of sorted scores (ties included), by loop."""
    g = torch.Generator().manual_seed(6)
    scores = torch.randint(0, 15, (60,), generator=g).float()  # many ties
    labels = (scores + 6 * torch.rand(60, generator=g)) > 12
    cuts = sorted(set(scores.tolist()))
    candidates = [(a + b) / 2 for a, b in zip(cuts, cuts[1:], strict=False)] + [cuts[0] - 0.5]
    f1s = []
    for t in candidates:
        p, r = precision_recall(scores > t, labels)
        f1s.append(2 * p * r / (p + r) if p + r else 0.0)
    t, f1 = best_threshold(scores, labels)
    assert f1 == pytest.approx(max(f1s), abs=1e-12)
    p, r = precision_recall(scores > t, labels)
    assert 2 * p * r / (p + r) == pytest.approx(f1, abs=1e-12), "the threshold returned must achieve the F1"


def test_day55_attribution_artefact_supports_its_claims():
    """Day 55's committed (prompt, latent, attribution, exact) pairs: r = 0.914, and the two latents with the largest
    total attribution are the two with the largest total exact effect."""
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "daily_logs"
    (folder,) = path.glob("day-055-*")
    pairs = torch.tensor(json.loads((folder / "attribution.json").read_text())["pairs"])
    latent, a, x = pairs[:, 1].long(), pairs[:, 2], pairs[:, 3]
    assert torch.corrcoef(torch.stack([a, x]))[0, 1].item() == pytest.approx(0.914, abs=5e-4)
    total_a = torch.zeros(512).index_add_(0, latent, a)
    total_x = torch.zeros(512).index_add_(0, latent, x)
    assert set(total_a.topk(2).indices.tolist()) == set(total_x.topk(2).indices.tolist()) == {103, 495}
