r"""PPO fine-tuning of day 17's language model against a programmatic reward with a KL penalty (ARENA 2.4).

One iteration: sample continuations of a batch of training prompts from the current policy; score them
(reward at the last token, $-\beta$ log-ratio to the reference at every token, `mechlearn.rl.rlhf`); estimate
advantages with the project's GAE over the generated tokens ($\gamma = 1$: an episode is one continuation, and it
ends after its last token); then several epochs of PPO's clipped surrogate, value loss and entropy bonus
(`mechlearn.rl.ppo.ppo_loss`) on shuffled minibatches of sequences. Every `eval_every` iterations the policy is
measured on held-out prompts from the validation text with a fixed sampling seed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from mechlearn.rl.ppo import PPOArgs, ppo_loss
from mechlearn.rl.rlhf import (
    PolicyWithValueHead,
    bits_per_char,
    distinct_n,
    exact_kl_per_token,
    gather_logprobs,
    generated_logits,
    per_token_rewards,
    period_reward,
    prompt_pool,
    sample_continuations,
    token_advantages,
)
from mechlearn.transformers.model import DemoTransformer
from mechlearn.transformers.tiny_lm import load_tiny_lm
from torch import nn
from torch.distributions import Categorical
from tqdm.auto import tqdm

from mechlearn.artefacts import cached_json


@dataclass
class RLHFArgs:
    beta: float = 0.1
    """KL penalty coefficient: the reward, in full stops, that one nat of log-ratio costs"""
    seed: int = 0
    """seeds the value head, the prompt batches, the samples and the minibatch order"""
    iterations: int = 60
    """rollouts; each is followed by `update_epochs` passes over it"""
    batch_size: int = 32
    """prompts per rollout"""
    prompt_len: int = 16
    """characters of corpus text the continuation follows"""
    gen_len: int = 24
    """characters generated per prompt: about four words"""
    learning_rate: float = 3e-4
    """Adam's step size for the language model (at 1e-3 one iteration moved it 10 nats from the reference)"""
    value_learning_rate: float = 1e-3
    """Adam's step size for the value head"""
    update_epochs: int = 4
    """passes over each rollout"""
    num_minibatches: int = 2
    """minibatches of sequences per epoch"""
    gamma: float = 1.0
    """no discount: the reward for a continuation is the undiscounted sum of its token rewards"""
    gae_lambda: float = 0.95
    """GAE's lambda over the generated tokens"""
    clip_coef: float = 0.2
    """PPO's epsilon"""
    ent_coef: float = 0.001
    """entropy bonus (ARENA's value)"""
    vf_coef: float = 0.5
    """weight of the value loss"""
    max_grad_norm: float = 1.0
    """global gradient-norm clip"""
    n_train_prompts: int = 2000
    """training prompts, drawn from the training text"""
    n_eval_prompts: int = 64
    """held-out prompts, drawn from the validation text"""
    eval_every: int = 10
    """iterations between measurements on the held-out prompts"""
    n_samples_kept: int = 6
    """held-out continuations stored as text at each measurement"""

    def ppo_args(self) -> PPOArgs:
        """The settings `ppo_loss` reads; value clipping is off because returns here are counts, not O(1)."""
        return PPOArgs(clip_coef=self.clip_coef, ent_coef=self.ent_coef, vf_coef=self.vf_coef, clip_vloss=False)


@torch.no_grad()
def evaluate(
    policy: PolicyWithValueHead, ref: DemoTransformer, prompts: torch.Tensor, tokenizer, args: RLHFArgs, n_kept: int
) -> dict:
    """Reward, exact KL to the reference (summed over the generated tokens), the reference's bits per character
    and distinct character trigrams of continuations of `prompts`, sampled with the same seed every time."""
    P = args.prompt_len
    tokens, _ = sample_continuations(policy.base, prompts, args.gen_len, torch.Generator().manual_seed(12345))
    logits, ref_logits = policy.base(tokens), ref(tokens)
    texts = [tokenizer.decode(t[P:]) for t in tokens]
    ref_logprobs = gather_logprobs(ref_logits, tokens, P)
    kl = exact_kl_per_token(generated_logits(logits, P), generated_logits(ref_logits, P)).sum(-1)
    entropy = Categorical(logits=generated_logits(logits, P)).entropy().mean(-1)
    return {
        "reward": float(period_reward(texts).mean()),
        "kl": float(kl.mean()),
        "kl_sampled": float((gather_logprobs(logits, tokens, P) - ref_logprobs).sum(-1).mean()),
        "ref_bits_per_char": bits_per_char(ref_logprobs),
        "distinct_3": distinct_n(texts, 3),
        "entropy": float(entropy.mean()),
        "samples": [[tokenizer.decode(p), t] for p, t in zip(prompts[:n_kept], texts[:n_kept], strict=True)],
    }


