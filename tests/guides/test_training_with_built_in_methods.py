"""Keras guide "Training & evaluation with the built-in methods" (keras-io
guides/training_with_built_in_methods.py, fchollet): the parts about models, custom losses and
add_loss, cell by cell (the data, metric and callback parts are the kerasapi branch's).

Written for nnscratch from the guide's cells (``import nnscratch as keras``, ``from nnscratch
import layers, ops``; the guide's code itself is not copied). MNIST -> random arrays of its shape.
Kept: the end-to-end functional model (fit with validation_data, history, evaluate, predict), the
string-shortcut compile, custom loss functions and a Loss subclass with call(), add_loss from a
custom layer, the LogisticEndpoint model, validation_split.
Left out here: metric classes and the custom Metric (kerasapi's metrics package), add_metric
(gone in Keras 3), model.add_loss on symbolic tensors, tf.data/Sequence/sample and class weights
(kerasapi's data adapters), multi-output losses (compile's loss dict is kerasapi's).
Three cells run the guide's exact line only once the trainer/compile/loss hooks described in
nnscratch/layers/traced.py are wired (marked xfail strict: they start passing, and then fail
as XPASS, the moment the hooks land, so the marker must be removed then); a sibling test runs the
same model through the hook's machinery directly, with a gradient check.
"""
import numpy as np
import pytest

import nnscratch as keras
from nnscratch import backend, layers, ops
from nnscratch.losses import TracedLoss


GEN = np.random.default_rng(0)
x_train, y_train = GEN.random((256, 784)).astype("float32"), GEN.integers(0, 10, 256).astype("float32")
x_val, y_val = GEN.random((64, 784)).astype("float32"), GEN.integers(0, 10, 64).astype("float32")
x_test, y_test = GEN.random((64, 784)).astype("float32"), GEN.integers(0, 10, 64).astype("float32")


def get_uncompiled_model(units=64):
    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(units, activation="relu", name="dense_1")(inputs)
    x = layers.Dense(units, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


def get_compiled_model():
    model = get_uncompiled_model()
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["sparse_categorical_accuracy"])
    return model


def test_a_first_end_to_end_example():
    model = get_compiled_model()
    history = model.fit(x_train, y_train, batch_size=64, epochs=2, validation_data=(x_val, y_val), verbose=0)
    assert set(history.history) == {"loss", "sparse_categorical_accuracy", "val_loss",
                                    "val_sparse_categorical_accuracy"}
    results = model.evaluate(x_test, y_test, batch_size=128, verbose=0)
    assert len(results) == 2 and np.isfinite(results[0])
    predictions = model.predict(x_test[:3], verbose=0)
    assert predictions.shape == (3, 10)
    model = get_compiled_model()
    model.fit(x_train, y_train, batch_size=64, validation_split=0.2, epochs=1, verbose=0)


def custom_mean_squared_error(y_true, y_pred):
    return ops.mean(ops.square(y_true - y_pred))


class CustomMSE(keras.losses.Loss):
    def __init__(self, regularization_factor=0.1, name="custom_mse"):
        super().__init__(name=name)
        self.regularization_factor = regularization_factor

    def call(self, y_true, y_pred):
        mse = ops.mean(ops.square(y_true - y_pred))
        reg = ops.mean(ops.square(0.5 - y_pred))
        return mse + reg * self.regularization_factor


def test_custom_loss_function_in_compile_as_the_guide_writes_it():
    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.Adam(), loss=custom_mean_squared_error)
    model.fit(x_train, ops.one_hot(y_train.astype("int32"), 10), batch_size=64, epochs=1, verbose=0)


@pytest.mark.parametrize("loss", [custom_mean_squared_error, CustomMSE()], ids=["function", "Loss_subclass"])
def test_custom_losses_traced_train_and_gradient_check(loss):
    traced = TracedLoss(loss)
    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.Adam(), loss=traced)
    y_one_hot = ops.one_hot(y_train.astype("int32"), 10)
    history = model.fit(x_train, y_one_hot, batch_size=64, epochs=2, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]
    keras.utils.set_random_seed(0)  # a fixed draw of the weights for the gradient check
    with backend.floatx_scope("float64"):
        small = get_uncompiled_model(units=16)  # 16 relu units: no sample with every unit dead (a kink at 0)
        small.compile(optimizer="sgd", loss=TracedLoss(loss))
        result = keras.debug.gradient_check(small, x_train[:8].astype("float64") * 3, y_one_hot[:8], max_checks=20)
        assert result.passed, result


