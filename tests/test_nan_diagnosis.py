"""The measured scenarios of issue 19 (and issue 16, item 6): an exploding run (unscaled
Fashion-MNIST, SGD(1.0)), a dying run (scaled, SGD(5.0)), a broken activation, a NaN or an
overflowing float64 value in the input. ``trace`` flags them; fit's NaN stop and
``detect_anomaly`` name the same place and say how it started."""
import re
import warnings

import numpy as np
import pytest

import nnscratch as nn
from nnscratch.layers import Conv2D, Dense, Flatten, MaxPooling2D


def lenet(lr, seed=1):
    nn.utils.set_random_seed(seed)
    model = nn.Sequential([nn.Input((28, 28, 1)), Conv2D(6, 5, padding="same", activation="relu"), MaxPooling2D(2),
                           Conv2D(16, 5, activation="relu"), MaxPooling2D(2), Flatten(),
                           Dense(120, activation="relu"), Dense(84, activation="relu"),
                           Dense(10, activation="softmax")])
    model.compile(nn.optimizers.SGD(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture(scope="module")
def fashion():
    (x, y), _ = nn.datasets.fashion_mnist.load_data()
    return x[:1280, ..., None].astype("float32"), y[:1280]


def codes(tr, layer):
    return "".join(c for name, c, _ in tr.flags if name == layer)


def test_trace_flags_the_first_step_of_the_exploding_run(fashion):
    x, y = fashion
    model = lenet(1.0)
    with nn.debug.trace(model) as tr:
        model.train_on_batch(x[:64], y[:64])  # unscaled: 0..255
    first = model.layers[0].name
    assert "S" in codes(tr, first) and "U" in codes(tr, first), tr
    msg = [m for name, c, m in tr.flags if c == "S"][0]
    assert re.match(r"inputs up to 2\d\d: not scaled\?", msg), msg
    assert "far above the ~1e-3 rule of thumb" in str(tr)
    assert str(tr).splitlines()[0].rstrip().endswith("flags")


def test_trace_flags_the_dying_run_and_a_healthy_run_has_no_flags(fashion):
    x, y = fashion
    model = lenet(5.0)
    with nn.debug.trace(model, step=-1) as tr:
        model.fit(x / 255.0, y, batch_size=64, epochs=1, verbose=0)
    assert np.isfinite(tr.loss)  # no NaN: the network silently died
    dead = [name for name, c, _ in tr.flags if c == "D"]
    zero = [name for name, c, _ in tr.flags if c == "0"]
    assert model.layers[0].name in dead and model.layers[0].name in zero, tr
    assert "dead units" in str(tr)
    healthy = lenet(0.05)
    with nn.debug.trace(healthy) as tr2:
        healthy.train_on_batch(x[:64] / 255.0, y[:64])
    assert tr2.flags == [], tr2
    assert "flags: none" in str(tr2)


class LoudReLU(nn.layers.ReLU):
    """A broken activation: its backward multiplies the gradient by 1000."""

    def backward(self, dy):
        return super().backward(dy) * 1000.0


def test_trace_flags_a_parameter_free_layer_that_blows_up_the_gradient_and_step_repr_has_norms():
    g = np.random.default_rng(0)
    x, y = g.standard_normal((32, 20)).astype("float32"), g.integers(0, 3, 32)
    nn.utils.set_random_seed(0)
    model = nn.Sequential([nn.Input((20,)), Dense(16), LoudReLU(name="loud"), Dense(3, activation="softmax")])
    model.compile(nn.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    with nn.debug.trace(model) as tr:
        model.train_on_batch(x, y)
    assert codes(tr, "loud") == "x", tr
    steps = [s for s in model.backward_steps(x, y, apply_update=False) if s.phase == "backward"]
    loud = [s for s in steps if s.layer.name == "loud"][0]
    ny, nx = np.linalg.norm(loud.dy), np.linalg.norm(loud.dx)
    assert f"|dy| {ny:.3g} -> |dx| {nx:.3g}" in repr(loud), repr(loud)


def test_fit_stop_and_detect_anomaly_agree_on_the_exploding_run_and_say_how_it_started(fashion):
    x, y = fashion
    model = lenet(1.0)
    with np.errstate(all="ignore"):
        history = model.fit(x[:640], y[:640], batch_size=64, epochs=2, verbose=0)
    reason = model.stop_reason
    assert "loss over the last steps: step 1 " in reason and "inputs of this batch range from 0 to 255" in reason
    assert "not scaled" in reason and "learning rate is too high" in reason, reason
    assert "update ratio" in reason
    # History keeps the partial epoch, the non-finite loss included (Keras records it)
    assert len(history.history["loss"]) == 1 and not np.isfinite(history.history["loss"][0]), history.history
    assert "accuracy" in history.history and history.epoch == [0]
    fit_layer = re.search(r"first non-finite value: .*?layer '(\w+)'", reason).group(1)
    index = [l.name for l in model.layers].index(fit_layer)

    twin = lenet(1.0)
    with pytest.raises(FloatingPointError) as err, np.errstate(all="ignore"), nn.debug.detect_anomaly(twin):
        twin.fit(x[:640], y[:640], batch_size=64, epochs=2, verbose=0)
    anomaly_layer = re.search(r"layer '(\w+)'", str(err.value)).group(1)
    assert anomaly_layer == twin.layers[index].name, (reason, str(err.value))
    assert "loss over the last steps" in str(err.value) and "not scaled" in str(err.value)


def test_a_nan_in_the_input_is_named_not_a_weight(fashion):
    x, y = fashion
    x = x[:256] / 255.0
    x[100, 3, 3, 0] = np.nan
    model = lenet(0.1)
    with np.errstate(all="ignore"):
        history = model.fit(x, y[:256], batch_size=64, epochs=1, verbose=0, shuffle=False)
    assert "first non-finite value: the input: sample 36 of this batch (x[100]) contains NaN" in model.stop_reason, \
        model.stop_reason
    assert "weight" not in model.stop_reason.split("\n")[0]
    assert np.isnan(history.history["loss"][0])
    twin = lenet(0.1)
    with pytest.raises(FloatingPointError, match=r"sample 36 of this batch contains NaN"), nn.debug.detect_anomaly(twin):
        twin.fit(x, y[:256], batch_size=64, epochs=1, verbose=0, shuffle=False)


def test_a_float64_value_that_overflows_float32_warns_and_is_named(fashion):
    x, y = fashion
    x = x[:256].astype("float64") / 255.0
    x[200, 0, 0, 0] = 1e300
    model = lenet(0.1)
    with pytest.warns(RuntimeWarning, match=r"exceed float32's range .* \(first in sample 200\)"), \
            np.errstate(all="ignore"):
        model.fit(x, y[:256], batch_size=64, epochs=1, verbose=0)  # shuffled: x[200] is named wherever it lands
    assert "(x[200]) contains Inf" in model.stop_reason, model.stop_reason


def test_step_monitor_keeps_weights_after_new_highs_of_the_loss_only():
    """The weights are copied after a step whose loss beats RISE x the highest of the last
    steps (every step of an exploding run), not after every noisy rise over the step before.
    (The rule is the host's: on a device backend only the loss is recorded.)"""
    from nnscratch.models.diagnosis import StepMonitor

    copied = []
    with nn.backend.backend_scope("numpy"):
        nn.utils.set_random_seed(0)
        model = nn.Sequential([nn.Input((3,)), Dense(2)])
        for losses in ([1.0, 0.5, 0.9, 0.7, 1.1, 0.6], [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]):
            mon = StepMonitor()
            steps = []
            for step, loss in enumerate(losses):
                mon.after_step(model, step, loss)
                steps.append(mon.snapshot_step)
            copied.append(steps)
    assert copied[0] == [0, 0, 0, 0, 0, 0], copied[0]  # 0.9 > 1.2 * 0.5, but no new high
    assert copied[1] == [0, 1, 2, 3, 4, 5], copied[1]
