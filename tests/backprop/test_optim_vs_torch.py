"""Each optimiser against torch.optim: the same MLP, data and hyper-parameters, parameters compared after 20 steps.

Tolerance 1e-6 (the issue's bar); in float64 the two agree to ~1e-15, because each update is written in torch's
order of operations. A wrong bias correction, momentum initialisation or decay placement is off by >1e-3.
"""

import numpy as np
import pytest
import torch
from mechlearn.backprop import Tensor, cross_entropy
from mechlearn.backprop.nn import MLP, Parameter
from mechlearn.backprop.optim import SGD, Adam, AdamW, RMSprop

CASES = {
    "sgd": (SGD, torch.optim.SGD, dict(lr=0.1)),
    "sgd_momentum_wd": (SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
    "sgd_nesterov": (SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    "rmsprop": (RMSprop, torch.optim.RMSprop, dict(lr=0.01)),
    "rmsprop_momentum_wd": (RMSprop, torch.optim.RMSprop, dict(lr=0.01, momentum=0.5, alpha=0.9, weight_decay=0.1)),
    "adam": (Adam, torch.optim.Adam, dict(lr=0.01)),
    "adam_l2": (Adam, torch.optim.Adam, dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    "adamw": (AdamW, torch.optim.AdamW, dict(lr=0.01, weight_decay=0.1)),
    # no arguments: our defaults (lr, betas, alpha, eps, AdamW's decay) must be torch's
    "rmsprop_defaults": (RMSprop, torch.optim.RMSprop, {}),
    "adam_defaults": (Adam, torch.optim.Adam, {}),
    "adamw_defaults": (AdamW, torch.optim.AdamW, {}),
}


def torch_twin(mlp):
    layers = [mlp.layers[0], mlp.layers[2]]
    params = [torch.tensor(p.data.copy(), requires_grad=True) for layer in layers for p in (layer.W, layer.b)]

    def forward(x):
        return torch.relu(x @ params[0] + params[1]) @ params[2] + params[3]

    return params, forward


@pytest.mark.parametrize("name", CASES)
def test_optimiser_matches_torch_after_20_steps(name):
    ours_cls, torch_cls, kwargs = CASES[name]
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(32, 6)), rng.integers(0, 3, size=32)
    model = MLP([6, 8, 3], np.random.default_rng(1))
    t_params, t_forward = torch_twin(model)
    opt, t_opt = ours_cls(model.parameters(), **kwargs), torch_cls(t_params, **kwargs)
    for step in range(20):
        batch = np.arange(8 * (step % 4), 8 * (step % 4 + 1))  # rotating minibatches: a changing gradient
        opt.zero_grad()
        cross_entropy(model(Tensor(X[batch])), y[batch]).backward()
        opt.step()
        t_opt.zero_grad()
        torch.nn.functional.cross_entropy(t_forward(torch.tensor(X[batch])), torch.tensor(y[batch])).backward()
        t_opt.step()
    moved = max(np.abs(p.data - t.detach().numpy()).max() for p, t in zip(model.parameters(), t_params, strict=True))
    assert moved < 1e-6, f"{name}: parameters differ from torch.optim by {moved:.1e} after 20 steps"
    start = MLP([6, 8, 3], np.random.default_rng(1)).parameters()
    assert max(np.abs(p.data - s.data).max() for p, s in zip(model.parameters(), start, strict=True)) > 1e-3, (
        "the optimiser must actually move the parameters (else the comparison proves nothing)"
    )


def test_optimiser_skips_parameters_without_gradients_and_rejects_bad_config():
    model = MLP([2, 2], np.random.default_rng(0))
    before = [p.data.copy() for p in model.parameters()]
    Adam(model.parameters()).step()
    assert all(np.array_equal(b, p.data) for b, p in zip(before, model.parameters(), strict=True))
    with pytest.raises(ValueError, match="^Nesterov momentum needs momentum > 0$"):
        SGD(model.parameters(), lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="^optimiser got an empty parameter list$"):
        SGD([], lr=0.1)


@pytest.mark.parametrize("name", CASES)
def test_optimiser_state_and_updates_keep_float32(name):
    """Moment buffers are made like each parameter, so a float32 parameter stays float32 (as in torch.optim)."""
    ours_cls, torch_cls, kwargs = CASES[name]
    p = Parameter(np.array([1.0, -2.0, 3.0]), dtype=np.float32)
    t = torch.tensor(p.data.copy(), requires_grad=True)
    opt, t_opt = ours_cls([p], **kwargs), torch_cls([t], **kwargs)
    for _ in range(3):
        p.grad = (2 * p.data).astype(np.float32)
        t.grad = 2 * t.detach().clone()
        opt.step()
        t_opt.step()
    assert p.data.dtype == np.float32, f"{name}: parameter became {p.data.dtype}"
    np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-5, atol=1e-6)
