"""The gradient check on the measured scenarios of issue 19: a correct LeNet on real
Fashion-MNIST images (black pixels and zero biases put pre-activations exactly on ReLU's kink)
passes, a wrong backward still fails, and a wrong parameter-free layer is named."""
import numpy as np
import pytest

import nnscratch as nn
from nnscratch.layers import Conv2D, Dense, Flatten, MaxPooling2D


def lenet(extra=None, seed=1):
    """Notebook 4's LeNet; ``extra`` (a layer) is inserted after the first Dense."""
    nn.utils.set_random_seed(seed)
    layers = [nn.Input((28, 28, 1)), Conv2D(6, 5, padding="same", activation="relu"), MaxPooling2D(2),
              Conv2D(16, 5, activation="relu"), MaxPooling2D(2), Flatten(), Dense(120, activation=None if extra else "relu")]
    if extra is not None:
        layers.append(extra)
    layers += [Dense(84, activation="relu"), Dense(10, activation="softmax")]
    model = nn.Sequential(layers)
    model.compile(nn.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    return model


@pytest.fixture(scope="module")
def real_images():
    (x, y), _ = nn.datasets.fashion_mnist.load_data()
    return x[:4, ..., None].astype("float32") / 255.0, y[:4]


class MyLeakyReLU(nn.layers.Layer):
    """A student's LeakyReLU; ``wrong=True`` forgets the slope on the negative side."""

    def __init__(self, slope=0.1, wrong=False, **kwargs):
        super().__init__(**kwargs)
        self.slope, self.wrong = slope, wrong

    def forward(self, x, training=False):
        self.cache = {"x": x}
        return np.where(x > 0, x, self.slope * x)

    def backward(self, dy):
        x = self.cache["x"]
        return dy * np.where(x > 0, 1.0, 1.0 if self.wrong else self.slope)


def test_correct_lenet_on_real_images_passes_and_reports_the_kinks_apart(real_images):
    x, y = real_images
    assert (x == 0).mean() > 0.3  # the scenario: many black pixels
    result = nn.debug.gradient_check(lenet(), x, y)
    assert result.passed, result.report()
    assert "x" in result.left_out and "ReLU kink" in result.left_out["x"], result.left_out
    assert "were left out" in result.report() and "WRONG" not in result.report()
    assert result.culprit is None


def test_kinks_are_not_hidden_from_a_wrong_backward(real_images):
    x, y = real_images
    model = lenet()
    model.build((None, 28, 28, 1))
    conv = model.layers[2]  # the second convolution: its kernel gradient is doubled
    original = type(conv).backward

    def backward(dy):
        dx = original(conv, dy)
        conv.grads["kernel"] = conv.grads["kernel"] * 2.0
        return dx

    conv.backward = backward
    result = nn.debug.gradient_check(model, x, y)
    assert not result.passed
    assert result[f"{conv.name}/kernel"] > 0.1, result.report()
    assert result.culprit.startswith(f"layer '{conv.name}' (Conv2D): kernel wrong"), result.culprit


def test_a_wrong_parameter_free_layer_is_named_by_the_model_check(real_images):
    x, y = real_images
    model = lenet(extra=MyLeakyReLU(wrong=True, name="leaky"))
    result = nn.debug.gradient_check(model, x, y)
    assert not result.passed
    assert result.culprit.startswith("layer 'leaky' (MyLeakyReLU): dx wrong,"), result.report()
    assert result.culprit.endswith("check it alone with gradient_check(layer, x)")
    assert result.report().splitlines()[-1] == result.culprit
    # the layers above the bug check out alone; so does the same layer written right
    assert result.layers[model.layers[-1].name].passed and result.layers[model.layers[-2].name].passed
    assert nn.debug.gradient_check(lenet(extra=MyLeakyReLU(name="leaky")), x, y).passed


def test_layer_check_leaves_out_relu_zeros_and_still_catches_a_wrong_relu():
    x = np.array([[0.0, 1.0, -2.0, 0.0, 3.0, -1.0]] * 3)
    relu = nn.layers.ReLU()
    result = nn.debug.gradient_check(relu, x)
    assert result.passed and "6 of 18" in result.left_out["x"], (result, result.left_out)
    wrong = MyLeakyReLU(slope=0.1, wrong=True)
    res = nn.debug.gradient_check(wrong, x)
    assert not res.passed and res["x"] > 0.1
    assert "custom layer" in res.left_out["x"]


def test_mae_at_zero_and_the_clip_are_kinks_for_the_loss_check():
    y_true = np.array([[0.5, 0.2], [0.1, 0.9]])
    result = nn.debug.gradient_check(nn.losses.MeanAbsoluteError(), y_true.copy(), y_true)
    assert result.left_out["y_pred"].startswith("4 of 4 tried coordinates crossed MAE's kink")
    assert result["y_pred"] != result["y_pred"]  # nan: unchecked, not an error
    p = np.array([[1.0, 0.0, 0.0], [0.2, 0.3, 0.5]])
    res = nn.debug.gradient_check(nn.losses.CategoricalCrossentropy(), p, np.eye(3)[[0, 2]])
    assert "clip" in res.left_out["y_pred"] and res.passed, (res, res.left_out)


@pytest.mark.parametrize("layer", [nn.layers.MaxPooling2D(2, padding="same"), nn.layers.MaxPooling2D(3, strides=2),
                                   nn.layers.GlobalMaxPooling2D()], ids=lambda l: type(l).__name__)
def test_max_pooling_ties_are_left_out_not_called_wrong(layer):
    x = np.zeros((2, 5, 5, 1))  # every window ties
    x[0, 0, 0, 0] = 1.0
    result = nn.debug.gradient_check(layer, x)
    assert result.passed, (result, result.left_out)
    assert "max-pooling tie" in result.left_out["x"]


def test_relu6_max_value_is_a_kink_and_activation_relu_too():
    x = np.array([[0.0, 1.0, -2.0, 6.0, 3.0, 7.0]] * 2)
    result = nn.debug.gradient_check(nn.layers.ReLU(max_value=6.0), x)
    assert result.passed and "max_value kink" in result.left_out["x"], result.left_out
    result = nn.debug.gradient_check(nn.layers.Activation("relu"), x)
    assert result.passed and result.left_out["x"].startswith("2 of 12 tried"), result.left_out


def test_the_html_report_shows_kinks_as_unchecked_and_the_trace_flags():
    nn.utils.set_random_seed(0)
    model = nn.Sequential([nn.Input((8, 8, 1)), Conv2D(2, 3, activation="relu"), Flatten(),
                           Dense(3, activation="softmax")])
    model.compile(nn.optimizers.SGD(5.0), "sparse_categorical_crossentropy")
    x = np.zeros((2, 8, 8, 1), "float32")
    x[:, 2:5, 2:5] = 200.0  # black background, unscaled
    y = np.array([0, 1])
    check = nn.debug.gradient_check(model, x, y)
    bias = f"{model.layers[0].name}/bias"
    assert check[bias] != check[bias]  # every bias coordinate sits on a kink
    with nn.debug.trace(model) as tr:
        model.train_on_batch(x, y)
    html = nn.debug.html_report.render_trace(tr, gradcheck=check)
    assert "FAILED" not in html and "unchecked" in html and "were left out" in html
    assert "flag S: inputs up to 200: not scaled?" in html
