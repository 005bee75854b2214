"""The Keras surface that course programs use: function-form losses and metrics, Metric classes
and the Metric base, sample/class weights, generators and PyDataset, evaluate/predict verbosity
and callbacks, regularizers (value and gradient), and the small helpers."""
import json
import warnings

import numpy as np
import pytest

import nnscratch as nn


def _data(n=64, d=6, c=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype("float32")
    y = rng.integers(0, c, n)
    return x, y


def numeric_grad(f, p, h=1e-6):
    """Central differences of the scalar f() with respect to the array p (perturbed in place)."""
    num = np.zeros_like(p)
    for i in np.ndindex(p.shape):
        old = p[i]
        p[i] = old + h
        up = f()
        p[i] = old - h
        dn = f()
        p[i] = old
        num[i] = (up - dn) / (2 * h)
    return num


def _model(d=6, c=3, reg=None, seed=0, metrics=("accuracy",), **compile_kw):
    nn.utils.set_random_seed(seed)
    m = nn.Sequential([nn.Input((d,)), nn.layers.Dense(8, activation="relu", kernel_regularizer=reg),
                       nn.layers.Dense(c, activation="softmax")])
    m.compile(optimizer=nn.optimizers.SGD(0.1), loss=compile_kw.pop("loss", "sparse_categorical_crossentropy"),
              metrics=list(metrics), **compile_kw)
    return m


# ----------------------------------------------------------------------------- losses
def test_function_losses_give_per_sample_values():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((5, 4))
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    y = rng.integers(0, 4, 5)
    per = nn.losses.sparse_categorical_crossentropy(y, p)
    assert per.shape == (5,)
    np.testing.assert_allclose(per, -np.log(p[np.arange(5), y]), rtol=1e-6)
    np.testing.assert_allclose(nn.losses.sparse_categorical_crossentropy(y, z, from_logits=True), per, rtol=1e-6)
    np.testing.assert_allclose(nn.losses.categorical_crossentropy(np.eye(4)[y], p), per, rtol=1e-6)
    t = rng.random((5, 2)); q = rng.random((5, 2)) * 0.8 + 0.1
    np.testing.assert_allclose(nn.losses.mse(t, q), ((t - q) ** 2).mean(-1), rtol=1e-6)
    np.testing.assert_allclose(nn.losses.mae(t, q), np.abs(t - q).mean(-1), rtol=1e-6)
    np.testing.assert_allclose(nn.losses.binary_crossentropy(t, q),
                               -(t * np.log(q) + (1 - t) * np.log(1 - q)).mean(-1), rtol=1e-6)


def test_function_loss_in_compile_keeps_the_fused_logits_path():
    m = _model(loss=nn.losses.sparse_categorical_crossentropy)
    assert isinstance(m.loss, nn.losses.SparseCategoricalCrossentropy) and m.fuses_loss()


def test_plain_function_loss_is_refused_clearly_outside_compile():
    with pytest.raises(TypeError, match="no autograd"):
        nn.losses.get(lambda y, p: (p - y) ** 2)


def test_plain_function_loss_in_compile_is_traced_and_matches_mse():
    """compile(loss=fn) traces fn's nn.ops/operators into a graph with hand-written backwards."""
    rng = np.random.default_rng(0)
    p = nn.backend.to_device(rng.random((5, 3)))
    t = nn.backend.to_device(rng.random((5, 3)))
    traced = nn.losses.TracedLoss(lambda y, q: nn.ops.mean((q - y) ** 2, axis=-1))
    ref = nn.losses.MeanSquaredError()
    np.testing.assert_allclose(nn.backend.to_host(traced.forward(p, t)), nn.backend.to_host(ref.forward(p, t)),
                               rtol=1e-6)
    np.testing.assert_allclose(nn.backend.to_host(traced.backward()), nn.backend.to_host(ref.backward()), rtol=1e-6)
    model = _model(loss=lambda y, q: (q - y) ** 2)
    assert type(model.loss).__name__ == "TracedLoss"


@pytest.mark.parametrize("cls", [nn.losses.SparseCategoricalCrossentropy, nn.losses.CategoricalCrossentropy,
                                 nn.losses.BinaryCrossentropy])
def test_axis_other_than_last_is_refused(cls):
    with pytest.raises(ValueError, match="axis"):
        cls(axis=0)


def test_sample_weight_divides_by_batch_size_not_weight_sum():
    rng = np.random.default_rng(2)
    p = rng.random((4, 3)) + 0.1
    p /= p.sum(1, keepdims=True)
    y = np.array([0, 1, 2, 1])
    w = np.array([1.0, 0.0, 2.0, 0.5])
    per = -np.log(p[np.arange(4), y])
    loss = nn.losses.SparseCategoricalCrossentropy()
    assert float(loss(y, p, sample_weight=w)) == pytest.approx((per * w).sum() / 4, rel=1e-6)


def test_sample_weighted_loss_gradient_checks():
    rng = np.random.default_rng(3)
    z = rng.standard_normal((5, 4))
    y = rng.integers(0, 4, 5)
    w = rng.random(5)
    loss = nn.losses.SparseCategoricalCrossentropy(from_logits=True)
    with loss.weighted(w):
        loss.forward(z, y)
    g = loss.backward()
    def value():
        with loss.weighted(w):
            return float(loss.forward(z, y))

    np.testing.assert_allclose(g, numeric_grad(value, z), atol=1e-7)


# ----------------------------------------------------------------------------- metrics
def test_metric_classes_are_stateful():
    m = nn.metrics.SparseCategoricalAccuracy()
    m.update_state(np.array([0, 1]), np.array([[0.9, 0.1], [0.8, 0.2]]))
    m.update_state(np.array([1]), np.array([[0.1, 0.9]]))
    assert float(m.result()) == pytest.approx(2 / 3, rel=1e-6)
    m.reset_state()
    assert float(m.result()) == 0.0
    assert m.name == "sparse_categorical_accuracy" and m.get_config()["name"] == m.name


def test_metric_subclass_with_add_variable_works_in_compile():
    class CountHits(nn.metrics.Metric):
        def __init__(self, name="hits", **kw):
            super().__init__(name=name, **kw)
            self.hits = self.add_variable(shape=(), initializer="zeros", name="hits")

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.hits.assign_add((y_pred.argmax(-1) == y_true).sum())

        def result(self):
            return self.hits

    x, y = _data()
    m = _model(metrics=["accuracy", CountHits()])
    logs = m.evaluate(x, y, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "accuracy", "hits"}
    assert logs["hits"] == pytest.approx(logs["accuracy"] * len(y), abs=1e-3)


def test_history_names_as_keras():
    x, y = _data()
    m = _model(metrics=["acc", nn.metrics.sparse_categorical_accuracy, nn.metrics.SparseTopKCategoricalAccuracy(k=2)])
    h = m.fit(x, y, epochs=1, verbose=0)
    assert list(h.history) == ["loss", "acc", "sparse_categorical_accuracy", "sparse_top_k_categorical_accuracy"]


def test_binary_accuracy_on_integer_labels_of_three_units_says_so():
    x, y = _data()
    m = _model(metrics=["binary_accuracy"])
    with pytest.raises(ValueError, match="binary_accuracy: labels of shape .* do not fit predictions"):
        m.evaluate(x, y, verbose=0)


def test_precision_recall_from_counts():
    y = np.array([1, 0, 1, 1, 0, 0])
    p = np.array([0.9, 0.6, 0.4, 0.7, 0.2, 0.51])
    pr, rc = nn.metrics.Precision(), nn.metrics.Recall()
    pr.update_state(y, p); rc.update_state(y, p)
    assert float(pr.result()) == pytest.approx(2 / 4)
    assert float(rc.result()) == pytest.approx(2 / 3)


# ----------------------------------------------------------------------------- data and weights
def test_generator_and_pydataset_train_like_arrays():
    x, y = _data(n=64)

    def gen():
        while True:
            for i in range(0, 64, 16):
                yield x[i:i + 16], y[i:i + 16]

    class Data(nn.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=2, use_multiprocessing=False)
            self.ends = 0

        def __len__(self):
            return 4

        def __getitem__(self, i):
            return x[16 * i:16 * (i + 1)], y[16 * i:16 * (i + 1)]

        def on_epoch_end(self):
            self.ends += 1

    ref = _model().fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    g = _model().fit(gen(), steps_per_epoch=4, epochs=2, verbose=0, validation_data=gen(), validation_steps=2).history
    ds = Data()
    p = _model().fit(ds, epochs=2, verbose=0).history
    np.testing.assert_allclose(g["loss"], ref["loss"], rtol=1e-6)
    np.testing.assert_allclose(p["loss"], ref["loss"], rtol=1e-6)
    assert ds.ends == 2 and "val_loss" in g
    assert _model().predict(gen(), steps=2, verbose=0).shape == (32, 3)


def test_exhausted_generator_warns_not_crashes():
    x, y = _data(n=32)
    gen = ((x[i:i + 16], y[i:i + 16]) for i in range(0, 32, 16))
    with pytest.warns(UserWarning, match="ran out of data"):
        h = _model().fit(gen, steps_per_epoch=4, epochs=3, verbose=0)
    assert len(h.history["loss"]) == 1


def test_class_weight_equals_sample_weight():
    x, y = _data()
    cw = {0: 1.0, 1: 3.0, 2: 0.5}
    a = _model().fit(x, y, class_weight=cw, shuffle=False, epochs=1, verbose=0).history["loss"]
    b = _model().fit(x, y, sample_weight=np.array([cw[c] for c in y]), shuffle=False, epochs=1,
                     verbose=0).history["loss"]
    c = _model().fit(x, y, shuffle=False, epochs=1, verbose=0).history["loss"]
    assert a == b and a != c


def test_weighted_metrics_use_sample_weight_and_metrics_do_not():
    x, y = _data()
    m = _model(metrics=["accuracy"], weighted_metrics=["accuracy"])
    w = (y == 0).astype("float32")
    logs = m.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    pred = m.predict(x, verbose=0).argmax(1)
    assert logs["accuracy"] == pytest.approx(np.mean(pred == y), abs=1e-6)
    assert logs["weighted_accuracy"] == pytest.approx(np.mean((pred == y)[y == 0]), abs=1e-6)


# ----------------------------------------------------------------------------- evaluate / predict
def test_evaluate_verbosity(capsys):
    x, y = _data()
    m = _model()
    m.evaluate(x, y, verbose=0)
    assert capsys.readouterr().out == ""
    m.evaluate(x, y, verbose=2)
    out = capsys.readouterr().out
    assert "loss: " in out and " - accuracy: " in out and out.count("\n") == 1
    m.evaluate(x, y)  # 'auto' -> 1: bar on stderr, result line on stdout
    assert "accuracy:" in capsys.readouterr().out
    with pytest.raises(ValueError, match="verbose"):
        m.evaluate(x, y, verbose=3)


def test_every_hook_gets_a_dict_with_keras_keys():
    seen = {}

    class Spy(nn.callbacks.Callback):
        def _rec(self, name, logs):
            assert isinstance(logs, dict), name
            seen.setdefault(name, set(logs))

        def on_train_begin(self, logs=None): self._rec("train_begin", logs)
        def on_epoch_begin(self, epoch, logs=None): self._rec("epoch_begin", logs)
        def on_train_batch_begin(self, batch, logs=None): self._rec("train_batch_begin", logs)
        def on_train_batch_end(self, batch, logs=None): self._rec("train_batch_end", logs)
        def on_epoch_end(self, epoch, logs=None): self._rec("epoch_end", logs)
        def on_train_end(self, logs=None): self._rec("train_end", logs)
        def on_test_begin(self, logs=None): self._rec("test_begin", logs)
        def on_test_batch_end(self, batch, logs=None): self._rec("test_batch_end", logs)
        def on_test_end(self, logs=None): self._rec("test_end", logs)
        def on_predict_begin(self, logs=None): self._rec("predict_begin", logs)
        def on_predict_batch_end(self, batch, logs=None): self._rec("predict_batch_end", logs)
        def on_predict_end(self, logs=None): self._rec("predict_end", logs)

    x, y = _data()
    m = _model()
    m.fit(x, y, epochs=1, verbose=0, validation_split=0.25, callbacks=[Spy()])
    m.evaluate(x, y, verbose=0, callbacks=[Spy()])
    m.predict(x, verbose=0, callbacks=[Spy()])
    assert seen["train_begin"] == seen["epoch_begin"] == seen["train_batch_begin"] == set()
    assert seen["train_batch_end"] == {"loss", "accuracy"}
    assert seen["epoch_end"] == seen["train_end"] == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert seen["test_batch_end"] == seen["test_end"] == {"loss", "accuracy"}
    assert seen["predict_batch_end"] == {"outputs"} and seen["predict_end"] == set()


# ----------------------------------------------------------------------------- regularizers
def test_regularizers_keras_defaults_and_config():
    assert nn.regularizers.L2().l2 == 0.01 and nn.regularizers.L1().l1 == 0.01
    assert nn.regularizers.L1L2().get_config() == {"l1": 0.0, "l2": 0.0}
    assert nn.regularizers.l2 is nn.regularizers.L2
    d = nn.layers.Dense(2, kernel_regularizer="l1", bias_regularizer=nn.regularizers.L2(0.5))
    cfg = d.get_config()
    assert nn.layers.Dense.from_config(cfg).bias_regularizer.l2 == 0.5
    with pytest.raises(ValueError, match="L2: l2 must be a non-negative number"):
        nn.layers.Dense(2, kernel_regularizer=nn.regularizers.L2(-1))


def test_regularized_loss_and_gradient():
    """Loss = data loss + l2 * sum w^2 (not divided by N); its gradient checked numerically."""
    nn.backend.set_floatx("float64")
    try:
        x, y = _data(n=10)
        reg = nn.regularizers.L1L2(l1=0.03, l2=0.2)
        m = _model(reg=reg)
        plain = _model()
        xd, yd = x.astype("float64"), y
        total = float(m.compute_loss(m.forward(xd, training=True), yd)[0])
        data = float(plain.compute_loss(plain.forward(xd, training=True), yd)[0])
        k = m.layers[0].params["kernel"]
        assert total == pytest.approx(data + 0.03 * np.abs(k).sum() + 0.2 * (k ** 2).sum(), rel=1e-10)
        # analytic gradient (backward + regularizer) vs central differences of compute_loss
        y_pred = m.forward(xd, training=True)
        _, fl = m.compute_loss(y_pred, yd)
        m.backward(m.loss.backward(), from_logits=fl)
        from nnscratch.models import penalties
        penalties.add_weight_gradients(m)
        g = m.layers[0].grads["kernel"].copy()
        num = numeric_grad(lambda: float(m.compute_loss(m.forward(xd, training=True), yd)[0]), k)
        np.testing.assert_allclose(g, num, atol=1e-6)
    finally:
        nn.backend.set_floatx("float32")


# ----------------------------------------------------------------------------- small helpers
def test_small_helpers(tmp_path):
    assert nn.__version__ == nn.version.VERSION
    nn.backend.clear_session()
    assert nn.layers.Dense(2).name == "dense" and nn.layers.Dense(2).name == "dense_1"
    nn.backend.clear_session()
    assert nn.layers.Dense(2).name == "dense"
    m = _model()
    cfg = json.loads(m.to_json())
    assert cfg["class_name"] == "Sequential" and "layers" in cfg["config"]
    again = nn.models.model_from_json(m.to_json())
    assert [type(l).__name__ for l in again.layers] == [type(l).__name__ for l in m.layers]
    clone = nn.models.clone_model(m)
    assert clone.count_params() == m.count_params()
    assert not np.array_equal(clone.get_weights()[0], m.get_weights()[0])
    np.testing.assert_allclose(nn.utils.normalize(np.array([[3.0, 4.0], [0.0, 0.0]])), [[0.6, 0.8], [0, 0]])
    with pytest.raises(TypeError, match="learning_rate=0.1"):
        nn.optimizers.Adam(lr=0.1)
    assert nn.preprocessing.image.load_img is not None and nn.preprocessing.image.img_to_array is not None


def test_model_checkpoint_save_freq_and_verbose(tmp_path, capsys):
    x, y = _data()
    path = str(tmp_path / "w_{epoch}_{batch}.weights.h5")
    ck = nn.callbacks.ModelCheckpoint(path, save_weights_only=True, save_freq=1, verbose=1)
    _model().fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[ck])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w_1_0.weights.h5", "w_1_1.weights.h5"]
    assert "Epoch 1: saving weights to" in capsys.readouterr().out


