"""Functional Model: graph building, forward/backward through branches and merges, multi-input
training, summary connections, config round trip, errors."""
import numpy as np
import pytest

import nnscratch as nn
from nnscratch import backend


def branch_model(seed=0):
    """x -> dense(relu) -> {dense_a, dense_b} -> Add -> dense(softmax); h also skips to Concatenate."""
    x = nn.Input((4,))
    h = nn.layers.Dense(6, activation="tanh")(x)
    a = nn.layers.Dense(5, activation="tanh")(h)
    b = nn.layers.Dense(5)(h)
    s = nn.layers.Add()([a, b])
    c = nn.layers.Concatenate()([s, h])  # h feeds three layers: its gradient is a sum of three
    y = nn.layers.Dense(3, activation="softmax")(c)
    return nn.Model(x, y)


def test_nn_model_is_the_functional_model_and_base_class_stays_importable():
    from nnscratch.models.functional import Model
    from nnscratch.models.model import Model as Base

    assert nn.Model is Model and issubclass(Model, Base) and nn.models.BaseModel is Base


def test_layers_inputs_outputs_and_get_layer():
    model = branch_model()
    assert [type(l).__name__ for l in model.layers] == ["InputLayer", "Dense", "Dense", "Dense", "Add",
                                                        "Concatenate", "Dense"]
    assert len(model.inputs) == 1 and len(model.outputs) == 1
    assert model.input_shape == (None, 4) and model.output_shape == (None, 3)
    add = model.layers[4]
    assert model.get_layer(add.name) is add
    with pytest.raises(ValueError, match="no layer named"):
        model.get_layer("nope")


def test_forward_equals_the_same_computation_by_hand():
    model = branch_model()
    x = np.random.default_rng(0).standard_normal((5, 4)).astype("float32")
    _, d0, da, db, _, _, dout = model.layers
    (k0, b0), (ka, ba), (kb, bb), (ko, bo) = (l.get_weights() for l in (d0, da, db, dout))  # host copies
    h = np.tanh(x @ k0 + b0)
    a = np.tanh(h @ ka + ba)
    b = h @ kb + bb
    z = np.concatenate([a + b, h], -1) @ ko + bo
    p = np.exp(z - z.max(-1, keepdims=True))
    np.testing.assert_allclose(model.predict(x), p / p.sum(-1, keepdims=True), rtol=1e-5, atol=1e-6)


def test_backward_sums_branch_gradients_numerical_check():
    with backend.floatx_scope("float64"):
        model = branch_model()
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        x = np.random.default_rng(1).standard_normal((6, 4))
        y = np.array([0, 1, 2, 0, 1, 2])
        errors = nn.debug.gradient_check(model, x, y)
    for name, err in errors.items():
        assert err < 1e-6, f"functional gradient of {name}: relative error {err:.2e}"


def test_multi_input_model_fits_predicts_and_checks_gradients():
    with backend.floatx_scope("float64"):
        a, b = nn.Input((3,), name="in_a"), nn.Input((2,), name="in_b")
        ha = nn.layers.Dense(4, activation="tanh")(a)
        hb = nn.layers.Dense(4, activation="tanh")(b)
        m = nn.layers.Multiply()([ha, hb])
        out = nn.layers.Dense(1)(nn.layers.Concatenate()([m, hb]))
        model = nn.Model([a, b], out)
        model.compile(optimizer=nn.optimizers.SGD(0.1), loss="mse")
        gen = np.random.default_rng(2)
        xa, xb = gen.standard_normal((16, 3)), gen.standard_normal((16, 2))
        y = (xa[:, :1] * xb[:, :1])
        # gradients w.r.t. each input, by central differences on the model's loss
        dev = backend.to_device

        def loss_value():
            return float(backend.to_host(model.loss.forward(model.forward([dev(xa), dev(xb)]), dev(y))))

        loss_value()
        dxa, dxb = (backend.to_host(d) for d in model.backward(model.loss.backward()))
        for x_i, dx_i, name in ((xa, dxa, "in_a"), (xb, dxb, "in_b")):
            num = np.zeros_like(x_i)
            for idx in np.ndindex(x_i.shape):
                old = x_i[idx]
                x_i[idx] = old + 1e-6
                fp = loss_value()
                x_i[idx] = old - 1e-6
                fm = loss_value()
                x_i[idx] = old
                num[idx] = (fp - fm) / 2e-6
            err = np.abs(dx_i - num).max() / np.abs(num).max()
            assert err < 1e-6, f"gradient w.r.t. input {name}: relative error {err:.2e}"
        before = model.evaluate([xa, xb], y, verbose=0)
        history = model.fit([xa, xb], y, epochs=5, batch_size=4, verbose=0, shuffle=True)
        assert len(history.history["loss"]) == 5
        assert model.evaluate([xa, xb], y, verbose=0) < before, "training did not lower the loss"
        assert model.predict([xa, xb], batch_size=5).shape == (16, 1)
        assert np.isfinite(model.train_on_batch([xa[:4], xb[:4]], y[:4]))
    with pytest.raises(ValueError, match="list of 2 input arrays"):
        model.predict(xa)


