r"""A learned proxy reward and what PPO does to it (specification gaming; Gao et al. 2023's over-optimisation).

The *true* reward is a rule: the number of sentence ends in a continuation, a full stop that follows a letter and
is followed by whitespace (`sentence_end_reward`). The *proxy* is a reward model fitted to preferences that the rule
labels, on pairs of day 17's own samples, with the Bradley–Terry likelihood
$$P(a \succ b) = \sigma\bigl(r_\phi(a) - r_\phi(b)\bigr), \qquad
    \mathcal L(\phi) = -\frac1N \sum_{(a \succ b)} \log \sigma\bigl(r_\phi(a) - r_\phi(b)\bigr).$$
Its capacity is deliberately small: $r_\phi(y) = w^\top c(y)$ with $c(y)$ the count of each character in $y$
(a bag of characters, blind to order). On the model's own writing nearly every full stop ends a sentence, so the
fit can score well there while it cannot tell "word. " from "....": the two agree on typical text and part at
the extremes, which is where optimisation pushes. PPO (the RLHF days' machinery) then maximises the proxy.
"""

from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from jaxtyping import Float, Int
from mechlearn.rl.ppo import ppo_loss
from mechlearn.rl.rlhf import (
    PolicyWithValueHead,
    gather_logprobs,
    generated_logits,
    per_token_rewards,
    prompt_pool,
    sample_continuations,
    token_advantages,
)
from mechlearn.rl.rlhf_ppo import RLHFArgs, evaluate
from mechlearn.transformers.tiny_lm import load_tiny_lm
from mechlearn.transformers.training import CharTokenizer
from torch import Tensor, nn
from torch.distributions import Categorical

from mechlearn.artefacts import cached_json, cached_tensors

SENTENCE_END = re.compile(r"[A-Za-z]\.(?=\s)")
"""A full stop after a letter and before whitespace: the end of a sentence, as the true rule counts it"""


def sentence_end_reward(continuations: list[str]) -> Float[Tensor, " batch"]:
    """The true reward: how many sentence ends each continuation contains."""
    return torch.tensor([float(len(SENTENCE_END.findall(text))) for text in continuations])


def char_counts(continuations: list[str], tokenizer: CharTokenizer) -> Float[Tensor, "batch d_vocab"]:
    """$c(y)$: how often each character of the vocabulary occurs in each continuation."""
    counts = torch.zeros(len(continuations), len(tokenizer.chars))
    for i, text in enumerate(continuations):
        counts[i] += torch.bincount(tokenizer.encode(text), minlength=len(tokenizer.chars))
    return counts


def bradley_terry_loss(r_chosen: Float[Tensor, " pairs"], r_rejected: Float[Tensor, " pairs"]) -> Tensor:
    r"""$-\frac1N\sum \log\sigma(r_a - r_b)$: the negative log-likelihood of the labelled preferences."""
    return -nn.functional.logsigmoid(r_chosen - r_rejected).mean()


def preference_pairs(true: Float[Tensor, " n"], n_pairs: int, seed: int) -> Int[Tensor, "n_pairs 2"]:
    """`n_pairs` random pairs (chosen, rejected) of samples whose true rewards differ; ties carry no preference and
    are skipped (the labeller is the rule, so a label is never wrong)."""
    rng = np.random.default_rng(seed)
    pairs: list[tuple[int, int]] = []
    while len(pairs) < n_pairs:
        i, j = rng.integers(0, len(true), size=2)
        if true[i] != true[j]:
            pairs.append((int(i), int(j)) if true[i] > true[j] else (int(j), int(i)))
    return torch.tensor(pairs)


@dataclass
class RewardModelArgs:
    n_samples: int = 1024
    """continuations of day 17's model per split (training prompts for fitting, validation prompts held out)"""
    n_pairs: int = 256
    """labelled pairs to fit on: little data, as a labelling budget would allow"""
    n_heldout_pairs: int = 2000
    """pairs for the held-out accuracy"""
    steps: int = 400
    """full-batch Adam steps"""
    learning_rate: float = 0.05
    """Adam's step size"""
    weight_decay: float = 1e-3
    """L2 on $w$: without it separable pairs send the weights to infinity"""
    seed: int = 0
    """seeds the samples and the pairs"""


