"""mechlearn.transformers — attention and GPT-2 from scratch, checked against TransformerLens (02_transformers/).

- `config`: the `Config` dataclass (GPT-2 small by default).
- `layers`: `LayerNorm`, `Embed`, `PosEmbed`, `MLP` (GPT-2's `gelu_new`), `Unembed`.
- `attention`: multi-head causal `Attention` in TransformerLens shapes, with a `KVCacheEntry`.
- `model`: `TransformerBlock` and `DemoTransformer`, whose `run_with_cache` names activations as TransformerLens does.
- `loading`: weights from/to a TransformerLens `HookedTransformer`; `from_pretrained("gpt2")` (needs a network).
- `sampling`: greedy, temperature, top-k, top-p, frequency penalty, beam search, `generate` with a KV cache.
- `training`: a tiny character-level GPT trained on the Python Language Reference shipped with CPython.
"""

from mechlearn.transformers.attention import Attention, KVCacheEntry
from mechlearn.transformers.config import Config
from mechlearn.transformers.layers import MLP, Embed, LayerNorm, PosEmbed, Unembed
from mechlearn.transformers.model import DemoTransformer, TransformerBlock

__all__ = [
    "MLP",
    "Attention",
    "Config",
    "DemoTransformer",
    "Embed",
    "KVCacheEntry",
    "LayerNorm",
    "PosEmbed",
    "TransformerBlock",
    "Unembed",
]
