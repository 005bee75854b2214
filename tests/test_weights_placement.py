"""Where a model's weights live, and what happens when the global choices change after it was
built (issue 16, item 7): switching the backend names the cause and ``model.to(...)`` moves the
model; ``set_floatx`` between two fits casts the data to the weights' dtype and says so."""
import warnings

import numpy as np
import pytest

import nnscratch as nn
from nnscratch import backend
from tests.test_reliability import data, small_mlp

# a real GPU too, where there is one: the model is built on numpy and moved there
OTHER = ["emulated"] + (["cupy"] if backend.cupy_available() else [])


@pytest.mark.parametrize("other", OTHER)
@pytest.mark.parametrize("call", ["fit", "evaluate", "predict", "train_on_batch", "call"])
def test_switching_backend_after_building_names_the_weights_backend(other, call):
    m = small_mlp()
    x, y = data()
    m.fit(x, y, verbose=0)
    backend.set_backend(other)
    run = {"fit": lambda: m.fit(x, y, verbose=0), "evaluate": lambda: m.evaluate(x, y, verbose=0),
           "predict": lambda: m.predict(x, verbose=0), "train_on_batch": lambda: m.train_on_batch(x, y),
           "call": lambda: m(x)}[call]
    with pytest.raises(RuntimeError, match=rf"weights live on the 'numpy' backend.*current backend is '{other}'.*"
                                           rf"model\.to\('{other}'\).*set_backend\('numpy'\)"):
        run()


def test_building_on_the_device_and_switching_back_to_numpy():
    backend.set_backend("emulated")
    m = small_mlp()
    x, y = data()
    m.fit(x, y, verbose=0)
    backend.set_backend("numpy")
    with pytest.raises(RuntimeError, match=r"weights live on the 'emulated' backend.*model\.to\('numpy'\)"):
        m.predict(x, verbose=0)
    m.to("numpy")
    assert all(isinstance(w, np.ndarray) for w in m.weights)
    m.fit(x, y, verbose=0)


@pytest.mark.parametrize("other", OTHER)
def test_model_to_moves_weights_grads_state_and_optimizer_slots(other):
    x, y = data()
    reference = small_mlp(seed=4, dropout=0.2)
    reference.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)

    m = small_mlp(seed=4, dropout=0.2)
    m.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)  # optimizer slots exist on numpy
    backend.set_backend(other)
    assert m.to(other) is m
    assert all(backend.backend_of(w) == other for w in m.weights)
    assert all(backend.backend_of(g) == other for _, _, g in m.parameters())
    assert all(backend.backend_of(a) == other for s in m.optimizer.state.values() for a in s.values())
    m.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(m.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6 if other == "emulated" else 1e-4, atol=1e-6)


def test_model_to_an_unknown_backend_changes_nothing():
    m = small_mlp()
    m.build((None, 8))
    before = list(m.weights)
    with pytest.raises(ValueError, match="unknown backend 'tpu'"):
        m.to("tpu")
    assert all(a is b for a, b in zip(m.weights, before))


def test_set_floatx_between_fits_casts_the_data_to_the_weights_dtype_and_says_so():
    m = small_mlp()
    x, y = data()
    m.fit(x, y, verbose=0)
    backend.set_floatx("float64")
    with pytest.warns(UserWarning, match=r"weights are float32 but nn\.backend\.floatx\(\) is float64.*cast to float32"):
        m.fit(x.astype("float64"), y, verbose=0)
    assert all(w.dtype == np.float32 for w in m.weights)
    assert all(g.dtype == np.float32 for _, _, g in m.parameters()), "float64 gradients leaked into a float32 model"
    assert all(a.dtype == np.float32 for s in m.optimizer.state.values() for a in s.values())
    with pytest.warns(UserWarning, match="cast to float32"):
        assert m.predict(x, verbose=0).dtype == np.float32


def test_no_warning_when_floatx_matches_the_weights():
    m = small_mlp()
    x, y = data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.fit(x, y, verbose=0)
        m.predict(x, verbose=0)


def test_set_floatx_between_fits_casts_one_hot_targets_too():
    nn.utils.set_random_seed(0)
    m = nn.Sequential([nn.layers.Dense(3, activation="softmax", input_shape=(8,))])
    m.compile("adam", "categorical_crossentropy")
    x, y = data()
    m.fit(x, nn.utils.to_categorical(y, 3), verbose=0)
    backend.set_floatx("float64")
    with pytest.warns(UserWarning, match="cast to float32"):
        m.fit(x, nn.utils.to_categorical(y, 3, dtype="float64"), verbose=0)
    assert all(g.dtype == np.float32 for _, _, g in m.parameters()), "float64 gradients leaked into a float32 model"
    assert all(a.dtype == np.float32 for s in m.optimizer.state.values() for a in s.values())
