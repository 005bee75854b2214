"""TF/Keras parity for the Keras surface: a functional graph with a branch and a merge,
BatchNormalization (both modes, moving statistics), and the callbacks' decisions.

TensorFlow runs live in every test (weights are copied across with get_weights/set_weights);
no number is pasted from a run."""
import os

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = tf.keras

import nnscratch as nn  # noqa: E402

try:  # one thread; raises if another test module already started the TF runtime
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
except RuntimeError:
    pass

pytestmark = pytest.mark.tf


def assert_close(ours, theirs, what, rtol=1e-5, atol=1e-6):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol,
                               err_msg=f"{what}: max abs diff {np.abs(ours - theirs).max():.3e}")


# ---------------------------------------------------------------- functional graph
def _graph(lib):
    """The same graph in nnscratch (lib=nn) or Keras: a branch (h feeds three layers) and merges."""
    L = lib.layers
    x = lib.Input((4,))
    d0 = L.Dense(6, activation="tanh")
    da, db = L.Dense(5, activation="tanh"), L.Dense(5)
    dout = L.Dense(3, activation="softmax")
    h = d0(x)
    s = L.Add()([da(h), db(h)])
    c = L.Concatenate(axis=-1)([s, h])
    model = lib.Model(x, dout(c))
    return model, [d0, da, db, dout]


def _copy_dense(ours, theirs):
    for a, b in zip(ours, theirs):
        b.set_weights(a.get_weights())


def test_functional_branch_merge_forward_gradients_and_train_step():
    gen = np.random.default_rng(0)
    x = gen.standard_normal((8, 4)).astype("float32")
    y = gen.integers(0, 3, 8)
    ours, our_dense = _graph(nn)
    theirs, their_dense = _graph(keras)
    _copy_dense(our_dense, their_dense)

    # forward
    assert_close(ours.predict(x), theirs(x, training=False).numpy(), "functional forward")

    # dL/dx through both branches (the gradient of h is the sum over its three consumers)
    ours.compile(optimizer=nn.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    x_tf = tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x_tf)
        loss_tf = keras.losses.SparseCategoricalCrossentropy()(y, theirs(x_tf, training=True))
    dx_tf = tape.gradient(loss_tf, x_tf).numpy()
    grads_tf = tape.gradient(loss_tf, theirs.trainable_variables)
    ours.forward(x, training=True)
    loss = ours.loss.forward_logits(ours.output_layer().logits, ours.loss.check_labels(y, np.zeros((8, 3))))
    dx = ours.backward(ours.loss.backward(), from_logits=True, need_input_grad=True)
    assert_close(float(loss), float(loss_tf), "loss")
    assert_close(dx, dx_tf, "dL/dx")
    their_grads = {id(v): g.numpy() for v, g in zip(theirs.trainable_variables, grads_tf)}
    for ours_d, theirs_d in zip(our_dense, their_dense):
        for name, var in zip(("kernel", "bias"), theirs_d.trainable_variables):
            assert_close(ours_d.grads[name], their_grads[id(var)], f"d{name} of {ours_d.name}")

    # one SGD step
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    _copy_dense(our_dense, their_dense)
    ours.train_on_batch(x, y)
    theirs.train_on_batch(x, y)
    for a, b in zip(our_dense, their_dense):
        for wa, wb in zip(a.get_weights(), b.get_weights()):
            assert_close(wa, wb, f"weights of {a.name} after one step")


# ---------------------------------------------------------------- BatchNormalization
@pytest.mark.parametrize("shape, axis", [((16, 5), -1), ((6, 4, 4, 3), -1), ((6, 3, 4, 4), 1)],
                         ids=["dense", "conv-nhwc", "conv-nchw"])
