"""Grokking modular addition: a one-layer `HookedTransformer` trained full-batch on 30% of all $(a, b)$ pairs.

The setup of Nanda et al. (2023), "Progress measures for grokking via mechanistic interpretability" (and ARENA
1.5.2), after Power et al. (2022): inputs `[a, b, =]` with $a, b \\in \\mathbb{Z}_{113}$ and `=` the token $p$, the
answer $(a + b) \\bmod p$ read at the last position; 1 layer, 4 heads, ReLU MLP, no LayerNorm, biases frozen at
zero (as in Nanda's code); AdamW with betas (0.9, 0.98) and a 10-step warm-up. Nanda et al. use lr $10^{-3}$ and
weight decay 1, which groks after about $10^4$ epochs, more than the shared CPU here affords: the committed runs
(`grokking_checkpoint.RUNS`) raise lr and weight decay instead (day 56: lr $2\times10^{-3}$, weight decay 5).

Training uses `last_position_logits`, the model's own weights evaluated only where the loss is read: in one layer,
the MLP and unembedding at positions 0 and 1 never reach the last position's logits, and the keys and values of
each position depend on one token, so they are looked up in tables of $(p+1)$ rows. The test suite checks it
against `model(tokens)[:, -1]`, values and gradients.

The curve holds, every `log_every` epochs, train/test loss and accuracy, the sum of squared weights and the Gini
coefficient of the embedding's per-frequency norms; every `snapshot_every` epochs the embedding's per-frequency norms
and — computed after training from snapshots kept in memory, with the *final* model's key frequencies — the
restricted and excluded losses (`mechlearn.interp.grokking_fourier`).
"""

from __future__ import annotations  # noqa: I001  (order kept: reformatting would restale the cached runs)

import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from einops import einsum
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from mechlearn.interp.grokking_fourier import frequency_norms, gini, key_frequencies, restricted_and_excluded_loss

warnings.filterwarnings("ignore", message=".*HookedTransformer is deprecated.*")
from transformer_lens import HookedTransformer, HookedTransformerConfig  # noqa: E402


@dataclass
class GrokkingConfig:
    p: int = 113  # the modulus; tokens 0..p-1 are residues, token p is '='
    frac_train: float = 0.3  # share of the p² pairs trained on (Nanda et al.)
    d_model: int = 128
    n_heads: int = 4
    d_head: int = 32
    d_mlp: int = 512
    lr: float = 1e-3
    weight_decay: float = 3.0  # Nanda et al.: 1.0; the committed runs set their own (see grokking_checkpoint.RUNS)
    beta1: float = 0.9
    beta2: float = 0.98
    warmup_steps: int = 10  # linear warm-up of the learning rate, as in Nanda's code
    epochs: int = 6000  # full-batch steps; the committed runs use 1,400
    log_every: int = 50  # losses, accuracies, weight norm, Gini
    snapshot_every: int = 200  # weights kept in memory for the restricted/excluded losses
    seed: int = 0  # model initialisation
    data_seed: int = 598  # the train/test split (Nanda's value)


def hooked_config(cfg: GrokkingConfig) -> HookedTransformerConfig:
    return HookedTransformerConfig(
        n_layers=1,
        d_model=cfg.d_model,
        n_ctx=3,
        d_head=cfg.d_head,
        n_heads=cfg.n_heads,
        d_mlp=cfg.d_mlp,
        d_vocab=cfg.p + 1,
        d_vocab_out=cfg.p,
        act_fn="relu",
        normalization_type=None,
        seed=cfg.seed,
        device="cpu",
    )


def make_model(cfg: GrokkingConfig, state_dict: dict[str, Tensor] | None = None) -> HookedTransformer:
    """A fresh seeded model (biases zero and frozen), or one loaded with `state_dict`."""
    model = HookedTransformer(hooked_config(cfg))
    for name, param in model.named_parameters():
        if name.split(".")[-1].startswith("b_"):
            param.requires_grad_(False)
    if state_dict is not None:
        model.load_state_dict(state_dict, strict=False)
    return model.eval()


def all_pairs(p: int) -> tuple[Int[Tensor, "p_squared 3"], Int[Tensor, " p_squared"]]:
    """Tokens `[a, b, p]` and labels `(a + b) % p` for every pair, row a·p + b."""
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    a, b = a.flatten(), b.flatten()
    tokens = torch.stack([a, b, torch.full_like(a, p)], dim=1)
    return tokens, (a + b) % p


def train_test_split(cfg: GrokkingConfig) -> tuple[Int[Tensor, " n_train"], Int[Tensor, " n_test"]]:
    """Row indices (into `all_pairs`) of the training and test pairs: a seeded permutation, first frac_train of it."""
    n = cfg.p**2
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.data_seed))
    n_train = int(cfg.frac_train * n)
    return perm[:n_train], perm[n_train:]


