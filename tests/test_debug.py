"""Tests for nn.debug: trace, backward_steps, layer hooks, detect_anomaly, gradient_check."""
import copy

import numpy as np
import pytest

import nnscratch as nn
from nnscratch.layers import Dense, ReLU


def small_mlp(output_activation="softmax", seed=0):
    nn.utils.set_random_seed(seed)
    model = nn.Sequential([nn.Input((6,)), Dense(5, activation="relu"), Dense(4), ReLU(),
                           Dense(3, activation=output_activation)])
    model.compile(nn.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    return model


def batch(seed=1, n=8):
    g = np.random.default_rng(seed)
    return g.standard_normal((n, 6)).astype("float32"), g.integers(0, 3, n)


def host_forward(model, x):
    """Every layer's (input, output) computed here, with NumPy, from the weights."""
    outs, h = [], x.astype(np.float64)
    for layer in model.layers:
        if isinstance(layer, Dense):
            W, b = (w.astype(np.float64) for w in layer.get_weights())
            z = h @ W + b
            a = layer.activation.name
            y = np.maximum(z, 0) if a == "relu" else (np.exp(z - z.max(1, keepdims=True)) /
                                                     np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)
                                                     if a == "softmax" else z)
        else:
            y = np.maximum(h, 0)
        outs.append((h, y))
        h = y
    return outs


# ---------------------------------------------------------------------- trace
def test_trace_records_shapes_and_statistics_computed_independently():
    model = small_mlp()
    x, y = batch()
    model.build((None, 6))
    expected = host_forward(model, x)
    weights_before = [l.get_weights() for l in model.layers]
    with nn.debug.trace(model) as tr:
        model.train_on_batch(x, y)
    assert [r.name for r in tr.records] == [l.name for l in model.layers]
    text = tr.table()
    assert str(tr) == text
    for rec, (xin, yout), layer, before in zip(tr.records, expected, model.layers, weights_before):
        assert rec.x.shape == xin.shape and rec.y.shape == yout.shape, rec.name
        np.testing.assert_allclose(rec.y, yout, rtol=1e-5, atol=1e-6, err_msg=f"{rec.name} output")
        mean, std, lo, hi = rec.stats()
        np.testing.assert_allclose([mean, std, lo, hi], [yout.mean(), yout.std(), yout.min(), yout.max()],
                                   rtol=1e-5, atol=1e-6, err_msg=f"{rec.name} stats")
        line = next(l for l in text.splitlines() if l.startswith(rec.name + " "))
        assert f"{mean:.3g}" in line and str(tuple(yout.shape)) in line, line
        if rec.relu:
            assert rec.zero_fraction == pytest.approx(np.mean(yout == 0)), rec.name
            assert f"{100 * np.mean(yout == 0):.1f}" in line
        else:
            assert rec.zero_fraction is None
        # update-to-weight ratio from the weights before and after
        after = layer.get_weights()
        if before:
            num = np.sqrt(sum(np.sum((a.astype(np.float64) - b) ** 2) for a, b in zip(after, before)))
            den = np.sqrt(sum(np.sum(b.astype(np.float64) ** 2) for b in before))
            assert rec.update_ratio == pytest.approx(num / den, rel=1e-5), rec.name
            # SGD: update = -lr * grad
            for k, (a, b) in zip(layer.weight_names, zip(after, before)):
                np.testing.assert_allclose(a - b, -0.1 * rec.grads[k], rtol=1e-4, atol=1e-7, err_msg=f"{rec.name}/{k}")


def test_trace_dy_dx_chain_and_skipped_first_dx_and_fused_logits():
    model = small_mlp()
    x, y = batch()
    with nn.debug.trace(model) as tr:
        model.train_on_batch(x, y)
    first, last = tr.records[0], tr.records[-1]
    assert first.backward_ran and first.dx is None  # training skips dx of the first trainable layer
    first_line = next(l for l in tr.table().splitlines() if l.startswith(first.name + " "))
    assert first_line.split()[-3] == "-"
    # the fused softmax + CE: dy of the last layer is dz = (softmax(z) - onehot) / N
    assert last.dy_at_logits
    onehot = np.eye(3)[y]
    np.testing.assert_allclose(last.dy, (last.y - onehot) / len(y), rtol=1e-4, atol=1e-7)
    for upper, lower in zip(tr.records[1:], tr.records[:-1]):
        np.testing.assert_array_equal(upper.dx, lower.dy, err_msg=f"{upper.name}.dx != {lower.name}.dy")
    # hooks and patches are gone after the block
    assert all(not l._forward_hooks and not l._backward_hooks for l in model.layers)
    assert "backward_logits" not in vars(model.layers[-1]) and "train_step" not in vars(model)


