import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny tensors gain nothing from intra-op threads, and on a shared 2-core machine
    # OpenMP workers spinning against other processes made the suite 20× slower.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
