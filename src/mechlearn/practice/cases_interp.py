"""Cases for the interpretability exercises: attention scores on hand-made patterns whose score is known (as
tests/interp/test_interp_scores.py), composition against dense Frobenius norms, hooks and logit differences by hand."""

from __future__ import annotations

import math

from mechlearn.practice.cases import case, expect, expect_close, expect_equal

L = 5  # segment length of [BOS, t_1..t_5, t_1..t_5]
N = 2 * L + 1


def _one_hot_pattern(target):
    """A (1, 1, N, N) pattern where query q puts all its attention on key target(q)."""
    import torch

    p = torch.zeros(1, 1, N, N)
    for q in range(N):
        p[0, 0, q, target(q)] = 1.0
    return p


def _patterns():
    return {
        "previous-token": _one_hot_pattern(lambda q: max(q - 1, 0)),
        "duplicate-token": _one_hot_pattern(lambda q: q - L if q > L else q),
        "induction": _one_hot_pattern(lambda q: q - L + 1 if q > L else q),
    }


def _random_pattern():
    import torch

    scores = torch.randn(3, 2, N, N, generator=torch.Generator().manual_seed(0))
    return scores.masked_fill(~torch.tril(torch.ones(N, N, dtype=torch.bool)), -1e9).softmax(-1)


def _score_cases(exercise: str, rule: str, offset: int, first_query: int, takes_seq_len: bool):
    """Two cases for one score: one-hot patterns (1 on its own rule, 0 on the others) and a slow loop."""

    def call(fn, pattern):
        return fn(pattern, L) if takes_seq_len else fn(pattern)

    def scores_one_on_its_rule_only(fn):
        for name, pattern in _patterns().items():
            expected = 1.0 if name == rule else 0.0
            got = float(call(fn, pattern)[0])
            inputs = {"pattern": f"every query attends to its {name} key (seq_len {L})"}
            expect(got == expected, f"score of a pure {name} pattern", inputs, expected, got)

    def matches_a_slow_loop(fn):
        import torch

        p = _random_pattern()
        queries = [(b, q) for b in range(3) for q in range(first_query, N)]
        slow = torch.stack([torch.stack([p[b, h, q, q - offset] for b, q in queries]).mean() for h in range(2)])
        expect_close("scores of 2 heads on random causal patterns", call(fn, p), slow, {"pattern": p}, 1e-6)

    scores_one_on_its_rule_only.__doc__ = f"One-hot patterns: the {rule} pattern scores 1, the other rules 0."
    matches_a_slow_loop.__doc__ = (
        f"Random causal patterns (batch 3, 2 heads): the mean of A[q, q - {offset}] over queries q >= {first_query}."
    )
    for fn in (scores_one_on_its_rule_only, matches_a_slow_loop):
        fn.__qualname__ = fn.__name__
        case(exercise)(fn)


_score_cases("previous_token_score", "previous-token", 1, 1, takes_seq_len=False)
_score_cases("duplicate_token_score", "duplicate-token", L, L + 1, takes_seq_len=True)
_score_cases("induction_score", "induction", L - 1, L + 1, takes_seq_len=True)


@case("ablate_head_hook")
def zeroes_one_head_only(fn):
    """Zero ablation of head 1 of 3: that head's z is 0, the others untouched, and the input is not changed."""
    import torch

    z = torch.randn(2, 4, 3, 5, generator=torch.Generator().manual_seed(1))
    before = z.clone()
    out = fn(z, None, head=1)
    expected = before.clone()
    expected[:, :, 1] = 0.0
    expect_close("ablated z", out, expected, {"z": before, "head": 1}, 0)
    expect_equal("z after the hook (changed in place?)", z, before, {"z": before})


@case("ablate_head_hook")
def mean_replacement_broadcasts_over_the_batch(fn):
    """Mean ablation: head 0 outputs replacement[pos] for every sequence of the batch."""
    import torch

    g = torch.Generator().manual_seed(2)
    z, replacement = torch.randn(3, 4, 2, 5, generator=g), torch.randn(4, 5, generator=g)
    out = fn(z, None, head=0, replacement=replacement)
    expected = z.clone()
    expected[:, :, 0] = replacement
    expect_close("ablated z", out, expected, {"z": z, "replacement": replacement}, 0)


