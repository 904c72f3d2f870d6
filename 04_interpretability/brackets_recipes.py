"""Which change taught day 64's hardened bracket classifier to count: day 61's recipe with one change at a time.

The hardened classifier (`brackets_adversarial.hardened_config`) differs from day 61's in its data (20,000
adversarial strings added) and its peak learning rate (1e-3 instead of 3e-3), both for one cycle of 20 epochs. Each
control here makes one of the two changes, with the same seed, schedule and held-out strings; all are trained once
and cached beside day 64's notebook.
"""

from __future__ import annotations

from pathlib import Path

from mechlearn.interp.brackets_adversarial import HARDENED_DAY, hardened_data
from mechlearn.interp.brackets_model import DEPENDS_ON, BracketsConfig, make_model, train_brackets_model
from transformer_lens import HookedTransformer

from mechlearn.artefacts import cached_training

# name: (adversarial strings added, peak learning rate)
CONTROLS = {"adversarial data, lr 3e-3": (True, 3e-3), "day 61 data, lr 1e-3": (False, 1e-3)}


def control_config(name: str) -> BracketsConfig:
    return BracketsConfig(cycles=1, lr=CONTROLS[name][1])


def train_or_load_control(name: str, folder: Path | None = None) -> tuple[HookedTransformer, dict]:
    """(model, curve) of the control `name` (a key of `CONTROLS`), from `folder` (day 64's) if current."""
    if name not in CONTROLS:
        raise ValueError(f"control must be one of {list(CONTROLS)}, not {name!r}")
    folder = Path(__file__).resolve().parents[1] / "daily_logs" / HARDENED_DAY if folder is None else Path(folder)
    cfg = control_config(name)
    adversarial = CONTROLS[name][0]
    stem = "control_" + ("adversarial_lr3e-3" if adversarial else "day61_lr1e-3")
    depends_on = [
        *DEPENDS_ON,
        "mechlearn.interp.brackets_mechanism",
        "mechlearn.interp.brackets_adversarial",
        "mechlearn.interp.brackets_recipes",
    ]
    weights, curve = cached_training(
        folder / f"{stem}.safetensors",
        folder / f"{stem}_curve.json",
        lambda: train_brackets_model(cfg, data=hardened_data(cfg) if adversarial else None),  # None: day 61's
        depends_on,
    )
    return make_model(cfg, weights), curve
