"""OthelloGPT: a small causal `HookedTransformer` trained to predict the next move of random legal Othello games.

Following Li et al. (2023), the model sees only the sequence of moves (60 tokens, one per playable square; the
centre four are never played) and is trained on games whose every move is drawn uniformly from the legal ones. Such
a next-move predictor can only do well by knowing which squares are legal, which depends on the whole board: the
question of days 67–69 is whether it computes that board, and in what form. Games come from
`mechlearn.interp.othello.random_games` with a seed, so no data set is stored; the model is a few MB.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
import torch
from jaxtyping import Float, Int
from mechlearn.interp.othello import PLAYABLE, random_games, replay
from torch import Tensor
from tqdm.auto import tqdm

warnings.filterwarnings("ignore", message=".*HookedTransformer is deprecated.*")
from transformer_lens import HookedTransformer, HookedTransformerConfig  # noqa: E402

N_TOKENS = 60  # one token per playable square
SQUARE_TO_TOKEN = np.full(64, -1, dtype=np.int64)
SQUARE_TO_TOKEN[PLAYABLE] = np.arange(N_TOKENS)


@dataclass
class OthelloConfig:
    n_layers: int = 6  # Li et al. use 8 layers of width 512; a 4-layer width-64 model stalled at 78 % legal moves
    d_model: int = 128  # the residual stream the probes read
    n_heads: int = 4
    d_head: int = 32  # d_model / n_heads
    d_mlp: int = 512  # 4 d_model, as in GPT-2
    n_ctx: int = 59  # moves 1..59 in, moves 2..60 predicted
    batch_size: int = 128
    steps: int = 3500  # one pass over steps * batch_size = 448,000 fresh games, about 75 minutes of one CPU core
    lr: float = 2e-3  # peak, after a linear warm-up, then cosine decay to 0
    warmup: int = 200
    weight_decay: float = 0.01
    seed: int = 0  # model init, batch order and the training games (eval games use other seeds)


def hooked_config(cfg: OthelloConfig) -> HookedTransformerConfig:
    return HookedTransformerConfig(
        n_layers=cfg.n_layers,
        d_model=cfg.d_model,
        n_ctx=cfg.n_ctx,
        d_head=cfg.d_head,
        n_heads=cfg.n_heads,
        d_mlp=cfg.d_mlp,
        d_vocab=N_TOKENS,
        act_fn="gelu",
        normalization_type="LN",
        seed=cfg.seed,
        device="cpu",
    )


def make_model(cfg: OthelloConfig, state_dict: dict[str, Tensor] | None = None) -> HookedTransformer:
    """A fresh (seeded) model, or one loaded with `state_dict` (stored as float16; used as float32)."""
    model = HookedTransformer(hooked_config(cfg))
    if state_dict is not None:
        model.load_state_dict({k: v.float() for k, v in state_dict.items()}, strict=False)
    return model.eval()


def games_to_tokens(games: np.ndarray) -> Int[Tensor, "n 60"]:
    return torch.from_numpy(SQUARE_TO_TOKEN[games.astype(np.int64)])


def legal_token_mask(games: np.ndarray) -> torch.Tensor:
    """(n, 59, 60) bool: which tokens are legal next moves after each of the first 59 moves."""
    legal = replay(games[:, :59])["legal"]  # (n, 59, 64)
    return torch.from_numpy(legal[:, :, PLAYABLE])


def legal_move_rate(
    model: HookedTransformer, games: np.ndarray, batch: int = 500
) -> tuple[float, Float[Tensor, " 59"]]:
    """Share of top-1 predictions that are legal next moves: overall and per position (after move 1..59)."""
    tokens, legal = games_to_tokens(games), legal_token_mask(games)
    hits = []
    with torch.no_grad():
        for i in range(0, len(games), batch):
            top = model(tokens[i : i + batch, :59]).argmax(-1)  # (b, 59)
            hits.append(legal[i : i + batch].gather(-1, top[..., None])[..., 0])
    per_pos = torch.cat(hits).float().mean(0)
    return per_pos.mean().item(), per_pos


def train_othello_model(
    cfg: OthelloConfig, progress: bool = True, threads: int = 1
) -> tuple[dict[str, Tensor], dict]:
    """AdamW on next-move cross-entropy over `steps * batch_size` fresh random games (each seen once).

    The target at each position is the distribution the next move of a random game is drawn from, uniform over the
    legal moves, rather than the one move the game happened to play. Averaged over that draw, the one-move loss
    $-\\log p(m)$ is exactly this loss $-\\sum_m q(m) \\log p(m)$, so both have the same optimum; this one has a
    far less noisy gradient.
    Returns (float16 state dict, curve); the curve holds the training loss and the held-out legal-move rate.
    `threads` is recorded in the curve: a different count changes the float summation order, so the retrain
    reproduces the committed weights exactly only with the same count.
    """
    torch.manual_seed(cfg.seed)
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        model = make_model(cfg).train()
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

        def lr_at(step: int) -> float:
            if step < cfg.warmup:
                return (step + 1) / cfg.warmup
            return 0.5 * (1 + math.cos(math.pi * (step - cfg.warmup) / (cfg.steps - cfg.warmup)))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
        eval_games = random_games(200, seed=cfg.seed + 10_000)
        curve = {"step": [], "loss": [], "legal_rate": [], "config": asdict(cfg), "threads": threads}
        chunk = 200  # steps per chunk of freshly generated games
        bar = tqdm(range(0, cfg.steps, chunk), disable=not progress, desc="train OthelloGPT")
        for start in bar:
            n = min(chunk, cfg.steps - start) * cfg.batch_size
            games = random_games(int(n * 1.05) + 64, seed=cfg.seed * 1_000_003 + start)[:n]
            tokens = games_to_tokens(games).view(-1, cfg.batch_size, 60)  # (steps_in_chunk, batch, 60)
            legal = legal_token_mask(games).view(-1, cfg.batch_size, 59, 60)  # a full game always has a next move
            for i, batch in enumerate(tokens):
                logits = model(batch[:, :59])  # (batch, 59, 60)
                # p(next = m | moves so far) = 1 / #legal for each legal m: the game's own next move, in expectation
                target = legal[i].float() / legal[i].sum(-1, keepdim=True)  # (batch, 59, 60)
                loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), target.flatten(0, 1))
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                step = start + i
                if step % 100 == 0 or step == cfg.steps - 1:
                    model.eval()
                    curve["step"].append(step)
                    curve["loss"].append(loss.item())
                    curve["legal_rate"].append(legal_move_rate(model, eval_games)[0])
                    bar.set_postfix(loss=f"{loss.item():.3f}", legal=f"{curve['legal_rate'][-1]:.3f}")
                    model.train()
        model.eval()
        return {name: p.detach().half().clone() for name, p in model.named_parameters()}, curve
    finally:
        torch.set_num_threads(old_threads)
