"""A 2-layer attention-only `HookedTransformer` trained on repeated random tokens, where induction heads must form.

Evaluation data (ARENA 1.2): `[BOS, t_1 … t_L, t_1 … t_L]` with `t_i` uniform over the vocabulary. The first half
is unpredictable (loss $\\approx \\ln d_\\text{vocab}$); in the second half the next token is the one that followed
the current token's earlier copy, which a previous-token head (layer 0) plus an induction head (layer 1, K-composing
with it) can look up. Olsson et al. (2022), "In-context learning and induction heads".

Training data repeats a segment of random length periodically, from a random start: with a fixed
layout a single layer-0 head can solve the task by *position* alone (attend to $q - L + 1$), and no induction
circuit forms — the first version of this module fell into exactly that.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import torch
from jaxtyping import Int
from torch import Tensor
from tqdm.auto import tqdm

warnings.filterwarnings("ignore", message=".*HookedTransformer is deprecated.*")
from transformer_lens import HookedTransformer, HookedTransformerConfig  # noqa: E402


@dataclass
class InductionConfig:
    d_vocab: int = 64  # random tokens 1..d_vocab-1; token 0 is BOS
    seq_len: int = 20  # L: length of the evaluation segment, repeated once (n_ctx = 2L + 1)
    min_repeat: int = 4  # training repeats have a length drawn from min_repeat..seq_len
    d_model: int = 64  # small enough to train on 2 shared CPU cores in about a minute
    n_heads: int = 4  # ARENA's 2L model has 12; 4 leaves room for one specialised head per job
    d_head: int = 16  # d_model / n_heads
    positional_embedding_type: str = "standard"  # learned absolute positions, added to the residual stream
    batch_size: int = 64
    steps: int = 3000  # about 5 minutes on one shared core
    lr: float = 1e-3
    weight_decay: float = 0.0  # decay favours spreading a job over several heads; we want one clean head per job
    seed: int = 0

    @property
    def n_ctx(self) -> int:
        return 2 * self.seq_len + 1


def hooked_config(cfg: InductionConfig) -> HookedTransformerConfig:
    return HookedTransformerConfig(
        n_layers=2,
        d_model=cfg.d_model,
        n_ctx=cfg.n_ctx,
        d_head=cfg.d_head,
        n_heads=cfg.n_heads,
        d_vocab=cfg.d_vocab,
        attn_only=True,
        positional_embedding_type=cfg.positional_embedding_type,
        rotary_dim=cfg.d_head if cfg.positional_embedding_type == "rotary" else None,
        normalization_type="LN",
        act_fn=None,
        seed=cfg.seed,
        device="cpu",
    )


def make_model(cfg: InductionConfig, state_dict: dict[str, Tensor] | None = None) -> HookedTransformer:
    """A fresh (seeded) model, or one loaded with `state_dict` (e.g. the committed checkpoint).

    Weights are used as trained: LayerNorms are not folded, because TransformerLens 3.9's
    `load_and_process_state_dict(fold_ln=True)` changed this model's log-probabilities whenever the final
    LayerNorm's weight or bias was not the identity (see `tests/interp/test_interp_tools.py`). Direct logit
    attribution (`mechlearn.interp.patching`) applies the final LayerNorm's weight and bias explicitly instead.
    """
    model = HookedTransformer(hooked_config(cfg))
    if state_dict is not None:
        model.load_state_dict(state_dict, strict=False)
    return model.eval()


def repeated_tokens(
    batch: int, seq_len: int, d_vocab: int, generator: torch.Generator | None = None
) -> Int[Tensor, "batch 2*seq_len+1"]:
    """`[BOS, t_1..t_L, t_1..t_L]`, with `t_i` uniform over `1..d_vocab-1` (0 is BOS)."""
    half = torch.randint(1, d_vocab, (batch, seq_len), generator=generator)
    bos = torch.zeros(batch, 1, dtype=torch.long)
    return torch.cat([bos, half, half], dim=1)


def training_tokens(
    batch: int, cfg: InductionConfig, generator: torch.Generator | None = None
) -> Int[Tensor, "batch n_ctx"]:
    """`[BOS, noise(P), s, s, s, …]` cut to `n_ctx`: a random segment `s` whose length $L' \\in$
    [min_repeat, seq_len] is drawn per sequence, repeated periodically after $P \\in [0, n_{ctx} - 1 - 2L']$ fresh
    random tokens. No single attention offset works for every $L'$, and copies start anywhere, so the previous
    token must be available at every position."""
    lengths = torch.randint(cfg.min_repeat, cfg.seq_len + 1, (batch,), generator=generator)
    segments = torch.randint(1, cfg.d_vocab, (batch, cfg.seq_len), generator=generator)
    noise = torch.randint(1, cfg.d_vocab, (batch, cfg.n_ctx - 1), generator=generator)
    starts = (torch.rand(batch, generator=generator) * (cfg.n_ctx - 2 * lengths)).long()  # P, with 2L' <= n_ctx-1
    position = torch.arange(cfg.n_ctx - 1)[None, :] - starts[:, None]  # position inside the periodic part
    periodic = segments.gather(1, position.clamp_min(0) % lengths[:, None])
    tokens = torch.where(position >= 0, periodic, noise)  # (batch, n_ctx - 1)
    return torch.cat([torch.zeros(batch, 1, dtype=torch.long), tokens], dim=1)


def loss_per_position(model: HookedTransformer, tokens: Int[Tensor, "batch pos"]) -> Tensor:
    """Cross-entropy of predicting token `p+1` from positions `<= p`, averaged over the batch: shape (pos-1,)."""
    with torch.no_grad():
        return model(tokens, return_type="loss", loss_per_token=True).mean(0)


def train_induction_model(cfg: InductionConfig, progress: bool = True) -> tuple[dict[str, Tensor], dict]:
    """Train with AdamW on fresh repeated sequences each step; returns (state_dict, curve).

    The loss is taken on every position, so the model also learns the irreducible loss $\\ln(d_\\text{vocab}-1)$ of the
    random tokens.
    """
    torch.manual_seed(cfg.seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 2 shared cores: one is plenty for a model this size
    try:
        model = make_model(cfg).train()
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        gen = torch.Generator().manual_seed(cfg.seed)
        L = cfg.seq_len
        eval_tokens = repeated_tokens(256, L, cfg.d_vocab, torch.Generator().manual_seed(cfg.seed + 1))
        curve = {"step": [], "loss": [], "loss_first_half": [], "loss_second_half": [], "config": asdict(cfg)}
        for step in tqdm(range(cfg.steps), disable=not progress, desc="train 2L attn-only"):
            loss = model(training_tokens(cfg.batch_size, cfg, gen), return_type="loss")
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % 25 == 0 or step == cfg.steps - 1:
                # on held-out repeated sequences: predictions of tokens 2..L (first half) vs L+2..2L (second half)
                per_pos = loss_per_position(model, eval_tokens)
                curve["step"].append(step)
                curve["loss"].append(loss.item())
                curve["loss_first_half"].append(per_pos[1:L].mean().item())
                curve["loss_second_half"].append(per_pos[L + 1 :].mean().item())
        model.eval()
        return {name: p.detach().clone() for name, p in model.named_parameters()}, curve
    finally:
        torch.set_num_threads(threads)
