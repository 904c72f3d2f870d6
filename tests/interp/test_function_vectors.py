"""ICL prompts, mean-head patching and function-vector addition, checked on hand-built cases."""

import pytest
import torch
from mechlearn.interp.function_vectors import (
    function_vector,
    head_outputs,
    indirect_effects,
    logits_with_vector,
    mean_head_z,
    patched_head_logits,
    top_heads,
)
from mechlearn.interp.icl_tasks import (
    ANTONYM_PAIRS,
    ARROW,
    BOS,
    SEP,
    TASK_NAMES,
    TOKEN_NAMES,
    apply_task,
    icl_batch,
    training_batch,
)
from transformer_lens import HookedTransformer, HookedTransformerConfig

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
ANTONYM = {a: b for pair in ANTONYM_PAIRS for a, b in (pair, pair[::-1])}


def reference_label(task: str, x: str) -> str:
    """f(x) from the token names, independently of the lookup tables."""
    if task in ("successor", "predecessor"):
        return str((int(x) + (1 if task == "successor" else -1)) % 20)
    return {"antonym": ANTONYM.get(x), "case": x.swapcase(), "copy": x}[task]


@pytest.mark.parametrize("task", TASK_NAMES)
def test_demonstration_labels_are_f_of_their_inputs_not_a_lookup_off_by_one(task):
    b = icl_batch(task, 8, 4, torch.Generator().manual_seed(0))
    names = [[TOKEN_NAMES[t] for t in row] for row in b.tokens.tolist()]
    for row, answer in zip(names, b.answers.tolist(), strict=True):
        assert row[0] == "<bos>" and row[-1] == "→" and len(row) == 4 * 4 + 3, "prompt layout"
        pairs = [(row[1 + 4 * i], row[3 + 4 * i]) for i in range(4)] + [(row[-2], TOKEN_NAMES[answer])]
        assert all(y == reference_label(task, x) for x, y in pairs), f"{task}: a label is not f(x): {pairs}"


def test_shuffled_labels_are_a_derangement_of_the_true_labels():
    gen = torch.Generator().manual_seed(1)
    for task in TASK_NAMES:
        b = icl_batch(task, 24, 5, gen, form="shuffled")
        true = apply_task(task, b.inputs)
        assert (b.labels.sort(1).values == true.sort(1).values).all(), "shuffled labels are not a permutation"
        assert (b.labels != true).all(), "a shuffled demonstration still shows its own label (not a derangement)"
        assert (b.tokens[:, 3:-2:4] == b.labels).all() and (b.tokens[:, -2] == b.query).all()


def test_zero_shot_prompt_is_bos_query_arrow():
    b = icl_batch("successor", 16, 5, torch.Generator().manual_seed(2), form="zero_shot")
    assert b.tokens.shape == (16, 3)
    assert (b.tokens[:, 0] == BOS).all() and (b.tokens[:, 2] == ARROW).all() and (b.tokens[:, 1] == b.query).all()


def test_training_targets_are_the_token_after_each_arrow_only():
    tokens, targets = training_batch(16, 3, torch.Generator().manual_seed(3))
    arrows = tokens == ARROW
    assert (targets[~arrows] == -1).all(), "a loss on a non-answer position"
    assert (targets[:, :-1][arrows[:, :-1]] == tokens[:, 1:][arrows[:, :-1]]).all()
    assert (tokens[:, 4:-2:4] == SEP).all()