@case("composition_score")
def projections_by_hand(fn):
    """A rank-3 projection P: comp(P, P) = ||P||/||P||^2 = 1/sqrt(3); an orthogonal projection Q: comp(P, Q) = 0."""
    import torch

    P = torch.diag(torch.tensor([1.0, 1, 1, 0, 0, 0]))
    Q = torch.diag(torch.tensor([0.0, 0, 0, 1, 1, 0]))
    got = torch.stack([torch.as_tensor(fn(P, P)), torch.as_tensor(fn(P, Q))])
    expect_close("(comp(P, P), comp(P, Q))", got, torch.tensor([3**-0.5, 0.0]), {"P": P, "Q": Q}, 1e-6)


@case("composition_score")
def factored_matrices_match_dense(fn):
    """Random low-rank FactoredMatrix inputs (8 x 2 x 8): equal to the dense Frobenius formula."""
    import torch
    from transformer_lens import FactoredMatrix

    g = torch.Generator().manual_seed(3)
    A1, B1, A2, B2 = (torch.randn(*s, generator=g) for s in [(8, 2), (2, 8), (8, 2), (2, 8)])
    WA, WB = A1 @ B1, A2 @ B2
    dense = torch.linalg.norm(WA @ WB) / (torch.linalg.norm(WA) * torch.linalg.norm(WB))
    got = fn(FactoredMatrix(A1, B1), FactoredMatrix(A2, B2))
    expect_close("composition score", torch.as_tensor(got), dense, {"W_A": WA, "W_B": WB}, 1e-5)


@case("top1_copying_accuracy")
def identity_and_derangement(fn):
    """The identity copies every token (1.0), a cyclic shift none (0.0)."""
    import torch
    from transformer_lens import FactoredMatrix

    eye = FactoredMatrix(torch.eye(6), torch.eye(6))
    shift = FactoredMatrix(torch.eye(6), torch.roll(torch.eye(6), 1, dims=1))
    got = [fn(eye), fn(shift)]
    expect_close("(identity, shift)", torch.tensor(got), torch.tensor([1.0, 0.0]), {"size": 6}, 0)


@case("top1_copying_accuracy")
def skips_the_first_rows(fn):
    """Only row 0 fails to copy; with skip = 1 (BOS left out) the accuracy is 1, with skip = 0 it is 5/6."""
    import torch
    from transformer_lens import FactoredMatrix

    M = torch.eye(6)
    M[0] = torch.tensor([0.0, 1, 0, 0, 0, 0])
    fm = FactoredMatrix(M, torch.eye(6))
    expect_close("(skip=1, skip=0)", torch.tensor([fn(fm), fn(fm, skip=0)]), torch.tensor([1.0, 5 / 6]), {"M": M}, 1e-7)


@case("chance_accuracy")
def majority_class_by_hand(fn):
    """Labels (0, 1, 1, 2, 1, 0): class 1 holds 3 of 6, so always guessing it scores 0.5."""
    import torch

    y = torch.tensor([0, 1, 1, 2, 1, 0])
    got = fn(y)
    expect(math.isclose(float(got), 0.5), "chance accuracy", {"y": y}, 0.5, got)


@case("logit_diff")
def logit_diff_by_hand(fn):
    """Last-position logits (1, 4, 2) and (0, -1, 3); answers (1, 2), wrong (0, 1): mean(3, 4) = 3.5."""
    import torch

    logits = torch.zeros(2, 2, 3)
    logits[:, -1] = torch.tensor([[1.0, 4.0, 2.0], [0.0, -1.0, 3.0]])
    logits[:, 0] = 100.0  # earlier positions must be ignored
    answer, wrong = torch.tensor([1, 2]), torch.tensor([0, 1])
    got = fn(logits, answer, wrong)
    inputs = {"logits": logits, "answer": answer, "wrong": wrong}
    expect(math.isclose(float(got), 3.5, abs_tol=1e-6), "logit difference", inputs, 3.5, got)


