"""The ported programs of tests/programs on Keras and on nnscratch, same text (only the imports
differ), same Fashion-MNIST slice: test accuracies agree within run-to-run noise.

Noise: on 2,000-3,000 training images and one to five epochs, Keras's own accuracy moves by
up to about 4 points between seeds; the band below is 6 points."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="the TF-parity suite needs tensorflow-cpu==2.21.0")

from tests import helpers  # noqa: E402
from tests.programs import harness  # noqa: E402
from tests.programs.test_programs import MARKS, PROGRAMS, accuracy_of  # noqa: E402

pytestmark = [pytest.mark.tf, pytest.mark.skipif(not helpers.fashion_mnist_available(),
                                                 reason="Fashion-MNIST idx files not found")]
BAND = 0.06


@pytest.mark.parametrize("name", [pytest.param(n, marks=MARKS.get(n, [])) for n in PROGRAMS
                                  if PROGRAMS[n][1] is not None])
def test_program_accuracy_matches_keras(name, tmp_path):
    settings = PROGRAMS[name][0]
    ours = accuracy_of(name, harness.run(name, "nnscratch", tmp_path / "nn", **settings))
    theirs = accuracy_of(name, harness.run(name, "keras", tmp_path / "keras", **settings))
    assert np.isfinite(ours) and abs(ours - theirs) < BAND, f"{name}: nnscratch {ours:.4f}, Keras {theirs:.4f}"
