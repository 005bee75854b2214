"""Keras 3 on TensorFlow (CPU), written as the course's seed programs are."""
import importlib.util
import os

from nnscratch.bench.workloads import MODELS


def available():
    ok = importlib.util.find_spec("tensorflow") is not None and importlib.util.find_spec("keras") is not None
    return ok, "tensorflow/keras are not installed"


def setup(threads):
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def versions():
    import keras
    import tensorflow as tf

    return {"keras": keras.__version__, "tensorflow": tf.__version__}


def build(model_name, seed):
    import keras
    from keras import layers as L

    keras.utils.set_random_seed(seed)
    spec = MODELS[model_name]
    layers = [keras.Input(spec["input"])]
    for layer in spec["layers"]:
        kind = layer[0]
        if kind == "conv":
            layers.append(L.Conv2D(layer[1], layer[2], padding=layer[3], activation="relu"))
        elif kind == "avgpool_same":
            layers.append(L.AveragePooling2D(layer[1], strides=layer[1], padding="same"))
        elif kind == "maxpool":
            layers.append(L.MaxPooling2D(layer[1]))
        elif kind == "flatten":
            layers.append(L.Flatten())
        elif kind == "dropout":
            layers.append(L.Dropout(layer[1]))
        else:
            layers.append(L.Dense(layer[1], activation=layer[2]))
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=spec["loss"], metrics=["accuracy"])
    return model


def train_epoch(model, x, y, batch, validation_split=0.0):
    history = model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=True, validation_split=validation_split)
    return float(history.history["loss"][-1])


def predict(model, x, batch):
    return model.predict(x, batch_size=batch, verbose=0)
