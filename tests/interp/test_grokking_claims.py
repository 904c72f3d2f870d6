"""Days 56–60: the grokking runs' claims against their committed artefacts; slow: retraining reproduces them."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch
from mechlearn.interp.grokking import train_grokking
from mechlearn.interp.grokking_checkpoint import RUNS, run_paths
from mechlearn.interp.grokking_fourier import key_frequencies
from safetensors.torch import load_file

MAIN, CONTROL = "lr2e-3_wd5", "lr2e-3_wd0"


def curve_of(name: str) -> dict:
    return json.loads(run_paths(name)[1].read_text())


def first_epoch(curve: dict, key: str, threshold: float) -> int | None:
    hits = [e for e, v in zip(curve["epoch"], curve[key], strict=True) if v >= threshold]
    return hits[0] if hits else None


def results(day_glob: str) -> dict:
    folder = next(run_paths(MAIN)[0].parents[1].glob(day_glob))
    return {k: v["value"] for k, v in json.loads((folder / "results.json").read_text()).items()}


def test_main_run_memorises_then_generalises_much_later():
    """Day 56: train accuracy 100% and test accuracy >= 99% at the end; the test accuracy gets there at least twice
    as many epochs after the training accuracy did (a run that generalised alongside memorising fails)."""
    curve = curve_of(MAIN)
    assert curve["train_acc"][-1] == 1.0 and curve["test_acc"][-1] >= 0.99
    generalised = first_epoch(curve, "test_acc", 0.99)
    assert generalised >= 2 * curve["first_epoch_train_acc_1"]
    assert results("day-056-*")["generalised_epoch"] == generalised


def test_key_frequencies_are_the_embeddings_and_as_recorded():
    """Day 57: the key frequencies recomputed from the committed embedding equal the run's and the page's."""
    weights = load_file(str(run_paths(MAIN)[0]))
    p = RUNS[MAIN][0].p
    key = key_frequencies(weights["embed.W_E"][:p])
    assert key == curve_of(MAIN)["key_freqs"]
    assert results("day-057-*")["key_freqs"] == ", ".join(map(str, key))
    assert 2 <= len(key) <= 8


def test_progress_measures_end_where_the_algorithm_says():
    """Day 59: at the end the restricted loss is within a factor 2 of the full loss (the key frequencies carry the
    answer) and the excluded loss is at least half of ln p (without them the model is near chance)."""
    curve = curve_of(MAIN)
    assert curve["restricted_loss"][-1] <= 2 * curve["full_loss_all"][-1]
    assert curve["excluded_loss"][-1] >= 0.5 * math.log(RUNS[MAIN][0].p)


def test_control_without_weight_decay_does_not_generalise():
    """Day 60: same seed and budget with weight decay 0: memorises, stays far from the test set, and its weights
    end larger than the decayed run's."""
    control, main = curve_of(CONTROL), curve_of(MAIN)
    assert control["train_acc"][-1] == 1.0 and control["test_acc"][-1] < 0.5
    assert control["weight_norm_sq"][-1] > main["weight_norm_sq"][-1]


@pytest.mark.slow
def test_retraining_reproduces_the_first_epochs_of_the_main_curve():
    """Retraining from the seeds gives the committed curve's first 201 epochs (single-threaded CPU: rtol 1e-5)."""
    cfg = RUNS[MAIN][0]
    short = dataclasses.replace(cfg, epochs=201)
    _, curve = train_grokking(short, progress=False)
    committed = curve_of(MAIN)
    n = len(curve["epoch"]) - 1  # the short run's last entry is its final epoch, logged anyway
    assert curve["epoch"][:n] == committed["epoch"][:n]
    for key in ("train_loss", "test_loss", "train_acc", "test_acc", "weight_norm_sq"):
        assert torch.allclose(torch.tensor(curve[key][:n]), torch.tensor(committed[key][:n]), rtol=1e-5), key
