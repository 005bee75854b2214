"""What the layers learned: a conv layer's filters and a model's feature maps."""
from __future__ import annotations

import numpy as np

from nnscratch import backend
from nnscratch.plot._figure import _new_figure, _finish, _grid, _blank


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
