"""RLHF's pieces (`mechlearn.rl.rlhf`) against hand-computed values and independent references.

A small random `DemoTransformer` stands in for day 17's model: the pieces do not depend on its weights.
"""

import math

import pytest
import torch
from mechlearn.rl.advantages import discounted_returns
from mechlearn.rl.rlhf import (
    PolicyWithValueHead,
    bits_per_char,
    distinct_n,
    exact_kl_per_token,
    gather_logprobs,
    per_token_rewards,
    period_reward,
    sample_continuations,
    token_advantages,
)
from mechlearn.transformers.config import Config
from mechlearn.transformers.model import DemoTransformer


@pytest.fixture(scope="module")
def model() -> DemoTransformer:
    torch.manual_seed(0)
    cfg = Config(d_model=16, n_layers=2, n_heads=2, d_head=8, d_mlp=32, d_vocab=11, n_ctx=16, init_range=0.5)
    return DemoTransformer(cfg).eval()


def test_kl_is_of_policy_from_reference_not_reversed():
    """KL(pi || ref) = sum_a pi(a) log(pi(a) / ref(a)), summed by hand in float64 (to 1e-12)."""
    g = torch.Generator().manual_seed(0)
    logits, ref_logits = (torch.randn(3, 5, 7, generator=g, dtype=torch.float64) for _ in range(2))
    log_p, log_q = logits.log_softmax(-1), ref_logits.log_softmax(-1)
    by_hand = (log_p.exp() * (log_p - log_q)).sum(-1)
    assert torch.allclose(exact_kl_per_token(logits, ref_logits), by_hand, atol=1e-12), "KL direction swapped?"


def test_sampled_log_ratio_is_an_unbiased_kl_estimate():
    """The per-token penalty log pi(y) - log ref(y), y ~ pi, averages to the exact KL (within 4 standard errors)."""
    g = torch.Generator().manual_seed(1)
    logits, ref_logits = torch.randn(7, generator=g, dtype=torch.float64), torch.randn(7, generator=g).double()
    y = torch.multinomial(logits.softmax(-1), 200_000, replacement=True, generator=g)
    log_ratio = logits.log_softmax(-1)[y] - ref_logits.log_softmax(-1)[y]
    exact = exact_kl_per_token(logits, ref_logits)
    assert abs(log_ratio.mean() - exact) < 4 * log_ratio.std() / math.sqrt(len(y))


def test_sampling_logprobs_equal_a_fresh_forward_pass_not_shifted_by_one(model):
    """The log-probs recorded while sampling with the KV cache equal the gathered log-softmax of one forward pass
    over the finished sequence (logits at position t score token t + 1), to 1e-5 in float32."""
    prompts = torch.randint(0, 11, (4, 5), generator=torch.Generator().manual_seed(2))
    tokens, logprobs = sample_continuations(model, prompts, 6, torch.Generator().manual_seed(3))
    assert tokens.shape == (4, 11) and torch.equal(tokens[:, :5], prompts)
    with torch.no_grad():
        fresh = gather_logprobs(model(tokens), tokens, 5)
    assert torch.allclose(fresh, logprobs, atol=1e-5)


def test_policy_at_step_zero_is_the_reference_and_trainable_copy(model):
    """The policy's logits equal the reference's exactly; its weights are a trainable copy, even of a frozen model."""
    frozen = DemoTransformer(model.cfg).eval()
    frozen.load_state_dict(model.state_dict())
    frozen.requires_grad_(False)
    policy = PolicyWithValueHead(frozen)
    tokens = torch.randint(0, 11, (2, 9), generator=torch.Generator().manual_seed(4))
    logits, values = policy(tokens)
    assert torch.equal(logits, frozen(tokens)) and values.shape == (2, 9)
    assert all(p.requires_grad for p in policy.base.parameters()), "the copy kept the frozen model's requires_grad"
    with torch.no_grad():
        policy.base.embed.W_E.add_(1.0)
    assert torch.equal(frozen.embed.W_E, model.embed.W_E), "the policy shares weights with the reference"


def test_period_reward_counts_full_stops_in_hand_written_strings():
    texts = ["a. b.", "", "...", "no stop here", "e.g. x", ",;:!?"]
    assert period_reward(texts).tolist() == [2.0, 0.0, 3.0, 0.0, 2.0, 0.0]


def test_per_token_rewards_put_the_penalty_on_every_token_and_the_reward_on_the_last():
    """Hand-built: log-ratios (0.5, -1, 0), beta 0.5, reward 3 -> (-0.25, 0.5, 0 + 3)."""
    logprobs = torch.tensor([[-1.0, -2.0, -0.5]])
    ref_logprobs = torch.tensor([[-1.5, -1.0, -0.5]])
    rewards = per_token_rewards(logprobs, ref_logprobs, torch.tensor([3.0]), beta=0.5)
    assert torch.allclose(rewards, torch.tensor([[-0.25, 0.5, 3.0]]))
    assert torch.equal(logprobs, torch.tensor([[-1.0, -2.0, -0.5]])), "the inputs were changed in place"


def test_token_advantages_with_lambda_one_and_zero_values_are_rewards_to_go():
    """gamma = lambda = 1, V = 0: GAE is the undiscounted reward-to-go within each continuation, and nothing leaks
    from one continuation into the next (each ends after its last token)."""
    rewards = torch.tensor([[0.1, -0.2, 3.0], [0.0, 0.5, 1.0]])
    advantages = token_advantages(rewards, torch.zeros_like(rewards), gamma=1.0, gae_lambda=1.0)
    expected = torch.tensor([discounted_returns(row.tolist(), 1.0) for row in rewards])
    assert torch.allclose(advantages, expected, atol=1e-6)


def test_token_advantages_do_not_bootstrap_past_the_last_token():
    """lambda = 0 is one-step TD: at the last token the advantage is r_T - V(s_T), with no V after it."""
    rewards, values = torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 5.0]])
    advantages = token_advantages(rewards, values, gamma=1.0, gae_lambda=0.0)
    assert torch.allclose(advantages, torch.tensor([[0.0 + 5.0 - 1.0, 2.0 - 5.0]]))


def test_quality_measures_on_hand_written_cases():
    """Distinct trigrams: 'aaaa' has one distinct of two; 'abcd' two of two. Bits per char of p = 1/4 is 2."""
    assert distinct_n(["aaaa"], 3) == 0.5 and distinct_n(["abcd"], 3) == 1.0
    assert distinct_n(["aaaa", "abcd"], 3) == 0.75
    assert bits_per_char(torch.full((2, 3), math.log(0.25))) == pytest.approx(2.0, abs=1e-6)
