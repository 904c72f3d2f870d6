"""Edge cases of the Tensor engine that the random-input checks in test_tensor_ops.py never reach (each was a
surviving mutant of benchmarks/mutation.py): calling conventions, dtypes, the kink of relu, error messages, labels."""

import numpy as np
import pytest
import torch
from mechlearn.backprop import Tensor, cross_entropy, log_softmax, softmax, unbroadcast
from mechlearn.backprop.conv import conv2d, max_pool2d


def _grad_pair(f_ours, f_torch, a, w=None):
    x, t = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    out, t_out = f_ours(x), f_torch(t)
    w = np.random.default_rng(0).normal(size=out.shape) if w is None else w
    (out * w).sum().backward()
    (t_out * torch.tensor(w)).sum().backward()
    return out, t_out, x, t


@pytest.mark.parametrize(
    "name, op",
    [
        ("neg", lambda x: -x),
        ("**2", lambda x: x**2),
        ("exp", lambda x: x.exp()),
        ("log", lambda x: x.log()),
        ("tanh", lambda x: x.tanh()),
        ("sigmoid", lambda x: x.sigmoid()),
        ("relu", lambda x: x.relu()),
        ("masked_fill", lambda x: x.masked_fill(np.array([True, False]), 0.0)),
        ("sum", lambda x: x.sum()),
        ("max", lambda x: x.max()),
        ("reshape", lambda x: x.reshape(2, 1)),
        ("permute", lambda x: x.permute(0)),
        ("index", lambda x: x[0]),
        ("+", lambda x: x + 1.0),
        ("-", lambda x: x - 1.0),
        ("*", lambda x: x * 2.0),
        ("/", lambda x: x / 2.0),
        ("@", lambda x: x @ np.ones(2)),
        ("softmax", lambda x: softmax(x)),
        ("log_softmax", lambda x: log_softmax(x)),
        ("cross_entropy", lambda x: cross_entropy(x[None], np.array([1]))),
        ("conv2d", lambda x: conv2d(x.reshape(1, 1, 1, 2), Tensor(np.ones((1, 1, 1, 1))), None)),
        ("max_pool2d", lambda x: max_pool2d(x.reshape(1, 1, 1, 2), 1)),
    ],
)
def test_repr_names_the_op_that_made_the_tensor(name, op):
    """`grad_fn=<op>` in the repr is how a learner reads the graph (torch prints grad_fn the same way)."""
    out = op(Tensor(np.array([1.0, 2.0]), requires_grad=True))
    assert repr(out).endswith(f", grad_fn={name})"), f"{repr(out)} does not name its op {name}"
    assert repr(Tensor(np.ones(2), requires_grad=True)).endswith(", requires_grad=True)")
    assert repr(Tensor(np.ones(2))) == "Tensor([1. 1.])"


def test_log_refuses_zero_and_negative_entries():
    for bad in ([1.0, 0.0], [-1.0, 2.0]):
        with pytest.raises(ValueError, match="^log of a tensor with non-positive entries$"):
            Tensor(np.array(bad)).log()


def test_relu_gradient_at_the_kink_is_zero_like_torch():
    a = np.array([-1.0, 0.0, 2.0])
    out, t_out, x, t = _grad_pair(lambda x: x.relu(), torch.relu, a, w=np.ones(3))
    assert np.array_equal(out.data, t_out.detach().numpy())
    assert np.array_equal(x.grad, t.grad.numpy()) and x.grad[1] == 0.0, "relu'(0) must be 0, as torch"


@pytest.mark.parametrize("as_tensor", [False, True])
def test_masked_fill_with_a_tensor_or_integer_mask_keeps_float32(as_tensor):
    """The mask may be a Tensor (its data is float) or an integer array; the fill value must not promote float32."""
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    mask = np.array([[1, 0, 0], [0, 1, 1]])
    x = Tensor(a, requires_grad=True)
    out = x.masked_fill(Tensor(mask) if as_tensor else mask, -5.0)
    expected = torch.tensor(a).masked_fill(torch.tensor(mask, dtype=torch.bool), -5.0)
    assert out.dtype == np.float32, "the fill value promoted float32 to float64"
    assert np.array_equal(out.data, expected.numpy())
    out.sum().backward()
    assert np.array_equal(x.grad, 1.0 - mask), "filled entries must get no gradient"


