"""Small helpers shared by the teaching notebooks (kept out of the notebooks to keep them short).

* ``SMALL``: True when the environment variable NNSCRATCH_NOTEBOOK_SMALL=1 is set (the test
  suite sets it); notebooks then use a few thousand images and one or two epochs.
* ``load_fashion_mnist(n_train, n_test)``: ``nn.datasets.fashion_mnist.load_data()`` when that
  module exists, else a tiny reader of the IDX files in /usr/share/datasets/fashion-mnist.
* ``plot``: ``nn.plot`` when it exists, else a minimal matplotlib stand-in with the same
  function names (so the notebooks run on a checkout that lacks it).
"""
from __future__ import annotations

import gzip
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np

SMALL = os.environ.get("NNSCRATCH_NOTEBOOK_SMALL", "") == "1"
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
IDX_DIR = Path(os.environ.get("NNSCRATCH_FASHION_MNIST", "/usr/share/datasets/fashion-mnist"))


def read_idx(path):
    """An IDX file (optionally .gz): magic 0x00 0x00 dtype ndim, ndim big-endian sizes, data."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (header {data[:4]!r})")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _load_idx_dir(d):
    names = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    missing = [n for n in names if not (d / n).exists()]
    if missing:
        raise FileNotFoundError(f"Fashion-MNIST not found in {d}: missing {', '.join(missing)}")
    x, y, xt, yt = (read_idx(d / n) for n in names)
    return (x, y), (xt, yt)


def load_fashion_mnist(n_train=None, n_test=None):
    """(x_train, y_train), (x_test, y_test) as uint8 arrays, optionally the first n of each."""
    try:
        from nnscratch.datasets import fashion_mnist

        (x, y), (xt, yt) = fashion_mnist.load_data()
    except ImportError:
        (x, y), (xt, yt) = _load_idx_dir(IDX_DIR)
    return (x[:n_train], y[:n_train]), (xt[:n_test], yt[:n_test])


# ---------------------------------------------------------------------- plotting stand-in
def _figure(w, h):
    from matplotlib.figure import Figure

    return Figure(figsize=(w, h))


def _history_dict(history):
    return history.history if hasattr(history, "history") else dict(history)


def _plot_history(history, path=None):
    h = _history_dict(history)
    metrics = [k for k in h if not k.startswith("val_")]
    fig = _figure(5 * len(metrics), 3.5)
    for i, m in enumerate(metrics):
        ax = fig.add_subplot(1, len(metrics), i + 1)
        ax.plot(range(1, len(h[m]) + 1), h[m], "o-", label="train")
        if f"val_{m}" in h:
            ax.plot(range(1, len(h[f"val_{m}"]) + 1), h[f"val_{m}"], "o-", label="validation")
        ax.set_xlabel("epoch"), ax.set_title(m), ax.legend()
    return fig


def _plot_samples(images, y_true, y_pred, class_names=None, n=25, path=None, data_format="channels_last"):
    images, y_true, y_pred = np.asarray(images)[:n], np.asarray(y_true)[:n], np.asarray(y_pred)[:n]
    if y_pred.ndim == 2:
        y_pred = y_pred.argmax(axis=1)
    cols = int(np.ceil(np.sqrt(len(images))))
    rows = int(np.ceil(len(images) / cols))
    fig = _figure(1.6 * cols, 1.8 * rows)
    for i, img in enumerate(images):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(img.squeeze(), cmap="gray")
        name = (lambda k: class_names[k] if class_names else str(k))
        ax.set_title(f"{name(int(y_pred[i]))} ({name(int(y_true[i]))})", fontsize=7,
                     color="tab:red" if y_pred[i] != y_true[i] else "black")
        ax.axis("off")
    return fig


def _plot_confusion_matrix(y_true, y_pred, class_names=None, normalize=False, path=None, num_classes=None):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    k = num_classes or int(max(y_true.max(), y_pred.max())) + 1
    m = np.zeros((k, k), dtype=np.int64)
    np.add.at(m, (y_true, y_pred), 1)
    fig = _figure(6, 5)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(m, cmap="Blues")
    ax.set_xlabel("predicted"), ax.set_ylabel("true")
    if class_names:
        ax.set_xticks(range(k), class_names, rotation=90, fontsize=7)
        ax.set_yticks(range(k), class_names, fontsize=7)
    return fig


def _plot_filters(layer_or_kernel, path=None):
    k = layer_or_kernel.get_weights()[0] if hasattr(layer_or_kernel, "get_weights") else np.asarray(layer_or_kernel)
    F = k.shape[-1]
    fig = _figure(1.2 * F, 1.4)
    for f in range(F):
        ax = fig.add_subplot(1, F, f + 1)
        ax.imshow(k[:, :, :, f].mean(axis=2), cmap="gray")
        ax.axis("off")
    return fig


def _plot_feature_maps(model, image, path=None, max_maps=16):
    import nnscratch as nn

    h = nn.backend.to_device(np.asarray(image, dtype="float32").reshape((1,) + model.input_shape[1:]))
    maps = []
    for layer in model.layers:
        h = layer(h)
        if h.ndim == 4:
            maps.append((layer.name, nn.backend.to_host(h)[0]))
    cols = max(min(max_maps, m.shape[-1]) for _, m in maps)
    fig = _figure(1.2 * cols, 1.3 * len(maps))
    for r, (name, m) in enumerate(maps):
        for c in range(min(max_maps, m.shape[-1])):
            ax = fig.add_subplot(len(maps), cols, r * cols + c + 1)
            ax.imshow(m[:, :, c], cmap="viridis")
            ax.axis("off")
            if c == 0:
                ax.set_title(name, fontsize=7, loc="left")
    return fig


def _optimizer_path(optimizer, grad_fn, start, steps=100):
    import nnscratch as nn

    point = nn.backend.to_device(np.array(start, dtype="float64"), dtype=nn.backend.floatx())
    path = [nn.backend.to_host(point).copy()]
    for _ in range(steps):
        optimizer.apply([grad_fn(point)], [point])
        path.append(nn.backend.to_host(point).copy())
    return np.array(path)


def _plot_optimizer_paths(loss_fn, grad_fn, optimizers, start, steps=100, path=None, xlim=None, ylim=None,
                          minimum=None):
    paths = {name: _optimizer_path(opt, grad_fn, start, steps) for name, opt in optimizers.items()}
    fig = _figure(6, 5)
    ax = fig.add_subplot(1, 1, 1)
    xlim = xlim or (-10, 10)
    ylim = ylim or (-5, 5)
    X, Y = np.meshgrid(np.linspace(*xlim, 200), np.linspace(*ylim, 200))
    ax.contour(X, Y, loss_fn(np.stack([X, Y])), levels=30, cmap="gray", alpha=0.5)
    for name, p in paths.items():
        ax.plot(p[:, 0], p[:, 1], ".-", label=name, markersize=3)
    ax.legend()
    fig.nn_data = {"paths": paths}
    return fig


def elongated_bowl(p):
    """f = x^2 / 20 + y^2: twenty times steeper along y than along x."""
    return p[0] ** 2 / 20.0 + p[1] ** 2


def elongated_bowl_grad(p):
    """(df/dx, df/dy) = (x / 10, 2 y)."""
    return np.stack([p[0] / 10.0, 2.0 * p[1]])


def _get_plot():
    try:
        from nnscratch import plot as nn_plot

        return nn_plot
    except ImportError:
        return SimpleNamespace(
            plot_history=_plot_history, plot_samples=_plot_samples, plot_confusion_matrix=_plot_confusion_matrix,
            plot_filters=_plot_filters, plot_feature_maps=_plot_feature_maps,
            plot_optimizer_paths=_plot_optimizer_paths, optimizer_path=_optimizer_path,
            elongated_bowl=elongated_bowl, elongated_bowl_grad=elongated_bowl_grad,
        )


plot = _get_plot()
