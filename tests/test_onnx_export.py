"""ONNX export (issue 15): every layer nnscratch has, exported with model.export(format='onnx'),
checked by onnx.checker and run by onnxruntime, matches model.predict in float32."""
import numpy as np
import pytest

import nnscratch as nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
L = nn.layers


def seq(shape, *layers):
    return lambda: nn.Sequential([nn.Input(shape), *layers])


def branch_model():
    a, b = nn.Input((5,), name="a"), nn.Input((5,), name="b")
    h = L.Dense(4, activation="tanh")(a)
    k = L.Dense(4)(b)
    s = L.Subtract()([h, k])
    m = L.Multiply()([h, k])
    v = L.Average()([s, m, h])
    c = L.Concatenate(axis=1)([L.Add()([s, m]), v])
    return nn.Model([a, b], [L.Dense(3, activation="softmax")(c), s])


def cnn_branches():
    x = nn.Input((9, 8, 3))
    h = L.Conv2D(4, 3, padding="same", activation="relu")(x)
    g = L.GlobalAveragePooling2D()(h)
    m = L.GlobalMaxPooling2D()(L.MaxPooling2D(2)(h))
    return nn.Model(x, L.Dense(2)(L.Concatenate()([g, m])))


CASES = {
    "dense+activations": seq((6,), L.Dense(5, activation="relu"), L.Dense(5, activation="sigmoid"),
                             L.Dense(5, activation="tanh"), L.Dense(5, activation="elu"), L.Dense(5, activation="softplus"),
                             L.Dense(5, activation="leaky_relu"), L.Dense(4, activation="softmax", use_bias=False)),
    "conv valid": seq((8, 7, 2), L.Conv2D(3, (3, 2), strides=(2, 1), activation="relu"), L.Flatten()),
    "conv same asymmetric": seq((7, 8, 2), L.Conv2D(3, 4, strides=2, padding="same"), L.Flatten()),
    "conv same dilated": seq((9, 9, 2), L.Conv2D(2, 3, dilation_rate=2, padding="same"), L.Flatten()),
    "conv channels_first": seq((2, 7, 6), L.Conv2D(3, 3, strides=2, padding="same", data_format="channels_first"),
                               L.MaxPooling2D(2, padding="same", data_format="channels_first"),
                               L.Flatten(data_format="channels_first")),
    "pooling same": seq((7, 7, 3), L.MaxPooling2D(3, strides=2, padding="same"),
                        L.AveragePooling2D(2, strides=1, padding="same"), L.Flatten()),
    "pooling valid": seq((8, 9, 3), L.AveragePooling2D(2), L.MaxPooling2D((2, 3), strides=(1, 2)), L.Flatten()),
    "avg pool channels_first same": seq((3, 7, 7), L.AveragePooling2D(3, strides=2, padding="same",
                                                                      data_format="channels_first"), L.Flatten()),
    "batchnorm last": seq((6, 6, 3), L.BatchNormalization(), L.Flatten()),
    "batchnorm axis 1 no center/scale": seq((3, 4), L.BatchNormalization(axis=1, center=False, scale=False), L.Flatten()),
    "dropout reshape zeropad": seq((12,), L.Dropout(0.5), L.Reshape((2, 3, 2)), L.ZeroPadding2D(((1, 0), (2, 1))),
                                   L.Flatten()),
    "zeropad channels_first": seq((2, 3, 3), L.ZeroPadding2D(1, data_format="channels_first"), L.Reshape((-1,))),
    "relu layers": seq((10,), L.ReLU(max_value=0.5), L.Dense(6), L.ReLU(negative_slope=0.1, threshold=0.2),
                       L.LeakyReLU(0.3), L.Activation("tanh"), L.Softmax()),
    "global pooling keepdims": seq((5, 4, 3), L.GlobalAveragePooling2D(keepdims=True), L.Flatten()),
    "global max channels_first": seq((3, 5, 4), L.GlobalMaxPooling2D(data_format="channels_first")),
    "merges, two inputs, two outputs": branch_model,
    "cnn branches": cnn_branches,
}


def _randomise(model, seed):
    gen = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.weights:  # BatchNormalization gets non-trivial statistics too
            layer.set_weights([gen.uniform(0.5, 1.5, w.shape).astype("float32") if "variance" in n
                               else gen.standard_normal(w.shape).astype("float32")
                               for n, w in zip(layer.weight_names, layer.get_weights())])


@pytest.mark.parametrize("case", list(CASES))
def test_onnxruntime_matches_predict(tmp_path, case):
    nn.utils.set_random_seed(0)
    model = CASES[case]()
    _randomise(model, 1)
    gen = np.random.default_rng(2)
    inputs = model.inputs if hasattr(model, "_nodes") else None
    shapes = [t.shape[1:] for t in inputs] if inputs else [model.input_shape[1:]]
    xs = [gen.standard_normal((4,) + tuple(s)).astype("float32") for s in shapes]
    path = tmp_path / "net.onnx"
    model.export(path, format="onnx")
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {i.name: x for i, x in zip(sess.get_inputs(), xs)}
    got = sess.run(None, feed)
    want = model.predict(xs if len(xs) > 1 else xs[0])
    want = want if isinstance(want, list) else [want]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == np.float32 and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


def test_a_layer_without_an_onnx_form_is_named(tmp_path):
    class Twice(nn.layers.Layer):
        def forward(self, x, training=False):
            return 2 * x

        def backward(self, dy):
            return 2 * dy
    model = nn.Sequential([nn.Input((3,)), L.Dense(2), Twice(name="twice")])
    with pytest.raises(ValueError, match=r"layer 'twice' \(Twice\) has no ONNX form"):
        model.export(tmp_path / "x.onnx", format="onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_other_export_formats_are_refused_clearly(tmp_path):
    model = nn.Sequential([nn.Input((3,)), L.Dense(2)])
    with pytest.raises(ValueError, match="format 'tf_saved_model' is not supported.*format='onnx'"):
        model.export(tmp_path / "m", format="tf_saved_model")


@pytest.mark.parametrize("kind", ["functional", "sequential"])
def test_nested_models_export_and_match_predict(tmp_path, kind):
    """A model used as a layer (Sequential([model, Softmax()]) and model(x) in a graph) is inlined."""
    import onnxruntime as ort

    base = nn.Sequential([nn.Input((4,)), nn.layers.Dense(5, activation="relu"), nn.layers.Dense(3)])
    if kind == "functional":
        x = nn.Input((4,))
        model = nn.Model(x, nn.layers.Softmax()(nn.layers.add([base(x), nn.layers.Dense(3)(x)])))
    else:
        model = nn.Sequential([base, nn.layers.Softmax()])
    path = str(tmp_path / "nested.onnx")
    model.export(path, format="onnx")
    xs = np.random.default_rng(0).random((6, 4)).astype("float32")
    session = ort.InferenceSession(path)
    out = session.run(None, {session.get_inputs()[0].name: xs})[0]
    np.testing.assert_allclose(out, model.predict(xs, verbose=0), rtol=1e-5, atol=1e-6)
