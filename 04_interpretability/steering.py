r"""Activation steering on day 17's character model: a behaviour, its contrast prompts, a vector, and what it does.

**Behaviour.** The corpus (Python's pydoc topics) mixes prose with interactive code (`>>> d = {"one": 1}`). The
score of a string is its *code share*: the fraction of its characters in `CODE_CHARS` (brackets, braces, `=`, `#`,
the single quote, digits), characters that are common in code lines and rare in prose.

**Contrast prompts.** A window of characters is *code* when its first and its last character lie on code lines (a
line whose text starts with `>>> ` or `... `), *prose* when both lie on prose lines (a line that starts, unindented,
with a letter); windows of neither kind are not used.

**Contrastive activation addition** [Rimsky et al. 2023]. At a hook point $h$, with $a_h(x)$ the residual stream at
the last position of prompt $x$,
$$v_h = \frac1n \sum_{i=1}^{n} a_h(x_i^{\text{code}}) - \frac1n \sum_{i=1}^{n} a_h(x_i^{\text{prose}}),$$
and steering adds $c\,v_h$ at $h$ at every position of every forward pass. ActAdd [Turner et al. 2023] is the same
with $n = 1$: one prompt pair.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from jaxtyping import Float, Int
from mechlearn.interp.sae_lm import corpus_splits
from mechlearn.transformers.sampling import sample_next
from mechlearn.transformers.training import CharTokenizer
from torch import Tensor
from transformer_lens import HookedTransformer
from transformer_lens.hook_points import HookPoint

CODE_CHARS = frozenset("{}[]()=#'0123456789")
PROMPT_LEN = 32  # prompt characters; with N_NEW generated ones they fill the model's 64-character context
N_NEW = 32
# where a vector is read and added: the input of each block, and the output of the last one
HOOKS = ["blocks.0.hook_resid_pre", "blocks.1.hook_resid_pre", "blocks.1.hook_resid_post"]
Hook = tuple[str, Callable]


def code_share(text: str) -> float:
    """The behaviour score of one string: the fraction of its characters in `CODE_CHARS` (0 for an empty string)."""
    return sum(ch in CODE_CHARS for ch in text) / len(text) if text else 0.0


def line_kinds(text: str) -> list[str | None]:
    """For each character, the kind of the line it lies on: "code", "prose" or None (newlines are None)."""
    kinds: list[str | None] = []
    for line in text.split("\n"):
        body = line.lstrip()
        kind = "code" if body.startswith((">>> ", "... ")) else "prose" if line[:1].isalpha() else None
        kinds += [kind] * len(line) + [None]
    return kinds[: len(text)]


def window_ends(text: str, kind: str, length: int = PROMPT_LEN) -> list[int]:
    """Every end `e` (exclusive) whose window `text[e - length : e]` is of `kind`: its first and last characters
    lie on lines of that kind."""
    kinds = line_kinds(text)
    return [e for e in range(length, len(text) + 1) if kinds[e - 1] == kind and kinds[e - length] == kind]


def contrast_prompts(
    tokenizer: CharTokenizer, split: str, kind: str, n: int, seed: int, length: int = PROMPT_LEN
) -> Int[Tensor, "n length"]:
    """`n` windows of `kind` from the corpus `split`, drawn without replacement with a seeded permutation."""
    data = corpus_splits()[split]
    ends = window_ends(tokenizer.decode(data), kind, length)
    pick = torch.randperm(len(ends), generator=torch.Generator().manual_seed(seed))[:n].tolist()
    return torch.stack([data[ends[k] - length : ends[k]] for k in pick])


@torch.no_grad()
def last_position(model: HookedTransformer, tokens: Int[Tensor, "n pos"], hook: str) -> Float[Tensor, "n d_model"]:
    _, cache = model.run_with_cache(tokens, names_filter=hook)
    return cache[hook][:, -1]


def mean_difference(pos: Float[Tensor, "n d"], neg: Float[Tensor, "m d"]) -> Float[Tensor, " d"]:
    r"""$\bar a^{+} - \bar a^{-}$, the contrastive mean difference."""
    return pos.mean(0) - neg.mean(0)


def steering_vector(
    model: HookedTransformer, pos: Int[Tensor, "n pos"], neg: Int[Tensor, "m pos"], hook: str
) -> Float[Tensor, " d_model"]:
    return mean_difference(last_position(model, pos, hook), last_position(model, neg, hook))


def random_like(vector: Float[Tensor, " d"], seed: int) -> Float[Tensor, " d"]:
    """A direction drawn uniformly on the sphere, scaled to the norm of `vector` (the control)."""
    r = torch.randn(vector.shape, generator=torch.Generator().manual_seed(seed))
    return r * vector.norm() / r.norm()


def add_hook(vector: Float[Tensor, " d"], coef: float, positions: slice = slice(None)) -> Callable:
    """A hook adding `coef * vector` to the activation at `positions` (all of them by default)."""

    def add(act: Float[Tensor, "batch pos d"], hook: HookPoint) -> Float[Tensor, "batch pos d"]:
        act = act.clone()
        act[:, positions] += coef * vector
        return act

    return add


def steer(hook: str, vector: Float[Tensor, " d"], coef: float) -> list[Hook]:
    return [(hook, add_hook(vector, coef))]


@torch.no_grad()
def generate(
    model: HookedTransformer, prompts: Int[Tensor, "batch pos"], fwd_hooks: list[Hook], n_new: int = N_NEW, seed=0
) -> Int[Tensor, "batch n_new"]:
    """`n_new` characters sampled at temperature 1 from a seeded generator, the hooks active at every step (the whole
    sequence is re-run each step, so a hook sees the prompt and everything generated so far)."""
    generator = torch.Generator().manual_seed(seed)
    tokens = prompts
    with model.hooks(fwd_hooks=fwd_hooks):
        for _ in range(n_new):
            next_token = sample_next(model(tokens)[:, -1], generator=generator)
            tokens = torch.cat([tokens, next_token[:, None]], dim=1)
    return tokens[:, prompts.shape[1] :]


def behaviour_score(tokenizer: CharTokenizer, generated: Int[Tensor, "batch n_new"]) -> float:
    """Mean code share of the generated continuations."""
    return sum(code_share(tokenizer.decode(row)) for row in generated) / len(generated)


@torch.no_grad()
def steered_loss(model: HookedTransformer, tokens: Int[Tensor, "batch pos"], fwd_hooks: list[Hook]) -> float:
    """Mean next-character loss (nats) with the hooks attached."""
    return model.run_with_hooks(tokens, return_type="loss", fwd_hooks=fwd_hooks).item()


def score_and_loss(
    model: HookedTransformer,
    tokenizer: CharTokenizer,
    prompts: Int[Tensor, "batch pos"],
    text: Int[Tensor, "batch pos"],
    fwd_hooks: list[Hook],
    seed: int = 0,
) -> dict[str, float]:
    """The behaviour score of seeded generations from `prompts` and the loss on `text`, both under `fwd_hooks`."""
    generated = generate(model, prompts, fwd_hooks, seed=seed)
    return {"score": behaviour_score(tokenizer, generated), "loss": steered_loss(model, text, fwd_hooks)}


def coefficient_sweep(
    model: HookedTransformer,
    tokenizer: CharTokenizer,
    prompts: Int[Tensor, "batch pos"],
    text: Int[Tensor, "batch pos"],
    make_hooks: Callable[[float], list[Hook]],
    coefs: list[float],
) -> dict[str, list[float]]:
    """Score and loss at each coefficient, `make_hooks(c)` giving the hooks for coefficient `c`."""
    rows = [score_and_loss(model, tokenizer, prompts, text, make_hooks(c)) for c in coefs]
    return {"coef": list(coefs), "score": [r["score"] for r in rows], "loss": [r["loss"] for r in rows]}


def prompt_sets(tokenizer: CharTokenizer, n_pairs: int = 256, n_heldout: int = 64) -> dict[str, Tensor]:
    """The windows every steering day uses, each seeded: contrast prompts from the training split ("code", "prose"),
    held-out prompts from the validation split ("val_code", "val_prose", generation starts from these), and
    ordinary held-out text for the loss ("text": 64-character windows at seeded uniform starts, of any kind)."""
    from mechlearn.interp.sae_lm import corpus_windows

    return {
        "code": contrast_prompts(tokenizer, "train", "code", n_pairs, seed=78),
        "prose": contrast_prompts(tokenizer, "train", "prose", n_pairs, seed=79),
        "val_code": contrast_prompts(tokenizer, "val", "code", n_heldout, seed=80),
        "val_prose": contrast_prompts(tokenizer, "val", "prose", n_heldout, seed=81),
        "text": corpus_windows(n_heldout, "val", seed=82),
    }


def crossing(xs: list[float], ys: list[float], level: float, zs: list[float] | None = None) -> float | None:
    """Where the piecewise-linear curve (xs, ys) first reaches `level`: the x there, or, given `zs`, the value of the
    piecewise-linear (xs, zs) at that x. None if ys never reaches it (rising curves: ys[k] >= level)."""
    zs = xs if zs is None else zs
    for k in range(len(xs)):
        if ys[k] >= level:
            if k == 0:
                return zs[0]
            t = (level - ys[k - 1]) / (ys[k] - ys[k - 1])
            return zs[k - 1] + t * (zs[k] - zs[k - 1])
    return None
