"""The committed 2-layer induction model: trained once in day 32's notebook, loaded by later days and tests.

`train_or_load` wraps training in `mechlearn.artefacts` caches (weights as safetensors, the curve as JSON), keyed on
`mechlearn.interp.induction_model`: editing that module retrains; editing this one does not.
"""

from __future__ import annotations

import json
from pathlib import Path

from mechlearn.interp.induction_model import InductionConfig, make_model, train_induction_model
from safetensors.torch import load_file
from transformer_lens import HookedTransformer

from mechlearn.artefacts import cached_json, cached_tensors

CHECKPOINT_DAY = "day-032-training-a-two-layer-attention-only-model-on-rep"
WEIGHTS, CURVE = "induction_model.safetensors", "training_curve.json"
DEPENDS_ON = ["mechlearn.interp.induction_model"]


def checkpoint_dir() -> Path:
    """Day 32's folder, found from this file (as `mechlearn.transformers.tiny_lm` does), so it resolves from a copy
    of a notebook executed elsewhere (the entries test) as well as from the repository."""
    return Path(__file__).resolve().parents[1] / "daily_logs" / CHECKPOINT_DAY


def train_or_load(folder: Path, cfg: InductionConfig, progress: bool = True) -> tuple[dict, dict]:
    """(weights, curve) from `folder` if current, else trained now and saved there."""
    made: dict = {}

    def make_weights() -> dict:
        made["weights"], made["curve"] = train_induction_model(cfg, progress=progress)
        return made["weights"]

    weights = cached_tensors(Path(folder) / WEIGHTS, make_weights, DEPENDS_ON)
    if made:  # just trained: the old curve, if any, belongs to the old weights
        (Path(folder) / CURVE).unlink(missing_ok=True)
    curve = cached_json(Path(folder) / CURVE, lambda: made["curve"], DEPENDS_ON)
    return weights, curve


def load_trained_model(folder: Path | None = None) -> tuple[HookedTransformer, InductionConfig]:
    """The committed checkpoint (day 32's, or the one `train_or_load` saved in `folder`), with its config."""
    folder = checkpoint_dir() if folder is None else Path(folder)
    curve = json.loads((folder / CURVE).read_text())
    cfg = InductionConfig(**curve["config"])
    return make_model(cfg, load_file(str(folder / WEIGHTS))), cfg
