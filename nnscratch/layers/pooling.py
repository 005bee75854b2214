"""MaxPooling2D and AveragePooling2D (TensorFlow's 'valid' and 'same' semantics)."""
from __future__ import annotations

from nnscratch import backend
from nnscratch.layers import im2col as im
from nnscratch.layers.base import (Layer, shape_str, standardize_data_format, standardize_padding,
                                   standardize_tuple)


class _Pooling2D(Layer):
    """Shared argument handling, shapes and layout for the 2-D pooling layers."""

    input_ndim = 4

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

    def _geometry(self, x):
        N, H, W, C = x.shape
        (KH, KW), (SH, SW) = self.pool_size, self.strides
        H_out = im.conv_output_length(H, KH, SH, self.padding)
        W_out = im.conv_output_length(W, KW, SW, self.padding)
        pads = im.padding_amounts(H, W, KH, KW, SH, SW, self.padding)
        return N, H, W, C, KH, KW, SH, SW, H_out, W_out, pads

    def _reshape_path(self, H, W, KH, KW, SH, SW, H_out, W_out, pads):
        """Non-overlapping windows that tile the (unpadded) input exactly: pooling is then a
        reshape to (N, H_out, KH, W_out, KW, C) and a reduction over the window axes."""
        no_pad = pads == ((0, 0), (0, 0))
        return no_pad and (KH, KW) == (SH, SW) and H_out * KH == H and W_out * KW == W

    def forward(self, x, training=False):
        if self.data_format == "channels_first":
            x = x.transpose(0, 2, 3, 1)  # NCHW -> NHWC view
        y = self._forward_nhwc(x)
        if self.data_format == "channels_first":
            y = y.transpose(0, 3, 1, 2)
        return y

    def backward(self, dy):
        if self.data_format == "channels_first":
            dy = dy.transpose(0, 2, 3, 1)
        dx = self._backward_nhwc(dy)
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
    Cache: argmax (N, H_out, W_out, C) int8 index of the winning tap, x_pad_shape, pads.
    """

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)

    def _forward_nhwc(self, x):
        xp = backend.get_array_module(x)
        N, H, W, C, KH, KW, SH, SW, H_out, W_out, pads = self._geometry(x)
        x_pad = im.pad_nhwc(x, pads, value=-float("inf"))
        y = None
        argmax = xp.zeros((N, H_out, W_out, C), dtype="int16")
        for t in range(KH * KW):
            i, j = divmod(t, KW)
            rows, cols = im.tap_slice(i, j, H_out, W_out, SH, SW)
            window = x_pad[:, rows, cols, :]  # (N, H_out, W_out, C) values of tap t
            if y is None:
                y = window.copy()
                continue
            better = window > y  # strict: on ties the earlier (row-major first) tap keeps the max
            xp.copyto(y, window, where=better)
            xp.copyto(argmax, t, where=better)
        self.cache = {"argmax": argmax, "x_pad_shape": x_pad.shape, "pads": pads, "hw": (H, W)}
        return y

    def _backward_nhwc(self, dy):
        xp = backend.get_array_module(dy)
        argmax = self.cache["argmax"]
        KH, KW = self.pool_size
        SH, SW = self.strides
        _, H_out, W_out, _ = dy.shape
        dx_pad = xp.zeros(self.cache["x_pad_shape"], dtype=dy.dtype)
        for t in range(KH * KW):
            i, j = divmod(t, KW)
            rows, cols = im.tap_slice(i, j, H_out, W_out, SH, SW)
            dx_pad[:, rows, cols, :] += dy * (argmax == t)  # route dy to the winning tap only
        H, W = self.cache["hw"]
        return im.crop_nhwc(dx_pad, self.cache["pads"], H, W)


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
    Cache: count (H_out, W_out, 1), x_pad_shape, pads.
    """

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)

    def _window_counts(self, xp, dtype, H, W, pads, KH, KW, SH, SW, H_out, W_out):
        """count[h, w] = real cells in window (h, w): the same tap sum run on an image of ones."""
        ones = im.pad_nhwc(xp.ones((1, H, W, 1), dtype=dtype), pads, value=0.0)
        count = xp.zeros((1, H_out, W_out, 1), dtype=dtype)
        for i in range(KH):
            for j in range(KW):
                rows, cols = im.tap_slice(i, j, H_out, W_out, SH, SW)
                count += ones[:, rows, cols, :]
        return count[0]  # (H_out, W_out, 1)

    def _forward_nhwc(self, x):
        xp = backend.get_array_module(x)
        N, H, W, C, KH, KW, SH, SW, H_out, W_out, pads = self._geometry(x)
        if self._reshape_path(H, W, KH, KW, SH, SW, H_out, W_out, pads):
            y = x.reshape(N, H_out, KH, W_out, KW, C).mean(axis=(2, 4))  # (N, H_out, W_out, C)
            self.cache = {"reshape": True, "x_shape": x.shape}
            return y
        x_pad = im.pad_nhwc(x, pads, value=0.0)
        total = xp.zeros((N, H_out, W_out, C), dtype=x.dtype)
        for i in range(KH):
            for j in range(KW):
                rows, cols = im.tap_slice(i, j, H_out, W_out, SH, SW)
                total += x_pad[:, rows, cols, :]
        count = self._window_counts(xp, x.dtype, H, W, pads, KH, KW, SH, SW, H_out, W_out)
        self.cache = {"reshape": False, "count": count, "x_pad_shape": x_pad.shape, "pads": pads, "hw": (H, W)}
        return total / count

    def _backward_nhwc(self, dy):
        xp = backend.get_array_module(dy)
        KH, KW = self.pool_size
        SH, SW = self.strides
        if self.cache["reshape"]:
            N, H_out, W_out, C = dy.shape
            g = dy * (1.0 / (KH * KW))  # every cell of a window gets dy / window size
            dx = xp.broadcast_to(g[:, :, None, :, None, :], (N, H_out, KH, W_out, KW, C))
            return dx.reshape(self.cache["x_shape"])
        _, H_out, W_out, _ = dy.shape
        g = dy / self.cache["count"]  # (N, H_out, W_out, C)
        dx_pad = xp.zeros(self.cache["x_pad_shape"], dtype=dy.dtype)
        for i in range(KH):
            for j in range(KW):
                rows, cols = im.tap_slice(i, j, H_out, W_out, SH, SW)
                dx_pad[:, rows, cols, :] += g
        H, W = self.cache["hw"]
        return im.crop_nhwc(dx_pad, self.cache["pads"], H, W)


# Keras aliases
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
