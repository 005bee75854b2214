# ============================================================================ backend fixtures
# Owner: devicebackend (issue 7). Other blocks go below this one, clearly separated.
"""Shared pytest fixtures.

``backend``: run a test once per array backend. It yields the ``nnscratch.backend`` module
itself, switched to the backend under test (and restored afterwards), so a test reads::

    def test_dense_forward(backend):
        x = backend.to_device(np.ones((2, 3)))          # host -> current device
        y = nn.layers.Dense(4)(x)
        np.testing.assert_allclose(backend.to_host(y), expected)   # device -> host to compare

``backend.current()`` names the backend ('numpy', 'emulated' or 'cupy'). The parameters are

* ``numpy``: plain NumPy;
* ``emulated``: NumPy with CuPy's rules (nnscratch/backend/emulated.py): device arrays refuse
  ``np.asarray`` and mixing with numpy arrays, and host syncs are counted;
* ``cupy``: real CuPy, skipped with the reason unless CuPy imports and sees a GPU.

Rules that make a test pass on every backend: build inputs on the host and move them with
``backend.to_device``; compare on the host after ``backend.to_host``; never hand a numpy
array to a layer whose weights live on the device.

The whole suite can also run under one backend: ``NNSCRATCH_BACKEND=emulated python -m
pytest tests -q -p no:cacheprovider`` (tests without the fixture then use the emulated arrays).
``_restore_backend_state`` (autouse) puts the backend and floatx back after every test so
that no test leaks its choice into the next. ``numpy.testing.assert_*`` accept device arrays
(copied to the host first, as ``cupy.testing`` does); see the end of this block.
"""
import functools

import numpy
import numpy.testing
import pytest

from nnscratch import backend as _nn_backend


def _backend_params():
    params = [pytest.param("numpy", id="numpy"), pytest.param("emulated", id="emulated")]
    reason = "CuPy with a CUDA GPU is not available on this machine (pip install 'nnscratch[gpu]')"
    params.append(pytest.param("cupy", id="cupy",
                               marks=pytest.mark.skipif(not _nn_backend.cupy_available(), reason=reason)))
    return params


@pytest.fixture(params=_backend_params())
def backend(request):
    """The nnscratch.backend module, switched to numpy / emulated / cupy for this test."""
    old = _nn_backend.current()
    _nn_backend.set_backend(request.param)
    _nn_backend.reset_sync_count()
    try:
        yield _nn_backend
    finally:
        _nn_backend._state["backend"] = old  # restore without re-validating (cupy may be gone)


@pytest.fixture(autouse=True)
def _restore_backend_state():
    old_backend, old_floatx = _nn_backend.current(), _nn_backend.floatx()
    yield
    _nn_backend._state["backend"] = old_backend
    _nn_backend.set_floatx(old_floatx)


# numpy.testing accepts device arrays, as cupy.testing does: a comparison in a test is a host
# boundary by definition, so its device arguments are copied with backend.to_host (counted as
# syncs). Only the assertion helpers are wrapped: np.asarray(device_array) and arithmetic that
# mixes host and device arrays still raise TypeError under the emulated backend.
def _host_args(value):
    if _nn_backend.is_device_array(value):
        return _nn_backend.to_host(value)
    if isinstance(value, (list, tuple)) and any(_nn_backend.is_device_array(v) for v in value):
        return type(value)(_host_args(v) for v in value)
    return value


def _accept_device_arrays(assert_fn):
    @functools.wraps(assert_fn)
    def wrapper(actual, desired, *args, **kwargs):
        return assert_fn(_host_args(actual), _host_args(desired), *args, **kwargs)

    wrapper._nnscratch_wrapped = True
    return wrapper


for _name in ("assert_allclose", "assert_array_equal", "assert_array_almost_equal", "assert_almost_equal",
              "assert_equal", "assert_array_less", "assert_array_max_ulp"):
    _fn = getattr(numpy.testing, _name)
    if not getattr(_fn, "_nnscratch_wrapped", False):
        setattr(numpy.testing, _name, _accept_device_arrays(_fn))
