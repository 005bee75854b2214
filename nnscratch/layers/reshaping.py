"""Reshaping layers: Flatten, Reshape and ZeroPadding2D (shape changes, no arithmetic)."""
from __future__ import annotations

from nnscratch import backend
from nnscratch.layers.base import Layer, as_int, shape_str, standardize_data_format


class Flatten(Layer):
    """Flatten the non-batch axes: (N, d1, d2, ...) -> (N, d1*d2*...).

    Math:
        forward:   y = x.reshape(N, -1)
        backward:  dx = dy.reshape(x.shape)
    With data_format='channels_first' and a rank-4 input, Keras first moves channels last, so
    the flattened order is always (h, w, c); we do the same, so that a Dense kernel that
    follows Flatten has the same layout in Keras and in nnscratch.

    Input shape: (N, ...). Output shape: (N, prod(...)).
    Cache: x_shape.
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format, f"Flatten '{self.name}'")

    def check_input_shape(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(f"Flatten '{self.name}': expected input of rank >= 2, received shape {shape_str(input_shape)}")

    def compute_output_shape(self, input_shape):
        n = 1
        for d in input_shape[1:]:
            if d is None:
                return (input_shape[0], None)
            n *= d
        return (input_shape[0], n)

    def _channels_first(self, x):
        return self.data_format == "channels_first" and x.ndim == 4

    def forward(self, x, training=False):
        self.cache = {"x_shape": x.shape}
        if self._channels_first(x):
            x = x.transpose(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C): Keras flattens in (h, w, c) order
        return x.reshape(x.shape[0], -1)  # (N, H*W*C)

    def backward(self, dy):
        x_shape = self.cache["x_shape"]
        if self.data_format == "channels_first" and len(x_shape) == 4:
            N, C, H, W = x_shape
            return dy.reshape(N, H, W, C).transpose(0, 3, 1, 2)
        return dy.reshape(x_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg["data_format"] = self.data_format
        return cfg


class Reshape(Layer):
    """Reshape each sample to ``target_shape`` (the batch axis is kept).

    Math: y = x.reshape(N, *target_shape);  dx = dy.reshape(x.shape).
    Args: target_shape: tuple of ints, at most one -1 (inferred, as in Keras).
    Cache: x_shape.
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        try:
            target_shape = tuple(target_shape)
        except TypeError:
            raise TypeError(f"Reshape '{self.name}': target_shape must be a tuple of ints, received {target_shape!r}") from None
        dims = tuple(as_int(d) for d in target_shape)  # NumPy ints and 2.0 (as Keras); not bools
        if not all(d is not None and (d > 0 or d == -1) for d in dims) or dims.count(-1) > 1:
            raise ValueError(f"Reshape '{self.name}': target_shape must hold positive ints and at most one -1, "
                             f"received {target_shape!r}")
        self.target_shape = dims

    def compute_output_shape(self, input_shape):
        size = 1
        for d in input_shape[1:]:
            if d is None:
                return (input_shape[0],) + tuple(None if t == -1 else t for t in self.target_shape)
            size *= d
        known = 1
        for d in self.target_shape:
            if d != -1:
                known *= d
        if -1 in self.target_shape:
            if size % known:
                raise ValueError(f"Reshape '{self.name}': cannot reshape {shape_str(input_shape)} "
                                 f"({size} values per sample) to {self.target_shape}")
            return (input_shape[0],) + tuple(size // known if d == -1 else d for d in self.target_shape)
        if known != size:
            raise ValueError(f"Reshape '{self.name}': cannot reshape {shape_str(input_shape)} ({size} values per sample) "
                             f"to {self.target_shape} ({known} values)")
        return (input_shape[0],) + self.target_shape

    def check_input_shape(self, input_shape):
        self.compute_output_shape(input_shape)  # raises with the sizes if they do not fit

    def forward(self, x, training=False):
        self.cache = {"x_shape": x.shape}
        return x.reshape((x.shape[0],) + tuple(self.output_shape[1:]))

    def backward(self, dy):
        return dy.reshape(self.cache["x_shape"])

    def get_config(self):
        cfg = super().get_config()
        cfg["target_shape"] = list(self.target_shape)
        return cfg


def _padding_pairs(padding, name):
    """1 -> ((1, 1), (1, 1)); (1, 2) -> ((1, 1), (2, 2)); ((1, 0), (2, 3)) kept (Keras's forms)."""
    if as_int(padding, floats=False) is not None:  # NumPy ints too
        pairs = ((as_int(padding),) * 2,) * 2
    else:
        try:
            p = tuple(padding)
            if len(p) != 2:
                raise ValueError
            pairs = tuple((q, q) if as_int(q, floats=False) is not None else tuple(q) for q in p)
        except (TypeError, ValueError):
            raise ValueError(f"ZeroPadding2D '{name}': padding must be an int, (sym_h, sym_w) or "
                             f"((top, bottom), (left, right)), received {padding!r}") from None
    flat = [v for pair in pairs for v in pair]
    if any(len(pair) != 2 for pair in pairs) or not all(as_int(v, floats=False) is not None and v >= 0 for v in flat):
        raise ValueError(f"ZeroPadding2D '{name}': padding amounts must be non-negative ints, received {padding!r}")
    return tuple((int(a), int(b)) for a, b in pairs)


class ZeroPadding2D(Layer):
    """Pad rows and columns of zeros around each image.

    Math: y = x with ``top``/``bottom`` zero rows and ``left``/``right`` zero columns;
          dx = the centre crop of dy (the padded cells have no input behind them).
    Args: padding (int, (h, w) or ((top, bottom), (left, right)); default 1), data_format.
    Input shape: (N, H, W, C) / (N, C, H, W). Output: H + top + bottom, W + left + right.
    Cache: x_shape.
    """

    input_ndim = 4

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _padding_pairs(padding, self.name)
        self.data_format = standardize_data_format(data_format)

    def _hw_axes(self):
        return (1, 2) if self.data_format == "channels_last" else (2, 3)

    def compute_output_shape(self, input_shape):
        out = list(input_shape)
        for ax, (a, b) in zip(self._hw_axes(), self.padding):
            out[ax] = None if out[ax] is None else out[ax] + a + b
        return tuple(out)

    def forward(self, x, training=False):
        xp = backend.get_array_module(x)
        pad = [(0, 0)] * 4
        for ax, pair in zip(self._hw_axes(), self.padding):
            pad[ax] = pair
        self.cache = {"x_shape": x.shape}
        return xp.pad(x, pad)

    def backward(self, dy):
        index = [slice(None)] * 4
        for ax, (a, b) in zip(self._hw_axes(), self.padding):
            index[ax] = slice(a, dy.shape[ax] - b)
        return dy[tuple(index)]

    def get_config(self):
        cfg = super().get_config()
        cfg.update(padding=[list(p) for p in self.padding], data_format=self.data_format)
        return cfg
