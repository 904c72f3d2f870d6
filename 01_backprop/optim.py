r"""Optimisers from scratch, each written to match `torch.optim` step for step (same defaults, same order of
operations). $g_t$ is the gradient, $\theta$ a parameter, $\eta$ the learning rate, $\lambda$ the weight decay.

- **SGD**: $g \leftarrow g + \lambda\theta$; momentum $b_t = \mu b_{t-1} + g$ ($b_1 = g$); Nesterov uses
  $g + \mu b_t$ instead of $b_t$; $\theta \leftarrow \theta - \eta\,(\cdot)$.
- **RMSprop**: $v_t = \alpha v_{t-1} + (1-\alpha) g^2$; $\theta \leftarrow \theta - \eta\, g / (\sqrt{v_t} + \epsilon)$
  (with momentum: $b_t = \mu b_{t-1} + g/(\sqrt{v_t}+\epsilon)$, $\theta \leftarrow \theta - \eta b_t$).
- **Adam**: $m_t = \beta_1 m_{t-1} + (1-\beta_1) g$, $v_t = \beta_2 v_{t-1} + (1-\beta_2) g^2$,
  $\theta \leftarrow \theta - \eta\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)$ with $\hat m_t = m_t/(1-\beta_1^t)$,
  $\hat v_t = v_t/(1-\beta_2^t)$; weight decay enters the gradient (L2).
- **AdamW**: Adam with *decoupled* decay, $\theta \leftarrow \theta(1 - \eta\lambda)$ before the Adam step
  (Loshchilov & Hutter, 2019).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from mechlearn.backprop.nn import Parameter


class Optimizer:
    def __init__(self, params: Iterable[Parameter], lr: float):
        self.params = list(params)
        if not self.params:
            raise ValueError("optimiser got an empty parameter list")
        self.lr = lr
        self.t = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        self.t += 1
        for i, p in enumerate(self.params):
            if p.grad is not None:  # like torch: a parameter that got no gradient is left alone
                p.data = self._update(i, p.data, p.grad)

    def _update(self, i: int, theta: np.ndarray, g: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class SGD(Optimizer):
    def __init__(self, params, lr: float, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0):
        super().__init__(params, lr)
        if nesterov and momentum <= 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.momentum, self.nesterov, self.weight_decay = momentum, nesterov, weight_decay
        self.b: list[np.ndarray | None] = [None] * len(self.params)

    def _update(self, i, theta, g):
        g = g + self.weight_decay * theta
        if self.momentum:
            self.b[i] = g.copy() if self.b[i] is None else self.momentum * self.b[i] + g
            g = g + self.momentum * self.b[i] if self.nesterov else self.b[i]
        return theta - self.lr * g


class RMSprop(Optimizer):
    def __init__(
        self, params, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8, weight_decay=0.0, momentum=0.0
    ):
        super().__init__(params, lr)
        self.alpha, self.eps, self.weight_decay, self.momentum = alpha, eps, weight_decay, momentum
        self.v = [np.zeros_like(p.data) for p in self.params]
        self.b = [np.zeros_like(p.data) for p in self.params]

    def _update(self, i, theta, g):
        g = g + self.weight_decay * theta
        self.v[i] = self.alpha * self.v[i] + (1 - self.alpha) * g**2
        step = g / (np.sqrt(self.v[i]) + self.eps)
        if self.momentum:
            self.b[i] = self.momentum * self.b[i] + step
            step = self.b[i]
        return theta - self.lr * step


class Adam(Optimizer):
    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr)
        self.beta1, self.beta2 = betas
        self.eps, self.weight_decay = eps, weight_decay
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]

    def _decay(self, theta, g):  # Adam: L2 through the gradient
        return theta, g + self.weight_decay * theta

    def _update(self, i, theta, g):
        theta, g = self._decay(theta, g)
        self.m[i] = self.beta1 * self.m[i] + (1 - self.beta1) * g
        self.v[i] = self.beta2 * self.v[i] + (1 - self.beta2) * g**2
        m_hat = self.m[i] / (1 - self.beta1**self.t)
        v_hat = self.v[i] / (1 - self.beta2**self.t)
        return theta - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class AdamW(Adam):
    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.01):
        super().__init__(params, lr, betas, eps, weight_decay)

    def _decay(self, theta, g):  # decoupled: shrink the parameter, leave the gradient alone
        return theta * (1 - self.lr * self.weight_decay), g