def last_position_logits(model: HookedTransformer, tokens: Int[Tensor, "batch 3"]) -> Float[Tensor, "batch d_vocab_out"]:  # noqa: E501  # fmt: skip
    """`model(tokens)[:, -1]` computed only at the last position (one layer, no LayerNorm)."""
    attn, mlp = model.blocks[0].attn, model.blocks[0].mlp
    emb = model.W_E[None] + model.W_pos[:, None]  # (pos, vocab, d_model): the residual of token t at pos
    k_table = einsum(emb, attn.W_K, "pos vocab d_model, head d_model d_head -> pos vocab head d_head") + attn.b_K
    v_table = einsum(emb, attn.W_V, "pos vocab d_model, head d_model d_head -> pos vocab head d_head") + attn.b_V
    positions = torch.arange(tokens.shape[1])
    k = k_table[positions, tokens]  # (batch, pos, head, d_head)
    v = v_table[positions, tokens]
    resid = emb[-1, tokens[:, -1]]  # (batch, d_model)
    q = einsum(resid, attn.W_Q, "batch d_model, head d_model d_head -> batch head d_head") + attn.b_Q
    # products of 3 positions: broadcast and sum (a batched matmul over batch*head tiny matrices is far slower)
    scores = (q[:, None] * k).sum(-1) / attn.attn_scale  # (batch, pos, head)
    pattern = scores.softmax(1)  # the last query sees every position: no causal mask to apply
    z = (pattern[..., None] * v).sum(1)  # (batch, head, d_head)
    resid = resid + einsum(z, attn.W_O, "batch head d_head, head d_head d_model -> batch d_model") + attn.b_O
    hidden = torch.relu(resid @ mlp.W_in + mlp.b_in)  # (batch, d_mlp)
    resid = resid + hidden @ mlp.W_out + mlp.b_out
    return resid @ model.W_U + model.b_U


def cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """In float64: near-zero float32 losses round badly and destabilise late training (Nanda's code does the same)."""
    return torch.nn.functional.cross_entropy(logits.double(), labels)


def trainable_norm_sq(model: HookedTransformer) -> float:
    """Sum of squared weights of the trained (non-bias) parameters: what weight decay shrinks."""
    return float(sum(p.detach().double().pow(2).sum() for p in model.parameters() if p.requires_grad))


def train_grokking(
    cfg: GrokkingConfig, progress: bool = True, on_snapshot: Callable[[int, dict], None] | None = None
) -> tuple[dict[str, Tensor], dict]:
    """Full-batch AdamW on the training pairs; returns (final state_dict, curve). `on_snapshot(epoch, weights)`,
    if given, sees each snapshot as it is taken (e.g. to inspect a long run while it trains)."""
    torch.manual_seed(cfg.seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = make_model(cfg).train()
        trained = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(trained, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(cfg.beta1, cfg.beta2))
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min((step + 1) / cfg.warmup_steps, 1.0))
        tokens, labels = all_pairs(cfg.p)
        train_idx, test_idx = train_test_split(cfg)
        x_train, y_train, x_test, y_test = tokens[train_idx], labels[train_idx], tokens[test_idx], labels[test_idx]
        keys = ["epoch", "train_loss", "test_loss", "train_acc", "test_acc", "weight_norm_sq", "gini_embedding"]
        curve: dict = {k: [] for k in keys} | {"config": asdict(cfg), "first_epoch_train_acc_1": None}
        snapshots: list[tuple[int, dict]] = []
        curve["snapshot_epoch"], curve["snapshot_freq_norms"] = [], []
        for epoch in tqdm(range(cfg.epochs), disable=not progress, desc="train grokking"):
            logits = last_position_logits(model, x_train)
            loss = cross_entropy(logits, y_train)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if curve["first_epoch_train_acc_1"] is None and bool((logits.argmax(-1) == y_train).all()):
                curve["first_epoch_train_acc_1"] = epoch  # accuracy of the weights before this epoch's step
            last = epoch == cfg.epochs - 1
            if epoch % cfg.log_every == 0 or last:
                with torch.no_grad():
                    train_logits = last_position_logits(model, x_train)
                    test_logits = last_position_logits(model, x_test)
                    W_E = model.W_E[: cfg.p]
                    curve["epoch"].append(epoch + 1)  # after epoch+1 steps
                    curve["train_loss"].append(float(cross_entropy(train_logits, y_train)))
                    curve["test_loss"].append(float(cross_entropy(test_logits, y_test)))
                    curve["train_acc"].append(float((train_logits.argmax(-1) == y_train).double().mean()))
                    curve["test_acc"].append(float((test_logits.argmax(-1) == y_test).double().mean()))
                    curve["weight_norm_sq"].append(trainable_norm_sq(model))
                    curve["gini_embedding"].append(gini(frequency_norms(W_E)))
            if epoch % cfg.snapshot_every == 0 or last:
                weights = {name: p.detach().clone() for name, p in model.named_parameters()}
                snapshots.append((epoch + 1, weights))
                curve["snapshot_epoch"].append(epoch + 1)
                curve["snapshot_freq_norms"].append(frequency_norms(model.W_E[: cfg.p]).tolist())
                if on_snapshot is not None:
                    on_snapshot(epoch + 1, weights)
        model.eval()
        final = {name: p.detach().clone() for name, p in model.named_parameters()}
        curve |= progress_measures(cfg, snapshots, key_frequencies(final["embed.W_E"][: cfg.p]))
        return final, curve
    finally:
        torch.set_num_threads(threads)


def progress_measures(cfg: GrokkingConfig, snapshots: list[tuple[int, dict]], freqs: list[int]) -> dict:
    """Restricted loss (all inputs), excluded loss (training inputs) and the full loss on all inputs, per snapshot,
    for the key frequencies `freqs`."""
    tokens, labels = all_pairs(cfg.p)
    train_idx, _ = train_test_split(cfg)
    out: dict = {"key_freqs": freqs, "restricted_loss": [], "excluded_loss": [], "full_loss_all": []}
    for _, weights in snapshots:
        with torch.no_grad():
            logits = last_position_logits(make_model(cfg, weights), tokens)
        restricted, excluded = restricted_and_excluded_loss(logits, labels, train_idx, freqs)
        out["restricted_loss"].append(restricted)
        out["excluded_loss"].append(excluded)
        out["full_loss_all"].append(float(cross_entropy(logits, labels)))
    return out
