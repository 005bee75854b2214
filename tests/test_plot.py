"""nn.plot: every figure renders to a real PNG and draws exactly the data it was given."""
import os

import numpy as np
import pytest
from matplotlib.colors import to_rgba
from PIL import Image

import nnscratch as nn
from nnscratch import plot


def assert_png(path, min_side=200):
    """A real, non-trivial PNG: Pillow decodes it, it is big enough and not one flat colour."""
    assert os.path.isfile(path), f"{path} was not written"
    assert os.path.getsize(path) > 2000, f"{path} is suspiciously small"
    with Image.open(path) as img:
        assert img.format == "PNG"
        assert min(img.size) >= min_side, f"{path} is only {img.size}"
        pixels = np.asarray(img.convert("L"), dtype=np.float64)
    assert pixels.std() > 1.0, f"{path} is a blank image"
    leftovers = [f for f in os.listdir(os.path.dirname(path)) if f.startswith((".tmp-", ".nnscratch-tmp-"))]
    assert leftovers == [], f"temporary files left behind: {leftovers}"


# ----------------------------------------------------------------------------- history
def test_history_curves_are_the_input_lists(tmp_path):
    hist = {"loss": [1.5, 0.9, 0.7], "accuracy": [0.4, 0.6, 0.7],
            "val_loss": [1.2, 1.0, 0.95], "val_accuracy": [0.5, 0.55, 0.6]}
    out = tmp_path / "curves.png"
    fig = plot.plot_history(hist, path=out)
    assert_png(str(out))
    loss_ax, acc_ax = fig.axes[:2]
    assert loss_ax.get_title() == "loss" and acc_ax.get_title() == "accuracy"
    for ax, key in ((loss_ax, "loss"), (acc_ax, "accuracy")):
        train, val = ax.lines
        np.testing.assert_array_equal(train.get_ydata(), hist[key], err_msg=f"train {key}")
        np.testing.assert_array_equal(val.get_ydata(), hist["val_" + key], err_msg=f"val {key}")
        np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3])
    assert fig.nn_data["loss"]["train"] == hist["loss"]


def test_history_object_without_validation(tmp_path):
    class History:  # the shape of what model.fit returns
        history = {"loss": [0.5, 0.25]}

    fig = plot.plot_history(History(), path=tmp_path / "h.png")
    assert_png(str(tmp_path / "h.png"))
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 1
    assert fig.nn_data["loss"]["val"] is None


def test_history_per_step_curve_spans_the_epochs(tmp_path):
    steps = {"loss": [2.0, 1.5, 1.2, 1.0, 0.9, 0.8], "accuracy": [0.1, 0.3, 0.4, 0.5, 0.55, 0.6]}
    fig = plot.plot_history({"loss": [1.0, 0.8], "accuracy": [0.5, 0.6]}, batch_history=steps,
                            path=tmp_path / "h.png")
    assert_png(str(tmp_path / "h.png"))
    per_step = [line for line in fig.axes[0].lines if line.get_label().endswith("per step)")]
    assert len(per_step) == 1
    np.testing.assert_array_equal(per_step[0].get_ydata(), steps["loss"])
    # 6 steps over 2 epochs: step i ends at epoch i/3
    np.testing.assert_allclose(per_step[0].get_xdata(), np.arange(1, 7) / 3)
    assert fig.nn_data["accuracy"]["batches"] == steps["accuracy"]


@pytest.mark.parametrize("bad, exc", [({}, ValueError), ([0.1, 0.2], TypeError)])
def test_history_bad_input(bad, exc):
    with pytest.raises(exc):
        plot.plot_history(bad)


# ----------------------------------------------------------------------------- samples
@pytest.mark.parametrize("shape, data_format", [
    ((12, 28, 28), "channels_last"), ((12, 28, 28, 1), "channels_last"),
    ((12, 32, 32, 3), "channels_last"), ((12, 3, 32, 32), "channels_first")])