def test_model_checkpoint_best_only_missing_monitor_skips(tmp_path):
    x, y = _data()
    ck = nn.callbacks.ModelCheckpoint(str(tmp_path / "m.keras"), monitor="val_nope", save_best_only=True)
    with pytest.warns(UserWarning, match="val_nope"):
        _model().fit(x, y, epochs=1, verbose=0, callbacks=[ck])
    assert not (tmp_path / "m.keras").exists()


def test_tensorboard_two_runs_keep_both_files_and_images(tmp_path):
    pytest.importorskip("tensorboardX")
    x, y = _data()
    for _ in range(2):
        _model().fit(x, y, epochs=1, verbose=0, callbacks=[nn.callbacks.TensorBoard(str(tmp_path), write_images=True,
                                                                                     profile_batch=0)])
    files = list((tmp_path / "train").iterdir())
    assert len(files) == 2


def test_tensorboard_writes_a_graph_and_kernel_images_tensorboard_reads(tmp_path):
    pytest.importorskip("tensorboardX")
    ea_mod = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    x, y = _data()
    m = _model()
    m.fit(x, y, epochs=1, verbose=0, callbacks=[nn.callbacks.TensorBoard(str(tmp_path), write_images=True)])
    ea = ea_mod.EventAccumulator(str(tmp_path / "train"), size_guidance={"images": 0})
    ea.Reload()
    graph = ea.Graph()
    assert [n.name for n in graph.node] == ["input"] + [l.name for l in m.layers]
    assert [n.op for n in graph.node] == ["Input", "Dense", "Dense"]
    assert list(graph.node[2].input) == [m.layers[0].name]
    assert sorted(ea.Tags()["images"]) == sorted(f"{l.name}/kernel" for l in m.layers)


