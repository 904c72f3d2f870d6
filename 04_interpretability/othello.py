"""An Othello engine on bitboards, vectorised over many positions at once with NumPy `uint64` arrays.

A position is two 64-bit masks seen from the side to move: `me` (the mover's discs) and `opp`. Bit $i$ is square
$i = 8\\,\\text{row} + \\text{col}$; columns are A–H, rows 1–8, so A1 is bit 0 and H8 bit 63. Rules: a move puts a
disc on an empty square such that, in at least one of the 8 directions, a contiguous run of opponent discs ends in
one of the mover's discs; every such run flips. A side without a legal move passes; the game ends when neither side
can move. Black moves first from D5, E4 (black) and D4, E5 (white).

Both `legal_moves` and `flips` use the "dumb7fill" of chess programming: shift a mask one square along a direction,
keep what lands on opponent discs, repeat (a run is at most 6 long), then look one square further.
"""

from __future__ import annotations

import numpy as np

U64 = np.uint64
FULL = U64(0xFFFFFFFFFFFFFFFF)
NOT_COL_A = U64(0xFEFEFEFEFEFEFEFE)  # every square but column A (col 0)
NOT_COL_H = U64(0x7F7F7F7F7F7F7F7F)  # every square but column H (col 7)
# (shift, mask of squares that may be *reached*): + is towards higher bits; a column wrap is masked out
DIRECTIONS = [
    (1, NOT_COL_A),  # east: col + 1, must not land on column A
    (-1, NOT_COL_H),  # west
    (8, FULL),  # south (row + 1); bits shifted past 63 or below 0 vanish
    (-8, FULL),  # north
    (9, NOT_COL_A),  # south-east
    (7, NOT_COL_H),  # south-west
    (-7, NOT_COL_A),  # north-east
    (-9, NOT_COL_H),  # north-west
]
SQUARE_NAMES = [f"{'ABCDEFGH'[i % 8]}{i // 8 + 1}" for i in range(64)]
CENTRE = [27, 28, 35, 36]  # D4, E4, D5, E5: occupied from the start, never played
PLAYABLE = np.array([i for i in range(64) if i not in CENTRE])  # token t is square PLAYABLE[t]
TOKEN_OF_SQUARE = {int(s): t for t, s in enumerate(PLAYABLE)}
BLACK, WHITE = 1, -1


def bit(square: int) -> np.uint64:
    return U64(1) << U64(square)


def start_position() -> tuple[np.uint64, np.uint64]:
    """(black, white) at the start: black on D5 and E4, white on D4 and E5."""
    return bit(35) | bit(28), bit(27) | bit(36)


def shift(x: np.ndarray, s: int, mask: np.uint64) -> np.ndarray:
    """Every disc of `x` moved one square along a direction, discs that would wrap a row edge dropped."""
    return ((x << U64(s)) if s > 0 else (x >> U64(-s))) & mask


def legal_moves(me: np.ndarray, opp: np.ndarray) -> np.ndarray:
    """Mask of the squares where the side owning `me` may play."""
    empty = ~(me | opp)
    moves = np.zeros_like(me)
    for s, mask in DIRECTIONS:
        run = shift(me, s, mask) & opp  # opponent discs adjacent to one of mine
        for _ in range(5):  # extend the runs: at most 6 opponent discs fit between two squares
            run |= shift(run, s, mask) & opp
        moves |= shift(run, s, mask) & empty
    return moves


def flips(me: np.ndarray, opp: np.ndarray, move: np.ndarray) -> np.ndarray:
    """Mask of the opponent discs flipped when `me` plays the single-square mask `move` (0 for a pass)."""
    out = np.zeros_like(me)
    for s, mask in DIRECTIONS:
        run = shift(move, s, mask) & opp  # the contiguous opponent run starting next to the move
        for _ in range(5):
            run |= shift(run, s, mask) & opp
        bounded = (shift(run, s, mask) & me) != 0  # the square after the run is mine
        out |= np.where(bounded, run, U64(0))
    return out


