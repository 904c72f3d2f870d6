r"""RLHF's pieces on day 17's character-level model (ARENA 2.4; Ziegler et al. 2019, Stiennon et al. 2020).

A prompt $x$ is a window of the corpus; the policy $\pi_\theta$ writes a continuation $y = y_1 \dots y_T$ of fixed
length by sampling at temperature 1; a reward $r(x, y)$ scores it. RLHF maximises reward while staying near the
reference model $\pi_\text{ref}$ (the frozen day-17 model):
$$J(\theta) = \mathbb E_{x,\, y \sim \pi_\theta}\bigl[r(x, y)\bigr]
    - \beta\, \mathrm{KL}\bigl(\pi_\theta(\cdot \mid x) \,\|\, \pi_\text{ref}(\cdot \mid x)\bigr).$$
The sequence KL is $\mathbb E_y[\log \pi_\theta(y|x) - \log \pi_\text{ref}(y|x)]$ and the log-probability of a
sequence is the sum over its tokens, so one sample gives the unbiased estimate
$\sum_t \bigl(\log \pi_\theta(y_t \mid x, y_{<t}) - \log \pi_\text{ref}(y_t \mid x, y_{<t})\bigr)$: each generated
token pays $-\beta$ times its log-ratio, and the programmatic reward arrives at the last token.

The policy is a copy of the model with a value head reading the final (normalised) residual stream, which
`DemoTransformer` exposes in its cache as `unembed.hook_in`.
"""

from __future__ import annotations

import copy

import torch
from jaxtyping import Float, Int
from mechlearn.rl.advantages import compute_gae
from mechlearn.transformers.model import DemoTransformer
from mechlearn.transformers.training import CharTokenizer, corpus_text, train_val_split
from torch import Tensor, nn
from torch.distributions import Categorical, kl_divergence

TARGET = "."
"""The rewarded character: ARENA's "more full stops" task, here at the level of characters"""


def period_reward(continuations: list[str]) -> Float[Tensor, " batch"]:
    """The programmatic reward: how many full stops each continuation contains."""
    return torch.tensor([float(text.count(TARGET)) for text in continuations])


class PolicyWithValueHead(nn.Module):
    """A copy of the language model plus $V(x, y_{\\le t})$: a two-layer MLP on the final normalised residual.

    The value head reads a detached copy of the residual: its loss trains the head only. Returns here are counts
    of characters plus $\\beta$ times tens of nats, and through a shared trunk the value loss's gradient outweighed
    the policy's and rewrote the language model (a run at $\\beta = 10$ drifted 60 nats from the reference)."""

    def __init__(self, base: DemoTransformer, seed: int = 0):
        super().__init__()
        self.base = copy.deepcopy(base).requires_grad_(True)  # trainable even when `base` is frozen
        d_model = base.cfg.d_model
        torch.manual_seed(seed)
        self.value_head = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.ReLU(), nn.Linear(4 * d_model, 1))

    def forward(self, tokens: Int[Tensor, "batch pos"]) -> tuple[Tensor, Float[Tensor, "batch pos"]]:
        cache: dict[str, Tensor] = {}
        logits = self.base(tokens, cache)  # (batch, pos, d_vocab)
        return logits, self.value_head(cache["unembed.hook_in"].detach()).squeeze(-1)


def prompt_pool(split: str, n: int, prompt_len: int, seed: int) -> tuple[Int[Tensor, "n prompt_len"], CharTokenizer]:
    """`n` windows of `prompt_len` characters from day 17's training (`"train"`) or validation (`"val"`) text."""
    text = corpus_text()
    tokenizer = CharTokenizer(text)
    train, val = train_val_split(tokenizer.encode(text))
    data = train if split == "train" else val
    start = torch.randint(0, len(data) - prompt_len, (n,), generator=torch.Generator().manual_seed(seed))
    return torch.stack([data[s : s + prompt_len] for s in start.tolist()]), tokenizer


