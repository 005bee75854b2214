"""The CPU threading choices of nnscratch.models.cpu_threads (performance only): which models
run BLAS on one thread during fit, and how predict sub-batches conv models."""
import pytest

import nnscratch as nn
from nnscratch import backend, kernels
from nnscratch.models import cpu_threads

threadpoolctl = pytest.importorskip("threadpoolctl")


def blas_threads():
    return [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]


def conv_model():
    return nn.Sequential([nn.Input((28, 28, 1)), nn.layers.Conv2D(32, 3, activation="relu"),
                          nn.layers.Flatten(), nn.layers.Dense(10)])


def big_mlp():
    return nn.Sequential([nn.Input((4096,)), nn.layers.Dense(4096)])


@pytest.fixture
def two_blas_threads():
    if backend.current() != "numpy":
        pytest.skip("BLAS threading is chosen for the NumPy backend only")
    if not blas_threads():
        pytest.skip("no introspectable BLAS")
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        if max(blas_threads()) < 2:
            pytest.skip("BLAS cannot run two threads here")
        yield


@pytest.mark.parametrize("pool_threads,tier,expected", [(2, "fast", 1), (1, "fast", 2), (2, "readable", 2)])
def test_conv_models_on_the_fast_tiers_pool_run_blas_on_one_thread(two_blas_threads, pool_threads, tier, expected):
    """Big conv GEMMs: one BLAS thread only when the fast tier's own pool runs them."""
    model = conv_model()
    assert cpu_threads.largest_gemm_flops(model, 1000) >= cpu_threads.BLAS_THREADING_MIN_FLOPS
    old = kernels.num_threads()
    kernels.set_num_threads(pool_threads)
    try:
        with kernels.use_tier(tier), cpu_threads.blas_scope(model, 1000):
            assert max(blas_threads()) == expected
        assert max(blas_threads()) == 2
    finally:
        kernels.set_num_threads(old)


def test_big_dense_models_keep_blas_threads_and_small_ones_get_one(two_blas_threads):
    with cpu_threads.blas_scope(big_mlp(), 256):
        assert max(blas_threads()) == 2
    with cpu_threads.blas_scope(nn.Sequential([nn.Input((8,)), nn.layers.Dense(4)]), 32):
        assert max(blas_threads()) == 1


def test_predict_sub_batches_hold_a_cache_budget_per_kernel_thread():
    model = conv_model()
    old = kernels.num_threads()
    try:
        kernels.set_num_threads(1)
        one = cpu_threads.inference_rows(model)
        kernels.set_num_threads(2)
        assert cpu_threads.inference_rows(model) == 2 * one
        assert one == max(32, cpu_threads.INFERENCE_BUDGET // (26 * 26 * 32))
    finally:
        kernels.set_num_threads(old)
    assert cpu_threads.inference_rows(big_mlp()) >= 2 ** 31  # no convolutions: batches run whole
