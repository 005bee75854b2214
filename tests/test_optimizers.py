"""Optimizers: update rules by hand from Keras's formulas (written independently here), schedules,
the iteration counter, config, state save/restore through the model, aliases."""
import math

import numpy as np
import pytest

import nnscratch as nn
from nnscratch import optimizers
from nnscratch.optimizers import schedules

RTOL = 1e-12  # float64 parameters on both sides; only the order of a few float ops differs

# three steps of gradients, one of them tiny (~1e-5: where eps placement matters) and one large
GRADS = [np.array([0.5, -1.5, 2e-5, 0.0]), np.array([-0.3, 1.0, -1e-5, 3.0]), np.array([0.2, 0.25, 3e-5, -2.0])]
W0 = np.array([1.0, -2.0, 0.5, 0.0])


def run(opt, backend, grads=GRADS, w0=W0):
    """Apply ``grads`` step by step to a device copy of w0 (the backend fixture's device);
    return host copies of the weights after each step."""
    w = backend.to_device(w0.copy())
    out = []
    for g in grads:
        opt.apply([backend.to_device(g)], [w])
        out.append(backend.to_host(w).copy())
    return out


def sgd_ref(lr, momentum=0.0, nesterov=False):
    w, m, out = W0.copy(), np.zeros_like(W0), []
    for t, g in enumerate(GRADS):
        a = lr(t) if callable(lr) else lr
        if momentum == 0:
            w = w - a * g
        else:
            m = momentum * m - a * g
            w = w + (momentum * m - a * g if nesterov else m)
        out.append(w.copy())
    return out


def rmsprop_ref(lr=0.001, rho=0.9, momentum=0.0, eps=1e-7, centered=False):
    w, v, avg, mom, out = W0.copy(), np.zeros_like(W0), np.zeros_like(W0), np.zeros_like(W0), []
    for g in GRADS:
        v = rho * v + (1 - rho) * g ** 2
        if centered:
            avg = rho * avg + (1 - rho) * g
            den = v - avg ** 2 + eps
        else:
            den = v + eps
        inc = lr * g / np.sqrt(den)
        if momentum > 0:
            mom = momentum * mom + inc
            w = w - mom
        else:
            w = w - inc
        out.append(w.copy())
    return out


def adam_ref(lr=0.001, b1=0.9, b2=0.999, eps=1e-7, amsgrad=False):
    w, m, v, vhat, out = W0.copy(), np.zeros_like(W0), np.zeros_like(W0), np.zeros_like(W0), []
    for i, g in enumerate(GRADS):
        t = i + 1
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        if amsgrad:
            vhat = np.maximum(vhat, v)
            w = w - alpha * m / (np.sqrt(vhat) + eps)
        else:
            w = w - alpha * m / (np.sqrt(v) + eps)
        out.append(w.copy())
    return out


def adamax_ref(lr=0.001, b1=0.9, b2=0.999, eps=1e-7):
    w, m, u, out = W0.copy(), np.zeros_like(W0), np.zeros_like(W0), []
    for i, g in enumerate(GRADS):
        t = i + 1
        m = m + (g - m) * (1 - b1)
        u = np.maximum(b2 * u, np.abs(g))
        w = w - lr * m / ((1 - b1 ** t) * (u + eps))
        out.append(w.copy())
    return out


def adagrad_ref(lr=0.001, init=0.1, eps=1e-7):
    w, acc, out = W0.copy(), np.full_like(W0, init), []
    for g in GRADS:
        acc = acc + g * g
        w = w - lr * g / np.sqrt(acc + eps)
        out.append(w.copy())
    return out


