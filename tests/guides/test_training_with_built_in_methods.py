"""Keras guide "Training & evaluation with the built-in methods" (keras-io
guides/training_with_built_in_methods.py, fchollet): the parts about models, custom losses and
metrics, add_loss and several inputs and outputs, cell by cell.

Written for nnscratch from the guide's cells (``import nnscratch as keras``, ``from nnscratch
import layers, ops``; the guide's code itself is not copied). MNIST -> random arrays of its shape.
Kept: the end-to-end functional model (fit with validation_data, history, evaluate, predict), the
string-shortcut compile, custom loss functions and a Loss subclass with call(), add_loss from a
custom layer, the LogisticEndpoint model, validation_split.
Kept too: the custom Metric (CategoricalTruePositives with add_variable, update_state, result,
reset_state), checked against the guide's own count on the predictions.
Left out here: add_metric (gone in Keras 3), model.add_loss on symbolic tensors, the tf.data
cells (no tf.data; generators and PyDataset are tested in tests/test_data.py), the sample and
class weight cells (tested in tests/test_data.py and the parity suite).
Kept from "Passing data to multi-input, multi-output models": the image + time-series model
with its list losses, list-of-lists metrics, dict losses and metrics, loss_weights, the outputs
without a loss (list and dict versions), fit on lists and on dicts. Two substitutions, both
unavoidable: nnscratch has no Conv1D/GlobalMaxPooling1D, so the time-series branch is
``Reshape((20, 10, 1))`` + ``Conv2D(3, (3, 10))`` + ``GlobalMaxPooling2D`` (the same arithmetic as
``Conv1D(3, 3)`` + ``GlobalMaxPooling1D`` over 20 steps of 10 features; the guide's ``(None, 10)``
becomes ``(20, 10)``), and no MeanAbsolutePercentageError metric, so MeanSquaredError stands in.
The LogisticEndpoint model runs as the guide writes it (compile without a loss, fit on a dict
with no y); a sibling test runs the same model through the hook's machinery by hand, with a
gradient check.
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


def test_logistic_endpoint_as_the_guide_writes_it():
    model = endpoint_model(LogisticEndpoint)
    model.compile(optimizer="adam")  # No loss argument!
    data = {"inputs": np.random.random((3, 3)), "targets": np.random.random((3, 10))}
    model.fit(data)
    # what fit trained on is the layer's add_loss term: the first epoch's loss (one batch, taken
    # before its update) is the added loss of a forward on the same data, and it falls
    model(data)
    before = float(model.added_loss())
    history = model.fit(data, epochs=5, verbose=0)
    np.testing.assert_allclose(history.history["loss"][0], before, rtol=1e-5, err_msg="fit's loss vs added_loss")
    assert history.history["loss"][-1] < history.history["loss"][0]


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


# ---------------------------------------------------------------- multi-input, multi-output models
def multi_io_model():
    image_input = keras.Input(shape=(32, 32, 3), name="img_input")
    timeseries_input = keras.Input(shape=(20, 10), name="ts_input")  # the guide: (None, 10)
    x1 = layers.Conv2D(3, 3)(image_input)
    x1 = layers.GlobalMaxPooling2D()(x1)
    x2 = layers.Reshape((20, 10, 1))(timeseries_input)  # the guide: Conv1D(3, 3), GlobalMaxPooling1D
    x2 = layers.Conv2D(3, (3, 10))(x2)
    x2 = layers.GlobalMaxPooling2D()(x2)
    x = layers.concatenate([x1, x2])
    score_output = layers.Dense(1, name="score_output")(x)
    class_output = layers.Dense(5, name="class_output")(x)
    return keras.Model(inputs=[image_input, timeseries_input], outputs=[score_output, class_output])


img_data = GEN.random(size=(100, 32, 32, 3))
ts_data = GEN.random(size=(100, 20, 10))
score_targets = GEN.random(size=(100, 1))
class_targets = GEN.random(size=(100, 5))


def test_multi_output_compile_cells_as_the_guide_writes_them():
    model = multi_io_model()
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                  loss=[keras.losses.MeanSquaredError(), keras.losses.CategoricalCrossentropy()])
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                  loss=[keras.losses.MeanSquaredError(), keras.losses.CategoricalCrossentropy()],
                  metrics=[[keras.metrics.MeanSquaredError(), keras.metrics.MeanAbsoluteError()],
                           [keras.metrics.CategoricalAccuracy()]])
    history = model.fit([img_data, ts_data], [score_targets, class_targets], batch_size=32, epochs=1, verbose=0)
    assert set(history.history) == {"loss", "score_output_loss", "class_output_loss",
                                    "score_output_mean_squared_error", "score_output_mean_absolute_error",
                                    "class_output_categorical_accuracy"}
    # the per-output losses are the unweighted ones, and the MSE metric is the MSE loss
    np.testing.assert_allclose(history.history["loss"][0], history.history["score_output_loss"][0]
                               + history.history["class_output_loss"][0], rtol=1e-5)
    np.testing.assert_allclose(history.history["score_output_mean_squared_error"][0],
                               history.history["score_output_loss"][0], rtol=1e-5)


def test_dict_losses_metrics_and_loss_weights_fit_on_dicts():
    model = multi_io_model()
    model.compile(
        optimizer=keras.optimizers.RMSprop(1e-3),
        loss={"score_output": keras.losses.MeanSquaredError(), "class_output": keras.losses.CategoricalCrossentropy()},
        metrics={"score_output": [keras.metrics.MeanSquaredError(), keras.metrics.MeanAbsoluteError()],
                 "class_output": [keras.metrics.CategoricalAccuracy()]},
        loss_weights={"score_output": 2.0, "class_output": 1.0},
    )
    history = model.fit({"img_input": img_data, "ts_input": ts_data},
                        {"score_output": score_targets, "class_output": class_targets},
                        batch_size=32, epochs=1, verbose=0)
    logs = {k: v[0] for k, v in history.history.items()}
    assert set(logs) == {"loss", "score_output_loss", "class_output_loss", "score_output_mean_squared_error",
                         "score_output_mean_absolute_error", "class_output_categorical_accuracy"}
    np.testing.assert_allclose(logs["loss"], 2.0 * logs["score_output_loss"] + logs["class_output_loss"], rtol=1e-5,
                               err_msg="loss = 2 * score loss + 1 * class loss")
    # the same model's lists and dicts agree: evaluate on lists equals evaluate on dicts
    on_lists = model.evaluate([img_data, ts_data], [score_targets, class_targets], verbose=0, return_dict=True)
    on_dicts = model.evaluate({"img_input": img_data, "ts_input": ts_data},
                              {"class_output": class_targets, "score_output": score_targets}, verbose=0,
                              return_dict=True)
    assert on_lists == on_dicts


@pytest.mark.parametrize("loss", ["list", "dict"])
def test_outputs_without_a_loss_are_not_trained(loss):
    model = multi_io_model()
    if loss == "list":  # List loss version
        model.compile(optimizer=keras.optimizers.RMSprop(1e-3), loss=[None, keras.losses.CategoricalCrossentropy()])
    else:  # Or dict loss version
        model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                      loss={"class_output": keras.losses.CategoricalCrossentropy()})
    score_layer, class_layer = model.get_layer("score_output"), model.get_layer("class_output")
    kernel, class_kernel = score_layer.params["kernel"].copy(), class_layer.params["kernel"].copy()
    # "lists of NumPy arrays (with 1:1 mapping to the outputs that received a loss function)"
    history = model.fit([img_data, ts_data], [class_targets], batch_size=32, epochs=1, verbose=0)
    assert set(history.history) == {"loss"}  # one loss: no per-output loss logs (Keras 3)
    np.testing.assert_array_equal(score_layer.params["kernel"], kernel, err_msg="the score output has no loss")
    assert not np.array_equal(class_layer.params["kernel"], class_kernel), "the class output trains"


def test_an_output_without_a_loss_keeps_no_gradient_from_an_earlier_compile():
    model = multi_io_model()
    model.compile(optimizer="adam", loss=["mse", "categorical_crossentropy"])
    model.fit([img_data, ts_data], [score_targets, class_targets], batch_size=50, epochs=1, verbose=0)
    model.compile(optimizer="adam", loss=[None, "categorical_crossentropy"])  # a fresh Adam: zero moments
    kernel = model.get_layer("score_output").params["kernel"].copy()
    model.fit([img_data, ts_data], [class_targets], batch_size=50, epochs=1, verbose=0)
    np.testing.assert_array_equal(model.get_layer("score_output").params["kernel"], kernel,
                                  err_msg="score_output updated with the gradient of the earlier compile")


class CategoricalTruePositives(keras.metrics.Metric):
    """The guide's custom metric, as it writes it (y_pred's argmax reshaped to (-1, 1) against
    y_true of shape (N,): the comparison broadcasts to (N, N), in Keras as here)."""

    def __init__(self, name="categorical_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
        values = ops.cast(y_true, "int32") == ops.cast(y_pred, "int32")
        values = ops.cast(values, "float32")
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, "float32")
            values = ops.multiply(values, sample_weight)
        self.true_positives.assign_add(ops.sum(values))

    def result(self):
        return self.true_positives

    def reset_state(self):
        self.true_positives.assign(0.0)


def test_custom_metric_as_the_guide_writes_it():
    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(), metrics=[CategoricalTruePositives()])
    history = model.fit(x_train, y_train, batch_size=64, epochs=3, verbose=0)
    assert set(history.history) == {"loss", "categorical_true_positives"}
    assert all(np.isfinite(v) and v >= 0 for v in history.history["categorical_true_positives"])
    # evaluate in one batch: the metric equals the guide's broadcast count on the predictions
    _, ctp = model.evaluate(x_test, y_test, batch_size=64, verbose=0)
    predicted = model.predict(x_test, verbose=0).argmax(axis=1)
    expected = float((y_test.astype("int32")[None, :] == predicted[:, None]).sum())
    assert ctp == pytest.approx(expected)
    assert expected > 0
