"""NumPy attention on mechlearn.backprop.Tensor: gradients by finite differences, values against torch."""

import numpy as np
import torch
from mechlearn.backprop.gradcheck import gradcheck_tensor
from mechlearn.backprop.tensor import Tensor
from mechlearn.transformers.attention import Attention
from mechlearn.transformers.config import Config
from mechlearn.transformers.loading import randomize_
from mechlearn.transformers.numpy_attention import multihead_attention, scaled_dot_product_attention

CFG = Config(d_model=6, n_heads=2, d_head=3, n_layers=1, d_vocab=5, n_ctx=8)
NAMES = ["W_Q", "W_K", "W_V", "W_O", "b_Q", "b_K", "b_V", "b_O"]


def torch_attention(seed: int = 0) -> Attention:
    return randomize_(Attention(CFG), std=0.5, seed=seed).double()


def test_multihead_attention_equals_the_pytorch_module():
    attention = torch_attention()
    x = np.random.default_rng(0).normal(size=(2, 5, CFG.d_model))
    with torch.no_grad():
        theirs = attention(torch.tensor(x)).numpy()
    ours = multihead_attention(Tensor(x), *(Tensor(getattr(attention, n).detach().numpy()) for n in NAMES)).data
    err = np.abs(ours - theirs).max()
    assert err < 1e-12, f"NumPy attention differs from the PyTorch Attention by {err:.1e} (float64)"


def test_multihead_attention_gradients_by_finite_differences():
    attention = torch_attention(seed=1)
    rng = np.random.default_rng(1)
    inputs = [rng.normal(size=(2, 4, CFG.d_model))] + [getattr(attention, n).detach().numpy() for n in NAMES]
    err = gradcheck_tensor(multihead_attention, inputs)
    assert err < 1e-7, f"attention backward disagrees with finite differences: rel. error {err:.1e}"


def test_single_head_gradients_match_torch_autograd():
    rng = np.random.default_rng(2)
    q, k, v = (rng.normal(size=(3, 5, 4)) for _ in range(3))
    leaves = [Tensor(a, requires_grad=True) for a in (q, k, v)]
    z, pattern = scaled_dot_product_attention(*leaves)
    w = rng.normal(size=z.shape)
    (z * w).sum().backward()
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    tz = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=True)
    (tz * torch.tensor(w)).sum().backward()
    assert np.abs(z.data - tz.detach().numpy()).max() < 1e-12, "forward differs from torch's SDPA"
    for ours, theirs in zip(leaves, (tq, tk, tv), strict=True):
        assert np.abs(ours.grad - theirs.grad.numpy()).max() < 1e-12, "gradient differs from torch.autograd"
    assert np.allclose(np.triu(pattern.data[0], k=1), 0), "a query attended to a later key"