@torch.no_grad()
def reference_samples(split: str, n: int, seed: int, args: RLHFArgs) -> tuple[list[str], CharTokenizer]:
    """`n` continuations by day 17's model of prompts from `split`, as the RLHF days sample them."""
    ref, _, _ = load_tiny_lm()
    prompts, tokenizer = prompt_pool(split, n, args.prompt_len, seed=seed)
    tokens, _ = sample_continuations(ref, prompts, args.gen_len, torch.Generator().manual_seed(seed))
    return [tokenizer.decode(t[args.prompt_len :]) for t in tokens], tokenizer


def fit_reward_model(args: RewardModelArgs) -> dict:
    """Fit $w$ by Bradley–Terry on rule-labelled pairs; report held-out pair accuracy, and the affine map that gives
    the proxy the true reward's mean and spread on the model's own samples (so that one unit of proxy is worth about
    one sentence end, and β means the same as on days 92–93)."""
    torch.manual_seed(args.seed)
    texts, tokenizer = reference_samples("train", args.n_samples, 500 + args.seed, RLHFArgs())
    held_texts, _ = reference_samples("val", args.n_samples, 900 + args.seed, RLHFArgs())
    counts, held_counts = char_counts(texts, tokenizer), char_counts(held_texts, tokenizer)
    true, held_true = sentence_end_reward(texts), sentence_end_reward(held_texts)
    pairs = preference_pairs(true, args.n_pairs, args.seed)
    held_pairs = preference_pairs(held_true, args.n_heldout_pairs, args.seed + 1)

    w = torch.zeros(counts.shape[1], requires_grad=True)
    optimizer = torch.optim.Adam([w], lr=args.learning_rate)
    losses = []
    for _ in range(args.steps):
        r = counts @ w
        loss = bradley_terry_loss(r[pairs[:, 0]], r[pairs[:, 1]]) + args.weight_decay * w.square().sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    w = w.detach()
    r, held_r = counts @ w, held_counts @ w

    def accuracy(scores: Tensor, p: Tensor) -> float:
        return float((scores[p[:, 0]] > scores[p[:, 1]]).float().mean())

    scale = float(true.std() / r.std())
    return {
        "args": asdict(args),
        "w": w.tolist(),
        "scale": scale,
        "shift": float(true.mean() - scale * r.mean()),
        "losses": losses,
        "train_accuracy": accuracy(r, pairs),
        "heldout_accuracy": accuracy(held_r, held_pairs),
        "true_mean_ref": float(true.mean()),
        "heldout_true_mean_ref": float(held_true.mean()),
        "frac_samples_with_stop": float(np.mean(["." in t for t in texts])),
    }


class ProxyReward:
    """$\\tilde r(y) = a\\, w^\\top c(y) + b$: the fitted reward model, calibrated, as a function of texts."""

    def __init__(self, fit: dict, tokenizer: CharTokenizer):
        self.w, self.scale, self.shift, self.tokenizer = torch.tensor(fit["w"]), fit["scale"], fit["shift"], tokenizer

    def __call__(self, continuations: list[str]) -> Float[Tensor, " batch"]:
        return self.scale * (char_counts(continuations, self.tokenizer) @ self.w) + self.shift


DEPENDS_ON = ["mechlearn.rl.proxy_reward"]
DAY_DIR = Path(__file__).resolve().parents[1] / "daily_logs" / "day-096-specification-gaming-against-a-learned-reward"


def reward_model() -> tuple[dict, ProxyReward]:
    """The fitted reward model, cached beside day 96's notebook, and the proxy it defines."""
    fit = cached_json(DAY_DIR / "reward_model.json", lambda: fit_reward_model(RewardModelArgs()), DEPENDS_ON)
    return fit, ProxyReward(fit, load_tiny_lm()[1])


