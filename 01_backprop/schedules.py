r"""Learning-rate schedules written as functions of the step, and a small sweep that trains day 8's MLP with them.

Each schedule gives the learning rate $\eta_t$ for optimiser step $t = 0, 1, \dots$ (the rate torch's optimiser
holds after $t$ calls of `scheduler.step()`), with $\eta$ the peak rate and $T$ the total number of steps:

- **constant**: $\eta_t = \eta$.
- **step decay** (`StepLR`): $\eta_t = \eta\,\gamma^{\lfloor t / s \rfloor}$.
- **cosine** (`CosineAnnealingLR`): $\eta_t = \eta_{\min} + \tfrac12(\eta - \eta_{\min})(1 + \cos(\pi t / T))$.
- **warm-up then cosine** (`LinearLR` then `CosineAnnealingLR` in a `SequentialLR`): linear from $f\eta$ to $\eta$
  over $w$ steps, then the cosine over the remaining $T - w$.
- **one-cycle** (`OneCycleLR`, cosine annealing): from $\eta/d$ up to $\eta$ over the first $pT - 1$ steps, then
  down to $\eta/(d\,d_f)$ at step $T - 1$, both halves along a half cosine [@smith2019superconvergence].
- **inverse square root** [@vaswani2017attention]: linear warm-up to $\eta$ at step $w$, then
  $\eta\sqrt{w / t}$.

`train_with_schedule` is day 8's loop with one change: before each step it sets the optimiser's `lr` attribute
(which `mechlearn.backprop.optim` reads afresh at every update) to $\eta_t$.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
from mechlearn.backprop.functional import cross_entropy
from mechlearn.backprop.optim import SGD, Adam
from mechlearn.backprop.tensor import Tensor
from mechlearn.backprop.train import Digits, accuracy, make_mlp
from threadpoolctl import threadpool_limits

Schedule = Callable[[int], float]  # step t (0-based) -> learning rate


def constant(t: int, lr: float) -> float:
    return lr


def step_decay(t: int, lr: float, step_size: int, gamma: float = 0.1) -> float:
    # \eta_t = \eta \gamma^{\lfloor t/s \rfloor}
    return lr * gamma ** (t // step_size)


def cosine(t: int, lr: float, T_max: int, eta_min: float = 0.0) -> float:
    # \eta_t = \eta_min + (\eta - \eta_min)(1 + \cos(\pi t / T)) / 2
    return eta_min + (lr - eta_min) * (1 + math.cos(math.pi * t / T_max)) / 2


def warmup_cosine(t: int, lr: float, warmup: int, total: int, start_factor: float = 0.1, eta_min: float = 0.0) -> float:
    """Linear warm-up from `start_factor * lr` to `lr` over `warmup` steps, then cosine to `eta_min` at `total`."""
    if t < warmup:
        return lr * (start_factor + (1 - start_factor) * t / warmup)
    return cosine(t - warmup, lr, total - warmup, eta_min)


def _cos_between(start: float, end: float, fraction: float) -> float:
    # from start (fraction 0) to end (fraction 1) along a half cosine
    return end + (start - end) * (1 + math.cos(math.pi * fraction)) / 2


def one_cycle(
    t: int, max_lr: float, total: int, pct_start: float = 0.3, div_factor: float = 25.0, final_div_factor: float = 1e4
) -> float:
    """torch's `OneCycleLR` (two phases, cosine annealing): up from max_lr/div_factor, then down to a far smaller
    rate. Phase boundaries as torch puts them: the peak at step `pct_start * total - 1`, the end at `total - 1`."""
    initial = max_lr / div_factor
    final = initial / final_div_factor
    peak = pct_start * total - 1
    if t <= peak:
        return _cos_between(initial, max_lr, t / peak)
    return _cos_between(max_lr, final, (t - peak) / (total - 1 - peak))


def inverse_sqrt(t: int, lr: float, warmup: int) -> float:
    """Linear warm-up to `lr` at step `warmup`, then decay as 1/sqrt(step); steps counted from 1 as in the
    Transformer paper, so the rate is never zero."""
    s = t + 1
    return lr * min(s / warmup, math.sqrt(warmup / s))


SCHEDULES = ["constant", "step", "cosine", "warmup_cosine", "one_cycle", "inverse_sqrt"]


def make_schedule(name: str, lr: float, total: int) -> Schedule:
    """The sweep's version of each schedule, with peak rate `lr` over `total` steps: warm-ups take 10% of the run,
    step decay divides the rate by 10 after each third of it (lr, lr/10, lr/100), cosines end at zero."""
    warmup = max(1, total // 10)
    makers: dict[str, Schedule] = {
        "constant": lambda t: constant(t, lr),
        "step": lambda t: step_decay(t, lr, step_size=math.ceil(total / 3), gamma=0.1),
        "cosine": lambda t: cosine(t, lr, T_max=total),
        "warmup_cosine": lambda t: warmup_cosine(t, lr, warmup=warmup, total=total),
        "one_cycle": lambda t: one_cycle(t, lr, total=total),
        "inverse_sqrt": lambda t: inverse_sqrt(t, lr, warmup=warmup),
    }
    if name not in makers:
        raise ValueError(f"schedule must be one of {SCHEDULES}, not {name!r}")
    return makers[name]


@dataclass
class SweepConfig:
    lrs: list[float] = field(default_factory=lambda: [0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0])  # peak rates, x3 apart
    schedules: list[str] = field(default_factory=lambda: list(SCHEDULES))
    batch_sizes: list[int] = field(default_factory=lambda: [32, 128])  # 45 and 12 steps per epoch
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])  # initialisation and minibatch order
    epochs: int = 10  # each run well under a second on one core
    optimiser: str = "sgd"  # SGD with momentum 0.9: the optimiser schedules were made for
    momentum: float = 0.9


def train_with_schedule(
    data: Digits,
    schedule_name: str,
    lr: float,
    batch_size: int,
    seed: int,
    epochs: int,
    optimiser: str = "sgd",
    momentum: float = 0.9,
) -> dict:
    """Day 8's MLP, trained with the learning rate set from the schedule before every step. Returns per-epoch mean
    training loss and held-out accuracy (a diverged run stops, its loss recorded as None)."""
    model = make_mlp(seed)
    rng = np.random.default_rng(seed)
    params = model.parameters()
    opt = SGD(params, lr=lr, momentum=momentum) if optimiser == "sgd" else Adam(params, lr=lr)
    n = len(data.X_train)
    steps_per_epoch = math.ceil(n / batch_size)
    schedule = make_schedule(schedule_name, lr, epochs * steps_per_epoch)
    history: dict = {"epoch_train_loss": [], "epoch_test_acc": [], "diverged": False}
    t = 0
    with threadpool_limits(1):
        for _ in range(epochs):
            order = rng.permutation(n)
            losses = []
            for start in range(0, n, batch_size):
                batch = order[start : start + batch_size]
                opt.lr = schedule(t)  # the only change to the loop
                loss = cross_entropy(model(Tensor(data.X_train[batch])), data.y_train[batch])
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(loss.item())
                t += 1
            mean = float(np.mean(losses))
            history["diverged"] = not math.isfinite(mean)
            history["epoch_train_loss"].append(round(mean, 6) if math.isfinite(mean) else None)
            history["epoch_test_acc"].append(round(accuracy(model, data.X_test, data.y_test), 6))
            if history["diverged"]:
                break
    history["final_test_acc"] = history["epoch_test_acc"][-1]
    return history


def run_sweep(data: Digits, config: SweepConfig, progress: Callable[[str], None] | None = None) -> dict:
    """Every (schedule, lr, batch size, seed) of `config`; JSON-able, one row per run."""
    runs = []
    for schedule_name in config.schedules:
        for lr in config.lrs:
            for batch_size in config.batch_sizes:
                for seed in config.seeds:
                    h = train_with_schedule(
                        data, schedule_name, lr, batch_size, seed, config.epochs, config.optimiser, config.momentum
                    )
                    runs.append({"schedule": schedule_name, "lr": lr, "batch_size": batch_size, "seed": seed} | h)
                    if progress:
                        progress(f"{schedule_name} lr={lr:g} bs={batch_size} seed={seed}: {h['final_test_acc']:.3f}")
    return {"config": asdict(config), "runs": runs}


def summarise(runs: list[dict]) -> dict[tuple[str, float, int], tuple[float, float, int]]:
    """(schedule, lr, batch size) -> (mean, sample std, count) of final held-out accuracy over seeds."""
    groups: dict[tuple[str, float, int], list[float]] = {}
    for r in runs:
        groups.setdefault((r["schedule"], r["lr"], r["batch_size"]), []).append(r["final_test_acc"])
    return {k: (float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, len(v)) for k, v in groups.items()}
