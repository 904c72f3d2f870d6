"""Editing OthelloGPT's board along probe directions, and checking the edit with the engine (Li et al. 2023, §4;
Nanda, Lee & Wattenberg 2023; ARENA 1.5.3).

To flip square $s$ between "mine" and "theirs" at layer $L$, take the probe's flip direction
$\\hat d = (W_{:, s, \\text{theirs}} - W_{:, s, \\text{mine}}) / \\lVert\\cdot\\rVert$ and move the residual
stream $x$ to $x' = x - (1 + \\alpha)(x \\cdot \\hat d)\\,\\hat d$: $\\alpha = 1$ reflects its component along
$\\hat d$, larger $\\alpha$ pushes further (ARENA's `apply_scale`). If the model reads its legal moves off this
representation, its predictions should now follow the *edited* board's legal moves, which the engine computes.
The control moves $x$ by the same distance along a random direction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float
from mechlearn.interp.othello import PLAYABLE, legal_moves
from mechlearn.interp.othello_model import games_to_tokens
from torch import Tensor
from transformer_lens import HookedTransformer


def flip_direction(W: Float[Tensor, "d 64 3"], square: int) -> Float[Tensor, " d"]:
    """Unit vector from "mine" (class 1) to "theirs" (class 2) for `square`, in a relative board probe."""
    d = W[:, square, 2] - W[:, square, 1]
    return d / d.norm()


def flip_edit(x: Float[Tensor, "... d"], d_hat: Float[Tensor, " d"], scale: float) -> Float[Tensor, "... d"]:
    """The displacement $-(1 + \\alpha)(x \\cdot \\hat d)\\hat d$ that reflects (and, for $\\alpha > 1$,
    overshoots) `x`'s component along `d_hat`."""
    return -(1 + scale) * (x @ d_hat)[..., None] * d_hat


def legal_after_flip(board: np.ndarray, next_player: int, square: int) -> np.ndarray:
    """(64,) bool: legal squares for the side to move after the disc on `square` changes colour (the other side's
    moves if it must pass; all False if the game would be over)."""
    edited = board.copy()
    edited[square] = -edited[square]
    mine = np.uint64(sum(1 << int(i) for i in np.flatnonzero(edited == next_player)))
    theirs = np.uint64(sum(1 << int(i) for i in np.flatnonzero(edited == -next_player)))
    moves = legal_moves(np.array([mine]), np.array([theirs]))[0]
    if moves == 0:
        moves = legal_moves(np.array([theirs]), np.array([mine]))[0]
    return ((np.uint64(moves) >> np.arange(64, dtype=np.uint64)) & np.uint64(1)).astype(bool)


@dataclass
class Case:
    game: int
    t: int  # position: the board after move t + 1 (0-based index into the sequence)
    square: int
    since: int  # first position at which `square` holds its current disc (it was placed or last flipped there)
    legal_before: np.ndarray  # (64,) bool, the real board
    legal_after: np.ndarray  # (64,) bool, the edited board


def choose_cases(info: dict, n: int, seed: int, t_range: tuple[int, int] = (10, 50)) -> list[Case]:
    """`n` random (game, position, square) edits whose legal-move set differs from the real board's.

    `info` is `othello.replay(games)`; the flipped square holds a disc and is not one of the centre four.
    """
    rng = np.random.default_rng(seed)
    cases: list[Case] = []
    n_games = info["board"].shape[0]
    while len(cases) < n:
        g, t = int(rng.integers(n_games)), int(rng.integers(*t_range))
        board, player = info["board"][g, t], int(info["next_player"][g, t])
        if player == 0:
            continue
        occupied = [s for s in np.flatnonzero(board != 0) if s in set(PLAYABLE.tolist())]
        s = int(rng.choice(occupied))
        after = legal_after_flip(board, player, s)
        if not after.any() or (after == info["legal"][g, t]).all():
            continue
        history = info["board"][g, : t + 1, s]
        since = int(np.flatnonzero(history != history[-1])[-1] + 1) if (history != history[-1]).any() else 0
        cases.append(Case(g, t, s, since, info["legal"][g, t].copy(), after))
    return cases


def top_k_errors(logits: Float[Tensor, " 60"], legal: np.ndarray) -> int:
    """Li et al.'s error count: with k = the number of legal squares, how many of the k top-scored moves are not
    legal (equivalently, how many legal moves are missing from the top k)."""
    k = int(legal.sum())
    top = PLAYABLE[logits.topk(k).indices.numpy()]
    return int(k - legal[top].sum())


def edited_logits(
    model: HookedTransformer,
    games: np.ndarray,
    case: Case,
    layer: int,
    d_hat: Float[Tensor, " d"] | None,
    scale: float,
    where: str = "since",
    random_direction: Float[Tensor, " d"] | None = None,
) -> Float[Tensor, " 60"]:
    """Next-move logits at the case's position with the residual stream after block `layer` edited at the last
    position (`where="last"`) or at every position since the square took its disc (`"since"`).

    `d_hat=None` runs the model unedited. With `random_direction` (a unit vector), each edit is replaced by a move
    of the same length along it: the random-direction control.
    """
    tokens = games_to_tokens(games[case.game : case.game + 1])[:, : case.t + 1]
    start = case.t if where == "last" else case.since

    def hook(resid: Tensor, hook) -> Tensor:
        delta = flip_edit(resid[:, start:], d_hat, scale)  # (1, pos, d)
        if random_direction is not None:
            delta = delta.norm(dim=-1, keepdim=True) * random_direction
        resid[:, start:] += delta
        return resid

    hooks = [] if d_hat is None else [(f"blocks.{layer}.hook_resid_post", hook)]
    with torch.no_grad():
        return model.run_with_hooks(tokens, fwd_hooks=hooks)[0, -1]
