"""Copy weights between TransformerLens' `HookedTransformer` and the scratch `DemoTransformer`.

Both use the same parameter names and shapes (`blocks.0.attn.W_Q: [n_heads, d_model, d_head]`, ...), so loading is a
`load_state_dict` after dropping TransformerLens' buffers (`mask`, `IGNORE`) and checking the architecture is the
one we implement: LayerNorm, `gelu_new`, learned absolute positions, scores scaled by $1/\\sqrt{d_\\text{head}}$.
Tests build the reference from a `HookedTransformerConfig` with random weights (no download);
`from_pretrained("gpt2")` is for readers with a network and is not exercised by the tests.
"""

from __future__ import annotations

import torch
from mechlearn.transformers.config import Config
from mechlearn.transformers.model import DemoTransformer

_ARCH = {"act_fn": "gelu_new", "normalization_type": "LN", "positional_embedding_type": "standard"}


def hooked_config(cfg: Config, seed: int = 0):
    """The `HookedTransformerConfig` of GPT-2's architecture at the size given by `cfg`."""
    from transformer_lens import HookedTransformerConfig

    return HookedTransformerConfig(
        n_layers=cfg.n_layers,
        d_model=cfg.d_model,
        n_heads=cfg.n_heads,
        d_head=cfg.d_head,
        d_mlp=None if cfg.attn_only else cfg.d_mlp,
        d_vocab=cfg.d_vocab,
        n_ctx=cfg.n_ctx,
        eps=cfg.layer_norm_eps,
        attn_only=cfg.attn_only,
        initializer_range=cfg.init_range,
        seed=seed,
        **_ARCH,
    )


def config_from_hooked(tl_cfg) -> Config:
    for field, expected in _ARCH.items():
        if getattr(tl_cfg, field) != expected:
            raise ValueError(
                f"DemoTransformer implements {field}={expected!r}, the reference has {getattr(tl_cfg, field)!r}"
            )
    if not tl_cfg.use_attn_scale or tl_cfg.attn_scale != tl_cfg.d_head**0.5:
        raise ValueError("DemoTransformer scales attention scores by 1/sqrt(d_head); the reference does not")
    return Config(
        d_model=tl_cfg.d_model,
        n_layers=tl_cfg.n_layers,
        n_heads=tl_cfg.n_heads,
        d_head=tl_cfg.d_head,
        d_mlp=tl_cfg.d_mlp or 0,
        d_vocab=tl_cfg.d_vocab,
        n_ctx=tl_cfg.n_ctx,
        layer_norm_eps=tl_cfg.eps,
        attn_only=tl_cfg.attn_only,
    )


def from_hooked_transformer(reference) -> DemoTransformer:
    """A `DemoTransformer` holding a copy of `reference`'s weights (a TransformerLens `HookedTransformer`)."""
    model = DemoTransformer(config_from_hooked(reference.cfg))
    weights = {k: v for k, v in reference.state_dict().items() if not k.endswith((".mask", ".IGNORE"))}
    model.load_state_dict(weights, strict=True)
    return model


def to_hooked_transformer(model: DemoTransformer):
    """The TransformerLens model with `model`'s weights, for the other direction of the comparison."""
    from transformer_lens import HookedTransformer

    reference = HookedTransformer(hooked_config(model.cfg))
    reference.load_state_dict(model.state_dict(), strict=False)
    return reference


def from_pretrained(name: str = "gpt2") -> DemoTransformer:
    """GPT-2 small (or another GPT-2 size) by name; downloads from the Hugging Face hub, so needs a network.

    The folding TransformerLens does by default (LayerNorm weights into the next layer, centring) changes the
    activations, so it is switched off: the scratch model then reproduces the original GPT-2.
    """
    from transformer_lens import HookedTransformer

    reference = HookedTransformer.from_pretrained(
        name, fold_ln=False, center_writing_weights=False, center_unembed=False, device="cpu"
    )
    return from_hooked_transformer(reference)


@torch.no_grad()
def randomize_(model: torch.nn.Module, std: float = 0.3, seed: int = 0) -> torch.nn.Module:
    """Overwrite every parameter with seeded noise (LayerNorm gains near 1), so no zero bias can hide a bug."""
    generator = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        noise = torch.randn(p.shape, generator=generator) * std
        p.copy_(1.0 + noise if name.endswith(".w") else noise)
    return model
