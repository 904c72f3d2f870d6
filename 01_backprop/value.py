r"""A scalar autograd engine in the style of micrograd (Karpathy, 2020).

Each operation builds its output `out` and a closure `_backward` that holds exactly the local derivative and
applies the chain rule for one edge of the graph:
$$\bar{x} \mathrel{+}= \frac{\partial\, \text{out}}{\partial x}\, \overline{\text{out}},\qquad
\bar{v} := \frac{\partial L}{\partial v}.$$
`backward()` visits the graph in reverse topological order, so each node's gradient is complete before it is
pushed to its inputs. Gradients accumulate (`+=`) because a value used twice receives from both uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from mechlearn.backprop.gradcheck import numerical_gradient, relative_error


class Value:
    """A scalar that remembers how it was computed, so `backward()` can differentiate through it."""

    __slots__ = ("data", "grad", "_backward", "_prev", "_op", "label")

    def __init__(self, data: float, _children: tuple[Value, ...] = (), _op: str = "", label: str = ""):
        if isinstance(data, Value):
            raise TypeError("Value(Value(...)): pass the float, or use the Value itself")
        self.data = float(data)
        self.grad = 0.0
        self._backward: Callable[[], None] = lambda: None
        self._prev = _children
        self._op = _op
        self.label = label

    @staticmethod
    def _lift(x: Value | float) -> Value:
        return x if isinstance(x, Value) else Value(x)

    def __add__(self, other: Value | float) -> Value:
        other = self._lift(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():  # d(a+b)/da = d(a+b)/db = 1
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other: Value | float) -> Value:
        other = self._lift(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():  # d(ab)/da = b, d(ab)/db = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, k: float) -> Value:
        if not isinstance(k, int | float):
            raise TypeError("Value ** k supports a constant exponent only (use exp/log for Value exponents)")
        out = Value(self.data**k, (self,), f"**{k}")

        def _backward():  # d(x^k)/dx = k x^(k-1)
            self.grad += k * self.data ** (k - 1) * out.grad

        out._backward = _backward
        return out

    def exp(self) -> Value:
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():  # d(e^x)/dx = e^x
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def log(self) -> Value:
        if self.data <= 0:
            raise ValueError(f"log of a non-positive value ({self.data})")
        out = Value(math.log(self.data), (self,), "log")

        def _backward():  # d(log x)/dx = 1/x
            self.grad += out.grad / self.data

        out._backward = _backward
        return out

    def tanh(self) -> Value:
        out = Value(math.tanh(self.data), (self,), "tanh")

        def _backward():  # d(tanh x)/dx = 1 - tanh(x)^2
            self.grad += (1.0 - out.data**2) * out.grad

        out._backward = _backward
        return out

    def sigmoid(self) -> Value:
        s = 0.5 * (1.0 + math.tanh(0.5 * self.data))  # = 1/(1+e^{-x}), without overflow for large |x|
        out = Value(s, (self,), "sigmoid")

        def _backward():  # d(sigma)/dx = sigma (1 - sigma)
            self.grad += out.data * (1.0 - out.data) * out.grad

        out._backward = _backward
        return out

    def relu(self) -> Value:
        out = Value(max(self.data, 0.0), (self,), "relu")

        def _backward():  # d(relu)/dx = 1[x > 0] (the subgradient 0 at x = 0, as torch uses)
            self.grad += (self.data > 0) * out.grad

        out._backward = _backward
        return out

    def backward(self) -> None:
        """Fill `.grad` of every node this value depends on with dself/dnode."""
        order: list[Value] = []
        visited: set[int] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:  # iterative post-order DFS: deep graphs must not hit Python's recursion limit
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in node._prev if id(child) not in visited)
        self.grad = 1.0
        for node in reversed(order):
            node._backward()

    def __neg__(self) -> Value:
        return self * -1.0

    def __radd__(self, other: float) -> Value:
        return self + other

    def __sub__(self, other: Value | float) -> Value:
        return self + (-self._lift(other))

    def __rsub__(self, other: float) -> Value:
        return self._lift(other) + (-self)

    def __rmul__(self, other: float) -> Value:
        return self * other

    def __truediv__(self, other: Value | float) -> Value:
        return self * self._lift(other) ** -1

    def __rtruediv__(self, other: float) -> Value:
        return self._lift(other) * self**-1

    def __repr__(self) -> str:
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"


def gradcheck_value(f: Callable[..., Value], xs: Sequence[float], eps: float = 1e-6) -> float:
    """Largest relative error between `Value.backward` gradients of `f` at `xs` and central differences."""
    leaves = [Value(x) for x in xs]
    f(*leaves).backward()
    engine = [v.grad for v in leaves]
    numeric = numerical_gradient(lambda *a: f(*(Value(float(x)) for x in a)).data, list(xs), eps)
    return relative_error(engine, numeric)
