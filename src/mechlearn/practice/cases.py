"""How a case judges an implementation: `@case("name")` registers it, `CaseFailure` says what went wrong.

A case is a small function `case(fn) -> None` that calls `fn` (the learner's implementation, or the package's own)
on tiny inputs and compares the result with an independent reference: hand-worked values, a slow loop, torch,
TransformerLens or central finite differences. On a mismatch it raises `CaseFailure` carrying the inputs, the
expected value and the value it got, which `mechlearn practice check` prints. A method's `fn` takes `self` first.
While cases run, the package's own attribute is the implementation under test (see `runner.patched`), so a case
may also go through the package's public API (`a @ b`, `module(x)`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import numpy as np

Case = Callable[[Callable], None]
CASES: dict[str, list[Case]] = {}


def case(exercise: str) -> Callable[[Case], Case]:
    """Register the decorated function as one case of `exercise`; its docstring names the mistake it catches."""

    def register(fn: Case) -> Case:
        CASES.setdefault(exercise, []).append(fn)
        return fn

    return register


class CaseFailure(AssertionError):
    """A wrong answer: what the case fed in, what it expected, what it got."""

    def __init__(self, message: str, inputs: dict | None = None, expected=None, got=None):
        super().__init__(message)
        self.message, self.inputs, self.expected, self.got = message, inputs or {}, expected, got


def cases_for(exercise) -> list[Case]:
    """The registered cases of `exercise` (importing its topic's case module)."""
    importlib.import_module(f"mechlearn.practice.cases_{exercise.topic}")
    return CASES.get(exercise.name, [])


# ---- describing values in one screen --------------------------------------------------------------------------


def as_array(x) -> np.ndarray | None:
    """NumPy view of an ndarray, a torch tensor, a mechlearn Tensor or a number; None for anything else."""
    if isinstance(getattr(x, "data", None), np.ndarray):  # mechlearn.backprop.Tensor
        return x.data
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor
        return x.detach().cpu().numpy()
    if isinstance(x, np.ndarray | np.generic | int | float | bool):
        return np.asarray(x)
    return None


def describe(x, n: int = 6) -> str:
    """`shape (2, 3) float64 [0.1, 0.2, 0.3, ...]`: the shape and the first `n` values, on one line."""
    a = as_array(x)
    if a is None:
        if isinstance(x, list | tuple) and len(x) <= n and all(as_array(v) is not None for v in x):
            return "(" + ", ".join(describe(v, 3) for v in x) + ")"
        text = repr(x)
        return text if len(text) <= 100 else text[:97] + "..."
    if a.ndim == 0:
        return f"{a.item():.6g}" if a.dtype.kind == "f" else str(a.item())
    flat = a.reshape(-1)[:n]
    values = ", ".join(f"{v:.4g}" if a.dtype.kind == "f" else str(v) for v in flat.tolist())
    more = ", ..." if a.size > n else ""
    return f"shape {tuple(a.shape)} {a.dtype} [{values}{more}]"


def expect_close(what: str, got, expected, inputs: dict | None = None, atol: float = 1e-6, rtol: float = 0.0):
    """Fail unless `got` has `expected`'s shape and every entry within atol + rtol |expected| of it."""
    g, e = as_array(got), as_array(expected)
    if g is None:
        raise CaseFailure(f"{what}: got {type(got).__name__}, expected an array", inputs or {}, expected, got)
    if g.shape != e.shape:
        raise CaseFailure(f"{what}: shape {tuple(g.shape)}, expected {tuple(e.shape)}", inputs or {}, expected, got)
    g64, e64 = g.astype(np.float64), e.astype(np.float64)
    both_nan = np.isnan(g64) & np.isnan(e64)
    err = np.where(both_nan, 0.0, np.abs(g64 - e64))
    if not np.all(err <= atol + rtol * np.abs(e64)) or np.isnan(err).any():
        worst = np.unravel_index(np.nanargmax(np.where(np.isnan(err), np.inf, err)), err.shape) if err.size else ()
        where = f" (largest error {float(err[worst]):.2e} at index {tuple(int(i) for i in worst)})" if err.ndim else ""
        raise CaseFailure(f"{what}: values differ{where}, tolerance {atol:g}", inputs or {}, expected, got)


def expect_equal(what: str, got, expected, inputs: dict | None = None):
    """Fail unless `got == expected` exactly (arrays: same shape and entries)."""
    g, e = as_array(got), as_array(expected)
    same = (
        (g is not None and e is not None and g.shape == e.shape and np.array_equal(g, e))
        if e is not None
        else (got == expected)
    )
    if not same:
        raise CaseFailure(f"{what}: not the expected value", inputs or {}, expected, got)


def expect(condition: bool, what: str, inputs: dict | None = None, expected=None, got=None):
    if not condition:
        raise CaseFailure(what, inputs or {}, expected, got)


# ---- the NumPy engine against torch.autograd and finite differences ------------------------------------------


def engine_vs_torch(name: str, ours: Callable, theirs: Callable, arrays: list[np.ndarray], fd: bool = True):
    """`ours` on mechlearn Tensors against `theirs` on float64 torch tensors: the forward value, the gradient of a
    random projection of the output (1e-10), then finite differences (1e-7), as tests/backprop does."""
    import torch

    from mechlearn.backprop.gradcheck import gradcheck_tensor
    from mechlearn.backprop.tensor import Tensor

    inputs = {f"x{i}": a for i, a in enumerate(arrays)}
    leaves = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    t_leaves = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out, t_out = ours(*leaves), theirs(*t_leaves)
    expect_close(f"{name}: forward", out, t_out, inputs, atol=1e-10, rtol=1e-10)
    w = np.random.default_rng(1).normal(size=t_out.shape)
    (out * w).sum().backward()
    (t_out * torch.tensor(w)).sum().backward()
    for i, (leaf, t_leaf) in enumerate(zip(leaves, t_leaves, strict=True)):
        got = leaf.grad if leaf.grad is not None else np.zeros_like(arrays[i])
        expect_close(f"{name}: gradient of x{i} (torch.autograd)", got, t_leaf.grad, inputs, atol=1e-10, rtol=1e-10)
    if fd:
        err = gradcheck_tensor(ours, arrays)
        expect(err < 1e-7, f"{name}: gradient disagrees with finite differences (relative error {err:.1e})", inputs)
