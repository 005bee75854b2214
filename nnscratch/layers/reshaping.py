"""Flatten: collapse every axis but the batch axis."""
from __future__ import annotations

from nnscratch.layers.base import Layer, shape_str, standardize_data_format


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