def _activity_model(out_activation="linear"):
    nn.utils.set_random_seed(4)
    m = nn.Sequential([nn.Input((6,)),
                       nn.layers.Dense(7, activation="tanh", activity_regularizer=nn.regularizers.L1L2(0.05, 0.1)),
                       nn.layers.Flatten(),
                       nn.layers.Dense(3, activation=out_activation, activity_regularizer=nn.regularizers.L2(0.2))])
    m.compile(optimizer=nn.optimizers.SGD(0.1), loss="mse")
    return m


def test_activity_regularizer_loss_and_gradient_check():
    """total = mse + A1(h)/N + A2(y)/N; every weight's gradient against central differences."""
    nn.backend.set_floatx("float64")
    try:
        m = _activity_model()
        rng = np.random.default_rng(5)
        x, t = rng.standard_normal((9, 6)), rng.standard_normal((9, 3))
        from nnscratch.models import penalties

        def total():
            with penalties.activity_scope(m) as act:
                return float(m.compute_loss(m.forward(x, training=True), t, activity=act)[0])

        h = np.tanh(x @ m.layers[0].params["kernel"] + m.layers[0].params["bias"])
        y = h @ m.layers[2].params["kernel"] + m.layers[2].params["bias"]
        expected = ((y - t) ** 2).mean() + (0.05 * np.abs(h).sum() + 0.1 * (h ** 2).sum()) / 9 + 0.2 * (y ** 2).sum() / 9
        assert total() == pytest.approx(expected, rel=1e-12)
        with penalties.activity_scope(m) as act:
            y_pred = m.forward(x, training=True)
            _, fl = m.compute_loss(y_pred, t, activity=act)
            m.backward(act.at_output(m.loss.backward(), fl), from_logits=fl)
        for layer in (m.layers[0], m.layers[2]):
            for key, p in layer.params.items():
                g = layer.grads[key].copy()
                np.testing.assert_allclose(g, numeric_grad(total, p), atol=1e-7, err_msg=f"{layer.name}/{key}")
    finally:
        nn.backend.set_floatx("float32")


