"""MaxPooling2D and AveragePooling2D (TensorFlow's 'valid' and 'same' semantics)."""
from __future__ import annotations

from nnscratch import backend, kernels
from nnscratch.layers import im2col as im
from nnscratch.layers.base import (Layer, shape_str, standardize_data_format, standardize_padding,
                                   standardize_tuple)


def _geometry(x, pool_size, strides, padding):
    """Sizes of a pooling: (N, H, W, C), (KH, KW), (SH, SW), (H_out, W_out), pads."""
    N, H, W, C = x.shape
    (KH, KW), (SH, SW) = pool_size, strides
    H_out = im.conv_output_length(H, KH, SH, padding)
    W_out = im.conv_output_length(W, KW, SW, padding)
    return (N, H, W, C), (KH, KW), (SH, SW), (H_out, W_out), im.padding_amounts(H, W, KH, KW, SH, SW, padding)


def max_pool_forward(x, pool_size, strides, padding):
    """y = the max of each window, and argmax = the index t = i*KW + j of its first maximum
    (the readable kernel; NHWC). Returns y (N, H_out, W_out, C) and the cache."""
    xp = backend.get_array_module(x)
    (N, H, W, C), (KH, KW), (SH, SW), (H_out, W_out), pads = _geometry(x, pool_size, strides, padding)
    x_pad = im.pad_nhwc(x, pads, value=-float("inf"))  # padding never wins a max
    rows, cols = im.tap_slice(0, 0, H_out, W_out, SH, SW)
    y = x_pad[:, rows, cols, :]  # (N, H_out, W_out, C): tap (0, 0) is the max so far
    argmax = xp.zeros((N, H_out, W_out, C), dtype="int16")
    for t in range(1, KH * KW):
        i, j = divmod(t, KW)
        rows, cols = im.tap_slice(i, j, H_out, W_out, SH, SW)
        window = x_pad[:, rows, cols, :]  # (N, H_out, W_out, C): tap (i, j) of every window
        better = window > y  # strict: on ties the earlier (row-major first) tap keeps the max
        y = xp.where(better, window, y)
        argmax = xp.where(better, t, argmax)
    cache = {"argmax": argmax, "x_pad_shape": x_pad.shape, "pads": pads, "hw": (H, W), "pool_size": (KH, KW),
             "strides": (SH, SW)}
    return y, cache


def max_pool_backward(dy, cache):
    """dx[window cell of tap t] += dy where argmax == t: each window's gradient goes to its
    winning cell; overlapping windows accumulate (the readable kernel; NHWC)."""
    xp = backend.get_array_module(dy)
    argmax = cache["argmax"]
    (KH, KW), (SH, SW) = cache["pool_size"], cache["strides"]
    _, H_out, W_out, _ = dy.shape
    dx_pad = xp.zeros(cache["x_pad_shape"], dtype=dy.dtype)
    for t in range(KH * KW):
        i, j = divmod(t, KW)
        rows, cols = im.tap_slice(i, j, H_out, W_out, SH, SW)
        dx_pad[:, rows, cols, :] += dy * (argmax == t)  # route dy to the winning tap only
    H, W = cache["hw"]
    return im.crop_nhwc(dx_pad, cache["pads"], H, W)  # (N, H, W, C)


def avg_pool_forward(x, pool_size, strides, padding):
    """y = (sum of each window's real cells) / count, count = the number of real (unpadded)
    cells of the window (the readable kernel; NHWC). Returns y (N, H_out, W_out, C), cache."""
    xp = backend.get_array_module(x)
    (N, H, W, C), (KH, KW), (SH, SW), (H_out, W_out), pads = _geometry(x, pool_size, strides, padding)
    x_pad = im.pad_nhwc(x, pads, value=0.0)  # padded cells add nothing to the sum
    real = im.pad_nhwc(xp.ones((1, H, W, 1), dtype=x.dtype), pads, value=0.0)  # 1 on real cells, 0 on padding
    total = xp.zeros((N, H_out, W_out, C), dtype=x.dtype)
    count = xp.zeros((1, H_out, W_out, 1), dtype=x.dtype)
    for i in range(KH):
        for j in range(KW):
            rows, cols = im.tap_slice(i, j, H_out, W_out, SH, SW)
            total = total + x_pad[:, rows, cols, :]  # (N, H_out, W_out, C)
            count = count + real[:, rows, cols, :]  # (1, H_out, W_out, 1)
    y = total / count
    cache = {"count": count, "x_pad_shape": x_pad.shape, "pads": pads, "hw": (H, W), "pool_size": (KH, KW),
             "strides": (SH, SW)}
    return y, cache


def avg_pool_backward(dy, cache):
    """dx[every cell of window (h, w)] += dy[h, w] / count[h, w] (the readable kernel; NHWC)."""
    xp = backend.get_array_module(dy)
    (KH, KW), (SH, SW) = cache["pool_size"], cache["strides"]
    _, H_out, W_out, _ = dy.shape
    g = dy / cache["count"]  # (N, H_out, W_out, C): what each cell of a window receives
    dx_pad = xp.zeros(cache["x_pad_shape"], dtype=dy.dtype)
    for i in range(KH):
        for j in range(KW):
            rows, cols = im.tap_slice(i, j, H_out, W_out, SH, SW)
            dx_pad[:, rows, cols, :] += g
    H, W = cache["hw"]
    return im.crop_nhwc(dx_pad, cache["pads"], H, W)  # (N, H, W, C)


