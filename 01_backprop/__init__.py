"""mechlearn.backprop — backpropagation from scratch (01_backprop/).

- `value`: a micrograd-style scalar autograd engine (`Value`).
- `gradcheck`: central finite differences in float64 and the relative error used to judge gradients.
"""

from mechlearn.backprop.gradcheck import numerical_gradient, relative_error
from mechlearn.backprop.value import Value, gradcheck_value

__all__ = ["Value", "gradcheck_value", "numerical_gradient", "relative_error"]
