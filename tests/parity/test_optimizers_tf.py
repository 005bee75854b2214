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


def test_adam_moments_flush_denormals_as_keras_does():
    """TF runs its ops with denormals flushed to zero, so Keras's Adam moments never go below
    1.2e-38: with a gradient of 0, m's decay step (0 - m) * 0.1 underflows once m is near 1e-37
    and m stays there; with a gradient near 1e-20, g * g is 0. The fast tier's update flushes
    the same way (kernels/denormals.py); the readable one keeps IEEE denormals (m decays to
    1e-45 and 0), which this comparison with a zero absolute tolerance tells apart."""
    import numpy as np

    import nnscratch as nn
    from nnscratch import kernels
    from nnscratch.kernels import jit
    from tests.parity._tf import load_tf

    if not jit.enabled():
        pytest.skip("the fast tier's Adam update needs Numba (the readable one keeps denormals)")
    tf, keras = load_tf()
    steps = 900  # 0.1 * 0.9 ** 900 = 1e-42: well past where m's decay underflows
    rng = np.random.default_rng(0)
    start = rng.standard_normal(6).astype("float32")
    grads = [rng.standard_normal(6).astype("float32") * 0.3 for _ in range(5)]
    late = np.array([0, 0, 1e-20, 3e-20, 1e-3, -2e-3], np.float32)  # zero, tiny, normal
    grads += [late.copy() for _ in range(steps - 5)]
    ours, theirs = nn.optimizers.Adam(2.0 ** -9), keras.optimizers.Adam(2.0 ** -9)
    var, tf_var = start.copy(), tf.Variable(start)
    with kernels.use_tier("fast"):
        for g in grads:
            ours.apply([g.copy()], [var])
    theirs.build([tf_var])

    @tf.function
    def run(stacked):
        for t in tf.range(steps):
            theirs.apply([stacked[t]], [tf_var])

    run(tf.constant(np.stack(grads)))
    state = ours.state["var0"]
    tiny = np.finfo(np.float32).tiny
    for name, mine, keras_value in [("m", state["momentum"], theirs._momentums[0].numpy()),
                                    ("v", state["velocity"], theirs._velocities[0].numpy())]:
        assert not np.any((mine != 0) & (np.abs(mine) < tiny)), f"{name} holds denormals: {mine}"
        np.testing.assert_allclose(mine, keras_value, rtol=1e-4, atol=0, err_msg=name)  # where m stuck: 2e-5 apart
    np.testing.assert_allclose(var, tf_var.numpy(), rtol=1e-5, atol=1e-6)
