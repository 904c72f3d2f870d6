"""Board probes and probe-direction edits (othello_probes, othello_intervene) against references: 64 separate
`probes.train_probe` fits, hand-computed legal moves and reflections."""

import numpy as np
import torch
from mechlearn.interp.othello import SQUARE_NAMES, replay
from mechlearn.interp.othello_intervene import (
    Case,
    edited_logits,
    flip_direction,
    flip_edit,
    legal_after_flip,
    top_k_errors,
)
from mechlearn.interp.othello_model import OthelloConfig, make_model
from mechlearn.interp.othello_probes import fit_board_probe, shuffled
from mechlearn.interp.probes import train_probe

SQ = {n: i for i, n in enumerate(SQUARE_NAMES)}


def test_joint_board_probe_equals_separate_probes_per_square():
    # the joint objective sums the 64 per-square objectives of train_probe; same split, same l2 -> same optimum
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 6, generator=g)
    y = (x @ torch.randn(6, 64, 3, generator=g).flatten(1)).view(400, 64, 3) + torch.randn(400, 64, 3, generator=g)
    y = y.argmax(-1)
    order = torch.randperm(400, generator=torch.Generator().manual_seed(0))  # train_probe's split for seed 0
    test, train = order[:100], order[100:]
    joint = fit_board_probe(x[train], y[train], x[test], y[test], l2=1e-2, max_iter=200)
    for s in (0, 37):
        ref = train_probe(x, y[:, s], 3, l2=1e-2, seed=0)
        p_ref = torch.softmax(x[test] @ ref.W + ref.b, -1)
        p_joint = torch.softmax(x[test] @ joint.W[:, s] + joint.b[s], -1)
        assert torch.allclose(p_joint, p_ref, atol=1e-3), "joint loss must weight each square as train_probe does"
        assert abs(joint.per_square[s].item() - ref.test_accuracy) < 1e-6


def test_shuffled_control_keeps_each_squares_label_counts():
    y = torch.randint(0, 3, (5, 7, 64), generator=torch.Generator().manual_seed(1))
    ys = shuffled(y)
    assert (ys != y).any() and (torch.sort(ys.flatten(0, 1), 0)[0] == torch.sort(y.flatten(0, 1), 0)[0]).all()


def test_flip_edit_reflects_the_component_along_the_direction_and_keeps_the_rest():
    g = torch.Generator().manual_seed(2)
    x, d = torch.randn(3, 8, generator=g), torch.nn.functional.normalize(torch.randn(8, generator=g), dim=0)
    x2 = x + flip_edit(x, d, scale=1.0)
    assert torch.allclose(x2 @ d, -(x @ d), atol=1e-6), "scale 1 must reflect the component along d"
    assert torch.allclose(x2 - (x2 @ d)[:, None] * d, x - (x @ d)[:, None] * d, atol=1e-6), "orthogonal part moved"
    W = torch.zeros(8, 64, 3)
    W[:, 5, 2], W[:, 5, 1] = d, -d
    assert torch.allclose(flip_direction(W, 5), d), "direction must point from mine (1) to theirs (2)"


def test_legal_moves_of_an_edited_start_position_by_hand():
    # start, Black to move; D4 turned black leaves White only E5: Black can play E6, F5, F6 (not D3, C4)
    board = replay(np.array([[SQ["F5"]]], dtype=np.int8))["board"][0, 0] * 0
    board[[SQ["D4"], SQ["E5"]]], board[[SQ["E4"], SQ["D5"]]] = -1, 1
    got = {SQUARE_NAMES[i] for i in np.flatnonzero(legal_after_flip(board, 1, SQ["D4"]))}
    assert got == {"E6", "F5", "F6"}, f"edited-board legal moves wrong: {got}"


def test_top_k_errors_counts_legal_moves_missing_from_the_top_k():
    logits = torch.arange(60, dtype=torch.float32)  # token 59 best, then 58, 57 ...
    legal = np.zeros(64, bool)
    legal[[63, 62, 0]] = True  # squares of tokens 59, 58 and 0: top-3 holds tokens 59, 58, 57
    assert top_k_errors(logits, legal) == 1


def test_an_edit_of_zero_length_leaves_the_logits_and_a_real_edit_changes_them():
    cfg = OthelloConfig(n_layers=1, d_model=16, d_head=4, d_mlp=32)
    model = make_model(cfg)
    games = np.array([[SQ["F5"], SQ["D6"], SQ["C3"], SQ["D3"], SQ["C4"]]], dtype=np.int8)
    case = Case(0, 4, SQ["D5"], 1, np.zeros(64, bool), np.zeros(64, bool))
    d = torch.nn.functional.normalize(torch.randn(16, generator=torch.Generator().manual_seed(3)), dim=0)
    clean = edited_logits(model, games, case, 0, None, 0.0)
    assert torch.allclose(edited_logits(model, games, case, 0, d, -1.0), clean, atol=1e-6), "scale -1 moves nothing"
    assert not torch.allclose(edited_logits(model, games, case, 0, d, 4.0), clean, atol=1e-3), "the hook never ran"