def play(me: np.ndarray, opp: np.ndarray, move: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(me, opp) after `me` plays `move`, returned from the *next* mover's side: (old opp less flips, old me + ...)."""
    f = flips(me, opp, move)
    return opp & ~f, me | move | f


def popcount(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=U64)
    return np.unpackbits(x.reshape(-1, 1).view(np.uint8), axis=1).sum(1).reshape(x.shape)


def to_bits(x: np.ndarray) -> np.ndarray:
    """(…, 64) booleans, square i at index i."""
    x = np.asarray(x, dtype=U64)
    return ((x[..., None] >> np.arange(64, dtype=U64)) & U64(1)).astype(bool)


def expand(me: np.ndarray, opp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every child of every position (from the child's mover's side); a position without a move but whose opponent
    has one yields one child, the pass; a finished game yields none."""
    moves = legal_moves(me, opp)
    parent, square = np.nonzero(to_bits(moves))
    new_me, new_opp = play(me[parent], opp[parent], U64(1) << square.astype(U64))
    passes = (moves == 0) & (legal_moves(opp, me) != 0)
    return np.concatenate([new_me, opp[passes]]), np.concatenate([new_opp, me[passes]])


def perft(depth: int) -> int:
    """Number of move sequences of length `depth` from the start, counted level by level over all positions at once.

    A pass counts as one ply (the position is handed over unchanged); a game that ends before `depth` contributes no
    sequence. No pass or game end can happen in the first 7 plies, so these choices do not change depths 1–7.
    """
    black, white = start_position()
    me, opp = np.array([black]), np.array([white])
    for _ in range(depth):
        me, opp = expand(me, opp)
    return len(me)


def random_games(n: int, seed: int, full_only: bool = True) -> np.ndarray:
    """(n, 60) squares of games played by choosing uniformly among the legal moves, all n games at once.

    Passes are not written down: after a pass the same colour plays again, as in Li et al.'s synthetic data. With
    `full_only`, only games that fill the board (60 moves) are kept, so about n·(share of full games) rows come back;
    otherwise unplayed slots are -1.
    """
    rng = np.random.default_rng(seed)
    black, white = start_position()
    me, opp = np.full(n, black), np.full(n, white)
    games = np.full((n, 60), -1, dtype=np.int8)
    length = np.zeros(n, dtype=np.int64)
    done = np.zeros(n, dtype=bool)
    while not done.all():
        moves = legal_moves(me, opp)
        stuck = moves == 0
        done |= stuck & (legal_moves(opp, me) == 0)
        passing = stuck & ~done
        me, opp = np.where(passing, opp, me), np.where(passing, me, opp)
        act = ~stuck & ~done
        scores = np.where(to_bits(moves[act]), rng.random((int(act.sum()), 64)), -1.0)
        square = scores.argmax(1)
        games[act, length[act]] = square
        length[act] += 1
        new_me, new_opp = play(me[act], opp[act], U64(1) << square.astype(U64))
        me[act], opp[act] = new_me, new_opp
    return games[length == 60] if full_only else games


def replay(games: np.ndarray) -> dict[str, np.ndarray]:
    """Everything about each position of each game, after each move t (arrays of shape (n, T, ...)):

    - `board`: (n, T, 64) int8, +1 black, -1 white, 0 empty;
    - `next_player`: (n, T) int8, the colour to move next (+1/-1; 0 once the game is over);
    - `legal`: (n, T, 64) bool, the next mover's legal squares;
    - `flipped`: (n, T, 64) bool, the discs flipped by move t.

    A move that is illegal for the side due to play is taken as played after a pass by that side (the sequence
    does not record passes); a move illegal for both sides raises.
    """
    n, T = games.shape
    black, white = start_position()
    me, opp = np.full(n, black), np.full(n, white)
    colour = np.full(n, BLACK, dtype=np.int8)  # colour of `me`
    out = {
        "board": np.zeros((n, T, 64), np.int8),
        "next_player": np.zeros((n, T), np.int8),
        "legal": np.zeros((n, T, 64), bool),
        "flipped": np.zeros((n, T, 64), bool),
    }
    for t in range(T):
        move = U64(1) << games[:, t].astype(U64)
        passed = (legal_moves(me, opp) & move) == 0
        me, opp = np.where(passed, opp, me), np.where(passed, me, opp)
        colour = np.where(passed, -colour, colour)
        if ((legal_moves(me, opp) & move) == 0).any():
            raise ValueError(f"an illegal move at ply {t}")
        f = flips(me, opp, move)
        me, opp = opp & ~f, me | move | f  # from the next mover's side
        colour = -colour
        mine, theirs = to_bits(me), to_bits(opp)
        out["board"][:, t] = (mine.astype(np.int8) - theirs) * colour[:, None]
        out["flipped"][:, t] = to_bits(f)
        legal_next, legal_after_pass = legal_moves(me, opp), legal_moves(opp, me)
        next_colour = np.where(legal_next != 0, colour, np.where(legal_after_pass != 0, -colour, 0))
        out["next_player"][:, t] = next_colour
        out["legal"][:, t] = to_bits(np.where(legal_next != 0, legal_next, legal_after_pass))
    return out


def relative_labels(board: np.ndarray, next_player: np.ndarray) -> np.ndarray:
    """Board labels seen from the side to move: 0 empty, 1 mine (the next mover's), 2 theirs."""
    rel = board * next_player[..., None]
    return np.where(rel == 0, 0, np.where(rel > 0, 1, 2)).astype(np.int64)


def colour_labels(board: np.ndarray) -> np.ndarray:
    """Board labels by colour: 0 empty, 1 black, 2 white."""
    return np.where(board == 0, 0, np.where(board > 0, 1, 2)).astype(np.int64)
