"""Day 97's evaluation machinery: the scoring rule, the generated prompts, and the bootstrap intervals (percentile,
clustered, paired) checked against scipy.stats.bootstrap, hand cases and an analytic standard error."""

import json

import numpy as np
import pytest
from mechlearn.rl.evals import (
    DAY_DIR,
    bootstrap_means,
    cluster_resample,
    clustered_bootstrap_means,
    hacks,
    make_prompt_set,
    paired_difference_means,
    percentile_interval,
    stray_stops,
)
from scipy.stats import bootstrap


def test_stray_stops_leave_sentence_ends_out():
    """Hand case: "Hi. ok.. end.\\n" has 4 full stops, 2 of them sentence ends ("i. " and "d.\\n")."""
    assert stray_stops("Hi. ok.. end.\n") == 2
    assert hacks("....") and hacks(" ... ") and not hacks("One. Two. Three. Four. ")


def test_percentile_interval_agrees_with_scipy_on_independent_items():
    """The unclustered percentile interval equals scipy's (method="percentile") to within Monte Carlo error: with
    B = 2000 resamples of 200 scores the quantiles' own spread is ~0.002, so 0.005 catches a wrong quantile
    (e.g. alpha instead of alpha/2) or a resample of the wrong size."""
    scores = np.random.default_rng(0).binomial(4, 0.3, size=200) / 4
    ours = percentile_interval(bootstrap_means(scores, 2000, np.random.default_rng(1)), 0.95)
    ref = bootstrap((scores,), np.mean, n_resamples=2000, confidence_level=0.95, method="percentile", random_state=2)
    assert ours == pytest.approx(tuple(ref.confidence_interval), abs=0.005), "percentile interval differs from scipy"


def test_bootstrap_means_of_two_items_follow_the_binomial():
    """Hand case: resampling [0, 1] gives means 0, 1/2, 1 with probabilities 1/4, 1/2, 1/4 (to 0.01 at B = 40000),
    so the 95% interval is (0, 1); a resampler without replacement would give only 1/2."""
    means = bootstrap_means(np.array([0.0, 1.0]), 40_000, np.random.default_rng(0))
    shares = [np.mean(means == v) for v in (0.0, 0.5, 1.0)]
    assert shares == pytest.approx([0.25, 0.5, 0.25], abs=0.01)
    assert percentile_interval(means) == (0.0, 1.0)


def test_cluster_resample_keeps_clusters_whole():
    """Every drawn cluster comes with all its members, and as many clusters are drawn as exist; resampling single
    items (the unclustered bootstrap) breaks this."""
    clusters = np.repeat(np.arange(6), [3, 1, 4, 2, 5, 3])
    for seed in range(5):
        idx = cluster_resample(clusters, np.random.default_rng(seed))
        counts = np.bincount(idx, minlength=len(clusters))
        for c in range(6):
            member_counts = counts[clusters == c]
            assert len(set(member_counts)) == 1, "a cluster was split"
        drawn = sum(counts[clusters == c][0] for c in range(6))
        assert drawn == 6, "the number of clusters drawn differs from the number of clusters"


def test_clustered_bootstrap_widens_by_root_cluster_size_when_members_agree():
    """Analytic case: 40 clusters of 8 identical scores. The clustered standard error is the one of 40 cluster means,
    sqrt(8) times the unclustered one over 320 'independent' items (to 10% at B = 2000)."""
    rng = np.random.default_rng(0)
    clusters = np.repeat(np.arange(40), 8)
    scores = np.repeat(rng.random(40), 8)
    naive = bootstrap_means(scores, 2000, np.random.default_rng(1)).std()
    clustered = clustered_bootstrap_means(scores, clusters, 2000, np.random.default_rng(2)).std()
    assert clustered / naive == pytest.approx(np.sqrt(8), rel=0.1)


def test_fast_clustered_means_match_the_slow_resample_loop():
    """The vectorised clustered means equal the means of `cluster_resample` draws: same clusters drawn from the same
    seed, so equal to float rounding (1e-12); a fast path that weighted clusters equally (ignoring their sizes)
    fails."""
    clusters = np.repeat(np.arange(6), [3, 1, 4, 2, 5, 3])
    scores = np.random.default_rng(0).random(len(clusters))
    fast = clustered_bootstrap_means(scores, clusters, 1, np.random.default_rng(3))
    slow = scores[cluster_resample(clusters, np.random.default_rng(3))].mean()
    assert fast[0] == pytest.approx(slow, abs=1e-12)


def test_paired_difference_resamples_the_same_prompts_for_both_models():
    """Two models with equal scores on every prompt differ by exactly 0 in every resample; resampling the models
    independently would not give 0."""
    rng = np.random.default_rng(0)
    clusters = np.repeat(np.arange(10), 4)
    scores = rng.random(40)
    diffs = paired_difference_means(scores, scores.copy(), clusters, 200, np.random.default_rng(1))
    assert np.all(diffs == 0.0)


def committed(name: str) -> dict:
    return json.loads((DAY_DIR / name).read_text())


def test_committed_prompts_follow_their_generating_rule():
    """Day 97's prompts.json is what `make_prompt_set` generates; a changed rule or seed shows up here."""
    assert committed("prompts.json")["prompts"] == make_prompt_set()["prompts"]


def test_validity_the_reference_scores_low_and_the_hacking_policy_high():
    """Day 97: day 17's model hacks on < 3% of continuations, day 96's beta = 0 proxy policy on > 95%, the policy
    trained on the rule on < 3%."""
    scores = committed("scores.json")
    mean = {name: np.mean(s["scores"]) for name, s in scores.items()}
    assert mean["reference"] < 0.03 and mean["proxy, β = 0"] > 0.95 and mean["true rule, β = 0.1"] < 0.03


@pytest.mark.slow
def test_rescoring_reproduces_the_committed_scores():
    from mechlearn.rl.evals import load_model, score_model

    prompts = [p["prompt"] for p in committed("prompts.json")["prompts"]]
    assert (
        score_model(load_model("reference"), prompts, 4, 24, 7)["scores"]
        == committed("scores.json")["reference"]["scores"]
    )