def hand_built(vocab: int = 10, pos: int = 6) -> HookedTransformer:
    """One attention-only layer, no LayerNorm, one-hot embeddings and unembedding. Head 0 attends uniformly and
    writes 5 x (the mean one-hot of the tokens it sees) into the logits: it is hard-wired to matter. Head 1 has
    W_O = 0: it cannot matter."""
    cfg = HookedTransformerConfig(
        n_layers=1, d_model=vocab, n_ctx=pos, d_head=vocab, n_heads=2, d_vocab=vocab, attn_only=True,
        normalization_type=None, positional_embedding_type="standard", seed=0, device="cpu",
    )  # fmt: skip
    model = HookedTransformer(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.W_E.copy_(torch.eye(vocab))
        model.W_U.copy_(torch.eye(vocab))
        model.blocks[0].attn.W_V[0].copy_(torch.eye(vocab))
        model.blocks[0].attn.W_O[0].copy_(5 * torch.eye(vocab))
        model.blocks[0].attn.W_V[1].copy_(torch.eye(vocab))
    return model.eval()


@pytest.fixture(scope="module")
def toy():
    model = hand_built()
    clean = torch.tensor([[0, 3, 3, 3, 1, 3]] * 4)  # answer 3 is everywhere in the clean prompts
    shuffled = torch.tensor([[0, 4, 5, 6, 1, 2], [0, 5, 6, 4, 1, 7], [0, 6, 4, 5, 1, 8], [0, 4, 4, 6, 1, 9]])
    return model, clean, shuffled, torch.full((4,), 3)


def test_patched_head_matches_hand_computed_logits_at_the_last_position_only(toy):
    model, clean, shuffled, _ = toy
    z = mean_head_z(model, clean)
    out = head_outputs(model, z)
    assert torch.allclose(out[0, 0], 5 * torch.tensor([1, 1, 0, 4, 0, 0, 0, 0, 0, 0]) / 6), "mean output of head 0"
    base = model(shuffled)
    patched = patched_head_logits(model, shuffled, 0, 0, z[0, 0])
    _, cache = model.run_with_cache(shuffled)
    own = cache["z", 0][:, -1, 0] @ model.W_O[0, 0]  # head 0's own output on the shuffled prompts
    expected = base[:, -1] + out[0, 0] - own  # W_U = I, no LayerNorm: logits move by exactly the output's change
    assert torch.allclose(patched[:, -1], expected, atol=1e-5), "the patch is not the mean output at the last position"
    assert torch.equal(patched[:, :-1], base[:, :-1]), "the patch reached an earlier position"


def test_aie_is_large_for_the_wired_head_and_exactly_zero_for_the_head_with_no_output(toy):
    model, clean, shuffled, answers = toy
    aie = indirect_effects(model, mean_head_z(model, clean), shuffled, answers)
    assert aie[0, 1] == 0.0, "a head with W_O = 0 was credited with an effect"
    assert aie[0, 0] > 0.3, f"the head that writes the answer has AIE {aie[0, 0]:.3f}"
    assert top_heads(aie, 1) == [(0, 0)]


def test_function_vector_sums_the_chosen_heads_outputs():
    outputs = torch.arange(2 * 3 * 4, dtype=torch.float).view(2, 3, 4)
    assert torch.equal(function_vector(outputs, [(1, 2), (0, 1)]), outputs[1, 2] + outputs[0, 1])


def test_added_vector_changes_only_the_last_position_by_the_expected_amount(toy):
    model, _, shuffled, _ = toy
    v = torch.randn(10, generator=torch.Generator().manual_seed(0))
    base = model(shuffled)
    after = logits_with_vector(model, shuffled, 1, v)  # after the last block: logits move by v @ W_U = v
    assert torch.allclose(after[:, -1] - base[:, -1], v.expand(4, -1), atol=1e-5)
    before = logits_with_vector(model, shuffled, 0, v)  # before the block: v, plus head 0's share 5 v / 6
    assert torch.allclose(before[:, -1] - base[:, -1], (v + 5 * v / 6).expand(4, -1), atol=1e-5)
    assert torch.equal(before[:, :-1], base[:, :-1]), "the vector was added at earlier positions too"


def uniform_model(vocab: int, pos: int, d_model: int = 8) -> HookedTransformer:
    """All weights zero except random embeddings/unembedding: every head attends uniformly to the positions it sees."""
    cfg = HookedTransformerConfig(
        n_layers=1, d_model=d_model, n_ctx=pos, d_head=4, n_heads=2, d_vocab=vocab, attn_only=True,
        normalization_type=None, seed=0, device="cpu",
    )  # fmt: skip
    model = HookedTransformer(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name not in ("embed.W_E", "unembed.W_U"):
                p.zero_()
    return model.eval()


def test_attention_roles_of_a_uniform_head_are_the_role_counts_not_shifted_by_one():
    from mechlearn.interp.fv_experiments import ROLES, attention_by_role
    from mechlearn.interp.icl_tasks import D_VOCAB

    b = icl_batch("successor", 4, 2, torch.Generator().manual_seed(4))  # 11 tokens
    roles = attention_by_role(uniform_model(D_VOCAB, 11), b)
    counts = torch.tensor([1, 2, 2, 2, 2, 1, 1.0]) / 11  # BOS, x_i, arrows, y_i, separators, x_q, last arrow
    assert len(ROLES) == 7 and torch.allclose(roles[0, 0], counts), roles[0, 0]


def test_mean_difference_and_transplant_against_direct_cache_reads():
    from mechlearn.interp.fv_diagnostics import mean_difference_vectors, transplant_answers

    model = hand_built()
    a = torch.tensor([[0, 3, 3, 3, 1, 3], [0, 2, 3, 4, 1, 5]])
    b = torch.tensor([[0, 4, 5, 6, 1, 2], [0, 9, 9, 9, 1, 9]])
    diff = mean_difference_vectors(model, a, b)
    _, ca = model.run_with_cache(a)
    _, cb = model.run_with_cache(b)
    assert torch.allclose(diff[1], ca["resid_post", 0][:, -1].mean(0) - cb["resid_post", 0][:, -1].mean(0))
    assert torch.allclose(diff[0], ca["resid_pre", 0][:, -1].mean(0) - cb["resid_pre", 0][:, -1].mean(0))
    with torch.no_grad():
        own_a, own_b = model(a)[:, -1].argmax(-1), model(b)[:, -1].argmax(-1)
    assert torch.equal(transplant_answers(model, a, b, "blocks.0.hook_resid_post"), own_b), "did not take the donor"
    assert torch.equal(transplant_answers(model, a, a, "blocks.0.hook_resid_pre"), own_a), "self-transplant moved"


def test_function_vectors_stack_one_vector_per_task():
    from mechlearn.interp.fv_experiments import function_vectors

    model = hand_built()
    means = torch.randn(3, 1, 2, 10, generator=torch.Generator().manual_seed(5))  # (task, layer, head, d_head)
    fvs = function_vectors(model, means, [(0, 0), (0, 1)])
    for t in range(3):
        assert torch.allclose(fvs[t], sum(means[t, 0, h] @ model.W_O[0, h] for h in range(2)), atol=1e-6)