def test_batchnorm_matches_keras_in_both_modes_and_moving_stats(shape, axis):
    gen = np.random.default_rng(1)
    C = shape[axis]
    ours = nn.layers.BatchNormalization(axis=axis)
    theirs = keras.layers.BatchNormalization(axis=axis)
    ours.build((None,) + shape[1:])
    theirs.build((None,) + shape[1:])
    weights = [gen.uniform(0.5, 1.5, C), gen.standard_normal(C), gen.standard_normal(C) * 0.1, gen.uniform(0.5, 2, C)]
    weights = [w.astype("float32") for w in weights]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    for step in range(3):  # training mode: outputs, gradients and the moving statistics after each step
        x = (gen.standard_normal(shape) * 3 + 1).astype("float32")
        dy = gen.standard_normal(shape).astype("float32")
        x_tf = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x_tf)
            y_tf = theirs(x_tf, training=True)
        dx_tf, dgamma_tf, dbeta_tf = tape.gradient(y_tf, [x_tf, theirs.gamma, theirs.beta], output_gradients=tf.constant(dy))
        y = ours(x, training=True)
        dx = ours.call_backward(dy)
        assert_close(y, y_tf.numpy(), f"training output, step {step}", atol=1e-5)
        assert_close(dx, dx_tf.numpy(), f"dx, step {step}", atol=1e-5)
        assert_close(ours.grads["gamma"], dgamma_tf.numpy(), f"dgamma, step {step}", atol=1e-4)
        assert_close(ours.grads["beta"], dbeta_tf.numpy(), f"dbeta, step {step}", atol=1e-4)
        for a, b, name in zip(ours.get_weights()[2:], theirs.get_weights()[2:], ("moving_mean", "moving_variance")):
            assert_close(a, b, f"{name} after step {step}")
    x = gen.standard_normal(shape).astype("float32")
    dy = gen.standard_normal(shape).astype("float32")
    x_tf = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_tf)
        y_tf = theirs(x_tf, training=False)
    dx_tf = tape.gradient(y_tf, x_tf, output_gradients=tf.constant(dy))
    y = ours(x, training=False)
    assert_close(y, y_tf.numpy(), "inference output", atol=1e-5)
    assert_close(ours.call_backward(dy), dx_tf.numpy(), "inference dx", atol=1e-5)


# ---------------------------------------------------------------- callbacks, driven with the same logs
def _keras_model(lr=0.1):
    m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    m.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
    return m


class _OurModel:
    def __init__(self, lr=0.1):
        self.model = nn.Sequential([nn.Input((2,)), nn.layers.Dense(1)])
        self.model.compile(optimizer=nn.optimizers.SGD(lr), loss="mse")


def _drive(cb, model, values, key):
    """Run epoch hooks with logs {key: value}; returns (epochs run, learning rate after each)."""
    cb.set_model(model)
    model.stop_training = False
    cb.on_train_begin({})
    lrs, epochs = [], 0
    for epoch, v in enumerate(values):
        cb.on_epoch_begin(epoch, {})
        cb.on_epoch_end(epoch, {key: v, "loss": 1.0})
        lrs.append(float(np.asarray(model.optimizer.learning_rate)))
        epochs += 1
        if model.stop_training:
            break
    cb.on_train_end({})
    return epochs, lrs


SEQUENCES = [
    [1.0, 0.9, 0.95, 0.97, 0.85, 0.86, 0.87, 0.88, 0.7],
    [1.0, 1.0, 1.0, 1.0, 1.0],
    [0.5, 0.6, 0.4, 0.41, 0.405, 0.39, 0.5, 0.6, 0.7, 0.8],
]


@pytest.mark.parametrize("values", SEQUENCES)
@pytest.mark.parametrize("kwargs", [dict(), dict(patience=2), dict(patience=1, min_delta=0.02),
                                    dict(patience=2, baseline=0.45), dict(patience=0, start_from_epoch=3),
                                    dict(monitor="val_accuracy", mode="max", patience=1)])
def test_early_stopping_stops_at_the_same_epoch_as_keras(values, kwargs):
    key = kwargs.get("monitor", "val_loss")
    ours, _ = _drive(nn.callbacks.EarlyStopping(**kwargs), _OurModel().model, values, key)
    theirs, _ = _drive(keras.callbacks.EarlyStopping(**kwargs), _keras_model(), values, key)
    assert ours == theirs, f"EarlyStopping({kwargs}) on {values}: nnscratch ran {ours} epochs, Keras {theirs}"


