"""Keras guide "The Functional API" (keras-io guides/functional_api.py, fchollet), cell by cell.

Written for nnscratch from the guide's cells (same layers, shapes and calls; ``import nnscratch as
keras`` and ``from nnscratch import layers, ops`` in place of the TensorFlow imports; the guide's
code itself is not copied). MNIST/CIFAR-10 -> random arrays of their shapes (offline).
Kept: inputs/shape/dtype, the MNIST MLP (summary, fit with validation_split, evaluate), save and
load_model, several models over one graph (the encoder half; see below), ensembling nested models
with layers.average, the toy ResNet (layers.add), custom layers (CustomDense with add_weight, its
get_config and Model.from_config(custom_objects=)), the subclassed MLP.
Left out, and why: plot_model (no graphviz plotting); the decoder/autoencoder cells
(Conv2DTranspose, UpSampling2D are not in nnscratch: the encoder and a second model over the same
graph are kept); the ticket-ranking model and shared Embedding (Embedding, LSTM missing; shared
layers are covered by tests/test_graph.py); VGG19 (keras.applications missing); CustomRNN
(GlobalAveragePooling1D, Conv1D missing).
"""
import numpy as np

import nnscratch as keras
from nnscratch import layers, ops

GEN = np.random.default_rng(0)


def mnist_model():
    inputs = keras.Input(shape=(784,))
    dense = layers.Dense(64, activation="relu")
    x = dense(inputs)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10)(x)
    return inputs, keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")


def test_inputs_and_a_model_from_a_graph_of_layers(tmp_path):
    inputs, model = mnist_model()
    img_inputs = keras.Input(shape=(32, 32, 3))
    assert inputs.shape == (None, 784) and img_inputs.shape == (None, 32, 32, 3)
    assert inputs.dtype == "float32"
    text = model.summary(print_fn=lambda line: None)
    assert "mnist_model" in text and "Total params: 55,050" in text

    x_train, y_train = GEN.random((320, 784)).astype("float32"), GEN.integers(0, 10, 320)
    x_test, y_test = GEN.random((64, 784)).astype("float32"), GEN.integers(0, 10, 64)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=keras.optimizers.RMSprop(), metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=64, epochs=2, validation_split=0.2, verbose=0)
    assert set(history.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    test_scores = model.evaluate(x_test, y_test, verbose=0)
    assert np.isfinite(test_scores[0]) and 0.0 <= test_scores[1] <= 1.0

    path = tmp_path / "path_to_my_model.keras"  # Keras 3 asks for the .keras extension
    model.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_allclose(restored.predict(x_test, verbose=0), model.predict(x_test, verbose=0), rtol=1e-6)


def test_the_same_graph_of_layers_defines_several_models():
    encoder_input = keras.Input(shape=(28, 28, 1), name="img")
    x = layers.Conv2D(16, 3, activation="relu")(encoder_input)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    encoder_output = layers.GlobalMaxPooling2D()(x)
    encoder = keras.Model(encoder_input, encoder_output, name="encoder")
    assert "Total params: 18,672" in encoder.summary(print_fn=lambda line: None)
    x = layers.Reshape((4, 4, 1))(encoder_output)
    reshaped = keras.Model(encoder_input, x, name="autoencoder_start")  # a second model, same graph
    imgs = GEN.random((2, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(reshaped(imgs).reshape(2, 16), encoder(imgs), rtol=1e-6)


def test_models_are_callable_like_layers_ensembling():
    def get_model():
        inputs = keras.Input(shape=(128,))
        outputs = layers.Dense(1)(inputs)
        return keras.Model(inputs, outputs)

    model1, model2, model3 = get_model(), get_model(), get_model()
    inputs = keras.Input(shape=(128,))
    y1, y2, y3 = model1(inputs), model2(inputs), model3(inputs)
    outputs = layers.average([y1, y2, y3])
    ensemble_model = keras.Model(inputs=inputs, outputs=outputs)
    x = GEN.random((4, 128)).astype("float32")
    expected = (model1(x) + model2(x) + model3(x)) / 3
    np.testing.assert_allclose(ensemble_model(x), expected, rtol=1e-5)
    assert len(ensemble_model.parameters()) == 6  # the three nested models' weights, shared


def test_a_toy_resnet():
    inputs = keras.Input(shape=(32, 32, 3), name="img")
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    block_1_output = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_1_output)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_2_output = layers.add([x, block_1_output])
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_2_output)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_3_output = layers.add([x, block_2_output])
    x = layers.Conv2D(64, 3, activation="relu")(block_3_output)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(10)(x)
    model = keras.Model(inputs, outputs, name="toy_resnet")
    assert "Total params: 223,242" in model.summary(print_fn=lambda line: None)
    x_train = GEN.random((40, 32, 32, 3)).astype("float32")
    y_train = keras.utils.to_categorical(GEN.integers(0, 10, 40), 10)
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True), metrics=["acc"])
    history = model.fit(x_train, y_train, batch_size=20, epochs=1, validation_split=0.2, verbose=0)
    assert np.isfinite(history.history["loss"][0]) and "val_acc" in history.history


class CustomDense(layers.Layer):
    def __init__(self, units=32):
        super(CustomDense, self).__init__()
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal",
                                 trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        return {"units": self.units}


def test_extend_the_api_with_custom_layers():
    inputs = keras.Input((4,))
    outputs = CustomDense(10)(inputs)
    model = keras.Model(inputs, outputs)
    config = model.get_config()
    new_model = keras.Model.from_config(config, custom_objects={"CustomDense": CustomDense})
    new_model.set_weights(model.get_weights())
    x = GEN.random((3, 4)).astype("float32")
    np.testing.assert_allclose(new_model(x), model(x), rtol=1e-6)
    np.testing.assert_allclose(model(x), x @ model.get_weights()[0] + model.get_weights()[1], rtol=1e-5)


def test_a_subclassed_mlp():
    class MLP(keras.Model):
        def __init__(self, **kwargs):
            super(MLP, self).__init__(**kwargs)
            self.dense_1 = layers.Dense(64, activation="relu")
            self.dense_2 = layers.Dense(10)

        def call(self, inputs):
            x = self.dense_1(inputs)
            return self.dense_2(x)

    mlp = MLP()
    _ = mlp(np.zeros((1, 32), dtype="float32"))  # the model has no state until it is called once
    assert [w.shape for w in mlp.weights] == [(32, 64), (64,), (64, 10), (10,)]
