"""Conv2D: 2-D convolution (cross-correlation, as in every deep-learning framework)."""
from __future__ import annotations

from nnscratch import activations, initializers, kernels, regularizers
from nnscratch.layers import im2col as im
from nnscratch.layers.base import (Layer, named_lookup, positive_int, shape_str, standardize_data_format, standardize_padding,
                                   standardize_tuple)


def conv2d_forward(x, kernel, bias, strides, padding, dilation_rate, activation=None):
    """The convolution as one matrix product, then the activation (the readable kernel; NHWC).

    x (N, H, W, C_in), kernel (KH, KW, C_in, F), bias (F,) or None, activation f (an
    nn.activations function; None is the identity).
    Returns y = f(z) (N, H_out, W_out, F) and the cache conv2d_backward reads:
    col (N, H_out, W_out, KH, KW, C_in), x_pad_shape, pads, hw (H, W), strides, dilation_rate,
    activation and y."""
    N, H, W, C_in = x.shape
    KH, KW, _, F = kernel.shape
    (SH, SW), (DH, DW) = strides, dilation_rate
    H_out = im.conv_output_length(H, KH, SH, padding, DH)
    W_out = im.conv_output_length(W, KW, SW, padding, DW)
    pads = im.padding_amounts(H, W, KH, KW, SH, SW, padding, DH, DW)
    x_pad = im.pad_nhwc(x, pads)  # (N, Hp, Wp, C_in)
    col = im.im2col(x_pad, KH, KW, SH, SW, H_out, W_out, DH, DW)  # (N, H_out, W_out, KH, KW, C_in)
    col2d = col.reshape(N * H_out * W_out, KH * KW * C_in)  # row (n, h, w), column (i, j, c)
    z = col2d @ kernel.reshape(KH * KW * C_in, F)  # (N*H_out*W_out, F)
    if bias is not None:
        z = z + bias
    z = z.reshape(N, H_out, W_out, F)
    y = z if activation is None else activation(z)  # y = f(z)
    cache = {"col": col, "x_pad_shape": x_pad.shape, "pads": pads, "hw": (H, W), "strides": strides,
             "dilation_rate": dilation_rate, "activation": activation, "y": y}
    return y, cache


def conv2d_backward(dy, cache, kernel, need_input_grad=True):
    """Gradients of conv2d_forward from dy = dL/dy (N, H_out, W_out, F) (the readable kernel).

    Returns (dx (N, H, W, C_in) or None when not need_input_grad, dkernel (KH, KW, C_in, F),
    dbias (F,))."""
    col = cache["col"]
    N, H_out, W_out, KH, KW, C_in = col.shape
    F = kernel.shape[-1]
    f = cache["activation"]
    dz = dy if f is None else f.backward(dy, cache["y"])  # dL/dz = f'(z) * dL/dy
    col2d = col.reshape(N * H_out * W_out, KH * KW * C_in)
    dz2 = dz.reshape(N * H_out * W_out, F)  # (N*H_out*W_out, F)
    dkernel = (col2d.T @ dz2).reshape(KH, KW, C_in, F)  # dL/dW = col^T @ dz
    dbias = dz2.sum(axis=0)  # dL/db = sum over N, H_out, W_out of dz, (F,)
    if not need_input_grad:
        return None, dkernel, dbias
    dcol = (dz2 @ kernel.reshape(KH * KW * C_in, F).T).reshape(col.shape)  # dL/dcol = dz @ W^T
    dx_pad = im.col2im(dcol, cache["x_pad_shape"], *cache["strides"], *cache["dilation_rate"])  # (N, Hp, Wp, C_in)
    H, W = cache["hw"]
    return im.crop_nhwc(dx_pad, cache["pads"], H, W), dkernel, dbias  # dL/dx (N, H, W, C_in)


