"""mechlearn.backprop — backpropagation from scratch (01_backprop/).

- `value`: a micrograd-style scalar autograd engine (`Value`).
- `tensor`: the same engine on NumPy arrays (`Tensor`, `unbroadcast`, `no_grad`).
- `functional`: `softmax`, `log_softmax`, `cross_entropy` with hand-derived backward passes.
- `gradcheck`: central finite differences in float64 and the relative error used to judge gradients.
- `nn`: `Parameter`, `Module`, `Linear`, `ReLU`, `Flatten`, `Sequential`, `MLP`.
- `conv`: `conv2d`/`Conv2d` and `max_pool2d`/`MaxPool2d` by im2col.
- `optim`: `SGD` (momentum, Nesterov, weight decay), `RMSprop`, `Adam`, `AdamW`, matching `torch.optim`.
- `train`: digits data, the MLP and CNN, the training loop (import it directly: it loads scikit-learn).
"""

from mechlearn.backprop.conv import Conv2d, MaxPool2d, conv2d, max_pool2d
from mechlearn.backprop.functional import cross_entropy, log_softmax, softmax
from mechlearn.backprop.gradcheck import gradcheck_tensor, numerical_gradient, relative_error
from mechlearn.backprop.nn import MLP, Flatten, Linear, Module, Parameter, ReLU, Sequential
from mechlearn.backprop.optim import SGD, Adam, AdamW, RMSprop
from mechlearn.backprop.tensor import Tensor, is_grad_enabled, no_grad, unbroadcast
from mechlearn.backprop.value import Value, gradcheck_value

__all__ = [
    "MLP",
    "SGD",
    "Adam",
    "AdamW",
    "Conv2d",
    "Flatten",
    "Linear",
    "MaxPool2d",
    "Module",
    "Parameter",
    "RMSprop",
    "ReLU",
    "Sequential",
    "Tensor",
    "Value",
    "conv2d",
    "cross_entropy",
    "gradcheck_tensor",
    "gradcheck_value",
    "is_grad_enabled",
    "log_softmax",
    "max_pool2d",
    "no_grad",
    "numerical_gradient",
    "relative_error",
    "softmax",
    "unbroadcast",
]
