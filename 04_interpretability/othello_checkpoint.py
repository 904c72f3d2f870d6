"""The committed OthelloGPT: trained once (day 66's notebook calls `train_or_load`), loaded by days 67–69 and tests.

Weights are stored as float16 safetensors (about 1.6 MB) and the training curve as JSON, both keyed on
`mechlearn.interp.othello_model` (and the engine it imports): editing those retrains; editing this module does not.
"""

from __future__ import annotations

import json
from pathlib import Path

from mechlearn.interp.othello_model import OthelloConfig, make_model, train_othello_model
from safetensors.torch import load_file
from transformer_lens import HookedTransformer

from mechlearn.artefacts import cached_json, cached_tensors

CHECKPOINT_DAY = "day-066-training-othellogpt-on-random-legal-games"
WEIGHTS, CURVE = "othello_gpt.safetensors", "othello_training_curve.json"
DEPENDS_ON = ["mechlearn.interp.othello_model"]


def checkpoint_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "daily_logs" / CHECKPOINT_DAY


def train_or_load(folder: Path | None = None, cfg: OthelloConfig | None = None, progress: bool = True):
    """(weights, curve) from `folder` (day 66's by default) if current, else trained now and saved there."""
    folder = checkpoint_dir() if folder is None else Path(folder)
    cfg = OthelloConfig() if cfg is None else cfg
    made: dict = {}

    def make_weights() -> dict:
        made["weights"], made["curve"] = train_othello_model(cfg, progress=progress)
        return made["weights"]

    weights = cached_tensors(folder / WEIGHTS, make_weights, DEPENDS_ON)
    if made:  # just trained: an old curve belongs to old weights
        (folder / CURVE).unlink(missing_ok=True)
    curve = cached_json(folder / CURVE, lambda: made["curve"], DEPENDS_ON)
    return weights, curve


def load_othello_gpt(folder: Path | None = None) -> tuple[HookedTransformer, OthelloConfig]:
    """The committed model (float16 weights, run in float32) and its config."""
    folder = checkpoint_dir() if folder is None else Path(folder)
    curve = json.loads((folder / CURVE).read_text())
    cfg = OthelloConfig(**curve["config"])
    return make_model(cfg, load_file(str(folder / WEIGHTS))), cfg