def test_samples_mark_exactly_the_wrong_ones(tmp_path, shape, data_format):
    rng = np.random.default_rng(1)
    images = rng.random(shape).astype(np.float32)
    y_true = rng.integers(0, 10, 12)
    y_pred = y_true.copy()
    y_pred[[2, 3, 9]] = (y_true[[2, 3, 9]] + 1) % 10
    out = tmp_path / "samples.png"
    fig = plot.plot_samples(images, y_true, y_pred, class_names=[f"c{i}" for i in range(10)],
                            n=10, path=out, data_format=data_format)
    assert_png(str(out))
    expected_wrong = np.flatnonzero(y_true[:10] != y_pred[:10]).tolist()
    assert fig.nn_data["wrong"] == expected_wrong == [2, 3, 9]
    image_axes = [ax for ax in fig.axes if ax.images]
    assert len(image_axes) == 10
    red = to_rgba(plot.WRONG_COLOR)
    marked = [i for i, ax in enumerate(image_axes) if to_rgba(ax.title.get_color()) == red]
    assert marked == expected_wrong
    assert image_axes[2].get_title() == f"c{y_pred[2]} (c{y_true[2]})"


def test_samples_accept_scores_and_reject_mismatch():
    images = np.zeros((4, 8, 8))
    scores = np.eye(4)[[0, 1, 3, 3]]  # argmax 0, 1, 3, 3
    fig = plot.plot_samples(images, [0, 1, 2, 3], scores)
    assert fig.nn_data["wrong"] == [2]
    with pytest.raises(ValueError, match="3 y_true"):
        plot.plot_samples(images, [0, 1, 2], [0, 1, 2, 3])
    with pytest.raises(ValueError, match="shape"):
        plot.plot_samples(np.zeros((4, 8, 8, 2)), [0] * 4, [0] * 4)


# ----------------------------------------------------------------------------- confusion matrix
def test_confusion_matrix_hand_computed():
    y_true = [0, 0, 1, 2, 2, 2]
    y_pred = [0, 1, 1, 2, 0, 2]
    expected = np.array([[1, 1, 0],
                         [0, 1, 0],
                         [1, 0, 2]])
    np.testing.assert_array_equal(plot.confusion_matrix(y_true, y_pred, 3), expected)
    # one-hot / score inputs are reduced with argmax
    np.testing.assert_array_equal(plot.confusion_matrix(np.eye(3)[y_true], np.eye(3)[y_pred], 3),
                                  expected)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        plot.confusion_matrix(y_true, y_pred, 2)


def test_plot_confusion_matrix_normalized(tmp_path):
    y_true = [0, 0, 1, 2, 2, 2, 2]
    y_pred = [0, 1, 1, 2, 0, 2, 2]
    out = tmp_path / "cm.png"
    fig = plot.plot_confusion_matrix(y_true, y_pred, class_names=["a", "b", "c", "d"],
                                     normalize=True, path=out)
    assert_png(str(out))
    counts, matrix = fig.nn_data["counts"], fig.nn_data["matrix"]
    assert counts.shape == (4, 4) and counts.sum() == 7
    np.testing.assert_allclose(matrix[0], [0.5, 0.5, 0, 0])
    np.testing.assert_allclose(matrix[2], [0.25, 0, 0.75, 0])
    np.testing.assert_array_equal(matrix[3], 0)  # class 'd' never occurs: row stays 0
    assert fig.axes[0].images[0].get_array().shape == (4, 4)


# ----------------------------------------------------------------------------- filters
@pytest.mark.parametrize("c_in", [1, 2, 3])
def test_filter_tiles_are_kernel_slices(tmp_path, c_in):
    kernel = np.random.default_rng(2).normal(size=(5, 5, c_in, 6))
    out = tmp_path / "filters.png"
    fig = plot.plot_filters(kernel, path=out)
    assert_png(str(out))
    tiles = fig.nn_data["tiles"]
    assert len(tiles) == 6
    for f, tile in enumerate(tiles):
        w = kernel[:, :, :, f]
        want = (w - w.min()) / (w.max() - w.min()) if c_in == 3 else w.mean(axis=2)
        np.testing.assert_allclose(tile, want, err_msg=f"filter {f}")
    drawn = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    np.testing.assert_allclose(drawn[4], tiles[4])


