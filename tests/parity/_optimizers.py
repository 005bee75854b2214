"""Optimizer and schedule parity: 200-step parameter trajectories from identical starts, fed
identical gradient sequences, ``keras_opt.apply(grads, vars)`` vs ``opt.apply(grads, variables)``.

Two gradient regimes: 'unit' (|g| ~ 1) and 'tiny' (|g| ~ 1e-5, where where epsilon sits, inside
or outside a square root, or scaled by Adam's bias correction, changes the step by tens of
percent). Learning rates are powers of two: Keras keeps the learning rate in a float32
variable, so a float64 comparison needs a rate that float32 holds exactly.
"""
from __future__ import annotations

import numpy as np

import nnscratch as nn
from tests.parity._layers import Case
from tests.parity._tf import load_tf

LR = {"SGD": 2.0 ** -5, "RMSprop": 2.0 ** -9, "Adam": 2.0 ** -9, "Adamax": 2.0 ** -9, "Adagrad": 2.0 ** -5}

CONFIGS = [
    ("SGD", {}), ("SGD", dict(momentum=0.9)), ("SGD", dict(momentum=0.9, nesterov=True)),
    ("RMSprop", {}), ("RMSprop", dict(rho=0.8)), ("RMSprop", dict(momentum=0.5)), ("RMSprop", dict(centered=True)),
    ("RMSprop", dict(centered=True, momentum=0.5)),
    ("Adam", {}), ("Adam", dict(amsgrad=True)), ("Adam", dict(beta_1=0.8, beta_2=0.99, epsilon=1e-6)),
    ("Adamax", {}), ("Adamax", dict(beta_1=0.8, epsilon=1e-6)),
    ("Adagrad", {}), ("Adagrad", dict(initial_accumulator_value=0.5)), ("Adagrad", dict(epsilon=1e-5)),
    ("SGD", dict(momentum=0.9, weight_decay=0.1)), ("Adam", dict(weight_decay=0.1)), ("RMSprop", dict(weight_decay=0.1)),
    ("SGD", dict(clipnorm=0.5)), ("Adam", dict(clipnorm=0.5)),
    ("SGD", dict(clipvalue=0.25)), ("Adam", dict(clipvalue=0.25)),
    ("SGD", dict(global_clipnorm=0.5)), ("Adam", dict(global_clipnorm=0.5)), ("Adagrad", dict(global_clipnorm=0.5)),
]

#: Defaults that Keras passes through a float32 cast (so float64 runs give them explicitly, rounded)
FLOAT32_CAST_DEFAULTS = {"Adam": dict(beta_1=0.9, beta_2=0.999), "Adamax": dict(beta_1=0.9, beta_2=0.999),
                         "Adagrad": dict(initial_accumulator_value=0.1), "SGD": {}, "RMSprop": {}}

SCHEDULES = [
    ("ExponentialDecay", dict(decay_steps=20, decay_rate=0.5, staircase=False)),
    ("ExponentialDecay", dict(decay_steps=20, decay_rate=0.5, staircase=True)),
    ("InverseTimeDecay", dict(decay_steps=20, decay_rate=0.5, staircase=False)),
    ("InverseTimeDecay", dict(decay_steps=20, decay_rate=0.5, staircase=True)),
]


def optimizer_cases():
    cases = []
    for name, cfg in CONFIGS:
        for regime in ("unit", "tiny"):
            cases.append(Case(name, {**cfg, "grads": regime}))
    for opt, cfg in [("SGD", dict(momentum=0.9)), ("Adam", {}), ("Adamax", {})]:
        for sched, scfg in SCHEDULES:
            cases.append(Case(opt, {**cfg, "schedule": sched, **{f"s_{k}": v for k, v in scfg.items()}, "grads": "unit"}))
    for name in LR:  # Keras's defaults vs ours, default learning rate included (float32 only)
        cases.append(Case(name, {"defaults": True, "grads": "unit"}))
    return cases


def fast_ids():
    """The default subset: every configuration with tiny gradients (they expose epsilon placement),
    SGD also with unit gradients (its steps scale with g, so tiny ones hide its formula), the
    schedules and Keras's defaults."""
    return {c.id for c in optimizer_cases() if c.config["grads"] == "tiny" or "schedule" in c.config
            or c.config.get("defaults") or c.component == "SGD"}


def float64_skip_reason(case):
    if case.config.get("defaults"):
        return "Keras's default learning rates (0.01, 0.001) are not representable in its float32 lr variable"
    if "schedule" in case.config:
        return "Keras evaluates schedules in float32, so their values are float32-rounded"
    return None