class Conv2D(Layer):
    """2-D convolution via im2col and one matrix product (kernels: conv2d_forward/backward above).

    Math (channels_last, kernel W of shape (KH, KW, C_in, F)):
        forward:   x_pad = pad(x)                                  (N, Hp, Wp, C_in)
                   col[n,h,w,i,j,c] = x_pad[n, h*SH + i*DH, w*SW + j*DW, c]
                   z = col.reshape(N*H_out*W_out, KH*KW*C_in) @ W.reshape(KH*KW*C_in, F) + b
                   y = f(z)                                        (N, H_out, W_out, F)
        backward:  dz = f'(z) * dy
                   dW = col^T @ dz           (KH*KW*C_in, F) -> (KH, KW, C_in, F)
                   db = sum_{N,H_out,W_out} dz                     (F,)
                   dcol = dz @ W^T           -> (N, H_out, W_out, KH, KW, C_in)
                   dx = crop(col2im(dcol))   (N, H, W, C_in)
    No kernel flip: this is cross-correlation, exactly what Keras's Conv2D computes.

    Args:
        filters: int, positive. Number of output channels F.
        kernel_size: int or (KH, KW).
        strides: int or (SH, SW), default (1, 1).
        padding: 'valid' (default) or 'same' (TensorFlow's rule: the odd extra row/column of
            padding goes to the bottom/right).
        data_format: 'channels_last' (NHWC, default) or 'channels_first' (NCHW; the layer
            transposes to NHWC internally).
        dilation_rate: int or (DH, DW), default (1, 1); Keras refuses strides > 1 with it.
        activation, use_bias, kernel_initializer ('glorot_uniform'), bias_initializer ('zeros').

    Input shape:  (N, H, W, C_in) or (N, C_in, H, W).
    Output shape: (N, H_out, W_out, F) or (N, F, H_out, W_out), with
        'valid': H_out = (H - ((KH-1)*DH + 1)) // SH + 1;  'same': H_out = ceil(H / SH).
    Cache: what the kernel tier's conv2d_forward returns (readable tier: col
        (N, H_out, W_out, KH, KW, C_in), x_pad_shape, pads, hw, strides, dilation_rate,
        activation, y (N, H_out, W_out, F) for the activation's backward), plus z (same shape;
        only for softmax/sigmoid, whose logits a fused loss reads).
    Kernels: conv2d_forward / conv2d_backward below are the readable tier; the tier that runs is
        chosen by nn.kernels.set_tier (or this layer's kernel_tier), see nnscratch/kernels/.
    """

    input_ndim = 4
    kernel_tier = None  # None: the global choice of nn.kernels.set_tier; or 'fast'/'readable'/'reference'

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = positive_int(filters, f"Conv2D '{self.name}': filters", floats=False)  # NumPy ints; not 8.0 (Keras)
        self.kernel_size = standardize_tuple(kernel_size, 2, f"Conv2D '{self.name}': kernel_size")
        self.strides = standardize_tuple(strides, 2, f"Conv2D '{self.name}': strides")
        self.padding = standardize_padding(padding, f"Conv2D '{self.name}'")
        self.data_format = standardize_data_format(data_format, f"Conv2D '{self.name}'")
        self.dilation_rate = standardize_tuple(dilation_rate, 2, f"Conv2D '{self.name}': dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"Conv2D '{self.name}': strides > 1 are not supported together with dilation_rate > 1 "
                f"(as in Keras), received strides={self.strides}, dilation_rate={self.dilation_rate}"
            )
        self.activation = named_lookup(f"Conv2D '{self.name}'", activations.get, activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = named_lookup(f"Conv2D '{self.name}'", initializers.get, kernel_initializer)
        self.bias_initializer = named_lookup(f"Conv2D '{self.name}'", initializers.get, bias_initializer)
        self._keep_logits = self.activation.name in ("softmax", "sigmoid")
        self.kernel_regularizer = named_lookup(f"Conv2D '{self.name}'", regularizers.get, kernel_regularizer)
        self.bias_regularizer = named_lookup(f"Conv2D '{self.name}'", regularizers.get, bias_regularizer)
        self.activity_regularizer = named_lookup(f"Conv2D '{self.name}'", regularizers.get, activity_regularizer)


    def _rank_hint(self):
        return " (N, H, W, C)" if self.data_format == "channels_last" else " (N, C, H, W)"

    def _hwc(self, input_shape):
        if self.data_format == "channels_last":
            _, H, W, C = input_shape
        else:
            _, C, H, W = input_shape
        return H, W, C

    def check_input_shape(self, input_shape):
        super().check_input_shape(input_shape)
        H, W, C = self._hwc(input_shape)
        KH, KW = self.kernel_size
        DH, DW = self.dilation_rate
        if self.padding == "valid" and ((H is not None and H < (KH - 1) * DH + 1) or (W is not None and W < (KW - 1) * DW + 1)):
            raise ValueError(
                f"Conv2D '{self.name}': kernel {self.kernel_size} (dilation {self.dilation_rate}) is larger than the "
                f"input's spatial size ({H}, {W}) with padding='valid'; input shape {shape_str(input_shape)}"
            )

    def build(self, input_shape):
        _, _, C_in = self._hwc(input_shape)
        KH, KW = self.kernel_size
        self.add_param("kernel", (KH, KW, C_in, self.filters), self.kernel_initializer)
        if self.use_bias:
            self.add_param("bias", (self.filters,), self.bias_initializer)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        H, W, _ = self._hwc(input_shape)
        (KH, KW), (SH, SW), (DH, DW) = self.kernel_size, self.strides, self.dilation_rate
        H_out = im.conv_output_length(H, KH, SH, self.padding, DH)
        W_out = im.conv_output_length(W, KW, SW, self.padding, DW)
        if self.data_format == "channels_last":
            return (input_shape[0], H_out, W_out, self.filters)
        return (input_shape[0], self.filters, H_out, W_out)

    def forward(self, x, training=False):
        if self.data_format == "channels_first":
            x = x.transpose(0, 2, 3, 1)  # NCHW -> NHWC view
        bias = self.params["bias"] if self.use_bias else None
        conv = kernels.get(conv2d_forward, self.kernel_tier)  # this file's kernel, or another tier's
        # softmax/sigmoid: a fused loss reads the logits z, so the kernel returns z and f runs here
        f = None if self._keep_logits else self.activation
        y, self.cache = conv(x, self.params["kernel"], bias, self.strides, self.padding, self.dilation_rate, f)
        if self._keep_logits:
            self.cache["z"] = y
            y = self.cache["y"] = self.activation(y)  # (N, H_out, W_out, F)
        if self.data_format == "channels_first":
            y = y.transpose(0, 3, 1, 2)  # NHWC -> NCHW view
        return y

    def backward(self, dy):
        if self.data_format == "channels_first":
            dy = dy.transpose(0, 2, 3, 1)
        if self._keep_logits:  # f ran here, not in the kernel: dL/dz = f'(z) * dL/dy
            return self._backward_nhwc(self.activation.backward(dy, self.cache["y"]), at_z=True)
        return self._backward_nhwc(dy)  # the kernel applies f' (relu, ...) itself

    def backward_logits(self, dz):
        if self.data_format == "channels_first":
            dz = dz.transpose(0, 2, 3, 1)
        return self._backward_nhwc(dz, at_z=True)

    def _backward_nhwc(self, dy, at_z=False):
        """dy = dL/dy (the kernel applies its f' first), or dL/dz itself when ``at_z``."""
        cache = dict(self.cache, activation=None) if at_z else self.cache
        conv_backward = kernels.get(conv2d_backward, self.kernel_tier)
        dx, dkernel, dbias = conv_backward(dy, cache, self.params["kernel"], self.need_input_grad)
        self.grads["kernel"][...] = dkernel
        if self.use_bias:
            self.grads["bias"][...] = dbias
        if not self.need_input_grad:
            return None
        if self.data_format == "channels_first":
            dx = dx.transpose(0, 3, 1, 2)
        return dx

    @property
    def logits(self):
        z = self.cache.get("z")
        if z is not None and self.data_format == "channels_first":
            return z.transpose(0, 3, 1, 2)
        return z

    def get_config(self):
        cfg = super().get_config()
        cfg.update(
            filters=self.filters,
            kernel_size=list(self.kernel_size),
            strides=list(self.strides),
            padding=self.padding,
            data_format=self.data_format,
            dilation_rate=list(self.dilation_rate),
            activation=self.activation.name,
            use_bias=self.use_bias,
            kernel_initializer=initializers.serialize(self.kernel_initializer) or "glorot_uniform",
            bias_initializer=initializers.serialize(self.bias_initializer) or "zeros",
            kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
            bias_regularizer=regularizers.serialize(self.bias_regularizer),
            activity_regularizer=regularizers.serialize(self.activity_regularizer),
        )
        return cfg
