r"""GPT-2 from scratch: `TransformerBlock` (pre-LayerNorm residual block) and `DemoTransformer`, after ARENA 1.1.

The residual stream is a running sum: each block reads it through a LayerNorm and adds its output back,
$x_\text{mid} = x + \mathrm{Attn}(\mathrm{LN}_1(x))$ and
$x_\text{post} = x_\text{mid} + \mathrm{MLP}(\mathrm{LN}_2(x_\text{mid}))$.
`run_with_cache` returns every intermediate activation under TransformerLens' hook names, so the two models can be
compared name by name.
"""

from __future__ import annotations

from jaxtyping import Float, Int
from mechlearn.transformers.attention import Attention, KVCacheEntry
from mechlearn.transformers.config import Config
from mechlearn.transformers.layers import MLP, Embed, LayerNorm, PosEmbed, Unembed
from torch import Tensor, nn


class TransformerBlock(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.ln1 = LayerNorm(cfg)
        self.attn = Attention(cfg)
        if not cfg.attn_only:
            self.ln2 = LayerNorm(cfg)
            self.mlp = MLP(cfg)

    def forward(
        self,
        resid_pre: Float[Tensor, "batch pos d_model"],
        cache: dict | None = None,
        prefix: str = "",
        kv: KVCacheEntry | None = None,
    ) -> Float[Tensor, "batch pos d_model"]:
        attn_out = self.attn(self.ln1(resid_pre, cache, prefix + "ln1."), cache, prefix + "attn.", kv)
        resid_mid = resid_pre + attn_out
        saved = {"hook_resid_pre": resid_pre, "hook_attn_out": attn_out}
        if self.cfg.attn_only:
            resid_post = resid_mid
        else:
            mlp_out = self.mlp(self.ln2(resid_mid, cache, prefix + "ln2."), cache, prefix + "mlp.")
            resid_post = resid_mid + mlp_out
            saved |= {"hook_resid_mid": resid_mid, "hook_mlp_out": mlp_out}
        if cache is not None:
            cache.update({prefix + name: value for name, value in (saved | {"hook_resid_post": resid_post}).items()})
        return resid_post


class DemoTransformer(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.embed = Embed(cfg)
        self.pos_embed = PosEmbed(cfg)
        self.blocks = nn.ModuleList([TransformerBlock(cfg) for _ in range(cfg.n_layers)])
        self.ln_final = LayerNorm(cfg)
        self.unembed = Unembed(cfg)

    def forward(
        self,
        tokens: Int[Tensor, "batch pos"],
        cache: dict | None = None,
        kv_cache: list[KVCacheEntry] | None = None,
    ) -> Float[Tensor, "batch pos d_vocab"]:
        """Logits for every position. With `kv_cache` (one entry per layer), `tokens` are the positions after the
        cached ones, and the cache is extended in place."""
        offset = kv_cache[0].k.shape[1] if kv_cache else 0
        embed, pos_embed = self.embed(tokens), self.pos_embed(tokens, offset)
        residual = embed + pos_embed
        if cache is not None:
            cache.update({"hook_embed": embed, "hook_pos_embed": pos_embed})
        for layer, block in enumerate(self.blocks):
            residual = block(residual, cache, f"blocks.{layer}.", kv_cache[layer] if kv_cache else None)
        final = self.ln_final(residual, cache, "ln_final.")
        logits = self.unembed(final)
        if cache is not None:
            cache.update({"unembed.hook_in": final, "unembed.hook_out": logits})
        return logits

    def run_with_cache(self, tokens: Int[Tensor, "batch pos"]) -> tuple[Tensor, dict[str, Tensor]]:
        cache: dict[str, Tensor] = {}
        return self(tokens, cache), cache

    def empty_kv_cache(self, batch: int) -> list[KVCacheEntry]:
        """A KV cache holding no positions yet, one entry per layer."""
        p = self.embed.W_E
        empty = lambda: p.new_zeros(batch, 0, self.cfg.n_heads, self.cfg.d_head)
        return [KVCacheEntry(empty(), empty()) for _ in range(self.cfg.n_layers)]