class ActivityRegularizationLayer(layers.Layer):
    def call(self, inputs):
        self.add_loss(ops.sum(inputs) * 0.1)
        return inputs  # Pass-through layer.


def activity_model(units=64):
    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(units, activation="relu", name="dense_1")(inputs)
    x = ActivityRegularizationLayer()(x)
    x = layers.Dense(units, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, name="predictions")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


def test_add_loss_from_a_custom_layer_trains_and_gradient_checks():
    model = activity_model()
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x_train, y_train, batch_size=64, epochs=1, verbose=0)
    model(x_test)
    assert len(model.losses) == 1 and float(model.added_loss()) > 0
    keras.utils.set_random_seed(0)
    with backend.floatx_scope("float64"):
        small = activity_model(units=16)  # 16 relu units: no sample with every unit dead (a kink at 0)
        small.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        result = keras.debug.gradient_check(small, x_train[:8].astype("float64"), y_train[:8], max_checks=20)
        assert result.passed, result


class LogisticEndpoint(keras.layers.Layer):
    def __init__(self, name=None):
        super().__init__(name=name)
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

    def call(self, targets, logits, sample_weights=None):
        loss = self.loss_fn(targets, logits, sample_weights)
        self.add_loss(loss)
        return ops.softmax(logits)


class LogisticEndpointThroughTheHook(LogisticEndpoint):
    """The same layer, with the loss call written as what the losses hook does."""

    def call(self, targets, logits, sample_weights=None):
        self.add_loss(logits.trace_loss(self.loss_fn, targets, logits))
        return ops.softmax(logits)


def endpoint_model(cls):
    inputs = keras.Input(shape=(3,), name="inputs")
    targets = keras.Input(shape=(10,), name="targets")
    logits = keras.layers.Dense(10)(inputs)
    predictions = cls(name="predictions")(targets, logits)
    return keras.Model(inputs=[inputs, targets], outputs=predictions)


@pytest.mark.xfail(strict=True, reason="needs the hooks: Loss.__call__ on symbolic tensors -> "
                                       "SymbolicTensor.trace_loss, compile() without a loss, train_step adding "
                                       "model.added_loss(), fit(dict) with no y")
def test_logistic_endpoint_as_the_guide_writes_it():
    model = endpoint_model(LogisticEndpoint)
    model.compile(optimizer="adam")  # No loss argument!
    data = {"inputs": np.random.random((3, 3)), "targets": np.random.random((3, 10))}
    model.fit(data)


def test_logistic_endpoint_loss_value_gradient_and_training_by_hand():
    with backend.floatx_scope("float64"):
        model = endpoint_model(LogisticEndpointThroughTheHook)
        dense = model.layers[2]
        gen = np.random.default_rng(1)
        data = {"inputs": gen.random((6, 3)), "targets": gen.random((6, 10))}
        probs = model(data)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
        z = data["inputs"] @ dense.params["kernel"] + dense.params["bias"]
        t = data["targets"]
        bce = np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z))))  # Keras's stable form
        np.testing.assert_allclose(model.added_loss(), bce, rtol=1e-10)
        model.backward(None)  # no compiled loss: only the added term
        analytic = dense.grads["kernel"].copy()
        W, h, num = dense.params["kernel"], 1e-6, np.zeros_like(dense.params["kernel"])
        for idx in np.ndindex(W.shape):
            old = W[idx]
            W[idx] = old + h
            model(data)
            fp = float(model.added_loss())
            W[idx] = old - h
            model(data)
            fm = float(model.added_loss())
            W[idx] = old
            num[idx] = (fp - fm) / (2 * h)
        assert np.abs(analytic - num).max() / np.abs(num).max() < 1e-6
        opt = keras.optimizers.Adam(0.05)  # what fit() does once compile() allows no loss
        first = None
        for _ in range(20):
            model(data)
            value = float(model.added_loss())
            first = value if first is None else first
            model.backward(None)
            opt.step(model.parameters())
        assert value < first
