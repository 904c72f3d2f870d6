r"""Reverse-mode autograd on `numpy.ndarray`: the scalar engine of day 1, one array per node.

API
---
- `Tensor(data, requires_grad=False, dtype=None)`: wraps `np.asarray(data)`; integer/bool data becomes float64
  unless `dtype` is given. Attributes: `.data` (the ndarray), `.grad` (ndarray of the same shape, or None until a
  backward pass reaches it; only *leaves* — tensors you created with `requires_grad=True` — keep one),
  `.requires_grad`, `.shape`, `.ndim`, `.dtype`, `.size`, `.T` (swaps the last two axes; a 0-D or 1-D tensor is
  returned as it is); `.item()`, `.numpy()`, `.detach()`.
- Ops (each records its parents and a backward function, and broadcasts like NumPy):
  `+ - * / ** @`, unary `-`, `exp log tanh relu sigmoid`, `sum mean max` over `axis` (int or tuple, `keepdims`),
  `reshape transpose permute`, indexing `x[idx]` (slices, integer arrays; scatter-add backward), `masked_fill`.
  Python numbers and arrays mix in freely (`2.0 * x`, `x - np.ones(3)`); they become constants.
- `loss.backward(grad=None, retain_graph=False)`: fills `.grad` of every leaf `loss` depends on with
  $\partial\,\text{loss}/\partial\,\text{leaf}$, accumulating (`+=`) across calls until you zero it. A non-scalar
  output needs `grad` (the adjoint to seed). The graph is freed afterwards unless `retain_graph=True`; a second
  backward through a freed graph raises `RuntimeError`.
- `with no_grad(): ...` builds no graph (for optimiser steps and evaluation); `is_grad_enabled()`.
- `unbroadcast(grad, shape)`: the one place broadcasting is undone in backward passes.
- Functional ops live in `mechlearn.backprop.functional`: `softmax(x, axis=-1)`, `log_softmax(x, axis=-1)`,
  `cross_entropy(logits, targets)` (mean over all positions; logits `(..., n_classes)`, integer targets `(...)`).

Every op's backward is the local rule $\bar x \mathrel{+}= (\partial\,\text{out}/\partial x)^\top \overline{\text{out}}$
written with arrays; `tests/backprop/test_tensor_ops.py` checks each against float64 finite differences and
`torch.autograd`.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np

_grad_enabled = True


@contextmanager
def no_grad() -> Iterator[None]:
    """Inside this block ops record no parents, so no graph is built and nothing can be differentiated."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


