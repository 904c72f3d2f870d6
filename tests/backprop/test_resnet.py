"""ResNet against two independent implementations: Hugging Face's ResNet (always) and torchvision's resnet34 (where
torchvision imports), and our torch BatchNorm2d against torch.nn.BatchNorm2d."""

import pytest
import torch
from mechlearn.backprop.resnet import BatchNorm2d, ResNet, from_hf_resnet, resnet34


def randomise_batchnorm_(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random gamma, beta and running statistics: with the defaults (1, 0, 0, 1) a renamed gamma/beta or swapped
    running mean/variance would go unnoticed."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in sorted(model.state_dict().items()):
            if (
                name.endswith(("running_var", "weight"))
                and t.ndim == 1
                and "fc" not in name
                and "classifier" not in name
            ):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith(("running_mean", "bias")) and "fc" not in name and "classifier" not in name:
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)
    return model


def test_batchnorm_equals_torch_in_both_modes():
    ours, ref = BatchNorm2d(4, momentum=0.3), torch.nn.BatchNorm2d(4, momentum=0.3)
    g = torch.Generator().manual_seed(0)
    for i in range(3):
        x = torch.randn(5, 4, 3, 3, generator=g) * (i + 1) + i
        torch.testing.assert_close(ours(x), ref(x))
    torch.testing.assert_close(ours.running_var, ref.running_var)  # unbiased, as torch keeps it
    torch.testing.assert_close(ours.running_mean, ref.running_mean)
    ours.eval(), ref.eval()
    x = torch.randn(2, 4, 3, 3, generator=g)
    torch.testing.assert_close(ours(x), ref(x))
    assert set(ours.state_dict()) == set(ref.state_dict())


def hf_resnet(depths, widths, n_classes):
    from transformers import ResNetConfig, ResNetForImageClassification

    config = ResNetConfig(
        layer_type="basic",
        depths=list(depths),
        hidden_sizes=list(widths),
        embedding_size=widths[0],
        num_labels=n_classes,
        downsample_in_first_stage=False,
    )
    torch.manual_seed(0)
    return randomise_batchnorm_(ResNetForImageClassification(config)).eval()


def test_small_resnet_equals_hugging_face_after_renaming():
    """One block per group: every kind of key (stem, blocks with and without a downsampling shortcut, classifier)
    and the forward pass, in evaluation mode, against Hugging Face's independent ResNet."""
    blocks, widths = (1, 1, 1, 1), (8, 16, 24, 32)
    hf = hf_resnet(blocks, widths, 10)
    ours = ResNet(blocks, widths, n_classes=10)
    ours.load_state_dict(from_hf_resnet(hf.state_dict()))  # strict: every key named, none left over
    ours.eval()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(ours(x), hf(x).logits, atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_resnet34_equals_hugging_face_resnet34():
    hf = hf_resnet((3, 4, 6, 3), (64, 128, 256, 512), 1000)
    ours = resnet34()
    assert sum(p.numel() for p in ours.parameters()) == 21_797_672  # torchvision's resnet34
    ours.load_state_dict(from_hf_resnet(hf.state_dict()))
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(ours.eval()(x), hf(x).logits, atol=1e-4, rtol=1e-4)


def test_resnet34_state_dict_loads_into_torchvision_with_identical_outputs():
    """Runs where torchvision imports (the CPU wheel matching torch); skipped where it does not."""
    try:
        import torchvision
    except Exception as error:  # the CUDA wheel of torchvision fails to load beside CPU torch with a RuntimeError
        pytest.skip(f"torchvision does not import here: {type(error).__name__}")
    ours = randomise_batchnorm_(resnet34()).eval()
    reference = torchvision.models.resnet34(weights=None).eval()
    reference.load_state_dict(ours.state_dict())
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(ours(x), reference(x), atol=1e-5, rtol=1e-5)