def test_activity_regularizer_on_fused_output_is_refused():
    nn.utils.set_random_seed(0)
    m = nn.Sequential([nn.Input((4,)), nn.layers.Dense(3, activation="softmax",
                                                       activity_regularizer="l2")])
    m.compile(loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="activity_regularizer on a softmax/sigmoid output"):
        m.train_on_batch(np.ones((2, 4), "float32"), np.array([0, 1]))


def test_callback_arguments_of_keras_3():
    calls = []
    cb = nn.callbacks.LambdaCallback(None, lambda epoch, logs: calls.append((epoch, sorted(logs))))
    nn.callbacks.BackupAndRestore("/tmp/unused_backup_dir", double_checkpoint=True)
    with pytest.raises(TypeError, match="min_delta"):
        nn.callbacks.ReduceLROnPlateau(epsilon=1e-3)
    x, y = _data()
    m = _model(metrics=[nn.metrics.SparseTopKCategoricalAccuracy(k=2, name="top2")])
    es = nn.callbacks.EarlyStopping(monitor="loss", patience=0, start_from_epoch=1, baseline=None,
                                    restore_best_weights=True)
    m.fit(x, y, epochs=2, verbose=0, callbacks=[cb, es])
    assert calls == [(0, ["loss", "top2"]), (1, ["loss", "top2"])]
    mon = nn.callbacks.EarlyStopping(monitor="val_top2")
    mon.set_model(m)
    assert mon._decide_direction() == "max"  # from the metric's direction, as Keras


