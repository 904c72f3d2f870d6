"""Each learning-rate schedule against torch.optim.lr_scheduler driving a real torch optimiser for 300 steps.

Tolerance: 1e-12 absolute on rates of order 0.1 (torch's CosineAnnealingLR is recursive, so its rounding error
grows with the step; it stays below 1e-15 here). A boundary off by one step is off by more than 1e-4.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from mechlearn.backprop import schedules
from mechlearn.backprop.optim import SGD
from mechlearn.backprop.schedules import (
    constant,
    cosine,
    inverse_sqrt,
    make_schedule,
    one_cycle,
    step_decay,
    summarise,
    train_with_schedule,
    warmup_cosine,
)
from mechlearn.backprop.train import load_digits_split

STEPS, LR, TOL = 300, 0.1, 1e-12
DAY = next(Path(__file__).parents[2].glob("daily_logs/day-085-*"))


def torch_rates(make_scheduler, steps=STEPS, lr=LR):
    """The rate torch's SGD holds at each of `steps` optimiser steps, with `scheduler.step()` after each."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr, momentum=0.9)
    scheduler = make_scheduler(opt)
    rates = []
    for _ in range(steps):
        rates.append(opt.param_groups[0]["lr"])
        p.grad = torch.ones(1)
        opt.step()
        scheduler.step()
    return np.array(rates)


def ours(fn, steps=STEPS):
    return np.array([fn(t) for t in range(steps)])


def test_constant_is_constant():
    assert (
        np.abs(
            ours(lambda t: constant(t, LR)) - torch_rates(lambda o: torch.optim.lr_scheduler.ConstantLR(o, 1.0, 0))
        ).max()
        < TOL
    )


def test_step_decay_matches_steplr_catches_wrong_boundary():
    ref = torch_rates(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=70, gamma=0.3))
    assert np.abs(ours(lambda t: step_decay(t, LR, 70, 0.3)) - ref).max() < TOL, "decay one step early or late"


def test_cosine_matches_cosineannealinglr_catches_wrong_period():
    ref = torch_rates(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=STEPS, eta_min=1e-3))
    assert np.abs(ours(lambda t: cosine(t, LR, STEPS, 1e-3)) - ref).max() < TOL, "period T off by one?"


def test_warmup_cosine_matches_sequentiallr_catches_warmup_off_by_one():
    def make(o):
        warm = torch.optim.lr_scheduler.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=30)
        decay = torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=STEPS - 30)
        return torch.optim.lr_scheduler.SequentialLR(o, [warm, decay], milestones=[30])

    diff = np.abs(ours(lambda t: warmup_cosine(t, LR, 30, STEPS, start_factor=0.1)) - torch_rates(make))
    assert diff.max() < TOL, f"warm-up/cosine hand-over wrong at step {diff.argmax()}"


@pytest.mark.parametrize("pct_start", [0.3, 0.25])
def test_one_cycle_matches_onecyclelr_catches_peak_off_by_one(pct_start):
    ref = torch_rates(
        lambda o: torch.optim.lr_scheduler.OneCycleLR(
            o, max_lr=LR, total_steps=STEPS, pct_start=pct_start, cycle_momentum=False
        )
    )
    diff = np.abs(ours(lambda t: one_cycle(t, LR, STEPS, pct_start)) - ref)
    assert diff.max() < TOL, f"one-cycle differs from torch at step {diff.argmax()} (peak at pct*T - 1?)"


def test_inverse_sqrt_matches_the_transformer_papers_formula():
    """LambdaLR with the paper's form, d^-0.5 min(s^-0.5, s w^-1.5), scaled so its peak (at s = w) is 1."""
    w = 40
    noam = lambda t: w**0.5 * min((t + 1) ** -0.5, (t + 1) * w**-1.5)  # noqa: E731
    ref = torch_rates(lambda o: torch.optim.lr_scheduler.LambdaLR(o, noam))
    assert np.abs(ours(lambda t: inverse_sqrt(t, LR, w)) - ref).max() < TOL
    assert inverse_sqrt(w - 1, LR, w) == pytest.approx(LR) and inverse_sqrt(4 * w - 1, LR, w) == pytest.approx(LR / 2)


@pytest.mark.parametrize("name", schedules.SCHEDULES)
def test_sweep_schedules_peak_at_lr_and_stay_positive(name):
    rates = ours(make_schedule(name, 0.2, 200), 200)
    assert rates.max() == pytest.approx(0.2, rel=1e-2) and rates.min() >= 0, f"{name}: peak or sign wrong"


def test_training_loop_sets_the_scheduled_rate_before_every_step(monkeypatch):
    seen = []
    step = SGD.step
    monkeypatch.setattr(SGD, "step", lambda self: (seen.append(self.lr), step(self))[1])
    data = load_digits_split(0)
    history = train_with_schedule(data, "one_cycle", 0.1, 512, seed=0, epochs=2)
    expected = ours(make_schedule("one_cycle", 0.1, 6), 6)  # 1,437 digits in batches of 512: 3 steps per epoch
    assert np.allclose(seen, expected, rtol=0, atol=1e-15), "the loop did not follow the schedule"
    assert len(history["epoch_test_acc"]) == 2 and all(math.isfinite(x) for x in history["epoch_train_loss"])


def test_summarise_mean_and_sample_std():
    runs = [{"schedule": "c", "lr": 0.1, "batch_size": 32, "final_test_acc": a} for a in (0.9, 0.95, 1.0)]
    assert summarise(runs)[("c", 0.1, 32)] == pytest.approx((0.95, 0.05, 3))


def test_committed_sweep_is_complete_and_matches_recorded_best():
    sweep = json.loads((DAY / "sweep.json").read_text())
    cfg = sweep["config"]
    n = len(cfg["lrs"]) * len(cfg["schedules"]) * len(cfg["batch_sizes"]) * len(cfg["seeds"])
    assert len(sweep["runs"]) == n
    table = summarise(sweep["runs"])
    best = max(table.values(), key=lambda v: v[0])
    recorded = json.loads((DAY / "results.json").read_text())
    assert best[0] == pytest.approx(recorded["best_mean_acc"]["value"])
