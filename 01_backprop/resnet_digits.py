"""Small ResNets on the bundled digits, with and without BatchNorm and skip connections (ARENA 0.2's ablation).

The same 8x8 images and stratified split as days 8-10 (`load_digits_split`), a ResNet without the ImageNet stem
(its 7x7 stride-2 conv and max-pool would leave a 2x2 image), Adam, and held-out accuracy after every epoch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from mechlearn.backprop.resnet import ResNet
from mechlearn.backprop.train import load_digits_split

from mechlearn.artefacts import cached_json


@dataclass
class DigitsResNetArgs:
    blocks: tuple[int, ...] = (4, 4)  # 2 groups of 4 blocks: 17 conv layers, deep enough for skips to matter
    widths: tuple[int, ...] = (16, 32)  # channels per group (8x8, then 4x4 images)
    batchnorm: bool = True
    skip: bool = True
    epochs: int = 10  # Adam epochs over the 1,437 training digits
    batch_size: int = 64
    lr: float = 1e-3  # Adam's default step size
    seed: int = 0  # initialisation and minibatch order


def train_digits_resnet(args: DigitsResNetArgs) -> dict:
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    data = load_digits_split(0, images=True)
    X_train, y_train = torch.tensor(data.X_train), torch.tensor(data.y_train)
    X_test, y_test = torch.tensor(data.X_test), torch.tensor(data.y_test)
    model = ResNet(
        args.blocks, args.widths, n_classes=10, in_channels=1, stem=False, batchnorm=args.batchnorm, skip=args.skip
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    generator = torch.Generator().manual_seed(args.seed)
    history = {"step_loss": [], "epoch_test_acc": []}
    for _ in range(args.epochs):
        model.train()
        for batch in torch.randperm(len(X_train), generator=generator).split(args.batch_size):
            loss = torch.nn.functional.cross_entropy(model(X_train[batch]), y_train[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history["step_loss"].append(loss.item())
        model.eval()
        with torch.no_grad():
            history["epoch_test_acc"].append((model(X_test).argmax(-1) == y_test).float().mean().item())
    history["args"] = asdict(args)
    return history


def trained_digits_resnet(directory: Path, args: DigitsResNetArgs) -> dict:
    """`train_digits_resnet`, cached as `resnet_<bn|nobn>_<skip|noskip>.json` in `directory`."""
    name = f"resnet_{'bn' if args.batchnorm else 'nobn'}_{'skip' if args.skip else 'noskip'}.json"
    return cached_json(Path(directory) / name, lambda: train_digits_resnet(args), [__name__])