def test_filters_from_a_layer_and_bad_shapes():
    layer = nn.layers.Conv2D(4, 3)
    layer(np.zeros((1, 8, 8, 1), dtype=np.float32))
    fig = plot.plot_filters(layer)
    np.testing.assert_allclose(fig.nn_data["tiles"][3], nn.backend.to_host(layer.params["kernel"])[:, :, 0, 3])
    with pytest.raises(ValueError, match=r"\(KH, KW, C_in, C_out\)"):
        plot.plot_filters(np.zeros((3, 3, 4)))


# ----------------------------------------------------------------------------- feature maps
def test_feature_maps_follow_the_model(tmp_path):
    nn.utils.set_random_seed(0)
    model = nn.Sequential([
        nn.layers.Conv2D(3, 3, activation="relu", input_shape=(12, 12, 1)),
        nn.layers.MaxPooling2D(2),
        nn.layers.Flatten(),
        nn.layers.Dense(4),
    ])
    image = np.random.default_rng(3).random((12, 12)).astype(np.float32)
    out = tmp_path / "maps.png"
    fig = plot.plot_feature_maps(model, image, path=out, max_maps=2)
    assert_png(str(out), min_side=100)
    assert fig.nn_data["layers"] == [model.layers[0].name, model.layers[1].name]
    conv_maps, pool_maps = fig.nn_data["maps"]
    assert conv_maps.shape == (2, 10, 10) and pool_maps.shape == (2, 5, 5)  # max_maps=2 of 3
    full = nn.backend.to_host(model.layers[0](image[None, :, :, None]))[0]
    np.testing.assert_allclose(conv_maps, full.transpose(2, 0, 1)[:2], rtol=1e-6)
    by_hand = conv_maps.reshape(2, 5, 2, 5, 2).max(axis=(2, 4))  # 2x2 max pooling
    np.testing.assert_allclose(pool_maps, by_hand, rtol=1e-6)


# ----------------------------------------------------------------------------- optimizer paths
@pytest.mark.parametrize("name", sorted(plot.SURFACES))
def test_surface_gradients_match_finite_differences(name):
    f, grad, start, _, _, minimum = plot.SURFACES[name]
    h = 1e-6
    for p in (np.array(start, float), np.array([0.3, -0.7]), np.array([1.2, 0.4])):
        numeric = [(f(p + h * e) - f(p - h * e)) / (2 * h) for e in np.eye(2)]
        np.testing.assert_allclose(grad(p), numeric, rtol=1e-5, atol=1e-5, err_msg=f"{name} at {p}")
    assert f(np.array(minimum)) == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(grad(np.array(minimum)), 0.0, atol=1e-12)


def test_sgd_path_on_the_bowl_is_geometric(tmp_path):
    # f = x^2/20 + y^2: one SGD step multiplies x by (1 - lr/10) and y by (1 - 2 lr).
    lr, steps, start = 0.1, 30, (-7.0, 2.0)
    out = tmp_path / "paths.png"
    fig = plot.plot_optimizer_paths(
        plot.elongated_bowl, plot.elongated_bowl_grad,
        {"SGD": nn.optimizers.SGD(learning_rate=lr), "Adam": nn.optimizers.Adam(learning_rate=0.3)},
        start, steps=steps, path=out, minimum=(0, 0))
    assert_png(str(out))
    path = fig.nn_data["paths"]["SGD"]
    k = np.arange(steps + 1)
    want = np.stack([start[0] * (1 - lr / 10) ** k, start[1] * (1 - 2 * lr) ** k], axis=1)
    np.testing.assert_allclose(path, want, rtol=1e-5, atol=1e-6)
    drawn = fig.axes[0].lines[0]
    np.testing.assert_allclose(drawn.get_xdata(), path[:, 0])
    adam = fig.nn_data["paths"]["Adam"]
    assert adam.shape == (steps + 1, 2)
    # Adam's first step moves each coordinate by about lr against the sign of its gradient
    np.testing.assert_allclose(adam[1] - adam[0], [0.3, -0.3], rtol=1e-3)
