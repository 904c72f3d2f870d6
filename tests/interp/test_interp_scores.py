"""Every attention score on hand-made patterns whose score is known, and against a slow loop on random patterns."""

import torch
from mechlearn.interp.scores import all_scores, duplicate_token_score, induction_score, previous_token_score

L = 5  # segment length: positions 0 (BOS), 1..5, 6..10
N = 2 * L + 1


def one_hot_pattern(target) -> torch.Tensor:
    """A (1, 1, N, N) pattern where query q puts all its attention on key target(q)."""
    p = torch.zeros(1, 1, N, N)
    for q in range(N):
        p[0, 0, q, target(q)] = 1.0
    return p


def test_previous_token_pattern_scores_one_on_its_rule_only():
    p = one_hot_pattern(lambda q: max(q - 1, 0))
    assert previous_token_score(p).item() == 1.0, "previous-token offset wrong (expected key q-1)"
    assert induction_score(p, L).item() == 0.0, "induction score picks up the previous token"
    assert duplicate_token_score(p, L).item() == 0.0, "duplicate score picks up the previous token"


def test_induction_pattern_scores_one_and_duplicate_pattern_is_distinguished():
    ind = one_hot_pattern(lambda q: q - L + 1 if q > L else q)
    dup = one_hot_pattern(lambda q: q - L if q > L else q)
    assert induction_score(ind, L).item() == 1.0, "induction key should be the token after the earlier copy"
    assert duplicate_token_score(ind, L).item() == 0.0, "duplicate and induction keys confused (off by one)"
    assert duplicate_token_score(dup, L).item() == 1.0, "duplicate key should be the earlier copy itself"
    assert induction_score(dup, L).item() == 0.0, "induction and duplicate keys confused (off by one)"


def test_half_and_half_pattern_scores_one_half():
    p = 0.5 * one_hot_pattern(lambda q: max(q - 1, 0)) + 0.5 * one_hot_pattern(lambda q: q - L + 1 if q > L else q)
    assert abs(induction_score(p, L).item() - 0.5) < 1e-7, "induction score should be the mean mass on its key"
    # previous-token: every q >= 1 gives 0.5 from the first half, plus 0.5 more for q <= L (second term is q itself)
    assert abs(previous_token_score(p).item() - 0.5) < 1e-7, "previous-token score should be the mean mass"


def test_uniform_causal_pattern_matches_closed_form():
    q = torch.arange(N, dtype=torch.float64)
    p = torch.tril(torch.ones(N, N, dtype=torch.float64)) / (q[:, None] + 1)
    p = p[None, None]
    prev = sum(1 / (k + 1) for k in range(1, N)) / (N - 1)
    ind = sum(1 / (k + 1) for k in range(L + 1, N)) / L
    assert abs(previous_token_score(p).item() - prev) < 1e-12, "uniform pattern: wrong set of queries averaged"
    assert abs(induction_score(p, L).item() - ind) < 1e-12, "uniform pattern: wrong set of queries averaged"
    assert abs(duplicate_token_score(p, L).item() - ind) < 1e-12, "uniform pattern: wrong set of queries averaged"


def test_vectorised_scores_match_a_slow_loop_on_random_patterns():
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(3, 2, N, N, generator=g).masked_fill(~torch.tril(torch.ones(N, N, dtype=torch.bool)), -1e9)
    p = scores.softmax(-1)
    got = all_scores([p], L)
    for h in range(2):
        slow = {"previous_token": [], "duplicate_token": [], "induction": []}
        for b in range(3):
            for q in range(1, N):
                slow["previous_token"].append(p[b, h, q, q - 1])
            for q in range(L + 1, N):
                slow["duplicate_token"].append(p[b, h, q, q - L])
                slow["induction"].append(p[b, h, q, q - L + 1])
        for name, values in slow.items():
            assert torch.allclose(got[name][0, h], torch.stack(values).mean(), atol=1e-6), f"{name} != slow loop"
