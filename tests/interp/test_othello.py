"""The Othello engine (mechlearn.interp.othello) against published perft counts, hand-built positions and a slow,
obviously-correct reference engine (walk each of the 8 directions square by square on an 8x8 list)."""

import numpy as np
import pytest
from mechlearn.interp.othello import (
    SQUARE_NAMES,
    bit,
    colour_labels,
    expand,
    flips,
    legal_moves,
    perft,
    random_games,
    relative_labels,
    replay,
    to_bits,
)

SQ = {name: i for i, name in enumerate(SQUARE_NAMES)}
STEPS = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr, dc) != (0, 0)]


def mask(*names: str) -> np.ndarray:
    out = np.uint64(0)
    for n in names:
        out |= bit(SQ[n])
    return np.array([out])


def squares(m: np.ndarray) -> set[str]:
    return {SQUARE_NAMES[i] for i in np.flatnonzero(to_bits(m)[0])}


def test_perft_matches_published_counts_depths_1_to_7():
    # published: 4, 12, 56, 244, 1396, 8200, 55092 (no pass can occur before ply 8); whole frontier in 0.1 s
    assert [perft(d) for d in range(1, 8)] == [4, 12, 56, 244, 1396, 8200, 55092], "a direction or its mask is wrong"


def test_no_run_wraps_round_a_row_edge():
    # F1 mine, G1 H1 theirs: east of H1 is *not* A2 (bit 8); an unmasked shift would make A2 legal and flip G1 H1
    me, opp = mask("F1"), mask("G1", "H1")
    assert "A2" not in squares(legal_moves(me, opp)), "east shift wraps from column H to column A"
    me, opp = mask("A3"), mask("H2", "G2")  # west of A3 is not H2
    assert "F2" not in squares(legal_moves(me, opp)), "west shift wraps from column A to column H"


def test_flips_every_bounded_run_and_only_those():
    # D4 played by the owner of A1, G7, D1, H4: runs B2-C3 (diagonal), E5-F6 (diagonal), D2-D3 (column) bounded;
    # E4-F4-G4 bounded by H4; C4 unbounded (B4 empty) must stay
    me = mask("A1", "G7", "D1", "H4")
    opp = mask("B2", "C3", "E5", "F6", "D2", "D3", "E4", "F4", "G4", "C4")
    got = squares(flips(me, opp, mask("D4")))
    assert got == {"B2", "C3", "E5", "F6", "D2", "D3", "E4", "F4", "G4"}, f"wrong flips: {got}"


def test_a_run_ending_on_an_empty_square_or_the_edge_is_not_flipped():
    me, opp = mask("A1"), mask("B1", "C1", "E1")  # D1 empty breaks the run towards E1; F1.. empty
    assert squares(flips(me, opp, mask("D1"))) == {"B1", "C1"}
    assert squares(flips(mask("H8"), mask("A1", "B1"), mask("C1"))) == set(), "a run to the edge flipped"


def test_relative_labels_follow_the_side_to_move_on_a_hand_played_game():
    # Black F5 flips E5; White D6 flips D5. After F5 White moves: D4 is White's ("mine"), the rest "theirs".
    games = np.array([[SQ["F5"], SQ["D6"]]], dtype=np.int8)
    r = replay(games)
    rel = relative_labels(r["board"], r["next_player"])[0]  # (2, 64): 0 empty, 1 mine, 2 theirs
    assert {SQUARE_NAMES[i] for i in np.flatnonzero(rel[0] == 1)} == {"D4"}, "mine/theirs from the side that moved"
    assert {SQUARE_NAMES[i] for i in np.flatnonzero(rel[0] == 2)} == {"E4", "D5", "E5", "F5"}
    assert {SQUARE_NAMES[i] for i in np.flatnonzero(rel[1] == 1)} == {"E4", "E5", "F5"}
    assert {SQUARE_NAMES[i] for i in np.flatnonzero(rel[1] == 2)} == {"D4", "D5", "D6"}
    col = colour_labels(r["board"])[0, 1]  # 1 black, 2 white
    assert {SQUARE_NAMES[i] for i in np.flatnonzero(col == 2)} == {"D4", "D5", "D6"}


