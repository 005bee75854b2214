"""The graph: shared layers, models used as layers, several Models over one graph, traced call()
layers and models (nn.ops, add_weight, add_loss), traced losses; every gradient checked in float64."""
import numpy as np
import pytest

import nnscratch as nn
from nnscratch import backend, ops
from nnscratch.layers import NoBackwardError
from nnscratch.losses import TracedLoss

L = nn.layers


def check(model, x, y, loss="mse"):
    model.compile(optimizer="sgd", loss=loss)
    result = nn.debug.gradient_check(model, x, y)
    assert result.passed, f"gradient check failed: {result}"
    return result


def data(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ---------------------------------------------------------------------------------- shared layers
def test_shared_layer_gradients_add_up_over_its_calls():
    with backend.floatx_scope("float64"):
        a, b = nn.Input((3,)), nn.Input((3,))
        shared = L.Dense(4, activation="tanh")
        out = L.Dense(1)(L.concatenate([shared(a), shared(b)]))
        model = nn.Model([a, b], out)
        assert [l.name for l in model.layers].count(shared.name) == 1
        assert len(model.parameters()) == 4  # shared kernel+bias once, output kernel+bias
        model.compile(optimizer="sgd", loss="mse")
        xa, xb, y = data((5, 3), 1), data((5, 3), 2), data((5, 1), 3)
        loss = model.loss_at_output(model.forward([xa, xb]), y)[0]
        model.backward(model.loss.backward())
        analytic = shared.grads["kernel"].copy()
        W = shared.params["kernel"]
        h = 1e-6
        num = np.zeros_like(W)
        for idx in np.ndindex(W.shape):
            old = W[idx]
            W[idx] = old + h
            fp = float(model.loss_at_output(model.forward([xa, xb]), y)[0])
            W[idx] = old - h
            fm = float(model.loss_at_output(model.forward([xa, xb]), y)[0])
            W[idx] = old
            num[idx] = (fp - fm) / (2 * h)
        assert np.isfinite(float(loss))
        err = np.abs(analytic - num).max() / np.abs(num).max()
        assert err < 1e-6, f"shared kernel gradient: relative error {err:.2e} (the two calls must add up)"


def test_shared_layer_applied_twice_in_a_row_gradient_check():
    with backend.floatx_scope("float64"):
        x = nn.Input((3,))
        d = L.Dense(3, activation="tanh")
        model = nn.Model(x, L.Dense(2)(d(d(x))))
        check(model, data((4, 3)), data((4, 2), 1))


# ---------------------------------------------------------------------------------- models as layers
def test_model_in_sequential_trains_shares_weights_and_shows_one_row():
    base = nn.Sequential([nn.Input((4,)), L.Dense(8, activation="relu"), L.Dense(3)], name="base")
    prob = nn.Sequential([base, L.Softmax()])
    assert prob.built and prob.output_shape == (None, 3)
    assert prob.weights[0] is base.layers[0].params["kernel"], "nested weights must be the same arrays"
    assert len(prob.parameters()) == 4
    x = data((16, 4)).astype("float32")
    np.testing.assert_allclose(prob.predict(x, verbose=0).sum(axis=1), 1.0, rtol=1e-5)
    lines = []
    prob.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "base (Sequential)" in text and "dense" not in text.split("base (Sequential)")[1].split("\n")[0]
    assert f"{base.count_params():,}" in text
    before = base.get_weights()[0].copy()
    prob.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    prob.fit(x, np.arange(16) % 3, epochs=1, batch_size=8, verbose=0)
    assert not np.allclose(base.get_weights()[0], before), "the inner model's layers did not train"


def test_model_as_layer_gradient_check_sequential_and_functional():
    with backend.floatx_scope("float64"):
        inner = nn.Sequential([nn.Input((3,)), L.Dense(4, activation="tanh"), L.Dense(2)])
        outer = nn.Sequential([inner, L.Dense(2, activation="tanh")])
        check(outer, data((5, 3)), data((5, 2), 1))
        x = nn.Input((3,))
        enc = nn.Model(x, L.Dense(4, activation="tanh")(x))
        z = nn.Input((3,))
        h = enc(z)
        model = nn.Model(z, L.Dense(1)(L.add([h, enc(z)])))  # the nested model called twice: shared
        check(model, data((5, 3), 2), data((5, 1), 3))


def test_nested_model_weights_save_and_load(tmp_path):
    inner = nn.Sequential([nn.Input((3,)), L.Dense(4)])
    outer = nn.Sequential([inner, L.Dense(2)])
    path = tmp_path / "w.npz"
    outer.save_weights(path)
    saved = outer.get_weights()
    outer.set_weights([w * 0 for w in saved])
    assert np.allclose(inner.get_weights()[0], 0)
    outer.load_weights(path)
    for a, b in zip(outer.get_weights(), saved):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------- several models
def test_encoder_and_autoencoder_over_one_graph():
    with backend.floatx_scope("float64"):
        x = nn.Input((6,))
        code = L.Dense(2, activation="tanh")(x)
        encoder = nn.Model(x, code)
        autoencoder = nn.Model(x, L.Dense(6)(code))  # "graph disconnected" before
        xs = data((5, 6))
        assert encoder.predict(xs, verbose=0).shape == (5, 2)
        check(autoencoder, xs, xs)
        check(encoder, xs, data((5, 2), 4))


def test_feature_extractor_over_a_trained_sequential():
    model = nn.Sequential([nn.Input((5,)), L.Dense(4, activation="relu"), L.Dense(3), L.Softmax()])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = data((8, 5)).astype("float32")
    model.fit(x, np.arange(8) % 3, epochs=1, verbose=0)
    extractor = nn.Model(model.inputs, [layer.output for layer in model.layers])
    feats = extractor(x)
    assert [f.shape for f in feats] == [(8, 4), (8, 3), (8, 3)]
    np.testing.assert_allclose(feats[-1], model.predict(x, verbose=0), rtol=1e-6)


def test_sequential_built_by_first_call_has_a_summary():
    model = nn.Sequential([L.Dense(3), L.Dense(1)])
    model(np.ones((2, 4), dtype="float32"))
    assert model.built and model.inputs[0].shape == (None, 4)
    assert "Total params: 19" in model.summary(print_fn=lambda s: None)


def test_multi_output_backward_takes_one_gradient_per_output():
    with backend.floatx_scope("float64"):
        x = nn.Input((3,))
        h = L.Dense(4, activation="tanh")(x)
        model = nn.Model(x, [L.Dense(2)(h), L.Dense(1)(h)])
        xs = data((4, 3))
        y1, y2 = model(xs)
        d1, d2 = data(y1.shape, 1), data(y2.shape, 2)
        dx = model.backward([d1, d2])
        dx_only1 = model.backward([d1, None])  # an unused output
        assert dx.shape == xs.shape and not np.allclose(dx, dx_only1)
        with pytest.raises(ValueError, match="gradient for output"):
            model.backward([d1, d1])


# ---------------------------------------------------------------------------------- traced call()
class Linear(L.Layer):
    def __init__(self, units=2, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal", name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal", name="b")

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class Block(L.Layer):
    """Sublayers, ops, operators, indexing, fan-out and a shared sublayer."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = L.Dense(3, activation="tanh")
        self.scale = Linear(3)

    def call(self, x, training=None):
        h = self.dense(x)
        g = self.dense(h)  # the sublayer used twice
        s = ops.sigmoid(self.scale(h)) * g - h / 2.0
        return ops.concatenate([s, -s[:, :1] ** 2, ops.exp(h[:, 1:2])], axis=-1)


def test_traced_custom_layer_matches_by_hand_and_gradient_checks():
    with backend.floatx_scope("float64"):
        layer = Linear(2)
        x = data((4, 3))
        y = layer(x)
        np.testing.assert_allclose(y, x @ layer.params["w"] + layer.params["b"], rtol=1e-12)
        assert layer.weights[0] is layer.params["w"] and layer.w.shape == (3, 2)
        result = nn.debug.gradient_check(layer, x)
        assert result.passed and set(result) == {"x", "w", "b"}, result


def test_traced_block_with_sublayers_gradient_check_and_training():
    with backend.floatx_scope("float64"):
        block = Block()
        model = nn.Sequential([nn.Input((3,)), block, L.Dense(1)])
        assert len(block.weights) == 4 and block.output_shape == (None, 5)
        check(model, data((6, 3)), data((6, 1), 1))
        before = block.dense.get_weights()[0].copy()
        model.fit(data((6, 3)), data((6, 1), 1), epochs=2, verbose=0)
        assert not np.allclose(before, block.dense.get_weights()[0])


class TwoLayerModel(nn.Model):
    def __init__(self):
        super().__init__()
        self.dense1 = L.Dense(4, activation="relu")
        self.dense2 = L.Dense(2)

    def call(self, inputs, training=False):
        return self.dense2(self.dense1(inputs) + ops.tanh(inputs[:, :1]))


def test_subclassed_model_with_call_trains_and_gradient_checks():
    with backend.floatx_scope("float64"):
        model = TwoLayerModel()
        x = data((8, 3)) + 0.05  # away from relu kinks is not needed for a random draw, but keeps it safe
        y = model(x)
        assert y.shape == (8, 2) and [l.name for l in model.layers] == [model.dense1.name, model.dense2.name]
        check(model, x, data((8, 2), 1))
        hist = model.fit(x, data((8, 2), 1), epochs=3, verbose=0)
        assert hist.history["loss"][-1] < hist.history["loss"][0]


def test_custom_layer_in_the_functional_api_and_config_with_custom_objects():
    x = nn.Input((3,))
    model = nn.Model(x, Linear(2, name="lin")(L.Dense(3)(x)))
    clone = nn.Model.from_config(model.get_config(), custom_objects={"Linear": Linear})
    clone.set_weights(model.get_weights())
    xs = data((4, 3)).astype("float32")
    np.testing.assert_allclose(clone.predict(xs, verbose=0), model.predict(xs, verbose=0), rtol=1e-6)
    with pytest.raises(ValueError, match="unknown layer class 'Linear'"):
        nn.Model.from_config(model.get_config())


def test_ops_on_symbolic_tensors_in_a_functional_model():
    with backend.floatx_scope("float64"):
        x = nn.Input((3,))
        h = L.Dense(4)(x)
        model = nn.Model(x, L.Dense(1)(ops.relu(h) * 2.0 + ops.square(h)))
        check(model, data((5, 3)), data((5, 1), 1))


class ActivityRegularization(L.Layer):
    def __init__(self, rate=1e-2, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * ops.sum(ops.square(inputs)))
        return inputs


def test_add_loss_term_value_and_gradient():
    with backend.floatx_scope("float64"):
        x = nn.Input((3,))
        h = ActivityRegularization(0.5)(L.Dense(4)(x))
        model = nn.Model(x, L.Dense(1)(h))
        xs = data((5, 3))
        model(xs)
        dense = model.layers[1]
        hv = xs @ dense.params["kernel"] + dense.params["bias"]
        np.testing.assert_allclose(model.added_loss(), 0.5 * (hv ** 2).sum(), rtol=1e-12)
        # gradient of the added term alone (no output gradient): 0.5 * 2 h -> dense kernel x^T h
        model.backward(None)
        np.testing.assert_allclose(dense.grads["kernel"], xs.T @ hv, rtol=1e-10)


# ---------------------------------------------------------------------------------- no backward
class NumpyInside(L.Layer):
    def call(self, inputs):
        return np.exp(inputs)


class FloatInside(L.Layer):
    def call(self, inputs):
        return inputs * float(ops.mean(inputs))


class BranchOnValue(L.Layer):
    def call(self, inputs):
        if ops.mean(inputs) > 0:
            return inputs
        return -inputs


@pytest.mark.parametrize("cls, what", [(NumpyInside, "numpy.exp"), (FloatInside, r"float\(t\)"),
                                       (BranchOnValue, "Python control flow")])
def test_call_without_a_backward_fails_at_the_first_call_and_says_why(cls, what):
    with pytest.raises(NoBackwardError, match=what) as info:
        cls(name="planted")(np.ones((2, 3), dtype="float32"))
    msg = str(info.value)
    assert "planted" in msg and "no autograd" in msg and "def backward(self, dy)" in msg and "nn.ops" in msg


def test_forward_backward_layers_answer_call_as_an_alias():
    d = L.Dense(2)
    x = np.ones((3, 4), dtype="float32")
    np.testing.assert_array_equal(d.call(x), d(x))


# ---------------------------------------------------------------------------------- traced losses
def my_mse(y_true, y_pred):
    return ops.mean(ops.square(y_true - y_pred), axis=-1)


class HuberLike(nn.losses.Loss):
    def call(self, y_true, y_pred):
        d = y_pred - y_true
        return ops.mean(ops.sqrt(1.0 + d * d) - 1.0, axis=-1)


def test_traced_losses_match_by_hand_gradient_check_and_compile():
    with backend.floatx_scope("float64"):
        yp, yt = data((6, 3)), data((6, 3), 1)
        loss = TracedLoss(my_mse)
        np.testing.assert_allclose(loss.forward(yp, yt), ((yt - yp) ** 2).mean(), rtol=1e-12)
        np.testing.assert_allclose(loss.backward(), 2 * (yp - yt) / yp.size, rtol=1e-12)
        assert nn.debug.gradient_check(loss, yp, yt).passed
        huber = TracedLoss(HuberLike())
        assert nn.debug.gradient_check(huber, yp, yt).passed
        model = nn.Sequential([nn.Input((2,)), L.Dense(3)])
        model.compile(optimizer="sgd", loss=huber)
        assert nn.debug.gradient_check(model, data((6, 2), 3), yt).passed


# ---------------------------------------------------------------------------------- everything at once
def test_nested_shared_traced_and_added_loss_together_fit_and_gradient_check():
    """Runs on whichever backend the suite uses (fit and gradient_check move host data)."""
    with backend.floatx_scope("float64"):
        x = nn.Input((3,))
        d = L.Dense(3, activation="tanh")
        inner = nn.Sequential([nn.Input((3,)), L.Dense(3)])
        h = L.maximum([d(x), inner(d(x))])
        h = ActivityRegularization(0.1)(Block()(h))
        model = nn.Model(x, Linear(1)(h))
        model.compile(optimizer="adam", loss=TracedLoss(my_mse))
        xs, ys = data((8, 3)), data((8, 1), 1)
        result = nn.debug.gradient_check(model, xs, ys)
        assert result.passed, result
        history = model.fit(xs, ys, epochs=3, verbose=0)
        assert np.all(np.isfinite(history.history["loss"]))


def test_whole_model_file_with_a_nested_model_round_trips(tmp_path):
    base = nn.Sequential([nn.Input((4,)), L.Dense(5, activation="relu"), L.Dense(3)], name="base_net")
    x = nn.Input((4,))
    model = nn.Model(x, L.Softmax()(L.add([base(x), L.Dense(3)(x)])))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    xs = data((6, 4)).astype("float32")
    model.fit(xs, np.arange(6) % 3, epochs=1, verbose=0)
    path = tmp_path / "nested.nnscratch"  # Keras's .keras layout is flat here: nnscratch's own file
    model.save(path)
    restored = nn.models.load_model(path)
    np.testing.assert_allclose(restored.predict(xs, verbose=0), model.predict(xs, verbose=0), rtol=1e-6)
    assert any(type(l).__name__ == "Sequential" for l in restored.layers)


def test_a_layer_in_two_models_gets_each_models_backward_plan():
    """In `head` the shared layer is the first trainable layer (it computes no dx when training);
    in `full` a trainable layer comes before it, so there it must pass dx on."""
    with backend.floatx_scope("float64"):
        shared = L.Dense(3, activation="tanh")
        xh = nn.Input((3,))
        head = nn.Model(xh, L.Dense(1)(shared(xh)))
        xf = nn.Input((2,))
        full = nn.Model(xf, L.Dense(1)(shared(L.Dense(3)(xf))))
        head.compile(optimizer="sgd", loss="mse")
        head.fit(data((8, 3)), data((8, 1), 1), epochs=1, verbose=0)  # backward with need_input_grad=False
        assert shared.need_input_grad is True, "the plan must not stay on the layer after a backward"
        check(full, data((6, 2), 2), data((6, 1), 3))
        first = full.layers[1]
        assert first is not shared and first.params
        before = first.get_weights()[0].copy()
        full.fit(data((6, 2), 2), data((6, 1), 3), epochs=1, verbose=0)
        assert not np.allclose(before, first.get_weights()[0]), "dx must flow through the shared layer in `full`"
        check(head, data((6, 3), 4), data((6, 1), 5))


class NumpyOnWeight(L.Layer):
    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, inputs):
        return inputs * np.exp(self.w)


def test_numpy_on_a_weight_in_call_is_refused_but_works_eagerly():
    with pytest.raises(NoBackwardError, match=r"numpy.exp.*weight 'w_layer/variable'"):
        NumpyOnWeight(name="w_layer")(np.ones((2, 3), dtype="float32"))
    layer = NumpyOnWeight()
    layer.build((None, 3))
    np.testing.assert_allclose(np.exp(layer.w), np.e)  # outside call(): plain NumPy on its value
    np.testing.assert_allclose(layer.w.numpy(), 1.0)


def test_sequential_backward_of_added_losses_only():
    with backend.floatx_scope("float64"):
        model = nn.Sequential([nn.Input((3,)), L.Dense(4), ActivityRegularization(0.5), L.Dense(1)])
        xs = data((5, 3))
        model(xs)
        dense = model.layers[0]
        model.backward(None)  # what the trainer runs when compile() had no loss
        hv = xs @ dense.params["kernel"] + dense.params["bias"]
        np.testing.assert_allclose(dense.grads["kernel"], xs.T @ hv, rtol=1e-10)
        with pytest.raises(ValueError, match="adds a loss"):
            nn.Sequential([nn.Input((3,)), L.Dense(1)]).backward(None)