def _split(case, keras, dtype="float32"):
    """(our optimizer, Keras optimizer) for a case.

    In float64 every float hyperparameter is first rounded to float32, for both sides: Keras
    casts python floats such as momentum and the betas through a float32 tensor
    (``ops.cast(0.9, 'float64')`` is 0.8999999761...), so only float32-representable values
    are the same number on both sides."""
    c = dict(case.config)
    c.pop("grads")
    if dtype == "float64" and not c.get("defaults"):
        c = {**FLOAT32_CAST_DEFAULTS.get(case.component, {}), **c}
        c = {k: float(np.float32(v)) if isinstance(v, float) else v for k, v in c.items()}
    name = case.component
    if c.pop("defaults", False):
        return getattr(nn.optimizers, name)(), getattr(keras.optimizers, name)()
    sched = c.pop("schedule", None)
    skw = {k[2:]: c.pop(k) for k in list(c) if k.startswith("s_")}
    lr = LR[name] * (8 if sched else 1)
    if sched:
        ours_lr = getattr(nn.optimizers.schedules, sched)(lr, **skw)
        theirs_lr = getattr(keras.optimizers.schedules, sched)(lr, **skw)
    else:
        ours_lr = theirs_lr = lr
    return (getattr(nn.optimizers, name)(learning_rate=ours_lr, **c),
            getattr(keras.optimizers, name)(learning_rate=theirs_lr, **c))


def gradient_sequence(regime, steps, shapes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    scale = 1e-5 if regime == "tiny" else 1.0
    seq = []
    for t in range(steps):
        drift = 1.0 + 0.5 * np.sin(t / 7.0)  # slowly varying magnitudes: accumulators really move
        seq.append([(scale * drift * (rng.standard_normal(s) + 0.3)).astype(dtype) for s in shapes])
    return seq


def run_optimizer_case(case, dtype="float32", steps=200, seed=0):
    """[(quantity, our trajectory, Keras trajectory)] for each variable, shape (steps, ...)."""
    tf, keras = load_tf()
    rng = np.random.default_rng(seed + 1)
    shapes = [(4, 3), (3,)]
    start = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ours, theirs = _split(case, keras, dtype)
    our_vars = [w.copy() for w in start]
    tf_vars = [tf.Variable(w) for w in start]
    grads_seq = gradient_sequence(case.config["grads"], steps, shapes, dtype, seed)
    our_traj = [[] for _ in shapes]
    for grads in grads_seq:
        ours.apply([g.copy() for g in grads], our_vars)
        for i in range(len(shapes)):
            our_traj[i].append(our_vars[i].copy())
    tf_traj = _keras_trajectory(tf, theirs, tf_vars, grads_seq)
    out = []
    for i, name in enumerate(["kernel", "bias"]):
        out.append((f"{name} trajectory", np.stack(our_traj[i]), np.stack(tf_traj[i])))
    out.append(("iterations", np.asarray(ours.iterations), np.asarray(int(theirs.iterations.numpy()))))
    return out


def _keras_trajectory(tf, opt, tf_vars, grads_seq):
    """Run ``opt.apply`` once per step inside one tf.function (eager apply costs ~3 ms a step);
    returns one (steps, ...) array per variable, the values after each step."""
    opt.build(tf_vars)
    stacked = [tf.constant(np.stack([g[i] for g in grads_seq])) for i in range(len(tf_vars))]

    @tf.function
    def run():
        arrays = [tf.TensorArray(v.dtype, size=len(grads_seq)) for v in tf_vars]
        for t in tf.range(len(grads_seq)):
            opt.apply([s[t] for s in stacked], tf_vars)
            arrays = [a.write(t, tf.identity(v)) for a, v in zip(arrays, tf_vars)]
        return [a.stack() for a in arrays]

    return [r.numpy() for r in run()]


def schedule_cases():
    return [Case(name, cfg) for name, cfg in SCHEDULES]


def run_schedule_case(case, steps=100, lr0=0.1):
    """[(quantity, our lr(step), Keras lr(step))] for steps 0..steps-1."""
    tf, keras = load_tf()
    ours = getattr(nn.optimizers.schedules, case.component)(lr0, **case.config)
    theirs = getattr(keras.optimizers.schedules, case.component)(lr0, **case.config)
    a = np.array([ours(s) for s in range(steps)])
    b = np.array([float(theirs(s)) for s in range(steps)])
    return [("lr(step)", a, b)]