@pytest.mark.parametrize("axis", [-1, (0, 2)])
def test_mean_with_keepdims_matches_torch(axis):
    a = np.random.default_rng(1).normal(size=(2, 3, 4))
    out, t_out, x, t = _grad_pair(lambda x: x.mean(axis, keepdims=True), lambda t: t.mean(axis, keepdim=True), a)
    assert out.shape == tuple(t_out.shape), "keepdims ignored by mean"
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=0, atol=1e-12)


def test_reshape_and_permute_accept_a_tuple_or_separate_ints():
    """x.reshape((2, 3)) and x.reshape(2, 3) are the same, as in NumPy and torch; permute likewise, with negative
    axes (the inverse permutation must handle them)."""
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert x.reshape((3, 2)).shape == x.reshape(3, 2).shape == x.reshape(3, -1).shape == (3, 2)
    assert x.reshape(6).shape == (6,) and x.reshape([6]).shape == (6,)
    assert x.permute((1, 0)).shape == x.permute(1, 0).shape == x.permute(-1, 0).shape == (3, 2)
    assert Tensor(np.ones(4)).permute(0).shape == (4,)
    a = np.random.default_rng(2).normal(size=(2, 3, 4))
    _, t_out, y, t = _grad_pair(lambda x: x.permute(-1, 0, -2), lambda t: t.permute(-1, 0, -2), a)
    assert np.array_equal(y.grad, t.grad.numpy()), "the inverse permutation is wrong for negative axes"
    with pytest.raises(ValueError, match=r"^permute: \(0, 0\) is not a permutation of the 2 axes of \(2, 3\)$"):
        x.permute(0, 0)


def test_reshape_and_permute_accept_numpy_integers():
    """x.reshape(np.int64(6)) raised TypeError (only Python ints counted as sizes); NumPy and torch accept it."""
    x = Tensor(np.arange(6.0).reshape(2, 3))
    assert x.reshape(np.int64(6)).shape == (6,) and x.reshape(np.int64(3), -1).shape == (3, 2)
    assert x.permute(np.int64(-1), 0).shape == (3, 2) and Tensor(np.ones(4)).permute(np.int64(0)).shape == (4,)


def test_indexing_with_tensors_of_indices_and_float32_gradients():
    """Indices may come as a Tensor (float data) or inside a tuple; the scatter-add keeps the leaf's dtype."""
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    x = Tensor(a, requires_grad=True)
    rows = Tensor(np.array([2, 0, 2]))
    out = x[rows]
    assert np.array_equal(out.data, a[[2, 0, 2]])
    out.sum().backward()
    assert x.grad.dtype == np.float32 and np.array_equal(x.grad.sum(1), [4.0, 0.0, 8.0])
    picked = x[(rows, Tensor(np.array([1, 1, 3])))]
    assert np.array_equal(picked.data, a[[2, 0, 2], [1, 1, 3]])


def test_constant_on_the_left_of_plus_and_matmul():
    """`1.0 + x` and `ndarray @ x` go through __radd__ / __rmatmul__ (`__array_priority__` makes NumPy defer)."""
    a, M = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.5, -1.0], [2.0, 1.0]])
    x = Tensor(a, requires_grad=True)
    y = 1.0 + x
    z = M @ x
    assert isinstance(z, Tensor) and np.array_equal(y.data, 1.0 + a) and np.array_equal(z.data, M @ a)
    (y.sum() + z.sum()).backward()
    assert np.array_equal(x.grad, 1.0 + M.sum(0)[:, None] * np.ones((1, 2))), "d(1 + x + Mx)/dx"


def test_detach_shares_the_data_but_not_the_graph():
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    d = (x * 2.0).detach()
    assert not d.requires_grad and d._parents == () and d.dtype == np.float32
    assert np.array_equal(d.data, [2.0, 4.0])


