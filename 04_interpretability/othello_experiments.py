"""The probe sweep (day 67) and the intervention sweep (day 69) on the committed OthelloGPT, cached as artefacts.

Probe data are games from their own seeds, never seen in training (training used seeds 0, 200, …, 1400 and
evaluation 10,000); they are split *by game* into probe-training and probe-test games.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from mechlearn.interp.othello import random_games, replay
from mechlearn.interp.othello_intervene import choose_cases, edited_logits, flip_direction, top_k_errors
from mechlearn.interp.othello_probes import (
    board_labels,
    fit_board_probe,
    hook_names,
    residuals,
    shuffled,
    split_positions,
)
from transformer_lens import HookedTransformer

from mechlearn.artefacts import cached_json, cached_tensors

DEPENDS_ON = ["mechlearn.interp.othello_experiments"]
PROBE_SEED, N_PROBE_TRAIN, N_PROBE_TEST = 67_000, 200, 100
INTERVENTION_SEED, N_CASES = 69_000, 200
LAYERS, SCALES = (1, 2), (1.0, 2.0, 4.0, 8.0)  # edit after block 1 or 2, early-middle blocks; alpha in the flip edit


def day_dir(day: int) -> Path:
    """A day's folder in the repository, found from this file (so a notebook copy run elsewhere finds it too)."""
    return next((Path(__file__).resolve().parents[1] / "daily_logs").glob(f"day-{day:03d}-*"))


def probe_games() -> np.ndarray:
    n = N_PROBE_TRAIN + N_PROBE_TEST
    return random_games(int(n * 1.05) + 10, seed=PROBE_SEED)[:n]


def run_probe_sweep(model: HookedTransformer, random_model: HookedTransformer) -> tuple[dict, dict]:
    """Held-out accuracy of board probes at every hook: relative and colour labels on the trained model, relative
    labels on a randomly initialised model and with shuffled labels. Returns (metrics, probe weights)."""
    games = probe_games()
    labels = board_labels(games)
    names = hook_names(model.cfg.n_layers)
    acts = {"trained": residuals(model, games), "random": residuals(random_model, games)}
    runs = {
        "relative": ("trained", labels["relative"]),
        "colour": ("trained", labels["colour"]),
        "random_model": ("random", labels["relative"]),
        "shuffled": ("trained", shuffled(labels["relative"])),
    }
    metrics: dict = {"hooks": names}
    weights: dict = {}
    for run, (which, y) in runs.items():
        metrics[run] = []
        for i in range(len(names)):
            probe = fit_board_probe(*split_positions(acts[which][i], y, N_PROBE_TRAIN))
            metrics[run].append(
                {
                    "accuracy": probe.accuracy,
                    "accuracy_nonempty": probe.accuracy_nonempty,
                    "per_square": probe.per_square.tolist(),
                }
            )
            if run in ("relative", "colour"):
                weights[f"{run}.{i}.W"], weights[f"{run}.{i}.b"] = probe.W, probe.b
    test = labels["relative"][N_PROBE_TRAIN:].flatten(0, 1)  # (m, 64)
    majority = torch.stack([torch.bincount(test[:, s], minlength=3).max() for s in range(64)]).sum() / test.numel()
    metrics["majority_accuracy"] = majority.item()
    return metrics, weights


def probe_sweep(folder: Path, model: HookedTransformer, random_model: HookedTransformer) -> tuple[dict, dict]:
    """`run_probe_sweep`, cached in `folder` (metrics as JSON, probe weights as safetensors)."""
    made: dict = {}

    def make_weights() -> dict:
        made["metrics"], made["weights"] = run_probe_sweep(model, random_model)
        return made["weights"]

    weights = cached_tensors(Path(folder) / "board_probes.safetensors", make_weights, DEPENDS_ON)
    if made:
        (Path(folder) / "probe_accuracy.json").unlink(missing_ok=True)
    metrics = cached_json(Path(folder) / "probe_accuracy.json", lambda: made["metrics"], DEPENDS_ON)
    return metrics, weights