def is_grad_enabled() -> bool:
    return _grad_enabled


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    r"""Sum `grad` over the axes that broadcasting added or stretched, so it has `shape` again.

    If $x$ of shape `shape` was broadcast to $\tilde x$, every copy $\tilde x_j$ of $x_i$ contributes, so
    $\bar x_i = \sum_{j \text{ copies of } i} \bar{\tilde x}_j$: a sum over new leading axes and over axes of size 1.
    """
    if grad.shape == tuple(shape):
        return grad
    n_new = grad.ndim - len(shape)
    if n_new < 0:
        raise ValueError(f"unbroadcast: gradient of shape {grad.shape} has fewer axes than the target {shape}")
    grad = grad.sum(axis=tuple(range(n_new)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    if grad.shape != tuple(shape):
        raise ValueError(f"unbroadcast: cannot reduce a gradient of shape {grad.shape} to {shape}")
    return grad


def _axes(axis: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    if axis is None or ndim == 0:  # a 0-D tensor has no axis: reducing it over axis 0 or -1 keeps it (as torch)
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    return tuple(int(a) % ndim for a in axes)


Grads = tuple["np.ndarray | None", ...]


class Tensor:
    """An ndarray that remembers how it was computed, so `backward()` can differentiate through it."""

    __array_priority__ = 100  # `ndarray + Tensor` must call Tensor.__radd__, not broadcast over the Tensor

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            raise TypeError("Tensor(Tensor(...)): pass the array (t.data), or use the Tensor itself")
        data = np.asarray(data, dtype=dtype)
        if dtype is None and not np.issubdtype(data.dtype, np.floating):
            data = data.astype(np.float64)
        if requires_grad and not np.issubdtype(data.dtype, np.floating):
            raise TypeError(f"only floating-point tensors can require gradients, not {data.dtype}")
        self.data: np.ndarray = data
        self.requires_grad = requires_grad
        self.grad: np.ndarray | None = None
        self._parents: tuple[Tensor, ...] = ()
        self._backward: Callable[[np.ndarray], Grads] | None = None  # out-adjoint -> one adjoint per parent
        # (an op may return None for a parent that does not require grad, to skip computing it)
        self._op = ""
        self._freed = False

    @staticmethod
    def _make(data: np.ndarray, parents: tuple[Tensor, ...], backward: Callable, op: str) -> Tensor:
        """The output of an op: it joins the graph only if grad is enabled and some parent requires grad."""
        out = Tensor(data, dtype=data.dtype)
        if _grad_enabled and any(p.requires_grad for p in parents):
            out.requires_grad, out._parents, out._backward, out._op = True, parents, backward, op
        return out

    def _lift(self, other) -> Tensor:
        return other if isinstance(other, Tensor) else Tensor(np.asarray(other, dtype=self.data.dtype))

    # ---- properties -------------------------------------------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    size = property(lambda self: self.data.size)
    # swaps the last two axes (torch's `.mT`); with fewer than two axes there is nothing to swap, as in NumPy/torch
    T = property(lambda self: self if self.ndim < 2 else self.transpose(-1, -2))

    def __len__(self) -> int:
        return len(self.data)

    def item(self) -> float:
        return self.data.item()

    def numpy(self) -> np.ndarray:
        return self.data

    def detach(self) -> Tensor:
        return Tensor(self.data, dtype=self.data.dtype)

    def __repr__(self) -> str:
        grad = f", grad_fn={self._op}" if self._op else (", requires_grad=True" if self.requires_grad else "")
        return f"Tensor({np.array2string(self.data, precision=4, threshold=20)}{grad})"

    # ---- elementwise binary ops: broadcast forward, unbroadcast backward --------------------------------------
    def _binary(self, other, forward, backward, op: str) -> Tensor:
        a, b = self, self._lift(other)
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise ValueError(f"{op}: shapes {a.shape} and {b.shape} do not broadcast") from None
        return Tensor._make(forward(a.data, b.data), (a, b), lambda g: backward(g, a, b), op)

    def __add__(self, other) -> Tensor:  # d(a+b)/da = d(a+b)/db = 1
        return self._binary(other, np.add, lambda g, a, b: (unbroadcast(g, a.shape), unbroadcast(g, b.shape)), "+")

    def __sub__(self, other) -> Tensor:  # d(a-b)/db = -1
        return self._binary(
            other, np.subtract, lambda g, a, b: (unbroadcast(g, a.shape), unbroadcast(-g, b.shape)), "-"
        )

    def __mul__(self, other) -> Tensor:  # d(ab)/da = b, d(ab)/db = a
        def backward(g, a, b):
            return unbroadcast(g * b.data, a.shape), unbroadcast(g * a.data, b.shape)

        return self._binary(other, np.multiply, backward, "*")

    def __truediv__(self, other) -> Tensor:  # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
        def backward(g, a, b):
            return unbroadcast(g / b.data, a.shape), unbroadcast(-g * a.data / b.data**2, b.shape)

        return self._binary(other, np.divide, backward, "/")

    def __radd__(self, other) -> Tensor:
        return self._lift(other) + self

    def __rsub__(self, other) -> Tensor:
        return self._lift(other) - self

    def __rmul__(self, other) -> Tensor:
        return self._lift(other) * self

    def __rtruediv__(self, other) -> Tensor:
        return self._lift(other) / self

    def __neg__(self) -> Tensor:
        return Tensor._make(-self.data, (self,), lambda g: (-g,), "neg")

    def __pow__(self, k: float) -> Tensor:  # d(x^k)/dx = k x^(k-1)
        if not isinstance(k, numbers.Real):
            raise TypeError("Tensor ** k supports a constant exponent only (use exp/log for tensor exponents)")
        k = k.item() if isinstance(k, np.generic) else k  # a Python number: np.float64(2) would promote float32 data
        x = self.data
        return Tensor._make(x**k, (self,), lambda g: (g * k * x ** (k - 1),), f"**{k}")

    def __matmul__(self, other) -> Tensor:
        r"""$C = AB$: $\bar A = \bar C B^\top$, $\bar B = A^\top \bar C$, batched over leading (broadcast) axes."""
        a, b = self, self._lift(other)
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul: both operands need at least one axis (use * for scalars)")
        if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ValueError(f"matmul: inner dimensions differ, {a.shape} @ {b.shape}")

        def backward(g):  # an operand that needs no gradient (e.g. the input batch) costs no product
            A, B = a.data, b.data
            if a.ndim == 1 and b.ndim == 1:  # the dot product <a, b>
                return g * B, g * A
            if a.ndim == 1:  # treat a vector as a (1, k) row, and g as having that row axis
                A, g = A[None, :], np.expand_dims(g, -2)
            if b.ndim == 1:  # treat a vector as a (k, 1) column
                B, g = B[:, None], np.expand_dims(g, -1)
            grad_A = grad_B = None
            if a.requires_grad:
                grad_A = g @ np.swapaxes(B, -1, -2)  # (..., n, m) @ (..., m, k) -> (..., n, k)
                grad_A = unbroadcast(grad_A[..., 0, :] if a.ndim == 1 else grad_A, a.shape)
            if b.requires_grad:
                grad_B = np.swapaxes(A, -1, -2) @ g  # (..., k, n) @ (..., n, m) -> (..., k, m)
                grad_B = unbroadcast(grad_B[..., 0] if b.ndim == 1 else grad_B, b.shape)
            return grad_A, grad_B

        return Tensor._make(a.data @ b.data, (a, b), backward, "@")

    def __rmatmul__(self, other) -> Tensor:
        return self._lift(other) @ self

    # ---- elementwise unary ops ---------------------------------------------------------------------------------
    def exp(self) -> Tensor:  # d(e^x)/dx = e^x
        out = np.exp(self.data)
        return Tensor._make(out, (self,), lambda g: (g * out,), "exp")

    def log(self) -> Tensor:  # d(log x)/dx = 1/x
        if np.any(self.data <= 0):
            raise ValueError("log of a tensor with non-positive entries")
        x = self.data
        return Tensor._make(np.log(x), (self,), lambda g: (g / x,), "log")

    def tanh(self) -> Tensor:  # d(tanh x)/dx = 1 - tanh(x)^2
        out = np.tanh(self.data)
        return Tensor._make(out, (self,), lambda g: (g * (1 - out**2),), "tanh")

    def sigmoid(self) -> Tensor:  # d(sigma)/dx = sigma (1 - sigma); tanh form avoids overflow of e^{-x}
        out = 0.5 * (1 + np.tanh(0.5 * self.data))
        return Tensor._make(out, (self,), lambda g: (g * out * (1 - out),), "sigmoid")

    def relu(self) -> Tensor:  # d(relu)/dx = 1[x > 0] (0 at the kink, as torch)
        mask = self.data > 0
        return Tensor._make(self.data * mask, (self,), lambda g: (g * mask,), "relu")

    def masked_fill(self, mask, value: float) -> Tensor:
        """`value` where `mask` is true, `self` elsewhere (e.g. a causal mask before softmax); no gradient there."""
        mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask, dtype=bool)
        out = np.where(mask, np.asarray(value, dtype=self.dtype), self.data)
        shape = self.shape
        return Tensor._make(out, (self,), lambda g: (unbroadcast(np.where(mask, 0, g), shape),), "masked_fill")

    # ---- reductions: backward broadcasts the adjoint back over the reduced axes -------------------------------
    def sum(self, axis=None, keepdims: bool = False) -> Tensor:
        axes, shape = _axes(axis, self.ndim), self.shape

        def backward(g):  # every summand gets the sum's adjoint
            g = g if keepdims else np.expand_dims(g, axes)
            return (np.broadcast_to(g, shape),)

        return Tensor._make(self.data.sum(axis=axes, keepdims=keepdims), (self,), backward, "sum")

    def mean(self, axis=None, keepdims: bool = False) -> Tensor:
        axes = _axes(axis, self.ndim)
        count = int(np.prod([self.shape[a] for a in axes]))
        return self.sum(axis=axes, keepdims=keepdims) / count

    def max(self, axis=None, keepdims: bool = False) -> Tensor:
        """Maximum over `axis`; the adjoint is shared equally among tied maxima (as `torch.amax`)."""
        axes, x = _axes(axis, self.ndim), self.data
        top = x.max(axis=axes, keepdims=True)

        def backward(g):
            g = g if keepdims else np.expand_dims(g, axes)
            winners = x == top
            return (winners * g / winners.sum(axis=axes, keepdims=True),)

        return Tensor._make(top if keepdims else top.squeeze(axes), (self,), backward, "max")

    # ---- shape ops: backward applies the inverse rearrangement ------------------------------------------------
    def reshape(self, *shape) -> Tensor:
        # one argument that is not a number is the whole shape: x.reshape((2, 3)) as well as x.reshape(2, 3)
        shape = tuple(shape[0]) if len(shape) == 1 and not isinstance(shape[0], numbers.Integral) else shape
        old = self.shape
        return Tensor._make(self.data.reshape(shape), (self,), lambda g: (g.reshape(old),), "reshape")

    def permute(self, *axes) -> Tensor:
        axes = tuple(axes[0]) if len(axes) == 1 and not isinstance(axes[0], numbers.Integral) else axes
        if sorted(a % self.ndim for a in axes) != list(range(self.ndim)):
            raise ValueError(f"permute: {axes} is not a permutation of the {self.ndim} axes of {self.shape}")
        inverse = tuple(np.argsort([a % self.ndim for a in axes]))
        return Tensor._make(self.data.transpose(axes), (self,), lambda g: (g.transpose(inverse),), "permute")

    def transpose(self, axis0: int = -2, axis1: int = -1) -> Tensor:
        axes = list(range(self.ndim))
        axes[axis0], axes[axis1] = axes[axis1], axes[axis0]
        return self.permute(axes)

    def __getitem__(self, index) -> Tensor:
        """Slicing and integer-array indexing; backward scatter-adds, so repeated indices accumulate."""
        if isinstance(index, Tensor):
            index = index.data.astype(np.intp)
        elif isinstance(index, tuple):
            index = tuple(i.data.astype(np.intp) if isinstance(i, Tensor) else i for i in index)
        shape, dtype = self.shape, self.dtype

        def backward(g):
            grad = np.zeros(shape, dtype=dtype)
            np.add.at(grad, index, g)  # `grad[index] += g` would keep only one of several repeated indices
            return (grad,)

        return Tensor._make(np.asarray(self.data[index]), (self,), backward, "index")

    # ---- the backward pass ----------------------------------------------------------------------------------
    def _topological_order(self) -> list[Tensor]:
        """Nodes that require grad, each after all its parents (iterative DFS: no recursion limit)."""
        order: list[Tensor] = []
        visited: set[int] = set()
        stack: list[tuple[Tensor, bool]] = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            if node._freed:
                raise RuntimeError(
                    "backward through a graph that was already freed: a previous backward() released it; "
                    "pass retain_graph=True to the first call if you need to differentiate twice"
                )
            visited.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in node._parents if p.requires_grad and id(p) not in visited)
        return order

    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` (seeded with `grad`, or 1 for a scalar)."""
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad (no leaf of it has requires_grad)")
        if grad is None:
            if self.size != 1:
                raise RuntimeError(
                    f"backward() on a non-scalar tensor of shape {self.shape} needs grad=, the adjoint to seed "
                    "(or reduce it to a scalar first, e.g. .sum())"
                )
            grad = np.ones_like(self.data)
        grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
        if grad.shape != self.shape:
            raise ValueError(f"backward(grad=...): grad has shape {grad.shape}, the tensor has {self.shape}")
        order = self._topological_order()
        adjoints = {id(self): grad}
        for node in reversed(order):  # outputs before inputs: each adjoint is complete when it is used
            g = adjoints.pop(id(node))
            if node._backward is None:  # a leaf: keep its gradient, accumulating across backward calls
                node.grad = g.copy() if node.grad is None else node.grad + g
                continue
            for parent, parent_grad in zip(node._parents, node._backward(g), strict=True):
                if parent.requires_grad:
                    key = id(parent)
                    adjoints[key] = adjoints[key] + parent_grad if key in adjoints else parent_grad
            if not retain_graph:
                node._parents, node._backward, node._freed = (), None, True
