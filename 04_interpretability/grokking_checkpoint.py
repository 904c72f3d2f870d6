"""The committed grokking runs: trained once (day 56's and day 60's notebooks), loaded by later days and tests.

`train_or_load` wraps `train_grokking` in `mechlearn.artefacts` caches (final weights as safetensors, the curve as
JSON), keyed on the code of `grokking` and `grokking_fourier`: editing those retrains; editing this one does not.
"""

from __future__ import annotations

from pathlib import Path

from mechlearn.interp.grokking import GrokkingConfig, make_model, train_grokking
from transformer_lens import HookedTransformer

from mechlearn.artefacts import cached_json, cached_tensors

DAYS = Path(__file__).resolve().parents[1] / "daily_logs"
MAIN_DAY = "day-056-grokking-modular-addition-memorise-first"
CONTROL_DAY = "day-060-weight-decay-off-no-grokking-and-what-decay-does"
DEPENDS_ON = ["mechlearn.interp.grokking", "mechlearn.interp.grokking_fourier"]


RUNS = {  # name: (config, folder). Names say what differs from `GrokkingConfig`'s defaults.
    "lr2e-3_wd5": (GrokkingConfig(lr=2e-3, weight_decay=5.0, epochs=1400), MAIN_DAY),
    "lr3e-3_wd5": (GrokkingConfig(lr=3e-3, weight_decay=5.0, epochs=1400), CONTROL_DAY),
    "lr2e-3_wd0": (GrokkingConfig(lr=2e-3, weight_decay=0.0, epochs=1400), CONTROL_DAY),
}


def run_paths(name: str) -> tuple[Path, Path]:
    """(weights, curve) paths of a named run."""
    folder = DAYS / RUNS[name][1]
    return folder / f"grokking_{name}.safetensors", folder / f"grokking_{name}_curve.json"


def run_config(name: str) -> GrokkingConfig:
    return RUNS[name][0]


def train_or_load(name: str, progress: bool = True, on_snapshot=None) -> tuple[dict, dict]:
    """(final weights, curve) of run `name`, loaded if current, else trained now and saved."""
    weights_path, curve_path = run_paths(name)
    made: dict = {}

    def make_weights() -> dict:
        made["weights"], made["curve"] = train_grokking(run_config(name), progress=progress, on_snapshot=on_snapshot)
        return made["weights"]

    weights = cached_tensors(weights_path, make_weights, DEPENDS_ON)
    if made:  # just trained: an old curve belongs to old weights
        curve_path.unlink(missing_ok=True)
    curve = cached_json(curve_path, lambda: made["curve"], DEPENDS_ON)
    return weights, curve


def load_run(name: str = "lr2e-3_wd5") -> tuple[HookedTransformer, dict]:
    """The committed model of run `name` and its curve."""
    weights, curve = train_or_load(name, progress=False)
    return make_model(GrokkingConfig(**curve["config"]), weights), curve