def test_cross_entropy_rejects_bad_targets_with_one_line_errors():
    logits = Tensor(np.zeros((2, 3)), requires_grad=True)
    with pytest.raises(TypeError, match=r"^cross_entropy: targets must be integer class indices, not float64$"):
        cross_entropy(logits, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"^cross_entropy: logits \(2, 3\) need targets of shape \(2,\)$"):
        cross_entropy(logits, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"^cross_entropy: logits \(2, 2, 3\) need targets of shape \(2, 2\)$"):
        cross_entropy(Tensor(np.zeros((2, 2, 3))), np.array([0, 1]))
    for bad in ([0, 3], [-1, 0]):
        with pytest.raises(ValueError, match=r"^cross_entropy: targets must lie in \[0, 3\), got -?\d\.\.\d$"):
            cross_entropy(logits, np.array(bad))


def test_cross_entropy_of_float32_logits_with_tensor_targets():
    """Targets may come as a Tensor of integers; float32 logits give a float32 loss and gradient equal to torch's."""
    a = np.random.default_rng(3).normal(size=(2, 4, 5)).astype(np.float32)
    targets = np.array([[0, 4, 2, 2], [1, 3, 3, 0]])
    x = Tensor(a, requires_grad=True)
    loss = cross_entropy(x, Tensor(targets, dtype=np.int64))
    t = torch.tensor(a, requires_grad=True)
    t_loss = torch.nn.functional.cross_entropy(t.reshape(-1, 5), torch.tensor(targets).reshape(-1))
    loss.backward()
    t_loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32
    np.testing.assert_allclose(loss.item(), t_loss.item(), rtol=1e-6)
    np.testing.assert_allclose(x.grad, t.grad.numpy(), atol=1e-7)


def test_construction_casts_integers_to_float64_unless_a_dtype_is_given():
    assert Tensor([1, 2]).dtype == np.float64 and Tensor(np.array([True])).dtype == np.float64
    assert Tensor([1, 2], dtype=np.float32).dtype == np.float32
    assert Tensor(np.array([1, 2]), dtype=np.int64).dtype == np.int64, "an explicit integer dtype is kept"
    ints = Tensor(np.array([1, 2]), dtype=np.int64)
    assert ints.detach().dtype == ints[0].dtype == np.int64, "detach and indexing must not recast integer data"
    with pytest.raises(
        TypeError, match=r"^Tensor\(Tensor\(...\)\): pass the array \(t.data\), or use the Tensor itself$"
    ):
        Tensor(Tensor([1.0]))
    with pytest.raises(TypeError, match=r"^only floating-point tensors can require gradients, not int64$"):
        Tensor(np.array([1, 2]), requires_grad=True, dtype=np.int64)


@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
def test_reducing_a_0d_tensor_over_axis_0_or_minus_1_keeps_it_like_torch(reduce):
    """torch allows dim=0 and dim=-1 on a 0-D tensor (the identity); ours raised NumPy's AxisError."""
    for axis in (0, -1):
        x, t = Tensor(np.array(3.0), requires_grad=True), torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
        out = getattr(x, reduce)(axis)
        t_out = {"sum": t.sum, "mean": t.mean, "max": t.amax}[reduce](axis)
        out.backward()
        t_out.backward()
        assert out.shape == () and out.item() == t_out.item() == 3.0 and x.grad == t.grad.item() == 1.0


def test_max_over_an_axis_keeps_the_other_size_1_axes():
    a = np.array([[1.0, 3.0, 2.0]])  # shape (1, 3)
    out, t_out, x, t = _grad_pair(lambda x: x.max(-1), lambda t: t.amax(-1), a)
    assert out.shape == tuple(t_out.shape) == (1,), "max squeezed an axis it did not reduce"
    assert np.array_equal(x.grad, t.grad.numpy())


