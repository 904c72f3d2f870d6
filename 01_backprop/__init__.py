"""mechlearn.backprop — backpropagation from scratch (01_backprop/).

- `value`: a micrograd-style scalar autograd engine (`Value`).
- `tensor`: the same engine on NumPy arrays (`Tensor`, `unbroadcast`, `no_grad`).
- `functional`: `softmax`, `log_softmax`, `cross_entropy` with hand-derived backward passes.
- `gradcheck`: central finite differences in float64 and the relative error used to judge gradients.
"""

from mechlearn.backprop.functional import cross_entropy, log_softmax, softmax
from mechlearn.backprop.gradcheck import gradcheck_tensor, numerical_gradient, relative_error
from mechlearn.backprop.tensor import Tensor, is_grad_enabled, no_grad, unbroadcast
from mechlearn.backprop.value import Value, gradcheck_value

__all__ = [
    "Tensor",
    "Value",
    "cross_entropy",
    "gradcheck_tensor",
    "gradcheck_value",
    "is_grad_enabled",
    "log_softmax",
    "no_grad",
    "numerical_gradient",
    "relative_error",
    "softmax",
    "unbroadcast",
]