@case("logit_diff_direction")
def direction_by_hand(fn):
    """W_U (2 x 3); answers (2, 0), wrong (1, 2): rows W_U[:, 2] - W_U[:, 1] and W_U[:, 0] - W_U[:, 2]."""
    import types

    import torch

    W_U = torch.tensor([[1.0, 2.0, 5.0], [0.0, -1.0, 3.0]])
    model = types.SimpleNamespace(W_U=W_U)
    answer, wrong = torch.tensor([2, 0]), torch.tensor([1, 2])
    expected = torch.tensor([[3.0, 4.0], [-4.0, -3.0]])
    expect_close("direction", fn(model, answer, wrong), expected, {"W_U": W_U, "answer": answer, "wrong": wrong}, 0)


# ---- superposition and sparse autoencoders (days 47-51) ------------------------------------------------------


@case("feature_dimensionality")
def known_geometries(fn):
    """Hand-built columns: an isolated unit feature has D = 1, an antipodal pair 1/2 each, a regular pentagon 2/5
    each, a zero column 0 (one instance each, padded to 5 features)."""
    import torch

    angles = torch.arange(5) * 2 * math.pi / 5
    pentagon = torch.stack([angles.cos(), angles.sin()])
    pair = torch.tensor([[1.0, -1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0]])
    W = torch.stack([pentagon, pair])  # (inst=2, d_hidden=2, feats=5)
    expected = torch.tensor([[0.4] * 5, [0.5, 0.5, 1.0, 0.0, 0.0]])
    expect_close("D", fn(W), expected, {"W": W}, atol=1e-5)


@case("feature_dimensionality")
def matches_a_loop(fn):
    """Random columns of random lengths (3 instances, 4 dimensions, 7 features) against the formula, one feature
    at a time."""
    import torch

    W = torch.randn(3, 4, 7, generator=torch.Generator().manual_seed(0))
    expected = torch.zeros(3, 7)
    for i in range(3):
        for f in range(7):
            w = W[i, :, f]
            w_hat = w / w.norm()
            expected[i, f] = w.norm() ** 2 / sum((w_hat @ W[i, :, j]) ** 2 for j in range(7))
    expect_close("D", fn(W), expected, {"W": W}, atol=1e-5)


def _sae(variant: str, **cfg):
    import torch

    from mechlearn.interp.sae import SAEConfig
    from mechlearn.interp.sae_variants import make_sae

    sae = make_sae(variant, SAEConfig(d_in=4, d_sae=6, seed=0, **cfg))
    with torch.no_grad():
        for p in sae.parameters():
            p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    return sae


@case("StandardSAE.encode")
def relu_of_the_affine_map(fn):
    """Random weights and biases: f = ReLU((x - b_dec) W_enc + b_enc), latent by latent. Forgetting to subtract
    b_dec, or the ReLU, fails here."""
    import torch

    sae = _sae("standard")
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(1))
    expected = torch.zeros(5, 6)
    with torch.no_grad():
        for n in range(5):
            for i in range(6):
                expected[n, i] = max(0.0, float((x[n] - sae.b_dec) @ sae.W_enc[:, i] + sae.b_enc[i]))
    expect_close("f", fn(sae, x).detach(), expected, {"x": x}, atol=1e-5)


@case("TopKSAE.encode")
def keeps_the_k_largest(fn):
    """k = 2 of 6 latents: per input, the two largest pre-activations survive (ReLU'd), every other is 0."""
    import torch

    sae = _sae("topk", k=2)
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        pre = (x - sae.b_dec) @ sae.W_enc + sae.b_enc
    expected = torch.zeros(5, 6)
    for n in range(5):
        for i in sorted(range(6), key=lambda i: -float(pre[n, i]))[:2]:
            expected[n, i] = max(0.0, float(pre[n, i]))
    expect_close("f", fn(sae, x).detach(), expected, {"x": x, "k": 2}, atol=1e-5)
