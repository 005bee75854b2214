"""Keras guide "The Sequential model" (keras-io guides/sequential_model.py, fchollet), cell by cell.

Written for nnscratch from the guide's cells: the same layers, shapes, calls and checks, with
``import nnscratch as keras`` in place of ``import keras`` (the guide's code itself is not copied).
Kept: every cell. Changed besides imports: ``tf.ones`` -> ``np.ones`` (no TensorFlow tensors),
the transfer-learning blueprint's pretrained Xception -> a small trained Sequential (no
keras.applications), MNIST -> random arrays of its shape (offline).
"""
import numpy as np
import pytest

import nnscratch as keras
from nnscratch import layers


def test_a_sequential_model_is_its_layers_applied_in_turn():
    model = keras.Sequential([layers.Dense(2, activation="relu", name="layer1"),
                              layers.Dense(3, activation="relu", name="layer2"),
                              layers.Dense(4, name="layer3")])
    x = np.ones((3, 3), dtype="float32")
    y = model(x)
    layer1, layer2, layer3 = model.layers
    np.testing.assert_allclose(y, layer3(layer2(layer1(x))), rtol=1e-6)
    assert y.shape == (3, 4)


def test_creating_adding_popping_and_naming():
    model = keras.Sequential([layers.Dense(2, activation="relu"), layers.Dense(3, activation="relu"),
                              layers.Dense(4)])
    assert len(model.layers) == 3
    model = keras.Sequential()
    model.add(layers.Dense(2, activation="relu"))
    model.add(layers.Dense(3, activation="relu"))
    model.add(layers.Dense(4))
    model.pop()
    assert len(model.layers) == 2
    model = keras.Sequential(name="my_sequential")
    model.add(layers.Dense(2, activation="relu", name="layer1"))
    model.add(layers.Dense(3, activation="relu", name="layer2"))
    model.add(layers.Dense(4, name="layer3"))
    assert model.name == "my_sequential" and [l.name for l in model.layers] == ["layer1", "layer2", "layer3"]


def test_weights_appear_at_the_first_call_and_summary_works_then():
    layer = layers.Dense(3)
    assert layer.weights == []
    layer(np.ones((1, 4), dtype="float32"))
    assert [w.shape for w in layer.weights] == [(4, 3), (3,)]
    model = keras.Sequential([layers.Dense(2, activation="relu"), layers.Dense(3, activation="relu"),
                              layers.Dense(4)])
    with pytest.raises(ValueError, match="not been built"):
        model.summary()
    model(np.ones((1, 4), dtype="float32"))
    assert len(model.weights) == 6
    assert "Total params: 35" in model.summary(print_fn=lambda line: None)


def test_input_first_or_input_shape_gives_a_summary_before_any_data():
    model = keras.Sequential()
    model.add(keras.Input(shape=(4,)))
    model.add(layers.Dense(2, activation="relu"))
    assert "(None, 2)" in model.summary(print_fn=lambda line: None)
    assert len(model.layers) == 1  # the Input is not a layer of the model
    model = keras.Sequential()
    model.add(layers.Dense(2, activation="relu", input_shape=(4,)))
    assert "Total params: 10" in model.summary(print_fn=lambda line: None)


def test_add_and_summary_debugging_workflow():
    model = keras.Sequential()
    model.add(keras.Input(shape=(250, 250, 3)))
    model.add(layers.Conv2D(32, 5, strides=2, activation="relu"))
    model.add(layers.Conv2D(32, 3, activation="relu"))
    model.add(layers.MaxPooling2D(3))
    assert model.output_shape == (None, 40, 40, 32)  # the guide: "The answer was: (40, 40, 32)"
    for _ in range(2):
        model.add(layers.Conv2D(32, 3, activation="relu"))
    model.add(layers.MaxPooling2D(3))
    for _ in range(2):
        model.add(layers.Conv2D(32, 3, activation="relu"))
    model.add(layers.MaxPooling2D(2))
    assert model.output_shape == (None, 4, 4, 32)  # "Now that we have 4x4 feature maps"
    model.add(layers.GlobalMaxPooling2D())
    model.add(layers.Dense(10))
    assert model.output_shape == (None, 10)


def test_feature_extraction_with_a_sequential_model():
    initial_model = keras.Sequential([keras.Input(shape=(250, 250, 3)),
                                      layers.Conv2D(32, 5, strides=2, activation="relu"),
                                      layers.Conv2D(32, 3, activation="relu"),
                                      layers.Conv2D(32, 3, activation="relu")])
    feature_extractor = keras.Model(inputs=initial_model.inputs,
                                    outputs=[layer.output for layer in initial_model.layers])
    x = np.ones((1, 250, 250, 3), dtype="float32")
    features = feature_extractor(x)
    assert [f.shape for f in features] == [(1, 123, 123, 32), (1, 121, 121, 32), (1, 119, 119, 32)]
    np.testing.assert_allclose(features[-1], initial_model(x), rtol=1e-5)

    initial_model = keras.Sequential([keras.Input(shape=(250, 250, 3)),
                                      layers.Conv2D(32, 5, strides=2, activation="relu"),
                                      layers.Conv2D(32, 3, activation="relu", name="my_intermediate_layer"),
                                      layers.Conv2D(32, 3, activation="relu")])
    feature_extractor = keras.Model(inputs=initial_model.inputs,
                                    outputs=initial_model.get_layer(name="my_intermediate_layer").output)
    assert feature_extractor(x).shape == (1, 121, 121, 32)


def test_transfer_learning_blueprints():
    gen = np.random.default_rng(0)
    x, y = gen.standard_normal((64, 784)).astype("float32"), gen.integers(0, 10, 64)
    model = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(32, activation="relu"),
                              layers.Dense(32, activation="relu"), layers.Dense(32, activation="relu"),
                              layers.Dense(10)])
    for layer in model.layers[:-1]:  # freeze all layers except the last one
        layer.trainable = False
    frozen = [w.copy() for w in model.get_weights()[:-2]]
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=1, verbose=0)
    for before, after in zip(frozen, model.get_weights()[:-2]):
        np.testing.assert_array_equal(before, after)

    base_model = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(16, activation="relu")])
    base_model.trainable = False  # freeze the base model
    model = keras.Sequential([base_model, layers.Dense(10)])
    base_before = [w.copy() for w in base_model.get_weights()]
    head_before = model.layers[-1].get_weights()[0].copy()
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=1, verbose=0)
    for before, after in zip(base_before, base_model.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert not np.allclose(head_before, model.layers[-1].get_weights()[0])
