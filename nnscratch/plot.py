"""Pictures of what a network learned: curves, samples, confusion matrices, filters, paths.

Every function here builds a :class:`matplotlib.figure.Figure` directly (no ``pyplot``), so
nothing touches pyplot's global "current figure" state, nothing needs a display, and there is
nothing to close: the figure is an ordinary object that is freed when you drop it. In a Jupyter
notebook a returned figure shows itself; in a script pass ``path=`` and a PNG is written
atomically (a temporary file in the same directory, then ``os.replace``), so a crash never leaves
half an image behind.

Each figure also carries the numbers it drew in ``fig.nn_data`` (a dict), so a test, or a
curious reader, can check the picture against the data without reading pixels::

    fig = nn.plot.plot_history(history, path="curves.png")
    fig.nn_data["loss"]["train"]          # the exact list that was drawn

This is a host-side module: it works on NumPy arrays and brings device (CuPy) arrays back with
``backend.to_host`` first.
"""
from __future__ import annotations

import math
import os
import tempfile

import numpy as np

from nnscratch import backend

__all__ = [
    "plot_history", "plot_samples", "confusion_matrix", "plot_confusion_matrix",
    "plot_filters", "plot_feature_maps", "plot_optimizer_paths", "optimizer_path",
    "rosenbrock", "rosenbrock_grad", "beale", "beale_grad", "elongated_bowl",
    "elongated_bowl_grad", "SURFACES",
]

WRONG_COLOR = "tab:red"
RIGHT_COLOR = "tab:green"


# ----------------------------------------------------------------------------- helpers
def _new_figure(width, height):
    """A pyplot-free Figure (matplotlib is imported here, only when a plot is asked for)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _finish(fig, data, path):
    """Attach the drawn data and, if ``path`` is given, write the PNG atomically."""
    fig.nn_data = data
    if path is not None:
        save_figure(fig, path)
    return fig


def save_figure(fig, path, dpi=100):
    """Write ``fig`` as a PNG to ``path``: temp file in the same directory, fsync, os.replace."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot write plot {path!r}: directory {directory!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".png", dir=directory)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the PNG normal permissions
        with os.fdopen(fd, "wb") as fh:
            fig.savefig(fh, format="png", dpi=dpi)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def _grid(n):
    """(rows, cols) of a near-square grid holding n tiles."""
    cols = max(1, math.ceil(math.sqrt(n)))
    return math.ceil(n / cols), cols


def _labels(y, name):
    """Integer class labels from labels (N,), (N, 1) or scores/one-hot (N, C) -> argmax."""
    y = backend.to_host(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1)
    y = y.reshape(-1)
    if y.size and not np.all(np.equal(np.mod(y, 1), 0)):
        raise ValueError(f"{name} must hold integer class labels or (N, C) scores; got non-integers")
    return y.astype(np.int64)


def _blank(ax):
    ax.set_xticks([])
    ax.set_yticks([])


# ----------------------------------------------------------------------------- learning curves
def plot_history(history, path=None, batch_history=None):
    """Learning curves: one panel per metric (loss, accuracy, ...), train and validation.

    ``history`` is the ``History`` object returned by ``model.fit`` or its ``.history`` dict
    (``{'loss': [...], 'val_loss': [...], 'accuracy': [...], ...}``). A ``val_`` curve is drawn
    only when its key is present. ``batch_history`` (optional, same keys, one value per training
    step, e.g. the batch logs of ``fit``) adds a thin per-step curve at fractional epochs, which
    makes a one-epoch run readable. ``fig.nn_data[metric] = {'epochs', 'train', 'val', 'batches'}``.
    """
    from matplotlib.ticker import MaxNLocator

    hist = getattr(history, "history", history)
    if not isinstance(hist, dict):
        raise TypeError(f"plot_history expects a History or a dict, got {type(history).__name__}")
    metrics = [k for k in hist if not k.startswith("val_")]
    metrics += [k[4:] for k in hist if k.startswith("val_") and k[4:] not in hist]
    if not metrics:
        raise ValueError("plot_history: the history is empty (no 'loss' or metric keys)")
    metrics.sort(key=lambda k: (k != "loss", k))  # loss first
    fig = _new_figure(4.5 * len(metrics), 3.5)
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    data = {}
    for ax, metric in zip(axes, metrics):
        train = [float(v) for v in hist.get(metric, [])]
        val = [float(v) for v in hist.get("val_" + metric, [])]
        n = max(len(train), len(val))
        for label, ys, style in (("train", train, "o-"), ("validation", val, "s--")):
            if ys:
                ax.plot(range(1, len(ys) + 1), ys, style, label=label)
        steps = [float(v) for v in (batch_history or {}).get(metric, [])]
        if steps and n:
            x = np.arange(1, len(steps) + 1) * (n / len(steps))  # step i ends at epoch i*n/steps
            ax.plot(x, steps, "-", color="tab:blue", alpha=0.35, linewidth=1,
                    label="train (epoch running mean, per step)")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(metric)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
        data[metric] = {"epochs": list(range(1, n + 1)), "train": train, "val": val or None,
                        "batches": steps or None}
    return _finish(fig, data, path)