@pytest.mark.parametrize("shapes", [((2, 3, 4), (4,)), ((4,), (2, 4, 3)), ((3, 4), (4,)), ((4,), (4, 2))])
def test_matmul_with_one_vector_operand_matches_torch(shapes):
    """A 1-D operand is a row on the left and a column on the right, then that axis is dropped (torch.matmul)."""
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=shapes[0]), rng.normal(size=shapes[1])
    x, y = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    out, t_out = x @ y, tx @ ty
    w = rng.normal(size=out.shape)
    (out * w).sum().backward()
    (t_out * torch.tensor(w)).sum().backward()
    assert out.shape == tuple(t_out.shape)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(y.grad, ty.grad.numpy(), atol=1e-12)


def test_error_messages_say_what_to_do():
    with pytest.raises(ValueError, match=r"^matmul: both operands need at least one axis \(use \* for scalars\)$"):
        Tensor(2.0) @ Tensor(np.ones(2))
    with pytest.raises(ValueError, match=r"^matmul: both operands need at least one axis"):
        Tensor(np.ones(2)) @ Tensor(2.0)
    with pytest.raises(TypeError, match=r"^Tensor \*\* k supports a constant exponent only \(use exp/log"):
        Tensor(np.ones(2)) ** np.ones(2)
    with pytest.raises(ValueError, match=r"^unbroadcast: gradient of shape \(3,\) has fewer axes than the target"):
        unbroadcast(np.ones(3), (2, 3))
    x = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(
        RuntimeError, match=r"needs grad=, the adjoint to seed \(or reduce it to a scalar first, e\.g\. "
    ):
        (x * 2).backward()
    loss = (x * 2).sum()
    loss.backward()
    with pytest.raises(
        RuntimeError, match="pass retain_graph=True to the first call if you need to differentiate twice$"
    ):
        loss.backward()


def test_backward_seeds_a_one_element_output_and_accepts_a_tensor_or_float64_seed():
    """A (1,)-shaped output needs no seed (torch allows any one-element output); a seed given as a Tensor or as
    float64 for a float32 graph is used as it is, and the float32 leaf keeps a float32 gradient."""
    x = Tensor(np.array([3.0]), requires_grad=True)
    (x * x).backward()
    assert x.grad.shape == (1,) and x.grad[0] == 6.0
    y = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    (y * y).backward(grad=Tensor(np.array([1.0, 0.5])))
    assert y.grad.dtype == np.float32 and np.array_equal(y.grad, [2.0, 2.0])


def test_softmax_family_shifts_each_row_by_its_own_max():
    """Rows at very different scales: shifting by one global max would underflow the low row to 0/0 = NaN."""
    a = np.array([[0.0, 1.0, -1.0], [1000.0, 1001.0, 999.0]])
    t = torch.tensor(a)
    np.testing.assert_allclose(softmax(Tensor(a)).data, torch.softmax(t, -1).numpy(), rtol=1e-12)
    np.testing.assert_allclose(log_softmax(Tensor(a)).data, torch.log_softmax(t, -1).numpy(), rtol=1e-12)
    loss = cross_entropy(Tensor(a), np.array([1, 0])).item()
    assert loss == pytest.approx(torch.nn.functional.cross_entropy(t, torch.tensor([1, 0])).item(), rel=1e-12)


def test_repr_rounds_to_4_digits_and_summarises_past_20_entries():
    assert repr(Tensor(np.array([1.0 / 3.0, 2.0]))) == "Tensor([0.3333 2.    ])"
    assert repr(Tensor(np.arange(20.0))).count(",") == 0 and "..." not in repr(Tensor(np.arange(20.0)))
    assert repr(Tensor(np.arange(21.0))) == "Tensor([ 0.  1.  2. ... 18. 19. 20.])"


def test_backward_errors_are_exact_one_liners():
    with pytest.raises(RuntimeError, match=r"^backward\(\) on a tensor that does not require grad \(no leaf of it"):
        Tensor(np.ones(2)).sum().backward()
    x = Tensor(np.ones(2), requires_grad=True)
    loss = (x * 2).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"^backward through a graph that was already freed: a previous backward"):
        loss.backward()