CASES = [
    ("sgd", lambda: optimizers.SGD(), lambda: sgd_ref(0.01)),
    ("sgd-momentum", lambda: optimizers.SGD(0.1, momentum=0.9), lambda: sgd_ref(0.1, 0.9)),
    ("sgd-nesterov", lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True), lambda: sgd_ref(0.1, 0.9, True)),
    ("rmsprop", lambda: optimizers.RMSprop(), lambda: rmsprop_ref()),
    ("rmsprop-centered", lambda: optimizers.RMSprop(0.01, centered=True), lambda: rmsprop_ref(0.01, centered=True)),
    ("rmsprop-momentum", lambda: optimizers.RMSprop(0.01, momentum=0.5), lambda: rmsprop_ref(0.01, momentum=0.5)),
    ("rmsprop-centered-momentum", lambda: optimizers.RMSprop(0.01, rho=0.8, momentum=0.5, centered=True),
     lambda: rmsprop_ref(0.01, rho=0.8, momentum=0.5, centered=True)),
    ("adam", lambda: optimizers.Adam(), lambda: adam_ref()),
    ("adam-custom", lambda: optimizers.Adam(0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-6),
     lambda: adam_ref(0.01, 0.8, 0.99, 1e-6)),
    ("adam-amsgrad", lambda: optimizers.Adam(0.01, amsgrad=True), lambda: adam_ref(0.01, amsgrad=True)),
    ("adamax", lambda: optimizers.Adamax(), lambda: adamax_ref()),
    ("adamax-custom", lambda: optimizers.Adamax(0.02, beta_1=0.5, beta_2=0.9), lambda: adamax_ref(0.02, 0.5, 0.9)),
    ("adagrad", lambda: optimizers.Adagrad(), lambda: adagrad_ref()),
    ("adagrad-custom", lambda: optimizers.Adagrad(0.1, initial_accumulator_value=0.5),
     lambda: adagrad_ref(0.1, 0.5)),
]


@pytest.mark.parametrize("name,make,ref", CASES, ids=[c[0] for c in CASES])
def test_optimizer_steps_match_keras_formulas_by_hand(backend, name, make, ref):
    opt = make()
    got, expected = run(opt, backend), ref()
    for step, (a, b) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-15, err_msg=f"{name}: weights after step {step + 1}")
    assert opt.iterations == len(GRADS)


def test_keras_defaults():
    assert optimizers.SGD().learning_rate == 0.01
    for cls in (optimizers.RMSprop, optimizers.Adam, optimizers.Adamax, optimizers.Adagrad):
        assert cls().learning_rate == 0.001
    assert optimizers.Adam().epsilon == 1e-7 and optimizers.Adagrad().initial_accumulator_value == 0.1
    assert optimizers.RMSprop().rho == 0.9


# ----------------------------------------------------------------------------- schedules
def exp_decay(lr0, ds, rate, staircase, step):
    p = step / ds
    return lr0 * rate ** (math.floor(p) if staircase else p)


def inv_time(lr0, ds, rate, staircase, step):
    p = step / ds
    return lr0 / (1 + rate * (math.floor(p) if staircase else p))


@pytest.mark.parametrize("cls,ref", [(schedules.ExponentialDecay, exp_decay), (schedules.InverseTimeDecay, inv_time)])
@pytest.mark.parametrize("staircase", [False, True])
def test_schedules_at_steps_0_to_5(cls, ref, staircase):
    s = cls(0.1, 2, 0.5, staircase=staircase)
    for step in range(6):
        assert abs(s(step) - ref(0.1, 2, 0.5, staircase, step)) <= 1e-15, f"step {step}"
    assert s(0) == 0.1


@pytest.mark.parametrize("staircase", [False, True])
def test_first_update_uses_schedule_at_step_0_and_iterations_increments_after(backend, staircase):
    sched = schedules.ExponentialDecay(0.1, 2, 0.5, staircase=staircase)
    opt = optimizers.SGD(sched)
    w = backend.to_device(np.zeros(1))
    for k in range(5):
        assert opt.iterations == k
        assert opt.learning_rate == pytest.approx(sched(k), rel=1e-15)
        before = backend.to_host(w).copy()
        opt.apply([backend.to_device(np.ones(1))], [w])
        after = backend.to_host(w)
        assert before[0] - after[0] == pytest.approx(sched(k), rel=1e-12), f"update {k} must use schedule({k})"
        assert opt.iterations == k + 1


def test_sgd_momentum_keeps_lr_inside_the_velocity_under_a_schedule(backend):
    sched = schedules.InverseTimeDecay(0.1, 1, 1.0)
    got = run(optimizers.SGD(sched, momentum=0.9), backend)
    for a, b in zip(got, sgd_ref(sched, 0.9)):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-15)


def test_schedule_argument_errors():
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.ExponentialDecay(0.1, 0, 0.5)


