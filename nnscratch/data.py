"""Host-side data utilities: scaling, batching, splitting, layout changes, image files.

Everything here works on host (NumPy) arrays; the model moves batches to the device.

* ``scale_images(x)``: uint8 pixels -> floatx in [0, 1].
* ``batch_iterator(x, y, batch_size, shuffle=True, seed=None)``: one epoch of mini-batches.
* ``train_val_split(x, y, validation_split)``: Keras's ``fit(validation_split=...)`` split.
* ``nhwc_to_nchw`` / ``nchw_to_nhwc``: layout changes (views, no copy).
* ``load_img`` / ``img_to_array``: Keras's image-file helpers, on Pillow.
"""
from __future__ import annotations

import io
import pathlib

import numpy as np

from nnscratch import backend


def scale_images(x, dtype=None):
    """uint8 images (any shape) -> ``x / 255`` as ``dtype`` (default ``backend.floatx()``).

    Only uint8 input is accepted: scaling an already-float array twice is a common,
    silent bug, so it is a TypeError instead.
    """
    x = np.asarray(x)
    if x.dtype != np.uint8:
        raise TypeError(f"scale_images expects uint8 pixels in 0..255, received dtype {x.dtype}")
    dtype = np.dtype(dtype or backend.floatx())
    return x.astype(dtype) / dtype.type(255)


def _as_rng(seed):
    if isinstance(seed, np.random.Generator):
        return seed
    return backend.rng(seed)


def _check_xy(x, y):
    if np.ndim(x) < 1:
        raise ValueError(f"x must have a batch axis, received shape {np.shape(x)}")
    if y is not None and len(y) != len(x):
        raise ValueError(f"x and y must have the same length, received {len(x)} and {len(y)}")


def batch_iterator(x, y=None, batch_size=32, shuffle=True, seed=None):
    """Yield one epoch of mini-batches ``(x_batch, y_batch)`` (or ``x_batch`` if y is None).

    Every sample appears exactly once; the last batch holds the remaining
    ``len(x) % batch_size`` samples when that is not zero (Keras uses it too).

    Args:
        batch_size: positive int.
        shuffle: if True, draw one index permutation for the epoch and take batches from
            it (each batch is then a gathered copy of ``batch_size`` rows); if False,
            batches are slices (views) of ``x`` and ``y`` in order.
        seed: None (draw from the global generator, ``backend.set_seed``), an int (the
            same seed gives the same order), or a ``numpy.random.Generator`` (pass one
            generator across epochs to get a new order each epoch, reproducibly).
    """
    _check_xy(x, y)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, received {batch_size!r}")
    n = len(x)
    order = _as_rng(seed).permutation(n) if shuffle else None
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        if order is None:
            sel = slice(start, stop)
        else:
            sel = order[start:stop]
        yield x[sel] if y is None else (x[sel], y[sel])


def train_val_split(x, y, validation_split, shuffle=False, seed=None):
    """Split into ``(x_train, y_train), (x_val, y_val)`` like ``fit(validation_split=...)``.

    Keras keeps the first ``floor(n * (1 - validation_split))`` samples for training and
    the rest for validation, without shuffling. With ``shuffle=True`` a permutation
    (seeded by ``seed``) is applied first. Without shuffling the parts are views.
    """
    _check_xy(x, y)
    if not 0.0 < float(validation_split) < 1.0:
        raise ValueError(f"validation_split must be in (0, 1), received {validation_split!r}")
    n = len(x)
    split_at = int(np.floor(n * (1.0 - float(validation_split))))
    if split_at == 0 or split_at == n:
        raise ValueError(
            f"validation_split={validation_split} leaves an empty part: {split_at} training "
            f"and {n - split_at} validation samples out of {n}"
        )
    if shuffle:
        order = _as_rng(seed).permutation(n)
        x, y = x[order], (None if y is None else y[order])
    y_train = None if y is None else y[:split_at]
    y_val = None if y is None else y[split_at:]
    return (x[:split_at], y_train), (x[split_at:], y_val)