def train_against(reward_fn, proxy: ProxyReward, args: RLHFArgs, progress_every: int = 0) -> tuple[dict, dict]:
    """PPO on `reward_fn` exactly as `mechlearn.rl.rlhf_ppo.train_rlhf` does on the full-stop count (same sampling,
    KL penalty, GAE and clipped loss), measuring at every evaluation the proxy, the true reward, the full-stop count
    and the exact KL on held-out prompts. Returns the log and the final language model's weights."""
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
    log: dict = {"args": asdict(args), "eval": []}

    for it in range(args.iterations + 1):
        if it % args.eval_every == 0 or it == args.iterations:
            measured = evaluate(policy, ref, eval_prompts, tokenizer, args, args.n_eval_prompts)
            texts = [t for _, t in measured["samples"]]
            measured |= {
                "proxy": float(proxy(texts).mean()),
                "true": float(sentence_end_reward(texts).mean()),
                "samples": measured["samples"][: args.n_samples_kept],
            }
            log["eval"].append({"iteration": it} | measured)
            if progress_every and it % progress_every == 0:
                print(it, {k: round(v, 2) for k, v in measured.items() if isinstance(v, float)}, flush=True)
        if it == args.iterations:
            break
        prompts = train_prompts[torch.randint(0, len(train_prompts), (B,), generator=gen)]
        tokens, old_logprobs = sample_continuations(policy.base, prompts, args.gen_len, gen)
        with torch.no_grad():
            _, values = policy(tokens)
            values = values[:, P - 1 : -1]  # (B, gen): V of the state before each generated token
            ref_logprobs = gather_logprobs(ref(tokens), tokens, P)
            reward = reward_fn([tokenizer.decode(t[P:]) for t in tokens])
            rewards = per_token_rewards(old_logprobs, ref_logprobs, reward, args.beta)
            advantages = token_advantages(rewards, values, args.gamma, args.gae_lambda)
            returns = advantages + values
        for _epoch in range(args.update_epochs):
            order = rng.permutation(B)
            for start in range(0, B, mb_size):
                mb = order[start : start + mb_size]
                new_logits, new_values = policy(tokens[mb])
                ratio = (gather_logprobs(new_logits, tokens[mb], P) - old_logprobs[mb]).exp()
                entropy = Categorical(logits=generated_logits(new_logits, P)).entropy()
                loss, *_ = ppo_loss(
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
    return log, {k: v.detach().clone() for k, v in policy.base.state_dict().items()}


def proxy_args(beta: float, seed: int) -> RLHFArgs:
    """Day 92's settings, measured every 5 iterations on 128 held-out prompts."""
    return RLHFArgs(beta=beta, seed=seed, eval_every=5, n_eval_prompts=128, n_samples_kept=4)


@functools.cache
def _trained(reward: str, beta: float, seed: int) -> tuple[dict, dict]:
    proxy = reward_model()[1]
    return train_against(proxy if reward == "proxy" else sentence_end_reward, proxy, proxy_args(beta, seed))


def proxy_run(beta: float, seed: int = 0, reward: str = "proxy") -> dict:
    """The log of PPO against the proxy (or, as a control, `reward="true"`: the rule itself) at this β and seed,
    cached as JSON beside day 96's notebook."""
    path = DAY_DIR / f"{reward}_beta{beta:g}_seed{seed}.json"
    return cached_json(path, lambda: _trained(reward, beta, seed)[0], DEPENDS_ON)


def proxy_policy_weights(beta: float, seed: int = 0, reward: str = "proxy") -> dict:
    """The final language model of that run (safetensors beside day 96's notebook), for day 97's evaluation."""
    path = DAY_DIR / f"{reward}_policy_beta{beta:g}_seed{seed}.safetensors"
    return cached_tensors(path, lambda: _trained(reward, beta, seed)[1], DEPENDS_ON)