def train_rlhf(args: RLHFArgs, progress: bool = False) -> dict:
    """Fine-tune a copy of day 17's model; returns the held-out measurements and per-iteration diagnostics."""
    torch.set_num_threads(1)
    ref, _, _ = load_tiny_lm()
    for p in ref.parameters():
        p.requires_grad_(False)
    policy = PolicyWithValueHead(ref, seed=args.seed)
    groups = [
        {"params": policy.base.parameters(), "lr": args.learning_rate},
        {"params": policy.value_head.parameters(), "lr": args.value_learning_rate},
    ]
    optimizer = torch.optim.Adam(groups, eps=1e-5)
    train_prompts, tokenizer = prompt_pool("train", args.n_train_prompts, args.prompt_len, seed=args.seed)
    eval_prompts, _ = prompt_pool("val", args.n_eval_prompts, args.prompt_len, seed=1000)
    gen = torch.Generator().manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    ppo_args, P, B = args.ppo_args(), args.prompt_len, args.batch_size
    mb_size = B // args.num_minibatches
    log: dict = {"args": asdict(args), "eval": [], "train": []}

    for it in tqdm(range(args.iterations + 1), disable=not progress, desc=f"RLHF beta={args.beta}"):
        if it % args.eval_every == 0 or it == args.iterations:
            log["eval"].append(
                {"iteration": it} | evaluate(policy, ref, eval_prompts, tokenizer, args, args.n_samples_kept)
            )
        if it == args.iterations:
            break
        prompts = train_prompts[torch.randint(0, len(train_prompts), (B,), generator=gen)]
        tokens, old_logprobs = sample_continuations(policy.base, prompts, args.gen_len, gen)
        with torch.no_grad():
            _, values = policy(tokens)
            values = values[:, P - 1 : -1]  # (B, gen): V of the state before each generated token
            ref_logprobs = gather_logprobs(ref(tokens), tokens, P)
            reward = period_reward([tokenizer.decode(t[P:]) for t in tokens])
            rewards = per_token_rewards(old_logprobs, ref_logprobs, reward, args.beta)
            advantages = token_advantages(rewards, values, args.gamma, args.gae_lambda)
            returns = advantages + values

        for _epoch in range(args.update_epochs):
            order = rng.permutation(B)
            for start in range(0, B, mb_size):
                mb = order[start : start + mb_size]
                new_logits, new_values = policy(tokens[mb])
                newlogprob = gather_logprobs(new_logits, tokens[mb], P)
                entropy = Categorical(logits=generated_logits(new_logits, P)).entropy()
                ratio = (newlogprob - old_logprobs[mb]).exp()
                loss, pg_loss, v_loss, ent = ppo_loss(
                    ratio.flatten(),
                    entropy.flatten(),
                    new_values[:, P - 1 : -1].flatten(),
                    advantages[mb].flatten(),
                    returns[mb].flatten(),
                    values[mb].flatten(),
                    ppo_args,
                )
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(policy.parameters(), args.max_grad_norm)
                optimizer.step()
        log["train"].append(
            {
                "iteration": it,
                "reward": float(reward.mean()),
                "kl_k1": float((old_logprobs - ref_logprobs).sum(-1).mean()),
                "policy_loss": pg_loss.item(),
                "value_loss": v_loss.item(),
                "entropy": ent.item(),
            }
        )
    return log


DEPENDS_ON = ["mechlearn.rl.rlhf_ppo"]

# The beta sweep lives beside day 92's notebook, found from this file so that days 92-93 and the tests load it from
# wherever they run (the suite executes each day in a temporary copy of its folder).
SWEEP_DIR = Path(__file__).resolve().parents[1] / "daily_logs" / "day-092-ppo-fine-tuning-against-a-programmatic-reward"


def trained_rlhf(args: RLHFArgs, directory: Path, name: str, progress: bool = False) -> dict:
    """`train_rlhf(args)`, cached as JSON at `directory / name` (remade when this module or one it imports changes)."""
    return cached_json(Path(directory) / name, lambda: train_rlhf(args, progress), DEPENDS_ON)


def sweep_run(beta: float, seed: int = 0, progress: bool = False) -> dict:
    """One run of the sweep: default settings at this `beta` and `seed`, cached in day 92's folder."""
    return trained_rlhf(RLHFArgs(beta=beta, seed=seed), SWEEP_DIR, f"rlhf_beta{beta:g}_seed{seed}.json", progress)