@pytest.fixture
def emulated():
    from nnscratch import backend

    old = backend.current()
    backend.set_backend("emulated")
    yield backend
    backend.set_backend(old)


def test_metrics_weights_and_regularizers_make_no_host_sync_in_a_step(emulated):
    """Every new metric, sample weights and regularizers keep a training step on the device."""
    from nnscratch.models.data_sources import make_source

    nn.backend.clear_session()  # metric names count per process, as Keras's: auc, auc_1, ...
    nn.utils.set_random_seed(0)
    m = nn.Sequential([nn.Input((6,)),
                       nn.layers.Dense(8, activation="relu", kernel_regularizer="l1_l2", bias_regularizer="l2",
                                       activity_regularizer="l2"),
                       nn.layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer="adam", loss="binary_crossentropy",
              metrics=["accuracy", nn.metrics.AUC(), nn.metrics.Precision(), nn.metrics.Recall(),
                       nn.metrics.AUC(curve="PR"), "mse"], weighted_metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 6)).astype("float32")
    y = rng.integers(0, 2, (16, 1)).astype("float32")
    src = make_source(m, x, y, sample_weight=rng.random(16), batch_size=16)
    metric_fns = m._metric_fns(src.y_shape)
    m.plan_backward()
    for _ in range(2):
        with emulated.expect_no_sync():
            loss, results = m.train_step(src.x, src.y, metric_fns, sample_weight=src.sw)
    assert emulated.is_device_array(loss) and len(results) == 7
    logs = m.evaluate(x, y, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "accuracy", "auc", "precision", "recall", "auc_1", "mse", "weighted_accuracy"}


def test_preprocessing_image_loads_a_png(tmp_path):
    PIL = pytest.importorskip("PIL.Image")
    pixels = (np.arange(4 * 6 * 3) % 256).astype("uint8").reshape(4, 6, 3)
    PIL.fromarray(pixels).save(tmp_path / "img.png")
    img = nn.preprocessing.image.load_img(str(tmp_path / "img.png"))
    arr = nn.preprocessing.image.img_to_array(img)
    assert arr.shape == (4, 6, 3) and arr.dtype == np.float32
    np.testing.assert_array_equal(arr, pixels.astype("float32"))