# ----------------------------------------------------------------------------- sample images
def _as_hwc_images(images, data_format):
    """(N, H, W), (N, H, W, 1|3) or NCHW -> (N, H, W) or (N, H, W, 3) host array for imshow."""
    x = backend.to_host(images)
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    if x.ndim == 4 and data_format == "channels_first":
        x = x.transpose(0, 2, 3, 1)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim == 3 or (x.ndim == 4 and x.shape[-1] == 3):
        if x.ndim == 4 and x.dtype.kind == "f":  # RGB floats must lie in [0, 1] for imshow
            x = x / 255.0 if x.max() > 1.0 else x
            x = np.clip(x, 0.0, 1.0)
        return x
    raise ValueError(
        "images must have shape (N, H, W), (N, H, W, 1) or (N, H, W, 3) "
        f"(or (N, C, H, W) with data_format='channels_first'); got {x.shape}")


def plot_samples(images, y_true, y_pred, class_names=None, n=25, path=None,
                 data_format="channels_last"):
    """A grid of the first ``n`` images titled "predicted (true)"; wrong ones in red with a red frame.

    ``y_pred`` may be labels or the model's (N, C) scores (argmax is taken).
    ``fig.nn_data = {'indices', 'y_true', 'y_pred', 'wrong'}`` with ``wrong`` the indices where
    the prediction differs from the truth.
    """
    x = _as_hwc_images(images, data_format)
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if not (len(x) == len(t) == len(p)):
        raise ValueError(f"plot_samples: {len(x)} images, {len(t)} y_true, {len(p)} y_pred; must match")
    count = min(int(n), len(x))
    if count < 1:
        raise ValueError("plot_samples: nothing to show (n < 1 or no images)")
    name = (lambda c: str(class_names[c])) if class_names is not None else str
    rows, cols = _grid(count)
    fig = _new_figure(1.7 * cols, 1.9 * rows)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    wrong = []
    for i, ax in enumerate(axes):
        _blank(ax)
        if i >= count:
            ax.set_axis_off()
            continue
        ax.imshow(x[i], cmap="gray" if x[i].ndim == 2 else None)
        bad = bool(t[i] != p[i])
        color = WRONG_COLOR if bad else RIGHT_COLOR
        ax.set_title(f"{name(p[i])} ({name(t[i])})", color=color, fontsize=8)
        for spine in ax.spines.values():
            spine.set_edgecolor(color)
            spine.set_linewidth(2.5 if bad else 1.0)
        if bad:
            wrong.append(i)
    fig.suptitle(f"predicted (true): {len(wrong)} of {count} wrong", fontsize=10)
    data = {"indices": list(range(count)), "y_true": t[:count].tolist(),
            "y_pred": p[:count].tolist(), "wrong": wrong}
    return _finish(fig, data, path)