def reference_moves(board: list[list[int]], player: int) -> dict[tuple[int, int], list[tuple[int, int]]]:
    """Legal moves of `player` and the discs each flips, by walking from every empty square."""
    out = {}
    for r in range(8):
        for c in range(8):
            if board[r][c]:
                continue
            flipped = []
            for dr, dc in STEPS:
                run, rr, cc = [], r + dr, c + dc
                while 0 <= rr < 8 and 0 <= cc < 8 and board[rr][cc] == -player:
                    run.append((rr, cc))
                    rr, cc = rr + dr, cc + dc
                if run and 0 <= rr < 8 and 0 <= cc < 8 and board[rr][cc] == player:
                    flipped += run
            if flipped:
                out[(r, c)] = flipped
    return out


@pytest.mark.slow
def test_replay_matches_a_slow_reference_engine_with_passes_and_early_ends():
    games = random_games(3000, seed=7, full_only=False)
    lengths = (games >= 0).sum(1)
    full = games[lengths == 60]
    r_full = replay(full)
    nxt = r_full["next_player"]  # a pass: the side to move after ply t+1 is the side that played it
    same = ((nxt[:, 1:] == nxt[:, :-1]) & (nxt[:, 1:] != 0)).any(1)
    passed = np.flatnonzero(same)
    chosen = [full[i] for i in passed[:2]] + [full[i] for i in range(3)]
    early = games[(lengths < 60) & (lengths > 0)][:1]
    assert len(passed) >= 2 and len(early) == 1, "seed 7 should give games with passes and an early end"
    for game in chosen + [early[0][early[0] >= 0]]:
        game = np.asarray(game)
        r = replay(game[None])
        board = [[0] * 8 for _ in range(8)]
        board[3][3] = board[4][4] = -1
        board[3][4] = board[4][3] = 1
        player = 1
        for t, sq in enumerate(game):
            moves = reference_moves(board, player)
            if (sq // 8, sq % 8) not in moves:  # a pass
                player = -player
                moves = reference_moves(board, player)
            flipped = moves[(sq // 8, sq % 8)]
            board[sq // 8][sq % 8] = player
            for rr, cc in flipped:
                board[rr][cc] = player
            player = -player
            legal = reference_moves(board, player) or reference_moves(board, -player)
            if not reference_moves(board, player):
                player = -player if legal else 0
            assert (r["board"][0, t] == np.array(board).reshape(64)).all(), f"board differs at ply {t}"
            assert r["next_player"][0, t] == player, f"side to move differs at ply {t}"
            assert set(np.flatnonzero(r["legal"][0, t])) == {8 * a + b for a, b in legal}, f"legal set at ply {t}"
            assert set(np.flatnonzero(r["flipped"][0, t])) == {8 * a + b for a, b in flipped}
        assert len(game) < 60 or player == 0, "a full board must end the game"
    assert r["next_player"][0, -1] == 0, "the early-ending game must end with no side to move"


def test_a_side_without_moves_passes_and_a_blocked_board_ends_the_game():
    # H8 against A1 B1: no run can be bounded by either side, so the game is over: no children, not a pass
    me, opp = mask("H8"), mask("A1", "B1")
    assert legal_moves(me, opp)[0] == 0 and legal_moves(opp, me)[0] == 0
    assert len(expand(me, opp)[0]) == 0, "a finished game must have no children (not a pass)"
    # G1 against E1 H1: G1 bounds nothing, but the opponent plays F1 (E1 .. G1 .. H1 bounds G1): one child, the pass
    me, opp = mask("G1"), mask("E1", "H1")
    assert legal_moves(me, opp)[0] == 0 and squares(legal_moves(opp, me)) == {"F1"}
    new_me, new_opp = expand(me, opp)
    assert len(new_me) == 1 and new_me[0] == opp[0] and new_opp[0] == me[0], "a pass hands the unchanged board over"


def test_replay_rejects_a_move_illegal_for_both_sides():
    with pytest.raises(ValueError):
        replay(np.array([[SQ["A1"]]], dtype=np.int8))
