r"""`BatchNorm2d` on `Tensor`, with its backward pass derived by hand (Ioffe and Szegedy 2015).

For each channel $c$, over the $m = N H W$ values $x_i$ of the batch:
$$\mu = \frac1m \sum_i x_i,\quad \sigma^2 = \frac1m \sum_i (x_i - \mu)^2,\quad
\hat x_i = \frac{x_i - \mu}{\sqrt{\sigma^2 + \varepsilon}},\quad y_i = \gamma \hat x_i + \beta .$$

**Backward.** With $g_i = \partial L / \partial y_i$, $\partial L/\partial \beta = \sum_i g_i$,
$\partial L/\partial \gamma = \sum_i g_i \hat x_i$, and, because $\mu$ and $\sigma$ depend on every $x_j$,
$$\frac{\partial L}{\partial x_i} = \frac{\gamma}{\sqrt{\sigma^2 + \varepsilon}}
\Big( g_i - \overline{g} - \hat x_i\, \overline{g \hat x} \Big),$$
where bars are means over the channel's $m$ values: the gradient is $g$ with its mean and its component along
$\hat x$ removed — the two directions normalisation makes the output blind to.

**Running statistics** (what evaluation uses), as torch: after each training batch,
$\hat\mu \leftarrow (1 - \text{momentum})\,\hat\mu + \text{momentum}\,\mu$ and the same for the variance, which uses
the unbiased estimate $\frac{m}{m-1}\sigma^2$. In evaluation mode the layer is the fixed affine map
$y = \gamma (x - \hat\mu)/\sqrt{\hat\sigma^2 + \varepsilon} + \beta$.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float
from mechlearn.backprop.nn import Module, Parameter
from mechlearn.backprop.tensor import Tensor

AXES = (0, 2, 3)  # batch, height, width: everything but the channel


class BatchNorm2d(Module):
    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, dtype=np.float64):
        self.weight = Parameter(np.ones(num_features), dtype)  # gamma
        self.bias = Parameter(np.zeros(num_features), dtype)  # beta
        self.running_mean = np.zeros(num_features, dtype=dtype)  # buffers: state, not parameters
        self.running_var = np.ones(num_features, dtype=dtype)
        self.num_batches_tracked = 0
        self.eps, self.momentum = eps, momentum
        self.training = True

    def forward(self, x: Float[Tensor, "N C H W"]) -> Float[Tensor, "N C H W"]:
        if self.training:
            mean, var = x.data.mean(axis=AXES), x.data.var(axis=AXES)
            m = x.data.size // x.data.shape[1]
            if m < 2:
                raise ValueError(f"BatchNorm2d in training mode needs more than one value per channel, got {m}")
            self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * mean
            self.running_var = (1 - self.momentum) * self.running_var + self.momentum * var * m / (m - 1)
            self.num_batches_tracked += 1
        else:
            mean, var = self.running_mean, self.running_var
        return batch_norm(x, self.weight, self.bias, mean, var, self.eps, batch_stats=self.training)


def batch_norm(
    x: Float[Tensor, "N C H W"],
    weight: Tensor,
    bias: Tensor,
    mean: np.ndarray,
    var: np.ndarray,
    eps: float,
    batch_stats: bool,
) -> Float[Tensor, "N C H W"]:
    """The normalisation as one node of the graph. `batch_stats`: `mean` and `var` were computed from `x` (training
    mode), so the backward pass includes their dependence on `x`; otherwise they are constants (evaluation mode)."""
    c = (None, slice(None), None, None)  # (C,) -> (1, C, 1, 1)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x.data - mean[c]) * inv_std[c]
    out_data = weight.data[c] * x_hat + bias.data[c]

    def backward(g):
        grad_bias = g.sum(axis=AXES)
        grad_weight = (g * x_hat).sum(axis=AXES)
        if batch_stats:
            g_mean = g.mean(axis=AXES, keepdims=True)
            gx_mean = (g * x_hat).mean(axis=AXES, keepdims=True)
            grad_x = (weight.data * inv_std)[c] * (g - g_mean - x_hat * gx_mean)
        else:
            grad_x = (weight.data * inv_std)[c] * g
        return grad_x, grad_weight, grad_bias

    return Tensor._make(out_data.astype(x.dtype), (x, weight, bias), backward, "batch_norm")


def set_training(module: Module, training: bool) -> Module:
    """Switch every BatchNorm2d inside `module` (a tree of Modules, lists of them included) to training or
    evaluation mode; returns `module`."""
    if isinstance(module, BatchNorm2d):
        module.training = training
    for value in vars(module).values():
        for item in value if isinstance(value, list | tuple) else [value]:
            if isinstance(item, Module):
                set_training(item, training)
    return module


def named_batchnorms(module: Module, prefix: str = ""):
    """(path, layer) for every BatchNorm2d in `module`, with paths named as `Module.named_parameters` names them."""
    if isinstance(module, BatchNorm2d):
        yield prefix.rstrip("."), module
    for name, value in vars(module).items():
        items = enumerate(value) if isinstance(value, list | tuple) else [(None, value)]
        for i, item in items:
            if isinstance(item, Module):
                yield from named_batchnorms(item, f"{prefix}{name}." if i is None else f"{prefix}{name}.{i}.")


def buffers(module: Module) -> dict[str, np.ndarray]:
    """The running statistics of every BatchNorm2d: state a checkpoint needs beside the parameters."""
    out = {}
    for path, bn in named_batchnorms(module):
        out[f"{path}.running_mean"], out[f"{path}.running_var"] = bn.running_mean.copy(), bn.running_var.copy()
    return out


def load_buffers(module: Module, state: dict[str, np.ndarray]) -> None:
    for path, bn in named_batchnorms(module):
        bn.running_mean = np.asarray(state[f"{path}.running_mean"], dtype=bn.running_mean.dtype).copy()
        bn.running_var = np.asarray(state[f"{path}.running_var"], dtype=bn.running_var.dtype).copy()
