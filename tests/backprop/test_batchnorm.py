"""BatchNorm2d on the NumPy engine against torch.nn.BatchNorm2d (forward, running statistics, evaluation mode,
gradients) and finite differences."""

import numpy as np
import pytest
import torch
from mechlearn.backprop.batchnorm import BatchNorm2d, set_training
from mechlearn.backprop.gradcheck import gradcheck_tensor
from mechlearn.backprop.nn import Sequential
from mechlearn.backprop.tensor import Tensor


def batches(n=3, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(loc=i, scale=1 + i, size=(4, 3, 5, 5)) for i in range(n)]


def pair(momentum=0.1):
    ours, ref = BatchNorm2d(3, momentum=momentum), torch.nn.BatchNorm2d(3, momentum=momentum).double()
    rng = np.random.default_rng(1)
    ours.weight.data, ours.bias.data = rng.normal(size=3), rng.normal(size=3)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(ours.weight.data))
        ref.bias.copy_(torch.tensor(ours.bias.data))
    return ours, ref


def test_training_forward_and_running_statistics_equal_torch():
    """Catches a biased running variance (torch stores m/(m-1) sigma^2), momentum applied the wrong way round
    ((1 - m) on the new batch), or normalising over the wrong axes."""
    ours, ref = pair(momentum=0.3)
    for x in batches():
        np.testing.assert_allclose(ours(Tensor(x)).data, ref(torch.tensor(x)).detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.running_mean, ref.running_mean.numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.running_var, ref.running_var.numpy(), atol=1e-12)
    assert ours.num_batches_tracked == int(ref.num_batches_tracked)


def test_evaluation_mode_uses_running_statistics_and_leaves_them_alone():
    ours, ref = pair()
    for x in batches():
        ours(Tensor(x)), ref(torch.tensor(x))
    set_training(Sequential(ours), False)
    ref.eval()
    x = batches(1, seed=5)[0]
    before = ours.running_mean.copy()
    np.testing.assert_allclose(ours(Tensor(x)).data, ref(torch.tensor(x)).detach().numpy(), atol=1e-12)
    assert (ours.running_mean == before).all(), "evaluation must not update the running statistics"


@pytest.mark.parametrize("training", [True, False])
def test_gradients_equal_torch_autograd(training):
    """The hand-derived backward against torch's autograd, in both modes: in training mode the mean and variance
    depend on x, so dropping their terms (the evaluation-mode formula) is caught here."""
    ours, ref = pair()
    x = batches(1)[0]
    if not training:
        ours(Tensor(x)), ref(torch.tensor(x))
        ours.training = False
        ref.eval()
    w = np.random.default_rng(2).normal(size=x.shape)
    xt = Tensor(x, requires_grad=True)
    (ours(xt) * Tensor(w)).sum().backward()
    x_ref = torch.tensor(x, requires_grad=True)
    (ref(x_ref) * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(xt.grad, x_ref.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(ours.weight.grad, ref.weight.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(ours.bias.grad, ref.bias.grad.numpy(), atol=1e-10)


def test_training_mode_backward_by_finite_differences():
    bn = BatchNorm2d(2)
    bn.weight.data = np.array([1.5, -0.5])
    x = np.random.default_rng(3).normal(size=(3, 2, 2, 2))
    assert gradcheck_tensor(lambda t: bn(t), [x]) < 1e-7


def test_one_value_per_channel_is_refused_in_training_mode():
    with pytest.raises(ValueError, match="more than one value per channel"):
        BatchNorm2d(2)(Tensor(np.zeros((1, 2, 1, 1))))


def test_a_cached_batchnorm_network_reloads_with_its_running_statistics(tmp_path):
    """The checkpoint of a BatchNorm network must hold its running statistics (not parameters): without them the
    reloaded network evaluates with mean 0 and variance 1 and predicts differently."""
    from mechlearn.backprop.train import TrainConfig, accuracy, load_digits_split, trained_on_digits

    config = TrainConfig(epochs=1, batch_size=720, seed=0)  # two steps: the test is about the checkpoint
    trained, history = trained_on_digits("cnn_bn", tmp_path, config, progress=False)
    reloaded, _ = trained_on_digits("cnn_bn", tmp_path, config, progress=False)
    data = load_digits_split(0, images=True)
    assert accuracy(reloaded, data.X_test, data.y_test) == history["final_test_acc"]
    assert reloaded.layers[1].running_var.std() > 0, "running variance not restored"
