"""The digits claims: the committed MLP/CNN weights really score what the days say, and retraining reproduces them.

The cheap tests reload the safetensors weights committed beside day 8 and day 10 and recompute test accuracy on
the seeded split, so a stale or hand-edited JSON cannot pass; the slow tests retrain from scratch (seeds stated).
"""

import json
from pathlib import Path

import numpy as np
import pytest
from mechlearn.backprop.train import (
    MODELS,
    TrainConfig,
    accuracy,
    load_digits_split,
    make_mlp,
    train,
    trained_on_digits,
)
from safetensors.numpy import load_file

REPO = Path(__file__).resolve().parents[2]

# (kind, day folder, config, bar): the seeds the days state
CLAIMS = {
    "mlp": ("day-008-an-mlp-on-digits", TrainConfig(seed=0), 0.97),
    "cnn": ("day-010-a-cnn-on-digits", TrainConfig(seed=0, lr=3e-3), 0.98),
}


@pytest.mark.parametrize("kind", CLAIMS)
def test_committed_weights_reach_the_claimed_accuracy(kind):
    folder, config, bar = CLAIMS[kind]
    stem = REPO / "daily_logs" / folder / f"{kind}_seed{config.seed}"
    history = json.loads(stem.with_name(stem.name + "_history.json").read_text())
    assert history["config"] == {**config.__dict__}, "the committed run used a different config than the day states"
    assert history["split_seed"] == 0
    model = MODELS[kind](config.seed)
    model.load_state_dict(load_file(str(stem.with_name(stem.name + "_weights.safetensors"))))
    data = load_digits_split(0, images=kind == "cnn")
    acc = accuracy(model, data.X_test, data.y_test)
    assert acc == pytest.approx(history["final_test_acc"], abs=1e-12), "weights and logged accuracy disagree"
    assert acc >= bar, f"{kind}: committed weights score {acc:.4f} < {bar}"


def test_training_smoke_run_learns():
    # three epochs (15 steps) on a 300-digit subset: loss must fall and accuracy beat chance (10 %) by far
    data = load_digits_split(0)
    data.X_train, data.y_train = data.X_train[:300], data.y_train[:300]
    history = train(make_mlp(0), data, TrainConfig(epochs=3, lr=1e-2, seed=0), progress=False)
    assert history["step_loss"][-1] < 0.6 * history["step_loss"][0], "loss did not fall: backward or step is broken"
    assert history["epoch_test_acc"][-1] > 0.5


def test_trained_on_digits_rejects_unknown_models(tmp_path):
    with pytest.raises(ValueError, match="kind"):
        trained_on_digits("transformer", tmp_path, TrainConfig())


@pytest.mark.slow
@pytest.mark.parametrize("kind", CLAIMS)
def test_retraining_from_scratch_reproduces_the_claim(kind, tmp_path):
    _, config, bar = CLAIMS[kind]
    model, history = trained_on_digits(kind, tmp_path, config, split_seed=0, progress=False)
    data = load_digits_split(0, images=kind == "cnn")
    assert accuracy(model, data.X_test, data.y_test) >= bar
    assert np.isfinite(history["step_loss"]).all()