class _Pooling2D(Layer):
    """Shared argument handling, shapes and layout for the 2-D pooling layers."""

    input_ndim = 4
    kernel_tier = None  # None: the global choice of nn.kernels.set_tier; or 'fast'/'readable'/'reference'

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.pool_size = standardize_tuple(pool_size, 2, f"{cls} '{self.name}': pool_size")
        self.strides = standardize_tuple(strides if strides is not None else self.pool_size, 2,
                                         f"{cls} '{self.name}': strides")
        self.padding = standardize_padding(padding, f"{cls} '{self.name}'")
        self.data_format = standardize_data_format(data_format, f"{cls} '{self.name}'")

    def _hwc(self, input_shape):
        if self.data_format == "channels_last":
            return input_shape[1], input_shape[2], input_shape[3]
        return input_shape[2], input_shape[3], input_shape[1]

    def _rank_hint(self):
        return " (N, H, W, C)" if self.data_format == "channels_last" else " (N, C, H, W)"

    def check_input_shape(self, input_shape):
        super().check_input_shape(input_shape)
        H, W, _ = self._hwc(input_shape)
        KH, KW = self.pool_size
        if self.padding == "valid" and ((H is not None and H < KH) or (W is not None and W < KW)):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': pool_size {self.pool_size} is larger than the input's "
                f"spatial size ({H}, {W}) with padding='valid'; input shape {shape_str(input_shape)}"
            )

    def compute_output_shape(self, input_shape):
        H, W, C = self._hwc(input_shape)
        (KH, KW), (SH, SW) = self.pool_size, self.strides
        H_out = im.conv_output_length(H, KH, SH, self.padding)
        W_out = im.conv_output_length(W, KW, SW, self.padding)
        if self.data_format == "channels_last":
            return (input_shape[0], H_out, W_out, C)
        return (input_shape[0], C, H_out, W_out)

    def forward(self, x, training=False):
        if self.data_format == "channels_first":
            x = x.transpose(0, 2, 3, 1)  # NCHW -> NHWC view
        pool = kernels.get(self._forward_kernel, self.kernel_tier)  # this file's kernel, or another tier's
        y, self.cache = pool(x, self.pool_size, self.strides, self.padding)
        if self.data_format == "channels_first":
            y = y.transpose(0, 3, 1, 2)
        return y

    def backward(self, dy):
        if self.data_format == "channels_first":
            dy = dy.transpose(0, 2, 3, 1)
        dx = kernels.get(self._backward_kernel, self.kernel_tier)(dy, self.cache)
        if self.data_format == "channels_first":
            dx = dx.transpose(0, 3, 1, 2)
        return dx

    def get_config(self):
        cfg = super().get_config()
        cfg.update(pool_size=list(self.pool_size), strides=list(self.strides), padding=self.padding,
                   data_format=self.data_format)
        return cfg


class MaxPooling2D(_Pooling2D):
    """Max pooling.

    Math:
        forward:   y[n,h,w,c] = max_{i<KH, j<KW} x_pad[n, h*SH + i, w*SW + j, c]
                   ('same' pads with -inf, so padding never wins; 'valid' drops the remainder)
        backward:  dx[n, h*SH + i*, w*SW + j*, c] += dy[n,h,w,c]
                   where (i*, j*) is the FIRST maximum of the window in row-major order (ties
                   are not split, as in TensorFlow); overlapping windows accumulate.

    Args: pool_size (default (2, 2)), strides (default = pool_size), padding ('valid'|'same'),
        data_format ('channels_last'|'channels_first').
    Input shape: (N, H, W, C) or (N, C, H, W). Output: (N, H_out, W_out, C) likewise.
    Cache (readable tier): argmax (N, H_out, W_out, C) int16, the index t = i*KW + j of the
        winning tap; x_pad_shape, pads, hw, pool_size, strides. Kernels: max_pool_forward/backward above.
    """

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)

    _forward_kernel = staticmethod(max_pool_forward)
    _backward_kernel = staticmethod(max_pool_backward)


class AveragePooling2D(_Pooling2D):
    """Average pooling.

    Math:
        forward:   y[n,h,w,c] = (1 / count[h,w]) * sum_{i,j} x_pad[n, h*SH + i, w*SW + j, c]
                   count[h,w] = number of REAL (non-padded) cells in the window: with 'same',
                   padded cells are not counted (TensorFlow's rule), so a corner window of one
                   real cell returns that cell.
        backward:  dx[n, h*SH + i, w*SW + j, c] += dy[n,h,w,c] / count[h,w]  for every tap
    Args: pool_size (required in Keras 3), strides (default = pool_size), padding, data_format.
    Input shape: (N, H, W, C) or (N, C, H, W). Output: (N, H_out, W_out, C) likewise.
    Cache (readable tier): count (1, H_out, W_out, 1), x_pad_shape, pads, hw, pool_size, strides.
        Kernels: avg_pool_forward/backward above.
    """

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)

    _forward_kernel = staticmethod(avg_pool_forward)
    _backward_kernel = staticmethod(avg_pool_backward)


# Keras aliases
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