@torch.no_grad()
def sample_continuations(
    model: DemoTransformer, prompts: Int[Tensor, "batch prompt_len"], gen_len: int, generator: torch.Generator
) -> tuple[Int[Tensor, "batch seq"], Float[Tensor, "batch gen_len"]]:
    """Prompts extended by `gen_len` tokens sampled at temperature 1 with a KV cache, and each sampled token's
    log-probability as it was drawn (the "old" log-probs of PPO)."""
    kv_cache = model.empty_kv_cache(prompts.shape[0])
    logits = model(prompts, kv_cache=kv_cache)[:, -1]
    tokens, logprobs = [prompts], []
    for _ in range(gen_len):
        log_p = logits.log_softmax(dim=-1)  # (batch, d_vocab)
        token = torch.multinomial(log_p.exp(), 1, generator=generator)  # (batch, 1)
        tokens.append(token)
        logprobs.append(log_p.gather(-1, token))
        logits = model(token, kv_cache=kv_cache)[:, -1]
    return torch.cat(tokens, dim=1), torch.cat(logprobs, dim=1)


def generated_logits(logits: Float[Tensor, "batch seq d_vocab"], prompt_len: int) -> Float[Tensor, "batch gen d_vocab"]:
    """The logits that predicted each generated token: position t predicts token t + 1."""
    return logits[:, prompt_len - 1 : -1]


def gather_logprobs(
    logits: Float[Tensor, "batch seq d_vocab"], tokens: Int[Tensor, "batch seq"], prompt_len: int
) -> Float[Tensor, "batch gen"]:
    r"""$\log \pi(y_t \mid x, y_{<t})$ for every generated token, from one forward pass over the whole sequence."""
    log_p = generated_logits(logits, prompt_len).log_softmax(dim=-1)
    return log_p.gather(-1, tokens[:, prompt_len:, None]).squeeze(-1)


def exact_kl_per_token(
    logits: Float[Tensor, "batch gen d_vocab"], ref_logits: Float[Tensor, "batch gen d_vocab"]
) -> Float[Tensor, "batch gen"]:
    r"""$\mathrm{KL}(\pi(\cdot \mid \text{prefix}) \,\|\, \pi_\text{ref}(\cdot \mid \text{prefix}))$ at each position,
    summed over the whole vocabulary (torch's closed form for two categoricals)."""
    return kl_divergence(Categorical(logits=logits), Categorical(logits=ref_logits))


def per_token_rewards(
    logprobs: Float[Tensor, "batch gen"],
    ref_logprobs: Float[Tensor, "batch gen"],
    reward: Float[Tensor, " batch"],
    beta: float,
) -> Float[Tensor, "batch gen"]:
    r"""$r_t = -\beta\,(\log\pi_\theta(y_t) - \log\pi_\text{ref}(y_t)) + [t = T]\, r(x, y)$: the KL penalty at
    every generated token, the programmatic reward added at the last one. Summed over t this is the single-sample
    estimate of $r(x, y) - \beta\,\mathrm{KL}$."""
    rewards = -beta * (logprobs - ref_logprobs)
    rewards[:, -1] += reward
    return rewards


def token_advantages(
    rewards: Float[Tensor, "batch gen"], values: Float[Tensor, "batch gen"], gamma: float, gae_lambda: float
) -> Float[Tensor, "batch gen"]:
    """The project's GAE (`mechlearn.rl.advantages.compute_gae`) over the generated tokens: one continuation is one
    episode, which ends after its last token (nothing is bootstrapped beyond it)."""
    batch = rewards.shape[0]
    # compute_gae is time-major, (gen, batch)
    done_never, next_value, next_done = torch.zeros_like(rewards.T), torch.zeros(batch), torch.ones(batch)
    return compute_gae(rewards.T, values.T, done_never, next_value, next_done, gamma, gae_lambda).T


def bits_per_char(ref_logprobs: Float[Tensor, "batch gen"]) -> float:
    """The reference model's cross-entropy on the generated characters, in bits: how unlike its own writing they are."""
    return float(-ref_logprobs.mean() / torch.log(torch.tensor(2.0)))


def distinct_n(continuations: list[str], n: int = 3) -> float:
    """Distinct character n-grams over all n-grams, per continuation, averaged: 1 when nothing repeats."""
    shares = []
    for text in continuations:
        grams = [text[i : i + n] for i in range(len(text) - n + 1)]
        shares.append(len(set(grams)) / len(grams))
    return sum(shares) / len(shares)
