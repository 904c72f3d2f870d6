r"""The non-attention pieces of GPT-2, one small `nn.Module` each, in TransformerLens' parameter names and shapes.

Each module takes an optional `cache` dict and writes its intermediate activations into it under TransformerLens'
hook names (`prefix + "hook_scale"`, ...), so the scratch model can be compared with `run_with_cache` activation by
activation.
"""

from __future__ import annotations

import math

import einops
import torch
from jaxtyping import Float, Int
from mechlearn.transformers.config import Config
from torch import Tensor, nn


def gelu_new(x: Tensor) -> Tensor:
    r"""GPT-2's GELU, the tanh approximation: $\tfrac12 x\,(1 + \tanh(\sqrt{2/\pi}\,(x + 0.044715 x^3)))$."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def linear(
    x: Float[Tensor, "batch pos d_in"], W: Float[Tensor, "d_in d_out"], b: Float[Tensor, " d_out"]
) -> Float[Tensor, "batch pos d_out"]:
    """$x W + b$ as one fused `addmm`, the way GPT-2's `Conv1D` computes it, so float32 rounding matches it too."""
    batch, pos, d_in = x.shape
    return torch.addmm(b, x.reshape(batch * pos, d_in), W).reshape(batch, pos, -1)  # (batch * pos, d_out) -> 3-D


def _save(cache: dict | None, name: str, value: Tensor) -> None:
    if cache is not None:
        cache[name] = value


class LayerNorm(nn.Module):
    r"""$\mathrm{LN}(x) = \frac{x - \mu}{\sqrt{\sigma^2 + \varepsilon}}\, w + b$ over `d_model` (biased variance)."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.w = nn.Parameter(torch.ones(cfg.d_model))
        self.b = nn.Parameter(torch.zeros(cfg.d_model))

    def forward(
        self, residual: Float[Tensor, "batch pos d_model"], cache: dict | None = None, prefix: str = ""
    ) -> Float[Tensor, "batch pos d_model"]:
        centred = residual - residual.mean(-1, keepdim=True)
        scale: Float[Tensor, "batch pos 1"] = (centred.pow(2).mean(-1, keepdim=True) + self.cfg.layer_norm_eps).sqrt()
        normalized = centred / scale
        _save(cache, prefix + "hook_scale", scale)
        _save(cache, prefix + "hook_normalized", normalized)
        return normalized * self.w + self.b


class Embed(nn.Module):
    """Token embedding: row `W_E[t]` is token `t`'s vector in the residual stream."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.W_E = nn.Parameter(torch.empty(cfg.d_vocab, cfg.d_model).normal_(std=cfg.init_range))

    def forward(self, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch pos d_model"]:
        return self.W_E[tokens]


class PosEmbed(nn.Module):
    """Learned absolute positions; `offset` shifts them when earlier positions sit in a KV cache."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.W_pos = nn.Parameter(torch.empty(cfg.n_ctx, cfg.d_model).normal_(std=cfg.init_range))

    def forward(self, tokens: Int[Tensor, "batch pos"], offset: int = 0) -> Float[Tensor, "batch pos d_model"]:
        batch, pos = tokens.shape
        return einops.repeat(self.W_pos[offset : offset + pos], "pos d_model -> batch pos d_model", batch=batch)


class MLP(nn.Module):
    r"""$\mathrm{MLP}(x) = \mathrm{GELU}(x W_\text{in} + b_\text{in})\, W_\text{out} + b_\text{out}$, per position."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.W_in = nn.Parameter(torch.empty(cfg.d_model, cfg.d_mlp).normal_(std=cfg.init_range))
        self.b_in = nn.Parameter(torch.zeros(cfg.d_mlp))
        self.W_out = nn.Parameter(torch.empty(cfg.d_mlp, cfg.d_model).normal_(std=cfg.init_range))
        self.b_out = nn.Parameter(torch.zeros(cfg.d_model))

    def forward(
        self, normalized: Float[Tensor, "batch pos d_model"], cache: dict | None = None, prefix: str = ""
    ) -> Float[Tensor, "batch pos d_model"]:
        pre = linear(normalized, self.W_in, self.b_in)
        post = gelu_new(pre)
        _save(cache, prefix + "hook_pre", pre)
        _save(cache, prefix + "hook_post", post)
        return linear(post, self.W_out, self.b_out)


class Unembed(nn.Module):
    """Reads logits off the final residual stream: `logits = x W_U + b_U` (not tied to `W_E`, as in TransformerLens)."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.W_U = nn.Parameter(torch.empty(cfg.d_model, cfg.d_vocab).normal_(std=cfg.init_range))
        self.b_U = nn.Parameter(torch.zeros(cfg.d_vocab))

    def forward(self, normalized: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_vocab"]:
        return einops.einsum(normalized, self.W_U, "batch pos d_model, d_model d_vocab -> batch pos d_vocab") + self.b_U