def test_multi_output_model_predicts_a_list():
    x = nn.Input((3,))
    h = nn.layers.Dense(4)(x)
    o1, o2 = nn.layers.Dense(2)(h), nn.layers.Dense(1)(h)
    model = nn.Model(x, [o1, o2])
    out = model.predict(np.ones((5, 3)))
    assert isinstance(out, list) and out[0].shape == (5, 2) and out[1].shape == (5, 1)
    model.compile(optimizer="sgd", loss="mse")  # one loss for every output (Keras 3)
    logs = model.evaluate(np.ones((5, 3)), [np.zeros((5, 2)), np.zeros((5, 1))], verbose=0, return_dict=True)
    assert list(logs) == ["loss", f"{o1.node.name}_loss", f"{o2.node.name}_loss"]


def test_summary_shows_connections():
    model = branch_model()
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Connected to" in text
    add, concat = model.layers[4], model.layers[5]
    assert add._connected_to == [f"{model.layers[2].name}[0][0]", f"{model.layers[3].name}[0][0]"]
    assert f"{add.name}[0][0], {model.layers[1].name}[0][0]" in text
    assert concat.name in text


def test_config_round_trip_rebuilds_the_same_function():
    model = branch_model()
    clone = nn.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(3).standard_normal((4, 4)).astype("float32")
    np.testing.assert_allclose(clone.predict(x), model.predict(x), rtol=1e-6)
    assert [l.name for l in clone.layers] == [l.name for l in model.layers]


def test_graph_errors_are_clear():
    x, other = nn.Input((4,)), nn.Input((4,))
    y = nn.layers.Add()([nn.layers.Dense(2)(x), nn.layers.Dense(2)(other)])
    with pytest.raises(ValueError, match="graph disconnected"):
        nn.Model(x, y)
    d = nn.layers.Dense(3)
    d(x)
    with pytest.raises(ValueError, match=r"built for input shape \(None, 4\), received \(None, 5\)"):
        d(nn.Input((5,)))  # a shared layer is fine (tests/test_graph.py); a second shape is not
    with pytest.raises(ValueError, match=r"expected input of rank 4.*called on the output of"):
        nn.layers.Conv2D(2, 3)(nn.Input((5,)))
    with pytest.raises(TypeError, match="expects a list"):
        nn.layers.Add()(x)


def test_batchnorm_in_a_functional_model_trains_and_updates_moving_stats():
    x = nn.Input((6, 6, 2))
    h = nn.layers.Conv2D(3, 3, padding="same")(x)
    h = nn.layers.BatchNormalization()(h)
    h = nn.layers.GlobalAveragePooling2D()(h)
    model = nn.Model(x, nn.layers.Dense(2, activation="softmax")(h))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    gen = np.random.default_rng(4)
    bn = model.layers[2]
    model.fit(gen.standard_normal((8, 6, 6, 2)), gen.integers(0, 2, 8), epochs=1, batch_size=4, verbose=0)
    assert not np.allclose(bn.get_weights()[2], 0.0), "moving_mean did not move during fit"
