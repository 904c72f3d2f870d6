"""The hyper-parameters of a GPT-2-style transformer, named as in TransformerLens' `HookedTransformerConfig`.

The defaults are GPT-2 small (Radford et al. 2019), so `Config()` describes the 124M-parameter model.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Config:
    d_model: int = 768  # width of the residual stream
    n_layers: int = 12  # number of transformer blocks
    n_heads: int = 12  # attention heads per block
    d_head: int = 64  # width of each head's queries, keys and values (d_model / n_heads in GPT-2)
    d_mlp: int = 3072  # hidden width of the MLP (4 d_model in GPT-2)
    d_vocab: int = 50257  # number of tokens (GPT-2's BPE vocabulary)
    n_ctx: int = 1024  # longest sequence the positional embedding covers
    layer_norm_eps: float = 1e-5  # added to the variance inside LayerNorm, as in GPT-2
    init_range: float = 0.02  # std of the normal initialisation of weights (GPT-2's initializer_range)
    attn_only: bool = False  # True drops the MLPs (and their LayerNorms): the attention-only models of interp work
