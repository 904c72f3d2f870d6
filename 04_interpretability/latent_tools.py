r"""Using SAE latents: attribution of a metric to latents, exact latent ablation, and steering (ARENA 1.3.2).

At a hook point the activation splits exactly into the SAE's reconstruction and its error,
$x = \sum_i f_i(x)\, W_\text{dec}[i] + b_\text{dec} + \varepsilon(x)$. Holding $\varepsilon$ fixed, a latent enters
the rest of the model only through $f_i W_\text{dec}[i]$, so

- **exact ablation** of latent $i$ replaces $x$ by $x - f_i W_\text{dec}[i]$ (the reconstruction with $f_i = 0$,
  plus the same error) and measures $m(\text{clean}) - m(\text{ablated})$;
- **attribution** (attribution patching [@syed2023attribution; @marks2024sparse]) is its first-order estimate,
  $$a_i = f_i \,\big(W_\text{dec}[i] \cdot \nabla_x m\big),$$
  one backward pass for every latent at every position at once; it equals the exact effect when $m$ is linear in $x$;
- **steering** [@turner2023steering] adds $\alpha\, W_\text{dec}[i]$ (or any direction) to $x$ at every position.

`metric` maps logits `(batch, pos, d_vocab)` to one value per sequence `(batch,)`; attributions are of its sum.
The SAE needs only `encode` and `W_dec` (SAELens' names and shapes).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor
from transformer_lens import HookedTransformer
from transformer_lens.hook_points import HookPoint

Metric = Callable[[Float[Tensor, "batch pos d_vocab"]], Float[Tensor, " batch"]]


def logit_difference(position: int, good: int, bad: int) -> Metric:
    """The metric `logits[:, position, good] - logits[:, position, bad]`."""
    return lambda logits: logits[:, position, good] - logits[:, position, bad]


def latent_attribution(
    model: HookedTransformer, sae, tokens: Int[Tensor, "batch pos"], hook_name: str, metric: Metric
) -> tuple[Float[Tensor, "batch pos d_sae"], Float[Tensor, "batch pos d_sae"]]:
    """(attributions $f_i\\,(W_\\text{dec}[i] \\cdot \\nabla_x m)$, latent activations $f$) at every position."""
    saved: dict[str, Tensor] = {}

    def make_leaf(act: Tensor, hook: HookPoint) -> Tensor:
        saved["x"] = act.detach().requires_grad_(True)  # same value; the rest of the model reads it from here
        return saved["x"]

    with model.hooks(fwd_hooks=[(hook_name, make_leaf)]):
        (grad,) = torch.autograd.grad(metric(model(tokens)).sum(), saved["x"])  # parameters' .grad untouched
    x = saved["x"].detach()
    with torch.no_grad():
        f = sae.encode(x)  # (batch, pos, d_sae)
        return f * (grad @ sae.W_dec.T), f


def _resid_post_layer(hook_name: str) -> int | None:
    """L for `blocks.L.hook_resid_post` (all that layers L+1, ... read, so they can run from it), else None."""
    parts = hook_name.split(".")
    return int(parts[1]) if len(parts) == 3 and parts[0] == "blocks" and parts[2] == "hook_resid_post" else None


def ablation_effects(
    model: HookedTransformer,
    sae,
    tokens: Int[Tensor, "batch pos"],
    hook_name: str,
    metric: Metric,
    latents: list[int],
    chunk: int = 32,
) -> Float[Tensor, "n_latents batch"]:
    """$m(\text{clean}) - m(\text{latent } i \text{ removed at every position})$ for each latent in `latents`.

    Latents are ablated `chunk` at a time by repeating the batch, one copy per latent. At a residual stream
    `blocks.L.hook_resid_post` the ablated runs start at layer L+1 from the edited activation (TransformerLens'
    `start_at_layer`); elsewhere each runs the whole model with a hook."""
    batch = tokens.shape[0]
    layer = _resid_post_layer(hook_name)
    effects = []
    with torch.no_grad():
        logits, cache = model.run_with_cache(tokens, names_filter=hook_name)
        clean, x = metric(logits), cache[hook_name]  # x: (batch, pos, d_in)
        f = sae.encode(x)
        for start in range(0, len(latents), chunk):
            ids = torch.tensor(latents[start : start + chunk])
            removed = torch.einsum("bpn,nd->nbpd", f[..., ids], sae.W_dec[ids])  # (n, batch, pos, d_in)
            edited = (x.unsqueeze(0) - removed).flatten(0, 1)  # copies of the batch, latent-major
            if layer is not None:
                ablated = metric(model(edited, start_at_layer=layer + 1))
            else:
                with model.hooks(fwd_hooks=[(hook_name, lambda act, hook, edited=edited: edited)]):
                    ablated = metric(model(tokens.repeat(len(ids), 1)))
            effects.append(clean.unsqueeze(0) - ablated.view(len(ids), batch))
    return torch.cat(effects)


def steering_hook(direction: Float[Tensor, " d_model"], alpha: float) -> Callable:
    """A hook adding `alpha * direction` to the activation at every position."""

    def steer(act: Tensor, hook: HookPoint) -> Tensor:
        return act + alpha * direction

    return steer


def steered_logits(
    model: HookedTransformer,
    tokens: Int[Tensor, "batch pos"],
    hook_name: str,
    direction: Float[Tensor, " d_model"],
    alpha: float,
) -> Float[Tensor, "batch pos d_vocab"]:
    with torch.no_grad(), model.hooks(fwd_hooks=[(hook_name, steering_hook(direction, alpha))]):
        return model(tokens)


def steered_greedy(
    model: HookedTransformer,
    prompt: Int[Tensor, " pos"],
    hook_name: str,
    direction: Float[Tensor, " d_model"],
    alpha: float,
    n_new: int,
) -> Int[Tensor, " n_new"]:
    """`n_new` greedy tokens after `prompt`, steered at every position of the (sliding, `n_ctx`-long) context."""
    tokens = prompt.clone()
    for _ in range(n_new):
        context = tokens[-model.cfg.n_ctx :].unsqueeze(0)
        next_token = steered_logits(model, context, hook_name, direction, alpha)[0, -1].argmax()
        tokens = torch.cat([tokens, next_token.view(1)])
    return tokens[len(prompt) :]


def steering_effect(
    model: HookedTransformer,
    tokens: Int[Tensor, "batch pos"],
    hook_name: str,
    direction: Float[Tensor, " d_model"],
    alpha: float,
    targets: list[int],
) -> tuple[float, float]:
    """(mean probability of the `targets` characters as the next character, next-character loss at the positions
    whose true next character is not a target) on `tokens`, steered by `alpha * direction`."""
    logits = steered_logits(model, tokens, hook_name, direction, alpha)[:, :-1]
    log_p = logits.log_softmax(-1)
    target_prob = log_p[..., targets].exp().sum(-1).mean()
    next_tokens = tokens[:, 1:]
    elsewhere = ~torch.isin(next_tokens, torch.tensor(targets))
    loss = -log_p.gather(-1, next_tokens.unsqueeze(-1)).squeeze(-1)[elsewhere].mean()
    return float(target_prob), float(loss)


def precision_recall(fires: Bool[Tensor, " n"], labels: Bool[Tensor, " n"]) -> tuple[float, float]:
    """Precision $|F \\cap R| / |F|$ and recall $|F \\cap R| / |R|$ of the positions where a latent fires ($F$)
    against the positions where a rule holds ($R$); 0 where the denominator is empty."""
    both = (fires & labels).sum().item()
    return both / max(fires.sum().item(), 1), both / max(labels.sum().item(), 1)


def best_threshold(scores: Float[Tensor, " n"], labels: Bool[Tensor, " n"]) -> tuple[float, float]:
    """(threshold, F1) of the rule "score > threshold" with the highest F1 against `labels`: the fairest
    threshold a baseline direction can get, chosen on the data it is given (the training text)."""
    order = torch.argsort(scores, descending=True)
    hits = labels[order].double().cumsum(0)  # true positives when the top k+1 scores fire
    k = torch.arange(1, len(scores) + 1, dtype=torch.float64)
    f1 = 2 * hits / (k + labels.sum())
    distinct = torch.ones_like(f1, dtype=torch.bool)
    distinct[:-1] = scores[order][:-1] > scores[order][1:]  # a cut can only fall between different scores
    f1 = torch.where(distinct, f1, torch.tensor(-1.0, dtype=torch.float64))
    best = int(f1.argmax())
    below = scores[order][best + 1].item() if best + 1 < len(scores) else scores[order][best].item() - 1.0
    return (scores[order][best].item() + below) / 2, float(f1[best])
