"""Global pooling: one value per channel, the mean or the max over all spatial positions."""
from __future__ import annotations

from nnscratch import backend
from nnscratch.layers.base import Layer, standardize_data_format


class _GlobalPooling2D(Layer):
    """Shared shapes: (N, H, W, C) -> (N, C), or (N, 1, 1, C) with keepdims=True
    (channels_first: (N, C, H, W) -> (N, C) or (N, C, 1, 1))."""

    input_ndim = 4

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.keepdims = bool(keepdims)

    def _rank_hint(self):
        return " (N, H, W, C)" if self.data_format == "channels_last" else " (N, C, H, W)"

    def _spatial_axes(self):
        return (1, 2) if self.data_format == "channels_last" else (2, 3)

    def compute_output_shape(self, input_shape):
        if self.data_format == "channels_last":
            N, _, _, C = input_shape
            return (N, 1, 1, C) if self.keepdims else (N, C)
        N, C, _, _ = input_shape
        return (N, C, 1, 1) if self.keepdims else (N, C)

    def _expand(self, dy):
        """dy of the output shape -> (N, 1, 1, C) / (N, C, 1, 1), broadcastable against x."""
        if self.keepdims:
            return dy
        N, C = dy.shape
        return dy.reshape(N, 1, 1, C) if self.data_format == "channels_last" else dy.reshape(N, C, 1, 1)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(data_format=self.data_format, keepdims=self.keepdims)
        return cfg


class GlobalAveragePooling2D(_GlobalPooling2D):
    """Mean over the spatial axes.

    Math: y[n, c] = (1 / (H*W)) sum_{h,w} x[n, h, w, c];   dx[n, h, w, c] = dy[n, c] / (H*W).
    Args: data_format ('channels_last'), keepdims (False).
    Input shape: (N, H, W, C) or (N, C, H, W). Output shape: (N, C); with keepdims (N, 1, 1, C) or (N, C, 1, 1).
    Cache: x_shape.
    """

    def forward(self, x, training=False):
        self.cache = {"x_shape": x.shape}
        return x.mean(axis=self._spatial_axes(), keepdims=self.keepdims)

    def backward(self, dy):
        xp = backend.get_array_module(dy)
        x_shape = self.cache["x_shape"]
        H, W = (x_shape[1], x_shape[2]) if self.data_format == "channels_last" else (x_shape[2], x_shape[3])
        return xp.broadcast_to(self._expand(dy) / (H * W), x_shape).copy()  # every position shares the mean's gradient


class GlobalMaxPooling2D(_GlobalPooling2D):
    """Max over the spatial axes.

    Math: y[n, c] = max_{h,w} x[n, h, w, c].  Backward: dy goes to the maximum; when several
    positions tie for the max, TensorFlow's reduce_max gradient splits dy equally among them,
    and so do we:  dx = dy * (x == y) / count(x == y).
    Args: data_format ('channels_last'), keepdims (False).
    Input shape: (N, H, W, C) or (N, C, H, W). Output shape: (N, C); with keepdims (N, 1, 1, C) or (N, C, 1, 1).
    Cache: mask (x == max, as the input's dtype divided by the tie count).
    """

    def forward(self, x, training=False):
        axes = self._spatial_axes()
        y_keep = x.max(axis=axes, keepdims=True)  # (N, 1, 1, C) or (N, C, 1, 1)
        is_max = x == y_keep
        share = is_max / is_max.sum(axis=axes, keepdims=True)  # 1/count at each tied max, 0 elsewhere
        self.cache = {"share": share.astype(x.dtype, copy=False)}
        return y_keep if self.keepdims else y_keep.reshape(x.shape[0], -1)

    def backward(self, dy):
        return self.cache["share"] * self._expand(dy)
