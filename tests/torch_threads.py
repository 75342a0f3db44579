"""One torch thread per test (not a test module): steadier than two on a shared 2-core
machine, and deterministic. A test module opts in with
``from torch_threads import one_torch_thread  # noqa: F401``."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Run the test with one torch thread; restore the count after it."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
