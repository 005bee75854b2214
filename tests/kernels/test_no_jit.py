"""The fast tier's NumPy code, the one that runs without Numba (or with NNSCRATCH_NO_JIT=1): the
tier comparisons of test_tiers.py again, with the compiled loops switched off."""
import pytest

from nnscratch.kernels import jit
from tests.kernels.test_tiers import (test_conv2d_fast_readable_and_reference_tiers_agree,  # noqa: F401
                                      test_conv2d_tiers_agree_with_the_activation_inside_the_kernel,
                                      test_fast_tier_chunks_and_threads_give_the_readable_results,
                                      test_maxpool_tiers_route_ties_to_the_first_maximum,
                                      test_pooling_fast_readable_and_reference_tiers_agree)


@pytest.fixture(autouse=True)
def no_jit(monkeypatch):
    def nothing(fn):
        return None

    monkeypatch.setattr(jit, "compiled", nothing)  # every loop declines: the NumPy code runs
    yield
