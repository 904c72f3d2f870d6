"""Layers against torch.nn (float64): Linear, the MLP, conv2d and max_pool2d, with finite differences for conv."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from mechlearn.backprop import Tensor, gradcheck_tensor, relative_error
from mechlearn.backprop.conv import Conv2d, MaxPool2d, conv2d, max_pool2d
from mechlearn.backprop.nn import MLP, Flatten, Linear, Module, Parameter, ReLU, Sequential

TORCH_TOL, FD_TOL = 1e-10, 1e-7


@st.composite
def conv_cases(draw):
    N, C, O = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    k, stride, padding = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(0, 1))
    H, W = draw(st.integers(k, 6)), draw(st.integers(k, 6))
    return (N, C, H, W), (O, C, k, k), stride, padding, draw(st.booleans()), draw(st.integers(0, 2**16))


@settings(max_examples=25, deadline=None, derandomize=True)
@given(conv_cases())
def test_conv2d_matches_torch(case):
    x_shape, w_shape, stride, padding, with_bias, seed = case
    rng = np.random.default_rng(seed)
    arrays = [rng.normal(size=x_shape), rng.normal(size=w_shape), rng.normal(size=w_shape[0])]
    ours = [Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = conv2d(ours[0], ours[1], ours[2] if with_bias else None, stride, padding)
    t_out = F.conv2d(theirs[0], theirs[1], theirs[2] if with_bias else None, stride=stride, padding=padding)
    assert relative_error(out.data, t_out.detach().numpy()) < TORCH_TOL, "conv2d forward (window indexing) is wrong"
    w = rng.normal(size=out.shape)
    (out * w).sum().backward()
    (t_out * torch.tensor(w)).sum().backward()
    for name, a, b in zip(["x", "weight", "bias"][: 2 + with_bias], ours, theirs, strict=False):
        err = relative_error(a.grad, b.grad.numpy())
        assert err < TORCH_TOL, f"conv2d: gradient of {name} disagrees with torch ({err:.1e}); overlap/stride bug?"


def test_conv2d_finite_differences_with_stride_and_padding():
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(2, 2, 5, 4)), rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3)]
    assert gradcheck_tensor(lambda x, K, b: conv2d(x, K, b, stride=2, padding=1), arrays) < FD_TOL


@settings(max_examples=15, deadline=None, derandomize=True)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(0, 1), st.integers(4, 6), st.integers(0, 2**16))
def test_max_pool2d_matches_torch(k, stride, padding, size, seed):
    if padding > k // 2:  # torch's rule: padding at most half the kernel
        padding = 0
    x = np.random.default_rng(seed).normal(size=(2, 2, size, size + 1))  # distinct values: no ties
    ours, theirs = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, t_out = max_pool2d(ours, k, stride, padding), F.max_pool2d(theirs, k, stride, padding)
    assert relative_error(out.data, t_out.detach().numpy()) < TORCH_TOL, "max_pool2d forward is wrong"
    w = np.random.default_rng(seed + 1).normal(size=out.shape)
    (out * w).sum().backward()
    (t_out * torch.tensor(w)).sum().backward()
    assert relative_error(ours.grad, theirs.grad.numpy()) < TORCH_TOL, "max_pool2d must route the adjoint to argmax"
    assert gradcheck_tensor(lambda t: max_pool2d(t, k, stride, padding), [x]) < FD_TOL


def test_linear_and_mlp_match_torch_modules():
    rng = np.random.default_rng(0)
    ours = MLP([5, 7, 3], rng)
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3)).double()
    with torch.no_grad():  # torch stores W as (d_out, d_in); ours is (d_in, d_out)
        for mine, layer in zip([ours.layers[0], ours.layers[2]], [theirs[0], theirs[2]], strict=True):
            layer.weight.copy_(torch.tensor(mine.W.data.T))
            layer.bias.copy_(torch.tensor(mine.b.data))
    x = rng.normal(size=(4, 5))
    out, t_out = ours(Tensor(x)), theirs(torch.tensor(x))
    assert relative_error(out.data, t_out.detach().numpy()) < TORCH_TOL
    (out**2).sum().backward()
    (t_out**2).sum().backward()
    assert relative_error(ours.layers[0].W.grad, theirs[0].weight.grad.numpy().T) < TORCH_TOL
    assert relative_error(ours.layers[2].b.grad, theirs[2].bias.grad.numpy()) < TORCH_TOL


def test_small_cnn_matches_torch_end_to_end():
    rng = np.random.default_rng(1)
    ours = Sequential(Conv2d(1, 2, 3, rng, padding=1), ReLU(), MaxPool2d(2), Flatten(), Linear(8, 3, rng))
    conv, lin = ours.layers[0], ours.layers[4]
    x = rng.normal(size=(2, 1, 4, 4))
    t_params = [torch.tensor(p.data, requires_grad=True) for p in (conv.weight, conv.bias, lin.W, lin.b)]
    t_h = F.max_pool2d(F.relu(F.conv2d(torch.tensor(x), t_params[0], t_params[1], padding=1)), 2)
    t_out = t_h.flatten(1) @ t_params[2] + t_params[3]
    out = ours(Tensor(x))
    assert relative_error(out.data, t_out.detach().numpy()) < TORCH_TOL
    out.sum().backward()
    t_out.sum().backward()
    for p, t in zip((conv.weight, conv.bias, lin.W, lin.b), t_params, strict=True):
        assert relative_error(p.grad, t.grad.numpy()) < TORCH_TOL


def test_module_discovers_nested_parameters_and_zero_grad_clears_them():
    class Net(Module):
        def __init__(self):
            self.blocks = [Linear(2, 3, np.random.default_rng(0)), Linear(3, 1, np.random.default_rng(1), bias=False)]
            self.scale = Parameter(np.ones(1))

    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["blocks.0.W", "blocks.0.b", "blocks.1.W", "scale"]
    for p in net.parameters():
        p.grad = np.ones_like(p.data)
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_state_dict_round_trip_and_mismatch_errors():
    a, b = MLP([3, 4, 2], np.random.default_rng(0)), MLP([3, 4, 2], np.random.default_rng(1))
    b.load_state_dict(a.state_dict())
    x = Tensor(np.ones((1, 3)))
    assert np.array_equal(a(x).data, b(x).data)
    with pytest.raises(KeyError, match="keys differ"):
        b.load_state_dict({"layers.0.W": np.zeros((3, 4))})
    bad = a.state_dict() | {"layers.0.W": np.zeros((4, 4))}
    with pytest.raises(ValueError, match="shape"):
        b.load_state_dict(bad)


def test_conv_rejects_mismatched_channels():
    with pytest.raises(ValueError, match="agree on C"):
        conv2d(Tensor(np.zeros((1, 2, 4, 4))), Tensor(np.zeros((3, 1, 3, 3))), None)


def conv2d_loop(x, K, b, stride, padding):
    """The definition, one output at a time: the slow, obviously-correct reference for the im2col fast path."""
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    O, _, k, _ = K.shape
    Ho, Wo = (xp.shape[2] - k) // stride + 1, (xp.shape[3] - k) // stride + 1
    y = np.zeros((x.shape[0], O, Ho, Wo))
    for n, o, h, w in np.ndindex(y.shape):
        window = xp[n, :, stride * h : stride * h + k, stride * w : stride * w + k]
        y[n, o, h, w] = b[o] + (K[o] * window).sum()
    return y


@pytest.mark.parametrize("stride,padding,k", [(1, 0, 3), (1, 1, 3), (2, 1, 3), (3, 2, 5)])
def test_im2col_conv_equals_the_slow_loop(stride, padding, k):
    rng = np.random.default_rng(k + stride)
    x, K, b = rng.normal(size=(2, 3, 7, 6)), rng.normal(size=(4, 3, k, k)), rng.normal(size=4)
    fast = conv2d(Tensor(x), Tensor(K), Tensor(b), stride, padding).data
    assert relative_error(fast, conv2d_loop(x, K, b, stride, padding)) < 1e-12, "im2col window layout is wrong"


def test_conv_layer_init_and_hyper_parameters_follow_torch():
    """Conv2d draws weights and biases from U(-1/sqrt(C k^2), 1/sqrt(C k^2)) (torch's default init), passes stride and
    padding on, and keeps the dtype asked for; MaxPool2d's stride defaults to its kernel size."""
    layer = Conv2d(3, 40, 3, np.random.default_rng(0), stride=2, padding=1, dtype=np.float32)
    bound = 1 / np.sqrt(3 * 9)
    for p in (layer.weight, layer.bias):
        assert p.dtype == np.float32 and np.abs(p.data).max() <= bound and np.abs(p.data).max() > 0.9 * bound
    assert layer.weight.shape == (40, 3, 3, 3) and layer.bias.shape == (40,)
    x = Tensor(np.random.default_rng(1).normal(size=(2, 3, 7, 7)).astype(np.float32))
    assert np.array_equal(layer(x).data, conv2d(x, layer.weight, layer.bias, stride=2, padding=1).data)
    pool = MaxPool2d(3, padding=1)
    assert np.array_equal(pool(x).data, max_pool2d(x, 3, 3, 1).data)
    t = torch.tensor(x.data)
    np.testing.assert_array_equal(MaxPool2d(2)(x).data, F.max_pool2d(t, 2).numpy())
    np.testing.assert_array_equal(MaxPool2d(3, 2, 1)(x).data, F.max_pool2d(t, 3, 2, 1).numpy())


def test_conv_errors_are_one_line_and_name_the_shapes():
    with pytest.raises(ValueError, match=r"^conv2d: input \(N, C, H, W\) and weight \(O, C, kh, kw\) must agree on C"):
        conv2d(Tensor(np.zeros((2, 2, 4))), Tensor(np.zeros((3, 2, 3, 3))), None)  # 3-D input, C agrees
    with pytest.raises(ValueError, match=r"^conv2d: kernel \(5, 5\) is larger than the padded input \(4, 4\)$"):
        conv2d(Tensor(np.zeros((1, 1, 4, 4))), Tensor(np.zeros((1, 1, 5, 5))), None)
    with pytest.raises(ValueError, match="larger than the padded input"):
        conv2d(Tensor(np.zeros((1, 1, 4, 6))), Tensor(np.zeros((1, 1, 5, 5))), None)


def test_defaults_stride_1_padding_0_and_float32_gradients_like_torch():
    """conv2d(x, w, b), Conv2d(...) and max_pool2d(x, k) without stride/padding use torch's defaults; a float32 input
    gets a float32 gradient through the window scatter."""
    rng = np.random.default_rng(7)
    a, w = rng.normal(size=(1, 2, 6, 6)).astype(np.float32), rng.normal(size=(3, 2, 3, 3)).astype(np.float32)
    x, t = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    out = conv2d(x, Tensor(w), None)
    t_out = F.conv2d(t, torch.tensor(w))
    assert out.shape == tuple(t_out.shape) == (1, 3, 4, 4)
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), rtol=1e-5, atol=1e-5)
    (out * out).sum().backward()
    (t_out * t_out).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-4, atol=1e-4)
    assert Conv2d(2, 3, 3, np.random.default_rng(0))(x).shape == (1, 3, 4, 4), "Conv2d pads by default"
    pooled = max_pool2d(x, 2)
    assert pooled.shape == (1, 2, 3, 3) and np.array_equal(pooled.data, F.max_pool2d(t, 2).detach().numpy())
    y = Tensor(a, requires_grad=True)
    max_pool2d(y, 3, 2, 1).sum().backward()
    assert y.grad.dtype == np.float32
