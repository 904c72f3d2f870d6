"""Path patching against cases whose answer is known: a hand-wired 2-layer model and activation patching."""

import warnings
from functools import partial

import pytest
import torch
from mechlearn.interp.ioi_hand_model import hand_wired_model
from mechlearn.interp.path_patching import path_patch, z_cache

warnings.filterwarnings("ignore", message=".*HookedTransformer is deprecated.*")
from transformer_lens import HookedTransformer, HookedTransformerConfig  # noqa: E402


def logit_gap(logits: torch.Tensor) -> torch.Tensor:
    return (logits[:, -1, 1] - logits[:, -1, 3]).mean()


@pytest.fixture(scope="module")
def hand_case():
    model = hand_wired_model()
    clean = torch.tensor([[0, 1, 1, 2], [0, 1, 2, 1]])
    corrupted = torch.tensor([[0, 3, 3, 2], [0, 3, 2, 3]])
    clean_value = logit_gap(model(clean)).item()
    corrupted_value = logit_gap(model(corrupted)).item()
    assert abs(clean_value - corrupted_value) > 0.1, "the hand case must have an effect to route"
    patch = partial(path_patch, model, clean, metric=logit_gap, clean_cache=z_cache(model, clean),
                    corrupted_cache=z_cache(model, corrupted))  # fmt: skip
    return patch, clean_value, corrupted_value


def test_path_into_the_value_of_head_1_1_carries_the_whole_effect(hand_case):
    patch, clean_value, corrupted_value = hand_case
    value = patch([(0, 0)], "v", receivers=[(1, 1)])
    assert value == pytest.approx(corrupted_value, abs=1e-6), "sender's corrupted output not delivered to the receiver"


def test_direct_path_from_head_0_0_to_logits_is_zero_when_other_heads_are_frozen(hand_case):
    """Catches a step 2 that recomputes the non-sender heads: head 1.1 would pass 0.0's change on to the logits."""
    patch, clean_value, _ = hand_case
    assert patch([(0, 0)], "resid") == pytest.approx(clean_value, abs=1e-6), "effect leaked through a non-sender"


def test_query_and_key_paths_carry_nothing_when_attention_ignores_them(hand_case):
    patch, clean_value, _ = hand_case
    for receiver_input in ("q", "k"):
        assert patch([(0, 0)], receiver_input, receivers=[(1, 1)]) == pytest.approx(clean_value, abs=1e-6)


def test_path_to_the_final_residual_equals_activation_patching_for_last_layer_heads():
    """With no later layer, freezing other heads changes nothing: path patching a layer-1 head into the final
    residual stream is activation patching of that head (MLPs and LayerNorms recompute in both). Tolerance 1e-5
    (float32). Catches receivers patched from the wrong run or at the wrong hook."""
    cfg = HookedTransformerConfig(
        n_layers=2, d_model=16, n_ctx=6, d_head=4, n_heads=3, d_vocab=11, d_mlp=32, act_fn="gelu", seed=3
    )
    model = HookedTransformer(cfg).eval()
    g = torch.Generator().manual_seed(0)
    clean, corrupted = torch.randint(0, 11, (5, 6), generator=g), torch.randint(0, 11, (5, 6), generator=g)
    metric = lambda logits: logits[:, -1, 2].mean()  # noqa: E731
    clean_z, corrupted_z = z_cache(model, clean), z_cache(model, corrupted)
    swept = torch.tensor([path_patch(model, clean, [(1, h)], "resid", metric, clean_z, corrupted_z) for h in range(3)])
    for head in range(3):

        def patch(z, hook, head=head):
            z = z.clone()
            z[:, :, head] = corrupted_z["z", 1][:, :, head]
            return z

        with torch.no_grad():
            reference = metric(model.run_with_hooks(clean, fwd_hooks=[("blocks.1.attn.hook_z", patch)])).item()
        assert swept[head].item() == pytest.approx(reference, abs=1e-5)
    assert not torch.allclose(swept, swept[:1].expand(3)), "the heads should differ in a random model"
