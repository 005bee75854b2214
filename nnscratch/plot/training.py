"""Learning curves, sample grids and confusion matrices."""
from __future__ import annotations

import numpy as np

from nnscratch import backend
from nnscratch.plot._figure import _new_figure, _finish, _grid, _labels, _blank, WRONG_COLOR, RIGHT_COLOR


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
