"""The classic mistakes of the layer exercises, planted: subclasses of the real layers (and
two helper functions) with one bug each. ``mistakes.py`` names them and gives the hints."""
from __future__ import annotations

from nnscratch import backend
from nnscratch.layers import im2col as im, pooling
from nnscratch.layers.conv import Conv2D
from nnscratch.layers.dense import Dense
from nnscratch.layers.dropout import Dropout
from nnscratch.layers.normalization import BatchNormalization
from nnscratch.layers.pooling import MaxPooling2D


def _swap(pads):
    """((top, bottom), (left, right)) -> ((bottom, top), (right, left)): the odd cell before."""
    (t, b), (l, r) = pads
    return (b, t), (r, l)


# ------------------------------------------------------------------ helper functions
def same_padding_odd_before(n, k, stride, dilation=1):
    before, after = im.same_padding(n, k, stride, dilation)
    return after, before


def col2im_stride_ignored(dcol, padded_shape, SH, SW, DH=1, DW=1):
    xp = backend.get_array_module(dcol)
    N, H_out, W_out, KH, KW, C = dcol.shape
    dx_pad = xp.zeros(padded_shape, dtype=dcol.dtype)
    for i in range(KH):
        for j in range(KW):
            dx_pad[:, i * DH:i * DH + H_out, j * DW:j * DW + W_out, :] += dcol[:, :, :, i, j, :]
    return dx_pad


# ------------------------------------------------------------------ shared layer bugs
def _derivative_forgotten(base):
    """backward skips f'(z): dz = dy."""

    class ActivationDerivativeForgotten(base):
        def backward(self, dy):
            return self.backward_logits(dy)  # dz = dy: f'(z) skipped

    ActivationDerivativeForgotten.__name__ = base.__name__
    return ActivationDerivativeForgotten


class DenseBiasGradAveraged(Dense):
    def backward(self, dy):
        dx = super().backward(dy)
        self.grads["bias"][...] = self.grads["bias"] / dy.reshape(-1, self.units).shape[0]
        return dx


class ConvKernelFlipped(Conv2D):
    def _flipped(self, fn, *args):
        kernel = self.params["kernel"]
        self.params["kernel"] = kernel[::-1, ::-1].copy()
        try:
            return fn(*args)
        finally:
            self.params["kernel"] = kernel

    def forward(self, x, training=False):
        return self._flipped(super().forward, x, training)

    def backward(self, dy):
        dx = self._flipped(super().backward, dy)
        self.grads["kernel"][...] = self.grads["kernel"][::-1, ::-1].copy()
        return dx


class ConvSamePaddingOddBefore(Conv2D):
    """'same' with the odd padding cell at the top/left: pad by hand, then run 'valid'."""

    def forward(self, x, training=False):
        if self.padding != "same":
            return super().forward(x, training)
        nhwc = x.transpose(0, 2, 3, 1) if self.data_format == "channels_first" else x
        _, H, W, _ = nhwc.shape
        (KH, KW), (SH, SW), (DH, DW) = self.kernel_size, self.strides, self.dilation_rate
        self._wrong_pads = _swap(im.padding_amounts(H, W, KH, KW, SH, SW, "same", DH, DW))
        x_pad = im.pad_nhwc(nhwc, self._wrong_pads)
        if self.data_format == "channels_first":
            x_pad = x_pad.transpose(0, 3, 1, 2)
        self.padding = "valid"
        try:
            return super().forward(x_pad, training)
        finally:
            self.padding = "same"

    def backward(self, dy):
        dx_pad = super().backward(dy)
        if self.padding != "same":
            return dx_pad
        (t, b), (l, r) = self._wrong_pads
        if self.data_format == "channels_first":
            return dx_pad[:, :, t:dx_pad.shape[2] - b, l:dx_pad.shape[3] - r]
        return dx_pad[:, t:dx_pad.shape[1] - b, l:dx_pad.shape[2] - r, :]


class ConvStrideIgnoredInCol2im(Conv2D):
    kernel_tier = "readable"

    def _backward_nhwc(self, dy, at_z=False):
        f = self.cache["activation"]
        dz = dy if at_z or f is None else f.backward(dy, self.cache["y"])  # dL/dz = f'(z) * dL/dy
        col = self.cache["col"]
        N, H_out, W_out, KH, KW, C_in = col.shape
        col2d = col.reshape(N * H_out * W_out, KH * KW * C_in)
        dz2 = dz.reshape(N * H_out * W_out, self.filters)
        self.grads["kernel"][...] = (col2d.T @ dz2).reshape(self.grads["kernel"].shape)
        if self.use_bias:
            self.grads["bias"][...] = dz2.sum(axis=0)
        dcol = (dz2 @ self.params["kernel"].reshape(KH * KW * C_in, self.filters).T).reshape(col.shape)
        dx_pad = col2im_stride_ignored(dcol, self.cache["x_pad_shape"], *self.strides, *self.dilation_rate)
        H, W = self.cache["hw"]
        dx = im.crop_nhwc(dx_pad, self.cache["pads"], H, W)
        return dx.transpose(0, 3, 1, 2) if self.data_format == "channels_first" else dx


