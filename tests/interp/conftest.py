import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models and probes: intra-op threads only contend on a shared machine (a 0.05 s probe fit took 7 s with
    the default thread count); restored afterwards for other topics' tests."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