def test_trace_unfused_output_records_dy_not_at_logits():
    model = small_mlp(output_activation="linear")
    model.compile(nn.optimizers.SGD(0.1), nn.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = batch()
    with nn.debug.trace(model) as tr:
        model.train_on_batch(x, y)
    assert not tr.records[-1].dy_at_logits and tr.records[-1].dy.shape == (8, 3)


def test_trace_records_first_step_of_fit_and_says_when_nothing_ran():
    model = small_mlp()
    x, y = batch(n=16)
    with nn.debug.trace(model) as empty:
        pass
    assert "no training step" in empty.table()
    before = [w.copy() for w in model.get_weights()] if model.built else None
    with nn.debug.trace(model) as tr:
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    assert tr.steps_seen == 2 and tr.records[0].x.shape == (8, 6)
    np.testing.assert_array_equal(tr.records[0].x, x[:8])
    if before is not None:
        np.testing.assert_array_equal(tr.records[0].params_before["kernel"], before[0])


# ---------------------------------------------------------------------- backward_steps
def test_backward_steps_order_and_final_params_equal_train_on_batch():
    model = small_mlp()
    x, y = batch()
    model.build((None, 6))
    twin = copy.deepcopy(model)
    steps = list(model.backward_steps(x, y))
    n = len(model.layers)
    phases = [s.phase for s in steps]
    assert phases == ["forward"] * n + ["loss"] + ["backward"] * n + ["update"]
    assert [s.index for s in steps[:n]] == list(range(n))
    assert [s.index for s in steps[n + 1:2 * n + 1]] == list(range(n - 1, -1, -1))
    assert all(s.layer is model.layers[s.index] for s in steps if s.layer is not None)
    for fwd_a, fwd_b in zip(steps[:n - 1], steps[1:n]):
        assert fwd_a.y is fwd_b.x
    assert steps[2 * n].dx.shape == x.shape  # a step-through computes dx of the first layer too
    loss_before = twin.train_on_batch(x, y)
    assert steps[n].loss == pytest.approx(loss_before, rel=1e-6)
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_backward_steps_without_update_leaves_params_and_can_pause():
    model = small_mlp()
    x, y = batch()
    model.build((None, 6))
    before = [w.copy() for w in model.get_weights()]
    gen = model.backward_steps(x, y, apply_update=False)
    first = next(gen)
    assert first.phase == "forward" and set(first.cache) == {"x", "y"}
    rest = list(gen)
    assert rest[-1].phase == "backward"
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(RuntimeError, match="compile"):
        nn.Sequential([nn.Input((6,)), Dense(2)]).backward_steps(x, y)


# ---------------------------------------------------------------------- hooks
def test_forward_and_backward_hooks_receive_the_layer_arrays_and_can_be_removed():
    layer = Dense(3)
    x = nn.backend.to_device(np.random.default_rng(0).standard_normal((4, 5)).astype("float32"))
    seen = {}
    hf = layer.register_forward_hook(lambda l, xi, yo: seen.update(fwd=(l, xi, yo)))
    hb = layer.register_backward_hook(lambda l, dy, dx: seen.update(bwd=(l, dy, dx)))
    y = layer(x)
    # the user's y is the hook's output array itself, seen through the .numpy()-answering result view
    assert seen["fwd"][0] is layer and seen["fwd"][1] is x and (y is seen["fwd"][2] or y.base is seen["fwd"][2])
    dy = nn.backend.to_device(np.ones(y.shape, dtype="float32"))
    dx = layer.call_backward(dy)
    assert seen["bwd"][0] is layer and seen["bwd"][1] is dy and seen["bwd"][2] is dx
    np.testing.assert_allclose(nn.backend.to_host(dx), np.ones((4, 3)) @ layer.get_weights()[0].T, rtol=1e-6)
    hf.remove()
    hb.remove()
    seen.clear()
    layer(x)
    layer.call_backward(dy)
    assert seen == {}


# ---------------------------------------------------------------------- detect_anomaly
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_detect_anomaly_names_first_bad_layer_in_forward():
    model = small_mlp()
    x, y = batch()
    model.build((None, 6))
    k = model.layers[1].params["kernel"]
    k[:, :] = 3e38  # finite weights; dense_1 turns finite inputs into inf/nan
    with pytest.raises(FloatingPointError, match=rf"forward output of layer '{model.layers[1].name}' \(Dense\)"), \
            np.errstate(all="ignore"):
        with nn.debug.detect_anomaly(model):
            model.train_on_batch(x, y)
    assert all(not l._forward_hooks for l in model.layers)
    k[0, 0] = np.inf  # a weight that is already non-finite is named before any layer runs
    with pytest.raises(FloatingPointError, match=rf"weight 'kernel' of layer '{model.layers[1].name}' \(Dense\) before"):
        with nn.debug.detect_anomaly(model):
            model.train_on_batch(x, y)


def test_detect_anomaly_names_first_bad_layer_in_backward():
    model = small_mlp()
    x, y = batch()
    model.build((None, 6))
    bad = model.layers[2]  # the ReLU layer: plant a backward that creates a NaN
    original = bad.backward

    def broken_backward(dy):
        dx = original(dy)
        return dx * np.float32(np.nan)

    bad.backward = broken_backward
    with pytest.raises(FloatingPointError, match=rf"backward output dx of layer '{bad.name}' \(ReLU\)"):
        with nn.debug.detect_anomaly(model):
            model.train_on_batch(x, y)
    del bad.backward
    with nn.debug.detect_anomaly(model):  # healthy again: no error
        model.train_on_batch(x, y)
    assert "backward_logits" not in vars(model.layers[-1])


# ---------------------------------------------------------------------- gradient_check
def _planted(layer, what):
    """Replace layer.backward_logits by one that gets ``what`` wrong ('kernel' or 'dx')."""
    original = type(layer).backward_logits

    def backward_logits(dz):
        dx = original(layer, dz)
        if what == "kernel":
            layer.grads["kernel"][...] = layer.grads["kernel"] * 1.5
            return dx
        return None if dx is None else dx * 1.5

    layer.backward_logits = backward_logits


def test_gradient_check_passes_on_a_correct_model():
    model = small_mlp()
    x, y = batch(n=4)
    result = nn.debug.gradient_check(model, x, y)
    assert result.max_error < 1e-6, result


def test_gradient_check_reports_the_layer_with_a_planted_wrong_kernel_gradient():
    model = small_mlp()
    x, y = batch(n=4)
    model.build((None, 6))
    culprit = model.layers[1]
    _planted(culprit, "kernel")
    result = nn.debug.gradient_check(model, x, y)
    assert result.worst[0] == f"{culprit.name}/kernel", result
    assert result.worst[1] > 0.1
    others = {k: v for k, v in result.items() if k != f"{culprit.name}/kernel"}
    assert max(others.values()) < 1e-6, result


def test_gradient_check_with_a_wrong_dx_flags_only_the_layers_below():
    model = small_mlp()
    x, y = batch(n=4)
    model.build((None, 6))
    culprit = model.layers[1]
    _planted(culprit, "dx")
    result = nn.debug.gradient_check(model, x, y)
    below, at_or_above = model.layers[0].name, [l.name for l in model.layers[1:]]
    assert result[f"{below}/kernel"] > 0.01 and result["x"] > 0.01, result
    for name in at_or_above:
        for key in ("kernel", "bias"):
            if f"{name}/{key}" in result:
                assert result[f"{name}/{key}"] < 1e-6, (name, key, result)


def test_trace_step_minus_one_keeps_the_last_step_and_rejects_other_values():
    model = small_mlp()
    x, y = batch(n=16)
    with nn.debug.trace(model, step=-1) as tr:
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    assert tr.steps_seen == 2
    np.testing.assert_array_equal(tr.records[0].x, x[8:])
    for rec, layer in zip(tr.records, model.layers):  # 'after' is the model's final state
        for k, p in layer.params.items():
            np.testing.assert_array_equal(rec.params_after[k], nn.backend.to_host(p))
    with pytest.raises(ValueError, match="step must be 0"):
        nn.debug.trace(model, step=3)


def test_trace_table_of_a_conv_model_lists_every_layer():
    nn.utils.set_random_seed(0)
    model = nn.Sequential([nn.Input((6, 6, 1)), ReLU(), nn.layers.Conv2D(2, 3, activation="relu"),
                           nn.layers.MaxPooling2D(), nn.layers.Flatten(), Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).standard_normal((4, 6, 6, 1)).astype("float32")
    with nn.debug.trace(model) as tr:
        model.train_on_batch(x, np.array([0, 1, 2, 0]))
    rows = tr.table().splitlines()[2:2 + len(model.layers)]  # then the loss line and the flags legend
    assert [r.split()[0] for r in rows] == [l.name for l in model.layers]
    assert tr[model.layers[2].name].y.shape == (4, 2, 2, 2)
    assert tr[0].backward_ran is False and tr[0].dy is None  # below the first trainable layer: skipped
    assert tr[1].backward_ran and tr[1].dx is None  # the first trainable layer: no dx in training
    assert rows[0].split()[-4:-2] == ["-", "-"]
