"""The one-cycle schedule works for every run length, including tiny ones."""

from __future__ import annotations

import pytest
import torch

from weldsynth.train.fit import one_cycle


@pytest.mark.parametrize("steps", [1, 2, 3, 4, 5, 8, 40])
@pytest.mark.parametrize("pct", [0.25, 0.3, 0.5, 0.99])
def test_one_cycle_runs_every_step(steps: int, pct: float) -> None:
    params = [torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))]
    opt = torch.optim.AdamW([{"params": [params[0]]}, {"params": [params[1]]}], lr=1e-3)
    sched = one_cycle(opt, [1e-4, 1e-3], steps, pct, 25.0)
    seen = []
    for _ in range(steps):
        opt.step()
        sched.step()
        seen.append(opt.param_groups[1]["lr"])
    assert all(0 < lr <= 1e-3 + 1e-12 for lr in seen)
    if steps >= 8 and pct <= 0.5:
        peak = max(seen)
        assert peak == pytest.approx(1e-3, rel=0.2)  # it climbs to the peak
        assert seen[-1] < peak / 5  # and anneals
