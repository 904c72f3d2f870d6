import pytest
import torch
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def one_thread():
    """These tests use tiny arrays, where BLAS and torch intra-op threads only contend (on a shared 2-core machine a
    20-step torch loop took 0.5 s with threads and 0.01 s without); restored afterwards for other topics' tests."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(previous)
