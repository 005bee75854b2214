"""One loss per output (nnscratch/models/compile_loss.py, compile_metrics.py): the weighted total
loss's gradient against finite differences in float64, sample weights per output, and the
errors for targets, losses and metrics that do not fit the model's outputs."""
import numpy as np
import pytest

import nnscratch as nn
from nnscratch import backend, layers
from nnscratch.debug.gradcheck import numerical_gradient, rel_error


def two_output_model(tail=False):
    a, b = nn.Input((4,), name="a"), nn.Input((3,), name="b")
    h = layers.Dense(5, activation="tanh", name="hidden")(layers.Concatenate()([a, b]))
    score = layers.Dense(2, name="score")(h)
    cls = layers.Dense(3, activation="softmax", name="cls")(h)
    outputs = [score, cls]
    if tail:  # a third output fed by the softmax: the softmax then cannot be fused
        outputs.append(layers.Dense(2, name="tail")(cls))
    return nn.Model([a, b], outputs)


def data(n=6, seed=0, tail=False):
    gen = np.random.default_rng(seed)
    x = [gen.normal(size=(n, 4)), gen.normal(size=(n, 3))]
    y = [gen.normal(size=(n, 2)), np.eye(3)[gen.integers(0, 3, n)]]
    if tail:
        y.append(gen.normal(size=(n, 2)))
    return x, y


@pytest.mark.parametrize("tail", [False, True], ids=["fused_softmax", "softmax_feeds_a_layer"])
def test_weighted_total_loss_gradient_matches_finite_differences(tail):
    with backend.floatx_scope("float64"):
        nn.utils.set_random_seed(0)
        model = two_output_model(tail)
        losses = ["mse", "categorical_crossentropy"] + (["mae"] if tail else [])
        weights = [0.3, 2.5] + ([0.7] if tail else [])
        model.compile(optimizer="sgd", loss=losses, loss_weights=weights)
        assert model._output_losses.fused[1] is (not tail)
        x, y = data(tail=tail)
        sw = [None, np.linspace(0.5, 1.5, 6)] + ([None] if tail else [])
        xd, _ = nn.models.data_adapter.prepare_x(model, x)
        yd = nn.models.data_adapter.prepare_y(model, y, 6)
        swd = nn.models.data_sources.sample_weights(model, sw, 6)

        def total():
            y_pred = model.forward(xd, training=True)
            return float(model.compute_loss(y_pred, yd, swd)[0])

        y_pred = model.forward(xd, training=True)
        _, flags = model.compute_loss(y_pred, yd, swd)
        model.backward(model._output_losses.gradients(), from_logits=flags)
        for key, param, grad in model.parameters():
            analytic = backend.to_host(grad).copy()
            _, numeric = numerical_gradient(total, param)
            err = rel_error(analytic.reshape(-1), numeric)
            assert err < 1e-7, f"{key}: rel error {err:.2e} between backward and finite differences"


def test_total_loss_is_the_weighted_sum_of_the_outputs_losses_with_their_sample_weights():
    model = two_output_model()
    model.compile(optimizer="sgd", loss=["mse", "categorical_crossentropy"], loss_weights={"cls": 4.0})
    x, y = data()
    sw = {"score": np.arange(1.0, 7.0), "cls": np.linspace(0, 1, 6)}
    logs = model.test_on_batch(x, y, sample_weight=sw, return_dict=True)
    score, cls = model.predict(x, verbose=0)
    mse = nn.losses.MeanSquaredError()(y[0], score, sample_weight=sw["score"])
    cce = nn.losses.CategoricalCrossentropy()(y[1], cls, sample_weight=sw["cls"])
    np.testing.assert_allclose(logs["score_loss"], mse, rtol=1e-5)
    np.testing.assert_allclose(logs["cls_loss"], cce, rtol=1e-5)
    np.testing.assert_allclose(logs["loss"], 1.0 * mse + 4.0 * cce, rtol=1e-5)


def test_one_loss_for_every_output_and_metrics_named_per_output():
    model = two_output_model()
    model.compile(optimizer="sgd", loss="mse", metrics={"cls": ["accuracy", "mae"], "score": "mae"},
                  weighted_metrics={"score": ["mae"]})
    x, y = data()
    logs = model.evaluate(x, {"score": y[0], "cls": y[1]}, verbose=0, return_dict=True)
    assert list(logs) == ["loss", "score_loss", "cls_loss", "cls_accuracy", "cls_mae", "score_mae",
                          "score_weighted_mae"]
    assert model.metrics_names == list(logs)
    np.testing.assert_allclose(logs["loss"], logs["score_loss"] + logs["cls_loss"], rtol=1e-6)


