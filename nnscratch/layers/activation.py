"""Activation layers: Activation(name), ReLU, LeakyReLU, Softmax."""
from __future__ import annotations

from nnscratch import activations, backend
from nnscratch.layers.base import Layer, as_int, named_lookup


class Activation(Layer):
    """Apply an activation function as a layer: ``y = f(x)``.

    Math:
        forward:   y = f(x)
        backward:  dx = f'(x) * dy, computed from the cached output y (see nn.activations)
    Args: activation: a name ('relu', 'sigmoid', 'tanh', 'softmax', ...) or function.
    Input/Output shape: any, unchanged.
    Cache: y; x as well (as the logits) when f is softmax or sigmoid, so that a model that
        ends here can fuse it with its cross-entropy, as Keras does.
    """

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = named_lookup(f"Activation '{self.name}'", activations.get, activation)
        self._keep_logits = self.activation.name in ("softmax", "sigmoid")

    def forward(self, x, training=False):
        y = self.activation(x)
        self.cache = {"y": y}
        if self._keep_logits:
            self.cache["z"] = x
        return y

    def backward(self, dy):
        return self.activation.backward(dy, self.cache["y"])

    def backward_logits(self, dz):
        """dL/dx when dL/dz (z = this layer's input) was computed directly (fused loss)."""
        return dz

    @property
    def logits(self):
        return self.cache.get("z")

    def get_config(self):
        cfg = super().get_config()
        cfg["activation"] = self.activation.name
        return cfg


class ReLU(Layer):
    """Rectified linear unit with Keras's options.

    Math:
        forward:   y = max_value                      if x >= max_value
                   y = x                              if threshold <= x < max_value
                   y = negative_slope * (x - threshold) otherwise
        backward:  dx = dy * (1 | negative_slope | 0) on the same three pieces
    Args: max_value (None = unbounded), negative_slope (0.0), threshold (0.0).
    Input/Output shape: any, unchanged.
    Cache: x.
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None and max_value < 0:
            raise ValueError(f"ReLU '{self.name}': max_value must be >= 0, received {max_value!r}")
        if negative_slope < 0:
            raise ValueError(f"ReLU '{self.name}': negative_slope must be >= 0, received {negative_slope!r}")
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope = float(negative_slope)
        self.threshold = float(threshold)
        self._plain = self.max_value is None and self.negative_slope == 0.0 and self.threshold == 0.0

    def forward(self, x, training=False):
        xp = backend.get_array_module(x)
        if self._plain:
            y = xp.maximum(x, 0)
            self.cache = {"y": y}
            return y
        y = xp.where(x > self.threshold, x, self.negative_slope * (x - self.threshold)).astype(x.dtype, copy=False)
        if self.max_value is not None:
            y = xp.minimum(y, self.max_value)
        self.cache = {"x": x}
        return y

    def backward(self, dy):
        xp = backend.get_array_module(dy)
        if self._plain:
            return dy * (self.cache["y"] > 0)  # relu'(x) = 1 where the output is positive
        x = self.cache["x"]
        slope = xp.where(x > self.threshold, 1.0, self.negative_slope).astype(dy.dtype, copy=False)
        if self.max_value is not None:
            slope = slope * (x < self.max_value)
        return dy * slope

    def get_config(self):
        cfg = super().get_config()
        cfg.update(max_value=self.max_value, negative_slope=self.negative_slope, threshold=self.threshold)
        return cfg


class LeakyReLU(Layer):
    """y = x if x > 0 else negative_slope * x (Keras default slope 0.3; PyTorch's is 0.01).

    Math: backward dx = dy * (1 if x > 0 else negative_slope); the gradient at 0 is the slope.
    Input/Output shape: any, unchanged.
    Cache: y (same sign as x for a positive slope).
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        super().__init__(**kwargs)
        if negative_slope < 0:
            raise ValueError(f"LeakyReLU '{self.name}': negative_slope must be >= 0, received {negative_slope!r}")
        self.negative_slope = float(negative_slope)
        self._fn = activations.LeakyReLU(self.negative_slope)

    def forward(self, x, training=False):
        y = self._fn(x)
        self.cache = {"positive": x > 0}
        return y

    def backward(self, dy):
        xp = backend.get_array_module(dy)
        return dy * xp.where(self.cache["positive"], 1.0, self.negative_slope).astype(dy.dtype, copy=False)

    def get_config(self):
        cfg = super().get_config()
        cfg["negative_slope"] = self.negative_slope
        return cfg


class Softmax(Activation):
    """Softmax along ``axis`` as a layer: y_i = exp(x_i) / sum_j exp(x_j).

    Math: backward dx = y * (dy - sum_j dy_j y_j). Cache: y, and x as the logits.
    Input/Output shape: any, unchanged (normalised along ``axis``).
    """

    def __init__(self, axis=-1, **kwargs):
        axis = axis if as_int(axis) is None else as_int(axis)  # NumPy ints and -1.0 as ints (Keras accepts them)
        super().__init__(activations.Softmax(axis=axis), **kwargs)
        self.axis = axis

    def get_config(self):
        cfg = Layer.get_config(self)
        cfg["axis"] = self.axis
        return cfg
