r"""`Conv2d` and `MaxPool2d` on `Tensor`, by im2col: stride tricks expose every receptive field as an array
axis, so the convolution becomes one matrix multiply and its backward two more plus a scatter-add.

Convolution (cross-correlation, as torch) of $x$ (N, C, H, W) with $K$ (O, C, kh, kw), stride $s$:
$$y_{n,o,h,w} = b_o + \sum_{c,i,j} K_{o,c,i,j}\; x_{n,c,\,sh+i,\,sw+j}.$$
Each $x$ entry appears in several windows, so its adjoint sums over them:
$\bar x_{n,c,sh+i,sw+j} \mathrel{+}= \sum_o K_{o,c,i,j}\,\bar y_{n,o,h,w}$, and
$\bar K_{o,c,i,j} = \sum_{n,h,w} \bar y_{n,o,h,w}\, x_{n,c,sh+i,sw+j}$, $\bar b_o = \sum_{n,h,w} \bar y_{n,o,h,w}$.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float
from mechlearn.backprop.nn import Module, Parameter
from mechlearn.backprop.tensor import Tensor
from numpy.lib.stride_tricks import sliding_window_view


def _windows(x: np.ndarray, kernel: tuple[int, int], stride: int) -> np.ndarray:
    """(N, C, H, W) -> (N, C, H_out, W_out, kh, kw): a view, no copy."""
    return sliding_window_view(x, kernel, axis=(2, 3))[:, :, ::stride, ::stride]


def _scatter_windows(grad_windows: np.ndarray, shape: tuple[int, ...], stride: int) -> np.ndarray:
    """The adjoint of `_windows`: add each window's gradient back where that window was read from."""
    grad = np.zeros(shape, dtype=grad_windows.dtype)
    _, _, H_out, W_out, kh, kw = grad_windows.shape
    for i in range(kh):  # kh * kw strided adds; overlapping windows accumulate
        for j in range(kw):
            grad[:, :, i : i + stride * H_out : stride, j : j + stride * W_out : stride] += grad_windows[..., i, j]
    return grad


def conv2d(
    x: Float[Tensor, "N C H W"],
    weight: Float[Tensor, "O C kh kw"],
    bias: Tensor | None,
    stride: int = 1,
    padding: int = 0,
) -> Float[Tensor, "N O H_out W_out"]:
    if x.ndim != 4 or weight.ndim != 4 or x.shape[1] != weight.shape[1]:
        raise ValueError(
            f"conv2d: input (N, C, H, W) and weight (O, C, kh, kw) must agree on C: {x.shape}, {weight.shape}"
        )
    O, C, kh, kw = weight.shape
    padded = np.pad(x.data, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    if padded.shape[2] < kh or padded.shape[3] < kw:
        raise ValueError(f"conv2d: kernel {(kh, kw)} is larger than the padded input {padded.shape[2:]}")
    cols = _windows(padded, (kh, kw), stride)  # (N, C, H_out, W_out, kh, kw)
    N, _, H_out, W_out = cols.shape[:4]
    cols = cols.transpose(0, 2, 3, 1, 4, 5).reshape(N * H_out * W_out, C * kh * kw)  # im2col: one row per window
    K = weight.data.reshape(O, C * kh * kw)
    out = (cols @ K.T).reshape(N, H_out, W_out, O)
    if bias is not None:
        out = out + bias.data
    out = out.transpose(0, 3, 1, 2)  # (N, O, H_out, W_out)

    def backward(g):
        g_rows = g.transpose(0, 2, 3, 1).reshape(N * H_out * W_out, O)
        grad_K = (g_rows.T @ cols).reshape(weight.shape)
        grad_x = None  # the network's input needs no adjoint: skip the product and the scatter
        if x.requires_grad:
            grad_cols = (g_rows @ K).reshape(N, H_out, W_out, C, kh, kw).transpose(0, 3, 1, 2, 4, 5)
            grad_padded = _scatter_windows(grad_cols, padded.shape, stride)
            grad_x = grad_padded[:, :, padding : padded.shape[2] - padding, padding : padded.shape[3] - padding]
        return (grad_x, grad_K) + ((g_rows.sum(0),) if bias is not None else ())

    parents = (x, weight) + ((bias,) if bias is not None else ())
    return Tensor._make(np.ascontiguousarray(out), parents, backward, "conv2d")


def max_pool2d(x: Float[Tensor, "N C H W"], kernel_size: int, stride: int | None = None, padding: int = 0) -> Tensor:
    """Max over each window (padding counts as -inf); the adjoint goes to the window's first maximum, as torch."""
    stride, k, p = stride or kernel_size, kernel_size, padding
    padded = np.pad(x.data, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf)
    windows = _windows(padded, (k, k), stride)  # (N, C, H_out, W_out, k, k)
    flat = windows.reshape(*windows.shape[:4], k * k)
    winner = flat.argmax(-1)
    out = np.take_along_axis(flat, winner[..., None], -1)[..., 0]

    def backward(g):
        one_hot = (np.arange(k * k) == winner[..., None]) * g[..., None]  # (N, C, H_out, W_out, k*k)
        grad = _scatter_windows(one_hot.reshape(windows.shape), padded.shape, stride)
        return (grad[:, :, p : padded.shape[2] - p, p : padded.shape[3] - p],)

    return Tensor._make(out, (x,), backward, "max_pool2d")


class Conv2d(Module):
    def __init__(
        self, c_in: int, c_out: int, kernel_size: int, rng: np.random.Generator, stride=1, padding=0, dtype=np.float64
    ):
        bound = 1 / np.sqrt(c_in * kernel_size**2)  # torch's default init bound
        self.weight = Parameter(rng.uniform(-bound, bound, size=(c_out, c_in, kernel_size, kernel_size)), dtype)
        self.bias = Parameter(rng.uniform(-bound, bound, size=(c_out,)), dtype)
        self.stride, self.padding = stride, padding

    def forward(self, x: Tensor) -> Tensor:
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)


class MaxPool2d(Module):
    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0):
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x: Tensor) -> Tensor:
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)
