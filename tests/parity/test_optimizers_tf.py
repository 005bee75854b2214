"""Every optimizer and option, and both schedules, against Keras: 200-step parameter
trajectories from identical starts fed identical gradients (unit-sized and ~1e-5)."""
from __future__ import annotations

import pytest

pytest.importorskip("tensorflow", reason="the TF-parity suite needs tensorflow-cpu==2.21.0 (pip install -e '.[test]')")

from tests.parity import tolerances
from tests.parity._compare import assert_close
from tests.parity._optimizers import (fast_ids, float64_skip_reason, optimizer_cases, run_optimizer_case,
                                      run_schedule_case, schedule_cases)

pytestmark = pytest.mark.tf

_FAST = fast_ids()
_PARAMS = [pytest.param(c, id=c.id, marks=() if c.id in _FAST else pytest.mark.slow) for c in optimizer_cases()]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", _PARAMS)
def test_optimizer_trajectory_matches_keras(case, dtype):
    if dtype == "float64" and float64_skip_reason(case):
        pytest.skip(float64_skip_reason(case))
    for quantity, ours, theirs in run_optimizer_case(case, dtype):
        assert_close(case.component, f"{case.id} {quantity} {dtype}", ours, theirs, tolerances.OPTIMIZER[dtype])


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in schedule_cases()])
def test_schedule_values_match_keras(case):
    for quantity, ours, theirs in run_schedule_case(case):
        assert_close(case.component, f"{case.id} {quantity}", ours, theirs, tolerances.SCHEDULE)