def _check_rank4(x, name, layout):
    if getattr(x, "ndim", None) != 4:
        raise ValueError(f"{name} expects a rank-4 {layout} array, received shape {getattr(x, 'shape', None)}")


def nhwc_to_nchw(x):
    """(N, H, W, C) -> (N, C, H, W), a transposed view (works for NumPy and CuPy)."""
    _check_rank4(x, "nhwc_to_nchw", "(N, H, W, C)")
    return x.transpose(0, 3, 1, 2)


def nchw_to_nhwc(x):
    """(N, C, H, W) -> (N, H, W, C), a transposed view (works for NumPy and CuPy)."""
    _check_rank4(x, "nchw_to_nhwc", "(N, C, H, W)")
    return x.transpose(0, 2, 3, 1)


# ----------------------------------------------------------------------------------- images
def _pil():
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - pillow is a dependency
        raise ImportError("load_img needs Pillow: pip install pillow") from exc
    return Image


def _interpolation(name):
    Image = _pil()
    methods = {
        "nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
        "bicubic": Image.Resampling.BICUBIC, "hamming": Image.Resampling.HAMMING,
        "box": Image.Resampling.BOX, "lanczos": Image.Resampling.LANCZOS,
    }
    if name not in methods:
        raise ValueError(f"Invalid interpolation method {name!r}; supported: {', '.join(methods)}")
    return methods[name]


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest",
             keep_aspect_ratio=False):
    """Load an image file as a PIL image (``keras.utils.load_img``).

    Args:
        path: a path or an ``io.BytesIO``.
        color_mode: 'rgb' (default), 'grayscale' (8-bit 'L', or kept as 16/32-bit
            grayscale when already so) or 'rgba'.
        target_size: None or ``(height, width)``; the image is resized if different.
        interpolation: 'nearest' (default), 'bilinear', 'bicubic', 'hamming', 'box',
            'lanczos'.
        keep_aspect_ratio: crop the centre to the target aspect ratio before resizing.
    """
    Image = _pil()
    if isinstance(path, io.BytesIO):
        img = Image.open(path)
    elif isinstance(path, (str, bytes, pathlib.Path)):
        with open(path, "rb") as f:  # read fully so no file handle stays open
            img = Image.open(io.BytesIO(f.read()))
    else:
        raise TypeError(f"path should be path-like or io.BytesIO, not {type(path)}")
    modes = {"grayscale": ("L", ("L", "I;16", "I")), "rgb": ("RGB", ("RGB",)), "rgba": ("RGBA", ("RGBA",))}
    if color_mode not in modes:
        raise ValueError(f'color_mode must be "grayscale", "rgb", or "rgba", received {color_mode!r}')
    target_mode, keep = modes[color_mode]
    if img.mode not in keep:
        img = img.convert(target_mode)
    if target_size is not None:
        height, width = int(target_size[0]), int(target_size[1])
        if img.size != (width, height):
            resample = _interpolation(interpolation)
            box = None
            if keep_aspect_ratio:  # largest centred box with the target aspect ratio
                W, H = img.size
                crop_h = min(H, (W * height) // width)
                crop_w = min(W, (H * width) // height)
                top, left = (H - crop_h) // 2, (W - crop_w) // 2
                box = (left, top, left + crop_w, top + crop_h)
            img = img.resize((width, height), resample, box=box)
    return img


def img_to_array(img, data_format=None, dtype=None):
    """A PIL image as a 3-D array (``keras.utils.img_to_array``).

    Returns shape (H, W, C) for ``data_format='channels_last'`` (default) or (C, H, W)
    for 'channels_first'; grayscale images get C = 1. ``dtype`` defaults to
    ``backend.floatx()``; values are not rescaled (0..255 stay 0..255).
    """
    data_format = data_format or "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"data_format must be 'channels_last' or 'channels_first', received {data_format!r}")
    x = np.asarray(img, dtype=dtype or backend.floatx())
    if x.ndim == 3:
        return x.transpose(2, 0, 1) if data_format == "channels_first" else x
    if x.ndim == 2:
        return x[None, :, :] if data_format == "channels_first" else x[:, :, None]
    raise ValueError(f"Unsupported image shape: {x.shape}")