def run_intervention_sweep(model: HookedTransformer, W_relative: dict[int, torch.Tensor]) -> dict:
    """Li et al.'s error counts for `N_CASES` random flips, per (layer, scale): with no edit, the probe edit at every
    position since the square took its disc, the same at the last position only, and an equally long random edit.

    `W_relative[layer]` is the relative probe at `blocks.{layer}.hook_resid_post`; layers and scales are `LAYERS`
    and `SCALES` (module constants, so changing them remakes the cached result).
    """
    games = random_games(N_CASES + 20, seed=INTERVENTION_SEED)[:N_CASES]
    info = replay(games[:, :59])
    cases = choose_cases(info, N_CASES, seed=INTERVENTION_SEED)
    g = torch.Generator().manual_seed(INTERVENTION_SEED)
    d_model = model.cfg.d_model
    layers, scales = list(LAYERS), list(SCALES)
    out: dict = {"layers": layers, "scales": scales, "cases": [[c.game, c.t, c.square, c.since] for c in cases]}
    clean = [edited_logits(model, games, c, 0, None, 0.0) for c in cases]
    out["clean_vs_edited_board"] = [top_k_errors(lg, c.legal_after) for lg, c in zip(clean, cases, strict=True)]
    out["clean_vs_real_board"] = [top_k_errors(lg, c.legal_before) for lg, c in zip(clean, cases, strict=True)]
    out["n_legal_edited"] = [int(c.legal_after.sum()) for c in cases]
    for layer in layers:
        for scale in scales:
            key = f"{layer}:{scale}"
            rows = {"probe": [], "probe_last": [], "random": [], "probe_vs_real_board": []}
            for c in cases:
                d_hat = flip_direction(W_relative[layer], c.square)
                r_hat = torch.nn.functional.normalize(torch.randn(d_model, generator=g), dim=0)
                lg = edited_logits(model, games, c, layer, d_hat, scale)
                rows["probe"].append(top_k_errors(lg, c.legal_after))
                rows["probe_vs_real_board"].append(top_k_errors(lg, c.legal_before))
                last = edited_logits(model, games, c, layer, d_hat, scale, where="last")
                rows["probe_last"].append(top_k_errors(last, c.legal_after))
                rnd = edited_logits(model, games, c, layer, d_hat, scale, random_direction=r_hat)
                rows["random"].append(top_k_errors(rnd, c.legal_after))
            out[key] = rows
    return out


def intervention_sweep(folder: Path, model: HookedTransformer, W_relative: dict[int, torch.Tensor]) -> dict:
    """`run_intervention_sweep`, cached in `folder` as JSON."""
    path = Path(folder) / "intervention_errors.json"
    return cached_json(path, lambda: run_intervention_sweep(model, W_relative), DEPENDS_ON)


def run_flip_probe(model: HookedTransformer) -> dict:
    """Probes for "was this square flipped by the move just played?" at every hook (day 68), on the probe games.

    Labels are 0/1 in the 3-class board probe (class 2 never occurs); with about 2 flips on 64 squares a constant
    "no" is right 97% of the time, so the recall on flipped squares is reported beside the accuracy.
    """
    games = probe_games()
    flipped = torch.from_numpy(replay(games[:, :59])["flipped"]).long()  # (n, 59, 64)
    acts = residuals(model, games)
    out: dict = {"hooks": hook_names(model.cfg.n_layers), "accuracy": [], "recall_flipped": [], "false_positive": []}
    for i in range(acts.shape[0]):
        x_tr, y_tr, x_te, y_te = split_positions(acts[i], flipped, N_PROBE_TRAIN)
        probe = fit_board_probe(x_tr, y_tr, x_te, y_te)
        pred = probe.predict(x_te)
        out["accuracy"].append(probe.accuracy)
        out["recall_flipped"].append((pred[y_te == 1] == 1).double().mean().item())
        out["false_positive"].append((pred[y_te == 0] == 1).double().mean().item())
    return out


def flip_probe(folder: Path, model: HookedTransformer) -> dict:
    """`run_flip_probe`, cached in `folder` as JSON."""
    return cached_json(Path(folder) / "flip_probe.json", lambda: run_flip_probe(model), DEPENDS_ON)