@pytest.mark.parametrize("values", SEQUENCES)
@pytest.mark.parametrize("kwargs", [dict(factor=0.5, patience=1), dict(factor=0.2, patience=2, cooldown=1),
                                    dict(factor=0.5, patience=0, min_lr=0.02), dict(factor=0.5, patience=1, min_delta=0.05,
                                                                                   cooldown=2)])
def test_reduce_lr_on_plateau_gives_keras_learning_rates(values, kwargs):
    _, ours = _drive(nn.callbacks.ReduceLROnPlateau(**kwargs), _OurModel().model, values, "val_loss")
    _, theirs = _drive(keras.callbacks.ReduceLROnPlateau(**kwargs), _keras_model(), values, "val_loss")
    assert_close(ours, theirs, f"ReduceLROnPlateau({kwargs}) learning rates", rtol=1e-6, atol=0)


@pytest.mark.parametrize("schedule", [lambda epoch, lr: lr * 0.5 if epoch % 2 else lr,
                                      lambda epoch, lr: 0.1 / (1 + epoch),
                                      lambda epoch: 0.05 * (epoch + 1)])
def test_learning_rate_scheduler_gives_keras_learning_rates(schedule):
    values = [1.0] * 5
    _, ours = _drive(nn.callbacks.LearningRateScheduler(schedule), _OurModel().model, values, "val_loss")
    _, theirs = _drive(keras.callbacks.LearningRateScheduler(schedule), _keras_model(), values, "val_loss")
    assert_close(ours, theirs, "LearningRateScheduler learning rates", rtol=1e-6, atol=0)


def test_model_checkpoint_best_only_saves_the_same_epochs_as_keras(tmp_path):
    values = SEQUENCES[0]
    for name, cb_mod, model in (("ours", nn.callbacks, _OurModel().model), ("keras", keras.callbacks, _keras_model())):
        folder = tmp_path / name
        folder.mkdir()
        cb = cb_mod.ModelCheckpoint(str(folder / "m_{epoch:02d}-{val_loss:.2f}.keras"), save_best_only=True)
        _drive(cb, model, values, "val_loss")
    assert sorted(os.listdir(tmp_path / "ours")) == sorted(os.listdir(tmp_path / "keras"))


def test_fit_with_early_stopping_and_reduce_lr_matches_keras():
    """The same small regression trained by both frameworks (weights copied, shuffle=False):
    same losses, same stopping epoch, same learning-rate history."""
    gen = np.random.default_rng(3)
    x = gen.standard_normal((32, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]], "float32") + 0.1).astype("float32")
    xv, yv = x[:8] + 0.3, y[:8]
    nn.utils.set_random_seed(0)
    ours = nn.Sequential([nn.Input((3,)), nn.layers.Dense(4, activation="tanh"), nn.layers.Dense(1)])
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)])
    theirs.set_weights(ours.get_weights())
    ours.compile(optimizer=nn.optimizers.SGD(0.2), loss="mse")
    theirs.compile(optimizer=keras.optimizers.SGD(0.2), loss="mse")
    kw = dict(epochs=20, batch_size=8, shuffle=False, verbose=0, validation_data=(xv, yv))
    h_ours = ours.fit(x, y, callbacks=[nn.callbacks.ReduceLROnPlateau(factor=0.5, patience=1, min_delta=0.05),
                                       nn.callbacks.EarlyStopping(patience=3, min_delta=0.05)], **kw)
    h_theirs = theirs.fit(x, y, callbacks=[keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=1, min_delta=0.05),
                                           keras.callbacks.EarlyStopping(patience=3, min_delta=0.05)], **kw)
    assert len(h_theirs.history["loss"]) < 20 and min(h_theirs.history["learning_rate"]) < 0.2, \
        "the run must exercise both callbacks (a stop and a reduction)"
    assert len(h_ours.history["loss"]) == len(h_theirs.history["loss"]), "stopped at different epochs"
    assert_close(h_ours.history["val_loss"], h_theirs.history["val_loss"], "val_loss per epoch", rtol=1e-4)
    assert_close(h_ours.history["learning_rate"], h_theirs.history["learning_rate"], "learning_rate", rtol=1e-6)