def test_fit_history_and_validation_logs_per_output():
    model = two_output_model()
    model.compile(optimizer="sgd", loss=["mse", "categorical_crossentropy"], metrics=[None, ["accuracy"]])
    x, y = data(n=20)
    history = model.fit(x, y, epochs=2, batch_size=8, validation_split=0.25, verbose=0)
    assert set(history.history) == {"loss", "score_loss", "cls_loss", "cls_accuracy", "val_loss", "val_score_loss",
                                    "val_cls_loss", "val_cls_accuracy"}
    assert history.history["loss"][1] < history.history["loss"][0]


# ------------------------------------------------------------------------------------ errors
def compiled(**kwargs):
    model = two_output_model()
    model.compile(optimizer="sgd", **{"loss": ["mse", "categorical_crossentropy"], **kwargs})
    return model


@pytest.mark.parametrize("y, match", [
    (lambda y: [y[0]], r"Model 'm' has 2 outputs \['score', 'cls'\]: y must be a list of 2 in that order or a dict "
                       r"by output name, received a list of 1"),
    (lambda y: [y[0], y[1], y[1]], r"received a list of 3"),
    (lambda y: {"score": y[0], "clss": y[1]}, r"y has key\(s\) \['clss'\] that are not output names; its outputs "
                                              r"are \['score', 'cls'\]"),
    (lambda y: {"score": y[0]}, r"no targets for output 'cls', which has a loss"),
    (lambda y: [y[0], y[1][:, :2]], r"output 'cls' \(shape \(6, 3\)\)"),
    (lambda y: [y[0][:4], y[1]], r"x has 6 samples but the targets of output 'score' have 4"),
    (lambda y: y[0], r"y must be a list \(in that order\) or a dict by output name, received one array"),
])
def test_targets_that_do_not_fit_the_outputs_are_refused_naming_them(y, match):
    model = compiled()
    model.name = "m"
    x, ys = data()
    with pytest.raises(ValueError, match=match):
        model.fit(x, y(ys), verbose=0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(loss=["mse"]), r"loss must be a list of 2 in that order or a dict by output name, received a list of 1"),
    (dict(loss={"score": "mse", "nope": "mse"}), r"loss has key\(s\) \['nope'\] that are not output names"),
    (dict(loss_weights=[1.0]), r"loss_weights must be a list of 2"),
    (dict(loss_weights={"scor": 2.0}), r"loss_weights has key\(s\) \['scor'\]"),
    (dict(loss_weights=0.5), r"`loss_weights` must match the number of losses"),
    (dict(metrics=["mae"]), r"invalid `metrics`.*\['score', 'cls'\].*Received: metrics=\['mae'\]"),
    (dict(metrics="mae"), r"expected `metrics` argument to be a list, tuple, or dict"),
    (dict(metrics={"zz": ["mae"]}), r"invalid `metrics`"),
    (dict(weighted_metrics=["mae", "mae", "mae"]), r"invalid `weighted_metrics`"),
])
def test_compile_arguments_that_do_not_fit_the_outputs_are_refused(kwargs, match):
    model = two_output_model()
    with pytest.raises(ValueError, match=match):
        model.compile(optimizer="sgd", **{"loss": ["mse", "categorical_crossentropy"], **kwargs})


def test_sample_weight_and_class_weight_that_do_not_fit_are_refused():
    model = compiled()
    x, y = data()
    with pytest.raises(ValueError, match=r"sample_weight must be a list of 2"):
        model.fit(x, y, sample_weight=[np.ones(6)], verbose=0)
    with pytest.raises(ValueError, match=r"sample_weight for output 'cls' must have shape \(6,\)"):
        model.fit(x, y, sample_weight=[np.ones(6), np.ones(5)], verbose=0)
    with pytest.raises(ValueError, match=r"class_weight is not supported for a model with several outputs"):
        model.fit(x, y, class_weight={0: 1.0}, verbose=0)


def test_x_as_a_dict_must_name_every_input():
    model = compiled()
    x, y = data()
    with pytest.raises(ValueError, match=r"x as a dict needs one array per input \['a', 'b'\].*\(unknown: \['c'\]\)"
                                         r" \(missing: \['b'\]\)"):
        model.fit({"a": x[0], "c": x[1]}, y, verbose=0)


def test_a_model_with_a_loss_per_output_saves_and_loads_uncompiled(tmp_path):
    model = compiled(loss_weights=[1.0, 2.0])
    x, y = data()
    model.fit(x, y, verbose=0)
    for ext in ("keras", "nnscratch"):
        model.save(tmp_path / f"m.{ext}")
        loaded = nn.models.load_model(tmp_path / f"m.{ext}")
        assert not loaded.compiled  # the per-output compile settings are not written
        for ours, back in zip(model.predict(x, verbose=0), loaded.predict(x, verbose=0)):
            np.testing.assert_array_equal(ours, back)


def test_gradient_check_says_it_needs_a_single_loss():
    model = compiled()
    x, y = data()
    with pytest.raises(ValueError, match="has no single compiled loss"):
        nn.debug.gradient_check(model, x, y)