# ======================================================================== end backend fixtures


# ============================================================================ markers
# Owner: lead. Everything under tests/parity/ compares against real TensorFlow: mark it `tf`, so
# the emulated-backend pass of the README's test command can leave it out (-m "not tf").
def pytest_collection_modifyitems(config, items):
    for item in items:
        if "parity" in item.path.parts:
            item.add_marker(pytest.mark.tf)
    _skip_host_only_tests(items)


# ============================================================================ TF-parity --full option
# Owner: parity (issue 3). Registered here so that `python -m pytest --full` works from the
# repository root; tests/parity/conftest.py reads it and skips the 'slow' grid points without it.
def pytest_addoption(parser):
    parser.addoption("--full", action="store_true", default=False,
                     help="TF parity: run the full grid (tests marked 'slow'), not only the representative subset")
# ======================================================================== end TF-parity --full option


# ============================================================================ kernel tiers
# Owner: kernels (issue 12). ``kernel_tier``: run a test once on the fast and once on the
# readable kernel tier (nnscratch/kernels/); a test module opts in with
# ``pytestmark = pytest.mark.usefixtures("kernel_tier")``.
@pytest.fixture(params=["fast", "readable"])
def kernel_tier(request):
    from nnscratch import kernels

    with kernels.use_tier(request.param):
        yield request.param
# ======================================================================== end kernel tiers


# ============================================================================ host-only tests
# Tests whose own reference arithmetic (or whose scenario) is host-side NumPy: under
# NNSCRATCH_BACKEND=emulated they would mix host arrays with the device arrays the engine returns
# (their test code, not the engine, breaks the device rules), or they check the NumPy backend's
# per-step NaN stop, which a device checks only at the epoch's sync point by design. The engine
# paths they cover run on NumPy; each is listed by name so that the list stays short and visible.
HOST_ONLY_TESTS = {
    "tests/guides/test_training_with_built_in_methods.py::test_logistic_endpoint_loss_value_gradient_and_training_by_hand",
    "tests/test_debug.py::test_forward_and_backward_hooks_receive_the_layer_arrays_and_can_be_removed",
    "tests/test_keras_surface.py::test_regularized_loss_and_gradient",
    "tests/test_keras_surface.py::test_activity_regularizer_loss_and_gradient_check",
    "tests/test_nan_diagnosis.py::test_trace_flags_a_parameter_free_layer_that_blows_up_the_gradient_and_step_repr_has_norms",
    "tests/test_nan_diagnosis.py::test_fit_stop_and_detect_anomaly_agree_on_the_exploding_run_and_say_how_it_started",
    "tests/test_nan_diagnosis.py::test_a_nan_in_the_input_is_named_not_a_weight",
    "tests/test_nan_diagnosis.py::test_a_float64_value_that_overflows_float32_warns_and_is_named",
    "tests/test_graph.py::test_shared_layer_gradients_add_up_over_its_calls",
    "tests/test_graph.py::test_multi_output_backward_takes_one_gradient_per_output",
    "tests/test_graph.py::test_traced_custom_layer_matches_by_hand_and_gradient_checks",
    "tests/test_graph.py::test_add_loss_term_value_and_gradient",
    "tests/test_graph.py::test_sequential_backward_of_added_losses_only",
    "tests/test_reliability.py::test_non_finite_loss_stops_fit_naming_step_and_layer",
    # built on NumPy then switched: meaningful only when the session's backend is NumPy
    "tests/test_weights_placement.py::test_switching_backend_after_building_names_the_weights_backend",
}


def _skip_host_only_tests(items):
    if _nn_backend.current() == "numpy":
        return
    skip = pytest.mark.skip(reason="host-side test (see HOST_ONLY_TESTS in tests/conftest.py); runs on NumPy")
    for item in items:
        if item.nodeid.split("[")[0] in HOST_ONLY_TESTS:
            item.add_marker(skip)
