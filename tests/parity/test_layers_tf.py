"""Every layer against Keras: forward output, then dL/dx, dL/dkernel, dL/dbias, in float32 and
float64, over a grid of kernel sizes, strides, paddings (odd total padding included), input
sizes, layouts, pool sizes, activations and batch sizes. ``--full`` runs the whole grid.
BatchNormalization (with its moving statistics) and the merge layers have their own runners."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="the TF-parity suite needs tensorflow-cpu==2.21.0 (pip install -e '.[test]')")

from tests.parity import tolerances
from tests.parity._compare import assert_close
from tests.parity._layers import dropout_mask_stats, fast_cases, float64_skip_reason, full_cases, run_layer_case
from tests.parity._more_layers import batchnorm_cases, merge_cases, run_batchnorm_case, run_merge_case

pytestmark = pytest.mark.tf

_FAST = fast_cases()
_FAST_IDS = {c.id for c in _FAST}
_PARAMS = [pytest.param(c, id=c.id) for c in _FAST] + [
    pytest.param(c, id=c.id, marks=pytest.mark.slow) for c in full_cases() if c.id not in _FAST_IDS
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", _PARAMS)
def test_layer_matches_keras(case, dtype):
    if dtype == "float64" and float64_skip_reason(case):
        pytest.skip(float64_skip_reason(case))
    for quantity, ours, theirs, reference in run_layer_case(case, dtype):
        assert_close(case.component, f"{case.id} {quantity} {dtype}", ours, theirs, tolerances.LAYER[dtype],
                     reference=reference)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in batchnorm_cases()])
def test_batchnorm_matches_keras(case, dtype):
    """y, dx, dgamma, dbeta and the moving statistics after one forward, training or not."""
    for quantity, ours, theirs in run_batchnorm_case(case, dtype):
        assert_close(case.component, f"{case.id} {quantity} {dtype}", ours, theirs, tolerances.LAYER[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in merge_cases()])
def test_merge_layer_matches_keras(case, dtype):
    for quantity, ours, theirs in run_merge_case(case, dtype):
        assert_close(case.component, f"{case.id} {quantity} {dtype}", ours, theirs, tolerances.LAYER[dtype])


@pytest.mark.parametrize("rate", [0.25, 0.5])
def test_dropout_mask_statistics_match_keras(rate):
    """Keep fraction ~ 1 - rate (within 6 binomial standard deviations) and kept units scaled by
    exactly Keras's 1/(1 - rate), for our mask and Keras's."""
    n = 200_000
    ours_keep, ours_kept, keras_keep, keras_kept = dropout_mask_stats(rate, n)
    sigma = np.sqrt(rate * (1 - rate) / n)
    assert abs(ours_keep - (1 - rate)) < 6 * sigma, f"Dropout(rate={rate}): keep fraction {ours_keep}"
    assert abs(keras_keep - (1 - rate)) < 6 * sigma, f"Keras Dropout(rate={rate}): keep fraction {keras_keep}"
    assert np.unique(keras_kept).size == 1 and np.unique(ours_kept).size == 1
    assert_close("Dropout", f"rate={rate} kept-unit scale", ours_kept[:1], keras_kept[:1], tolerances.EXACT)