def _pool_odd_before(base):
    right = base._forward_kernel  # the layer's own (readable) forward kernel

    def forward_odd_before(x, pool_size, strides, padding):
        geometry = pooling._geometry

        def odd_before(*args):
            *rest, pads = geometry(*args)
            return (*rest, _swap(pads))

        pooling._geometry = odd_before  # the kernel's 'same' pads, odd cell before
        try:
            return right(x, pool_size, strides, padding)
        finally:
            pooling._geometry = geometry

    class SamePaddingOddBefore(base):
        kernel_tier = "readable"
        _forward_kernel = staticmethod(forward_odd_before)

    SamePaddingOddBefore.__name__ = base.__name__
    return SamePaddingOddBefore


def _pool_pads_as_cells(base, value):
    """'same' by padding with ``value`` and then pooling 'valid': the padding takes part."""
    right_forward, right_backward = base._forward_kernel, base._backward_kernel

    def forward_pads_as_cells(x, pool_size, strides, padding):
        if padding != "same":
            return right_forward(x, pool_size, strides, padding)
        _, H, W, _ = x.shape
        pads = im.padding_amounts(H, W, *pool_size, *strides, "same")
        y, cache = right_forward(im.pad_nhwc(x, pads, value=value), pool_size, strides, "valid")
        cache["true"] = (pads, H, W)  # pool the padded image as if it were real
        return y, cache

    def backward_pads_as_cells(dy, cache):
        dx_pad = right_backward(dy, cache)
        if "true" not in cache:
            return dx_pad
        pads, H, W = cache["true"]
        return im.crop_nhwc(dx_pad, pads, H, W)

    class PaddingTakesPart(base):
        kernel_tier = "readable"
        _forward_kernel = staticmethod(forward_pads_as_cells)
        _backward_kernel = staticmethod(backward_pads_as_cells)

    PaddingTakesPart.__name__ = base.__name__
    return PaddingTakesPart


def _max_pool_backward_overwrites(dy, cache):
    """Overlapping windows: dx_pad[...] = ... instead of += (later windows erase earlier ones)."""
    xp = backend.get_array_module(dy)
    argmax = cache["argmax"]
    (KH, KW), (SH, SW) = cache["pool_size"], cache["strides"]
    _, H_out, W_out, _ = dy.shape
    dx_pad = xp.zeros(cache["x_pad_shape"], dtype=dy.dtype)
    for t in range(KH * KW):
        i, j = divmod(t, KW)
        rows, cols = im.tap_slice(i, j, H_out, W_out, SH, SW)
        dx_pad[:, rows, cols, :] = dy * (argmax == t)
    H, W = cache["hw"]
    return im.crop_nhwc(dx_pad, cache["pads"], H, W)


class MaxPoolOverwrites(MaxPooling2D):
    """Overlapping windows: dx_pad[...] = ... instead of += (later windows erase earlier ones)."""

    kernel_tier = "readable"
    _backward_kernel = staticmethod(_max_pool_backward_overwrites)


class BatchNormUnbiasedVariance(BatchNormalization):
    def forward(self, x, training=False):
        y = super().forward(x, training)
        if not self.cache["batch_stats"]:
            return y
        reduce_axes, bshape = self._shapes(x)
        M = x.size // x.shape[self._axis(x.ndim)]
        x_hat_biased = self.cache["x_hat"]
        var_biased = 1.0 / self.cache["inv_std"] ** 2 - self.epsilon
        inv_std = 1.0 / backend.get_array_module(x).sqrt(var_biased * M / (M - 1) + self.epsilon)
        x_hat = x_hat_biased * self.cache["inv_std"] ** -1 * inv_std
        self.cache["x_hat"], self.cache["inv_std"] = x_hat, inv_std
        gamma, beta = self._gamma_beta(bshape, x)
        return x_hat * gamma + (beta if beta is not None else 0)


class BatchNormStatsAsConstants(BatchNormalization):
    """backward forgets that mu and var depend on x: dx = dy * gamma * inv_std."""

    def backward(self, dy):
        self.cache["batch_stats"] = False
        return super().backward(dy)


class BatchNormSumsInsteadOfMeans(BatchNormalization):
    def backward(self, dy):
        super().backward(dy)
        x_hat, inv_std = self.cache["x_hat"], self.cache["inv_std"]
        reduce_axes, bshape = self._shapes(dy)
        dx_hat = dy * self._gamma_beta(bshape, dy)[0]
        if not self.cache["batch_stats"]:
            return dx_hat * inv_std
        return inv_std * (dx_hat - dx_hat.sum(axis=reduce_axes, keepdims=True)
                          - x_hat * (dx_hat * x_hat).sum(axis=reduce_axes, keepdims=True))


# ------------------------------------------------------------------ dropout
class DropoutNotInverted(Dropout):
    def forward(self, x, training=False, mask=None):
        if not training or self.rate == 0.0:
            self.cache = {"keep": None}
            return x
        keep = (self.make_mask(x.shape, x.dtype) > 0).astype(x.dtype)
        self.cache = {"keep": keep}
        return x * keep

    def backward(self, dy):
        keep = self.cache["keep"]
        return dy if keep is None else dy * keep


class DropoutBackwardMaskForgotten(Dropout):
    def backward(self, dy):
        return dy


class DropoutAtInference(Dropout):
    def forward(self, x, training=False, mask=None):
        return super().forward(x, training=True, mask=mask)
