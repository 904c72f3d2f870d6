r"""Layers on top of `Tensor`: `Parameter`, `Module` (parameter discovery, `zero_grad`), `Linear`, `ReLU`,
`Flatten`, `Sequential` and an `MLP`, in the shape of `torch.nn` (and micrograd's `nn.py`).

A `Module` finds its parameters by walking its attributes: a `Parameter`, a sub-`Module`, or a list/tuple of
them. Names are dotted paths (`layers.0.W`), as in a torch `state_dict`.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from jaxtyping import Float
from mechlearn.backprop.tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that a `Module` owns and an optimiser updates (always `requires_grad=True`)."""

    def __init__(self, data, dtype=np.float64):
        super().__init__(np.asarray(data, dtype=dtype), requires_grad=True)


class Module:
    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        for name, value in vars(self).items():
            items = enumerate(value) if isinstance(value, list | tuple) else [(None, value)]
            for i, item in items:
                path = f"{prefix}{name}" if i is None else f"{prefix}{name}.{i}"
                if isinstance(item, Parameter):
                    yield path, item
                elif isinstance(item, Module):
                    yield from item.named_parameters(prefix=f"{path}.")

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def state_dict(self) -> dict[str, np.ndarray]:
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        own = dict(self.named_parameters())
        if set(own) != set(state):
            raise KeyError(
                f"state dict keys differ: missing {set(own) - set(state)}, unexpected {set(state) - set(own)}"
            )
        for name, p in own.items():
            value = np.asarray(state[name], dtype=p.dtype)
            if value.shape != p.shape:
                raise ValueError(f"{name}: shape {value.shape} in the state dict, {p.shape} in the model")
            p.data = value.copy()


class Linear(Module):
    r"""$y = x W + b$ with $W$ of shape (d_in, d_out); init $\mathcal U(\pm 1/\sqrt{d_\text{in}})$ as torch's."""

    def __init__(self, d_in: int, d_out: int, rng: np.random.Generator, bias: bool = True, dtype=np.float64):
        bound = 1 / np.sqrt(d_in)
        self.W = Parameter(rng.uniform(-bound, bound, size=(d_in, d_out)), dtype)
        self.b = Parameter(rng.uniform(-bound, bound, size=(d_out,)), dtype) if bias else None

    def forward(self, x: Float[Tensor, "*batch d_in"]) -> Float[Tensor, "*batch d_out"]:
        y = x @ self.W
        return y + self.b if self.b is not None else y


class ReLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.relu()


class Flatten(Module):
    """(batch, ...) -> (batch, prod(...)), between convolutional and linear layers."""

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], -1)


class Sequential(Module):
    def __init__(self, *layers: Module):
        self.layers = list(layers)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class MLP(Sequential):
    """Linear -> ReLU -> ... -> Linear through the given widths, e.g. `MLP([64, 128, 10], rng)`."""

    def __init__(self, widths: list[int], rng: np.random.Generator, dtype=np.float64):
        layers: list[Module] = []
        for i, (d_in, d_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            layers.append(Linear(d_in, d_out, rng, dtype=dtype))
            if i < len(widths) - 2:
                layers.append(ReLU())
        super().__init__(*layers)
