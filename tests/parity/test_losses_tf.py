"""Every loss and from_logits setting against Keras (value and gradient, probabilities at 0
and 1, logits of 1e3), and Keras's softmax/sigmoid-output trap inside evaluate/train_on_batch."""
from __future__ import annotations

import pytest

pytest.importorskip("tensorflow", reason="the TF-parity suite needs tensorflow-cpu==2.21.0 (pip install -e '.[test]')")

from tests.parity import tolerances
from tests.parity._compare import assert_close
from tests.parity._losses import TRAP_CASES, loss_cases, run_loss_case, run_trap_case

pytestmark = pytest.mark.tf


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in loss_cases()])
def test_loss_value_and_gradient_match_keras(case, dtype):
    for quantity, ours, theirs in run_loss_case(case, dtype):
        assert_close(case.component, f"{case.id} {quantity} {dtype}", ours, theirs, tolerances.LOSS[dtype])


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in TRAP_CASES])
def test_softmax_output_with_probability_loss_uses_logits_like_keras(case):
    """Dense(softmax|sigmoid) + from_logits=False loss: Keras's evaluate/train_on_batch compute
    the loss from the logits (about 50 here), not from clipped probabilities (16.1 here)."""
    quantities, clipped = run_trap_case(case)
    for quantity, ours, theirs in quantities:
        assert_close(case.component, f"{case.id} {quantity}", ours, theirs, tolerances.TRAINING["float32"])
    keras_eval = quantities[0][2]
    assert keras_eval > clipped + 5.0, (
        f"{case.id}: the case does not exercise the trap (Keras evaluate {keras_eval}, clipped {clipped})")
