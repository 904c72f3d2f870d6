"""Training the NumPy networks on scikit-learn's bundled `load_digits` (1,797 8x8 greyscale digits, no download).

The split is stratified and seeded (`split_seed`); the model's initialisation and the minibatch order use a
separate `seed`, so a result is fully named by `(split_seed, seed)` and the config.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from mechlearn.backprop.batchnorm import BatchNorm2d, buffers, load_buffers, set_training
from mechlearn.backprop.conv import Conv2d, MaxPool2d
from mechlearn.backprop.functional import cross_entropy
from mechlearn.backprop.nn import MLP, Flatten, Linear, Module, ReLU, Sequential
from mechlearn.backprop.optim import Adam
from mechlearn.backprop.tensor import Tensor, no_grad
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from mechlearn.artefacts import cached_json, cached_tensors


@dataclass
class Digits:
    X_train: np.ndarray  # (n_train, 64) or (n_train, 1, 8, 8), pixels scaled to [0, 1]
    y_train: np.ndarray  # (n_train,) integer labels 0..9
    X_test: np.ndarray
    y_test: np.ndarray


def load_digits_split(
    split_seed: int = 0, test_fraction: float = 0.2, images: bool = False, dtype=np.float32
) -> Digits:
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(dtype)  # pixel intensities are 0..16
    if images:
        X = X.reshape(-1, 1, 8, 8)  # (N, C=1, H, W)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_fraction, random_state=split_seed, stratify=y
    )
    return Digits(X_train, y_train, X_test, y_test)


@dataclass
class TrainConfig:
    epochs: int = 40  # digits is small: ~900 Adam steps suffice
    batch_size: int = 64  # 23 steps per epoch on the 1,437 training digits
    lr: float = 1e-3  # Adam's default step size
    weight_decay: float = 1e-3  # L2 in Adam's gradient: a small, consistent gain across seeds on digits
    seed: int = 0  # initialisation and minibatch order


def make_mlp(seed: int, dtype=np.float32) -> Module:
    """64 pixels -> 512 hidden (ReLU) -> 10 classes: one wide layer beat 128-64 and 256-256 on digits."""
    return MLP([64, 512, 10], np.random.default_rng(seed), dtype=dtype)


def make_cnn(seed: int, dtype=np.float32) -> Module:
    """Two conv(3x3, pad 1) + ReLU + 2x2 max-pool blocks (1 -> 16 -> 32 channels, 8x8 -> 4x4 -> 2x2), then linear."""
    rng = np.random.default_rng(seed)
    return Sequential(
        Conv2d(1, 16, 3, rng, padding=1, dtype=dtype),  # (N, 16, 8, 8)
        ReLU(),
        MaxPool2d(2),  # (N, 16, 4, 4)
        Conv2d(16, 32, 3, rng, padding=1, dtype=dtype),  # (N, 32, 4, 4)
        ReLU(),
        MaxPool2d(2),  # (N, 32, 2, 2)
        Flatten(),  # (N, 128)
        Linear(128, 10, rng, dtype=dtype),
    )


def make_cnn_bn(seed: int, dtype=np.float32) -> Module:
    """`make_cnn` with a BatchNorm2d after each convolution (before the ReLU, as in ResNets); the same random
    draws in the same order, so the two networks start from the same convolution and linear weights."""
    rng = np.random.default_rng(seed)
    return Sequential(
        Conv2d(1, 16, 3, rng, padding=1, dtype=dtype),
        BatchNorm2d(16, dtype=dtype),
        ReLU(),
        MaxPool2d(2),
        Conv2d(16, 32, 3, rng, padding=1, dtype=dtype),
        BatchNorm2d(32, dtype=dtype),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Linear(128, 10, rng, dtype=dtype),
    )


MODELS = {"mlp": make_mlp, "cnn": make_cnn, "cnn_bn": make_cnn_bn}


def accuracy(model: Module, X: np.ndarray, y: np.ndarray, batch_size: int = 512) -> float:
    """Share of correct predictions, with any BatchNorm in evaluation mode (running statistics, no updates)."""
    set_training(model, False)
    with no_grad():
        predictions = np.concatenate(
            [model(Tensor(X[i : i + batch_size])).data.argmax(-1) for i in range(0, len(X), batch_size)]
        )
    return float((predictions == y).mean())


def train(model: Module, data: Digits, config: TrainConfig, progress: bool = True) -> dict:
    """Adam on cross-entropy; returns per-step loss and per-epoch train/test accuracy (lists, JSON-able)."""
    with threadpool_limits(1):  # small matrices: BLAS threads only contend with each other on a shared machine
        return _train(model, data, config, progress)


def _train(model: Module, data: Digits, config: TrainConfig, progress: bool) -> dict:
    rng = np.random.default_rng(config.seed)
    optimiser = Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    history = {"step_loss": [], "epoch_train_loss": [], "epoch_train_acc": [], "epoch_test_acc": []}
    bar = tqdm(range(config.epochs), desc="epochs", disable=not progress)
    for _ in bar:
        set_training(model, True)  # `accuracy` leaves BatchNorm layers in evaluation mode
        order = rng.permutation(len(data.X_train))
        losses = []
        for start in range(0, len(order), config.batch_size):
            batch = order[start : start + config.batch_size]
            loss = cross_entropy(model(Tensor(data.X_train[batch])), data.y_train[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        history["step_loss"] += losses
        history["epoch_train_loss"].append(float(np.mean(losses)))
        history["epoch_train_acc"].append(accuracy(model, data.X_train, data.y_train))
        history["epoch_test_acc"].append(accuracy(model, data.X_test, data.y_test))
        bar.set_postfix(loss=f"{np.mean(losses):.3f}", test_acc=f"{history['epoch_test_acc'][-1]:.3f}")
    history["config"] = asdict(config)
    history["final_test_acc"] = history["epoch_test_acc"][-1]
    return history


def trained_on_digits(
    kind: str, directory: Path, config: TrainConfig, split_seed: int = 0, progress: bool = True
) -> tuple[Module, dict]:
    """Train `kind` ("mlp", "cnn" or "cnn_bn") on digits, or load the committed result:
    `<kind>_seed<seed>_weights.safetensors` (parameters, and BatchNorm running statistics) and
    `<kind>_seed<seed>_history.json` in `directory`, remade whenever mechlearn.backprop changes. The model comes
    back in evaluation mode."""
    if kind not in MODELS:
        raise ValueError(f"kind must be one of {sorted(MODELS)}, not {kind!r}")
    import torch  # only to hand safetensors its tensor type

    depends_on = ["mechlearn.backprop.train"]  # with its imports and parent package: all of mechlearn.backprop
    fresh: dict = {}

    def fit() -> dict:
        if not fresh:  # weights and history come from one run, whichever of the two files needs it first
            model = MODELS[kind](config.seed)
            data = load_digits_split(split_seed, images=kind.startswith("cnn"))
            fresh["history"] = train(model, data, config, progress) | {"kind": kind, "split_seed": split_seed}
            fresh["weights"] = {k: torch.from_numpy(v) for k, v in (model.state_dict() | buffers(model)).items()}
        return fresh

    stem = Path(directory) / f"{kind}_seed{config.seed}"
    weights = cached_tensors(stem.with_name(stem.name + "_weights.safetensors"), lambda: fit()["weights"], depends_on)
    history = cached_json(stem.with_name(stem.name + "_history.json"), lambda: fit()["history"], depends_on)
    model = MODELS[kind](config.seed)
    state = {k: v.numpy() for k, v in weights.items()}
    held = buffers(model)
    model.load_state_dict({k: v for k, v in state.items() if k not in held})
    load_buffers(model, state)
    return set_training(model, False), history