# ----------------------------------------------------------------------------- config
@pytest.mark.parametrize("make", [  # factories: each backend's run gets a fresh optimizer (its own state)
    lambda: optimizers.SGD(0.05, momentum=0.5, nesterov=True),
    lambda: optimizers.RMSprop(0.002, centered=True, momentum=0.1),
    lambda: optimizers.Adam(0.003, amsgrad=True, clipnorm=1.0),
    lambda: optimizers.Adamax(schedules.ExponentialDecay(0.01, 2000, 0.9)),
    lambda: optimizers.Adagrad(schedules.InverseTimeDecay(0.1, 10, 0.5, staircase=True)),
], ids=["SGD", "RMSprop", "Adam", "Adamax", "Adagrad"])
def test_optimizer_config_round_trip(backend, make):
    opt = make()
    cfg = opt.get_config()
    clone = type(opt).from_config(cfg)
    assert clone.get_config() == cfg
    assert type(optimizers.deserialize(optimizers.serialize(opt))) is type(opt)
    # and the clone takes the same steps
    for a, b in zip(run(opt, backend), run(clone, backend)):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- state save/restore
def _model_and_data(seed=0):
    nn.utils.set_random_seed(seed)
    model = nn.Sequential([nn.Input(shape=(5,)), nn.layers.Dense(8, activation="tanh"), nn.layers.Dense(3)])
    model.compile(optimizer=optimizers.Adam(0.01), loss=nn.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((40, 5)).astype("float32")
    y = rng.integers(0, 3, 40)
    return model, x, y


@pytest.mark.parametrize("opt_name", ["sgd", "rmsprop", "adam", "adamax", "adagrad"])
def test_optimizer_state_round_trips_through_save_and_load_weights(backend, tmp_path, opt_name):
    def compiled(seed):
        model, x, y = _model_and_data(seed)
        kwargs = {"momentum": 0.9} if opt_name == "sgd" else {}
        model.compile(optimizer=optimizers.get(opt_name).__class__(**kwargs),
                      loss=nn.losses.SparseCategoricalCrossentropy(from_logits=True))
        return model, x, y

    model, x, y = compiled(0)
    for i in range(3):
        model.train_on_batch(x[i * 10:(i + 1) * 10], y[i * 10:(i + 1) * 10])
    path = tmp_path / "ckpt.npz"
    model.save_weights(path)
    for i in range(3):  # continued training, reference run
        model.train_on_batch(x[i * 10:(i + 1) * 10], y[i * 10:(i + 1) * 10])
    expected = model.get_weights()

    restored, _, _ = compiled(1)  # different initial weights, fresh optimizer
    restored.load_weights(path)
    assert restored.optimizer.iterations == 3
    for i in range(3):
        restored.train_on_batch(x[i * 10:(i + 1) * 10], y[i * 10:(i + 1) * 10])
    for a, b in zip(restored.get_weights(), expected):
        np.testing.assert_array_equal(a, b)

    # without the optimizer state the continuation differs (so the check above has teeth)
    fresh, _, _ = compiled(2)
    fresh.load_weights(path)
    fresh.compile(optimizer=type(fresh.optimizer)(**({"momentum": 0.9} if opt_name == "sgd" else {})),
                  loss=nn.losses.SparseCategoricalCrossentropy(from_logits=True))  # same weights, new state
    for i in range(3):
        fresh.train_on_batch(x[i * 10:(i + 1) * 10], y[i * 10:(i + 1) * 10])
    assert not all(np.array_equal(a, b) for a, b in zip(fresh.get_weights(), expected))


# ----------------------------------------------------------------------------- aliases
@pytest.mark.parametrize("alias,cls", [("sgd", optimizers.SGD), ("rmsprop", optimizers.RMSprop),
                                       ("adam", optimizers.Adam), ("adamax", optimizers.Adamax),
                                       ("adagrad", optimizers.Adagrad), ("Adam", optimizers.Adam)])
def test_aliases_resolve(alias, cls):
    assert type(optimizers.get(alias)) is cls


def test_unknown_optimizer_lists_valid_ones():
    with pytest.raises(ValueError) as info:
        optimizers.get("adamw_fast")
    msg = str(info.value)
    assert "adamw_fast" in msg and all(n in msg for n in ("sgd", "rmsprop", "adam", "adamax", "adagrad"))


def test_apply_with_mismatched_lists_raises():
    with pytest.raises(ValueError):
        optimizers.SGD().apply([np.ones(2)], [np.ones(2), np.ones(2)])