# ----------------------------------------------------------------------------- confusion matrix
def confusion_matrix(y_true, y_pred, num_classes):
    """Counts ``cm[i, j]`` = number of samples of true class ``i`` predicted as class ``j``.

    Rows are the truth and columns the prediction (the Keras/scikit-learn convention). Computed
    in one ``bincount`` over the flat index ``i * num_classes + j``.
    """
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if len(t) != len(p):
        raise ValueError(f"confusion_matrix: {len(t)} y_true but {len(p)} y_pred")
    num_classes = int(num_classes)
    for name, y in (("y_true", t), ("y_pred", p)):
        if y.size and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(f"confusion_matrix: {name} has labels in [{y.min()}, {y.max()}], "
                             f"expected [0, {num_classes - 1}]")
    flat = np.bincount(t * num_classes + p, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def plot_confusion_matrix(y_true, y_pred, class_names=None, normalize=False, path=None,
                          num_classes=None):
    """Heat map of :func:`confusion_matrix`, each cell annotated.

    ``normalize=True`` divides each row by its total (recall per class; empty rows stay 0).
    ``fig.nn_data = {'counts': int matrix, 'matrix': the matrix drawn}``.
    """
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if num_classes is None:
        num_classes = len(class_names) if class_names is not None else int(max(t.max(), p.max())) + 1
    counts = confusion_matrix(t, p, num_classes)
    matrix = counts.astype(np.float64)
    if normalize:
        totals = matrix.sum(axis=1, keepdims=True)
        matrix = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    names = [str(c) for c in (class_names if class_names is not None else range(num_classes))]
    size = max(4.0, 0.55 * num_classes + 2)
    fig = _new_figure(size + 1, size)
    ax = fig.subplots()
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ticks = np.arange(num_classes)
    ax.set_xticks(ticks, names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(ticks, names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if num_classes <= 20:
        top = matrix.max() if matrix.size else 0
        for i in range(num_classes):
            for j in range(num_classes):
                text = f"{matrix[i, j]:.2f}" if normalize else str(counts[i, j])
                ax.text(j, i, text, ha="center", va="center", fontsize=7,
                        color="white" if matrix[i, j] > top / 2 else "black")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(f"confusion matrix (accuracy {accuracy:.4f})")
    return _finish(fig, {"counts": counts, "matrix": matrix}, path)


# ----------------------------------------------------------------------------- conv filters
def _kernel_of(layer_or_kernel):
    if hasattr(layer_or_kernel, "params"):
        if "kernel" not in layer_or_kernel.params:
            raise ValueError(f"layer {getattr(layer_or_kernel, 'name', '?')!r} has no 'kernel' "
                             "(is it built? call it on data first)")
        layer_or_kernel = layer_or_kernel.params["kernel"]
    kernel = backend.to_host(layer_or_kernel).astype(np.float64)
    if kernel.ndim != 4:
        raise ValueError(f"plot_filters expects a Conv2D kernel (KH, KW, C_in, C_out), got shape {kernel.shape}")
    return kernel


def plot_filters(layer_or_kernel, path=None):
    """One tile per output filter of a Conv2D kernel ``(KH, KW, C_in, C_out)``.

    With three input channels a tile is the RGB filter, min-max scaled to [0, 1] over that
    filter; otherwise it is the mean over input channels in a gray colour map.
    ``fig.nn_data = {'tiles': [array per filter]}`` (the arrays handed to imshow).
    """
    kernel = _kernel_of(layer_or_kernel)
    kh, kw, c_in, c_out = kernel.shape
    tiles = []
    for f in range(c_out):
        w = kernel[:, :, :, f]
        if c_in == 3:
            low, high = w.min(), w.max()
            tiles.append((w - low) / (high - low) if high > low else np.zeros_like(w))
        else:
            tiles.append(w.mean(axis=2))
    rows, cols = _grid(c_out)
    fig = _new_figure(1.3 * cols, 1.4 * rows + 0.4)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for i, ax in enumerate(axes):
        _blank(ax)
        if i >= c_out:
            ax.set_axis_off()
            continue
        ax.imshow(tiles[i], cmap="gray" if c_in != 3 else None, interpolation="nearest")
        ax.set_title(str(i), fontsize=7)
    mode = "RGB" if c_in == 3 else f"mean of {c_in} input channel(s)"
    fig.suptitle(f"{c_out} filters {kh}x{kw} ({mode})", fontsize=10)
    return _finish(fig, {"tiles": tiles}, path)


# ----------------------------------------------------------------------------- feature maps
FEATURE_LAYERS = ("Conv2D", "MaxPooling2D", "AveragePooling2D", "MaxPool2D", "AveragePool2D")


def plot_feature_maps(model, image, path=None, max_maps=16):
    """Run one image through ``model.layers`` one by one and show each conv/pooling output.

    ``image`` has the model's input layout without the batch axis (``(H, W, C)``, or ``(H, W)``
    for one channel). Each row is a layer; its first ``max_maps`` channels are shown.
    ``fig.nn_data = {'layers': [names], 'maps': [(k, H, W) host arrays]}``.
    """
    x = backend.to_host(image)
    layers = list(model.layers)
    first_format = getattr(layers[0], "data_format", "channels_last") if layers else "channels_last"
    if x.ndim == 2:
        x = x[None] if first_format == "channels_first" else x[..., None]
    x = backend.to_device(x[None], dtype=backend.floatx())
    names, maps = [], []
    for layer in layers:
        x = layer(x, training=False)
        if type(layer).__name__ in FEATURE_LAYERS:
            out = backend.to_host(x)[0]
            if getattr(layer, "data_format", "channels_last") != "channels_first":
                out = out.transpose(2, 0, 1)
            names.append(layer.name)
            maps.append(out[:max_maps])
    if not maps:
        raise ValueError("plot_feature_maps: the model has no Conv2D or pooling layers")
    cols = max(len(m) for m in maps)
    fig = _new_figure(1.1 * cols + 0.6, 1.3 * len(maps) + 0.3)
    axes = fig.subplots(len(maps), cols, squeeze=False)
    for r, (name, layer_maps) in enumerate(zip(names, maps)):
        for c in range(cols):
            ax = axes[r, c]
            _blank(ax)
            if c >= len(layer_maps):
                ax.set_axis_off()
                continue
            ax.imshow(layer_maps[c], cmap="viridis", interpolation="nearest")
        axes[r, 0].set_ylabel(f"{name}\n{maps[r].shape[1]}x{maps[r].shape[2]}", fontsize=8)
    return _finish(fig, {"layers": names, "maps": maps}, path)


# ----------------------------------------------------------------------------- optimizer paths
# Test surfaces for optimizers. ``p`` has (x, y) on its first axis: a point of shape (2,) or a
# grid of shape (2, H, W); the gradients return an array shaped like ``p``.
def rosenbrock(p, a=1.0, b=100.0):
    """f = (a - x)^2 + b (y - x^2)^2; minimum 0 at (a, a^2), at the end of a curved valley."""
    x, y = p[0], p[1]
    return (a - x) ** 2 + b * (y - x ** 2) ** 2


def rosenbrock_grad(p, a=1.0, b=100.0):
    """df/dx = -2 (a - x) - 4 b x (y - x^2);  df/dy = 2 b (y - x^2)."""
    x, y = p[0], p[1]
    return np.stack([-2 * (a - x) - 4 * b * x * (y - x ** 2), 2 * b * (y - x ** 2)])


_BEALE_C = (1.5, 2.25, 2.625)


def beale(p):
    """f = sum_k (c_k - x + x y^k)^2, k = 1..3, c = (1.5, 2.25, 2.625); minimum 0 at (3, 0.5)."""
    x, y = p[0], p[1]
    return sum((c - x + x * y ** k) ** 2 for k, c in enumerate(_BEALE_C, start=1))


def beale_grad(p):
    """df/dx = sum 2 r_k (y^k - 1);  df/dy = sum 2 r_k k x y^(k-1), with r_k = c_k - x + x y^k."""
    x, y = p[0], p[1]
    dx = dy = 0.0
    for k, c in enumerate(_BEALE_C, start=1):
        r = c - x + x * y ** k
        dx = dx + 2 * r * (y ** k - 1)
        dy = dy + 2 * r * k * x * y ** (k - 1)
    return np.stack([dx, dy])


def elongated_bowl(p):
    """f = x^2 / 20 + y^2 (Deep Learning from Scratch, ch. 6): 20 times steeper along y."""
    return p[0] ** 2 / 20.0 + p[1] ** 2


def elongated_bowl_grad(p):
    """df/dx = x / 10;  df/dy = 2 y."""
    return np.stack([p[0] / 10.0, 2.0 * p[1]])


#: name -> (f, grad, start, (xmin, xmax), (ymin, ymax), minimum)
SURFACES = {
    "rosenbrock": (rosenbrock, rosenbrock_grad, (-1.5, 2.0), (-2.0, 2.0), (-1.0, 3.0), (1.0, 1.0)),
    "beale": (beale, beale_grad, (1.0, 1.5), (-4.5, 4.5), (-4.5, 4.5), (3.0, 0.5)),
    "elongated_bowl": (elongated_bowl, elongated_bowl_grad, (-7.0, 2.0), (-10.0, 10.0),
                       (-5.0, 5.0), (0.0, 0.0)),
}


def optimizer_path(optimizer, grad_fn, start, steps=100):
    """Run ``optimizer`` on a 2-element point for ``steps`` updates; return the (steps+1, 2) path.

    Each step computes ``g = grad_fn(point)`` and calls ``optimizer.apply([g], [point])``, which
    updates ``point`` in place, exactly as ``fit`` updates a kernel.
    """
    point = backend.to_device(np.array(start, dtype=np.float64).reshape(2), dtype=backend.floatx())
    path = [backend.to_host(point).copy()]
    for _ in range(int(steps)):
        grad = backend.to_device(backend.to_host(grad_fn(backend.to_host(point))), dtype=point.dtype)
        optimizer.apply([grad], [point])
        path.append(backend.to_host(point).copy())
    return np.array(path, dtype=np.float64)


def plot_optimizer_paths(loss_fn, grad_fn, optimizers, start, steps=100, path=None,
                         xlim=None, ylim=None, minimum=None):
    """Contours of ``loss_fn`` with the path each optimizer takes from ``start``.

    ``optimizers`` maps a legend name to an optimizer instance (a fresh one per entry: they
    keep state). ``fig.nn_data = {'paths': {name: (steps+1, 2) array}}``.
    """
    if not isinstance(optimizers, dict) or not optimizers:
        raise TypeError("plot_optimizer_paths: optimizers must be a non-empty dict name -> optimizer")
    paths = {name: optimizer_path(opt, grad_fn, start, steps) for name, opt in optimizers.items()}
    # frame the paths, the start and the minimum (diverging paths are clipped by the limits)
    every = np.concatenate(list(paths.values()) + [np.reshape(np.asarray(start, float), (1, 2))]
                           + ([np.reshape(np.asarray(minimum, float), (1, 2))] if minimum is not None else []))
    finite = every[np.all(np.isfinite(every), axis=1)]
    finite = finite[np.all(np.abs(finite) < 1e6, axis=1)]

    def span(lim, col):
        if lim is not None:
            return lim
        lo, hi = finite[:, col].min(), finite[:, col].max()
        pad = 0.15 * (hi - lo) + 0.5
        return lo - pad, hi + pad

    (x0, x1), (y0, y1) = span(xlim, 0), span(ylim, 1)
    gx, gy = np.meshgrid(np.linspace(x0, x1, 240), np.linspace(y0, y1, 240))
    z = loss_fn(np.stack([gx, gy]))
    fig = _new_figure(7, 5.5)
    ax = fig.subplots()
    low, high = max(float(z.min()), 1e-3), float(z.max())
    levels = np.logspace(np.log10(low), np.log10(high), 25) if high > low * 10 else 25
    ax.contour(gx, gy, z, levels=levels, colors="0.6", linewidths=0.7)
    for name, p in paths.items():
        ax.plot(p[:, 0], p[:, 1], ".-", markersize=3, linewidth=1.2, label=name)
    ax.plot(*np.asarray(start, dtype=float), "ko", label="start")
    if minimum is not None:
        ax.plot(*minimum, "k*", markersize=12, label="minimum")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(fontsize=8)
    ax.set_title(f"{steps} steps from {tuple(float(s) for s in start)}")
    return _finish(fig, {"paths": paths}, path)
