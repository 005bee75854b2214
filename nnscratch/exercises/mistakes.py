"""The classic mistakes, each written down as a working bug: a subclass of the real layer,
activation, loss or optimizer (or a helper function) with that one mistake planted.

They have two uses. ``check`` runs them on the same inputs as the student's code: when the
student's wrong output equals a planted mistake's output, the report names that mistake and
gives its hint. The tests run ``check`` on them and require each to be caught and named.
"""
from __future__ import annotations

from dataclasses import dataclass

from nnscratch import activations, backend, losses, optimizers
from nnscratch.layers import im2col as im
from nnscratch.layers.conv import Conv2D
from nnscratch.layers.dense import Dense
from nnscratch.layers.dropout import Dropout
from nnscratch.layers.normalization import BatchNormalization
from nnscratch.layers.pooling import AveragePooling2D, MaxPooling2D


@dataclass(frozen=True)
class Mistake:
    """``impl`` is the buggy class (a subclass of the exercise's target) or, when ``function``
    names a helper ('col2im'), the buggy function."""

    key: str
    title: str
    hint: str
    impl: object
    function: str = ""


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
    def _backward_nhwc(self, dz):
        col2d = self.cache["col2d"]
        N, H_out, W_out, KH, KW, C_in = self.cache["col_shape"]
        dz2 = dz.reshape(N * H_out * W_out, self.filters)
        self.grads["kernel"][...] = (col2d.T @ dz2).reshape(self.grads["kernel"].shape)
        if self.use_bias:
            self.grads["bias"][...] = dz2.sum(axis=0)
        dcol = (dz2 @ self.params["kernel"].reshape(KH * KW * C_in, self.filters).T).reshape(self.cache["col_shape"])
        dx_pad = col2im_stride_ignored(dcol, self.cache["x_pad_shape"], *self.strides, *self.dilation_rate)
        H, W = self.cache["hw"]
        dx = im.crop_nhwc(dx_pad, self.cache["pads"], H, W)
        return dx.transpose(0, 3, 1, 2) if self.data_format == "channels_first" else dx


def _pool_odd_before(base):
    class SamePaddingOddBefore(base):
        def _geometry(self, x):
            *rest, pads = super()._geometry(x)
            return (*rest, _swap(pads))

    SamePaddingOddBefore.__name__ = base.__name__
    return SamePaddingOddBefore


def _pool_pads_as_cells(base, value):
    """'same' by padding with ``value`` and then pooling 'valid': the padding takes part."""

    class PaddingTakesPart(base):
        def _forward_nhwc(self, x):
            if self.padding != "same":
                return super()._forward_nhwc(x)
            _, H, W, _ = x.shape
            pads = im.padding_amounts(H, W, *self.pool_size, *self.strides, "same")
            self._true = (pads, H, W)
            self.padding = "valid"  # pool the padded image as if it were real
            try:
                return super()._forward_nhwc(im.pad_nhwc(x, pads, value=value))
            finally:
                self.padding = "same"

        def _backward_nhwc(self, dy):
            dx_pad = super()._backward_nhwc(dy)
            if self.padding != "same":
                return dx_pad
            pads, H, W = self._true
            return im.crop_nhwc(dx_pad, pads, H, W)

    PaddingTakesPart.__name__ = base.__name__
    return PaddingTakesPart


class MaxPoolOverwrites(MaxPooling2D):
    """Overlapping windows: dx_pad[...] = ... instead of += (later windows erase earlier ones)."""

    def _backward_nhwc(self, dy):
        xp = backend.get_array_module(dy)
        argmax = self.cache["argmax"]
        (KH, KW), (SH, SW) = self.pool_size, self.strides
        _, H_out, W_out, _ = dy.shape
        dx_pad = xp.zeros(self.cache["x_pad_shape"], dtype=dy.dtype)
        for t in range(KH * KW):
            i, j = divmod(t, KW)
            rows, cols = im.tap_slice(i, j, H_out, W_out, SH, SW)
            dx_pad[:, rows, cols, :] = dy * (argmax == t)
        H, W = self.cache["hw"]
        return im.crop_nhwc(dx_pad, self.cache["pads"], H, W)


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


# ------------------------------------------------------------------ activations, loss
def _activation_derivative_forgotten(base):
    class DerivativeForgotten(base):
        def backward(self, dy, y):
            return dy

    DerivativeForgotten.__name__ = base.__name__
    return DerivativeForgotten


class SigmoidDerivativeOfOutput(activations.Sigmoid):
    def backward(self, dy, y):
        s = self(y)
        return dy * s * (1 - s)


class TanhDerivativeNotSquared(activations.Tanh):
    def backward(self, dy, y):
        return dy * (1 - y)


class SoftmaxCEMissingOneOverN(losses.SparseCategoricalCrossentropy):
    def backward(self):
        return super().backward() * self.cache["y"].shape[0]


class SoftmaxCESignFlipped(losses.SparseCategoricalCrossentropy):
    def backward(self):
        return -super().backward()


class SoftmaxCENoMaxShift(losses.SparseCategoricalCrossentropy):
    def forward_logits(self, z, y_true):
        xp = backend.get_array_module(z)
        with_errstate = getattr(xp, "errstate", None)
        y = y_true.reshape(-1)
        z2 = z.reshape(-1, z.shape[-1])
        with (with_errstate(over="ignore", invalid="ignore", divide="ignore") if with_errstate else _Null()):
            log_p = z2 - xp.log(xp.exp(z2).sum(axis=-1, keepdims=True))  # exp overflows for large z
        rows = xp.arange(z2.shape[0])
        self.cache = {"mode": "logits", "log_p": log_p, "y": y, "shape": z.shape}
        return self._reduce(xp, (-log_p[rows, y]).reshape(z.shape[:-1]))


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ------------------------------------------------------------------ optimizers
class SGDVelocityRebound(optimizers.SGD):
    def update_step(self, param, grad, state, lr):
        if self.momentum == 0.0:
            return super().update_step(param, grad, state, lr)
        m = state["momentum"]
        m = self.momentum * m - lr * grad  # a NEW array: state["momentum"] stays zero
        param += (self.momentum * m - lr * grad) if self.nesterov else m


class SGDNesterovIgnored(optimizers.SGD):
    def update_step(self, param, grad, state, lr):
        nesterov, self.nesterov = self.nesterov, False
        try:
            super().update_step(param, grad, state, lr)
        finally:
            self.nesterov = nesterov


class RMSpropEpsOutsideSqrt(optimizers.RMSprop):
    def update_step(self, param, grad, state, lr):
        xp = backend.get_array_module(param)
        v = state["velocity"]
        v *= self.rho
        v += (1 - self.rho) * grad * grad
        den = v
        if self.centered:
            a = state["average_gradient"]
            a *= self.rho
            a += (1 - self.rho) * grad
            den = v - a * a
        inc = lr * grad / (xp.sqrt(den) + self.epsilon)
        if self.momentum > 0:
            mom = state["momentum"]
            mom *= self.momentum
            mom += inc
            inc = mom
        param -= inc


class AdamNoBiasCorrection(optimizers.Adam):
    def _t(self):
        return float("inf")  # b^t -> 0: alpha = lr, as if the moments were never corrected


class AdamEpsInsideSqrt(optimizers.Adam):
    def update_step(self, param, grad, state, lr):
        xp = backend.get_array_module(param)
        t = self._t()
        m, v = state["momentum"], state["velocity"]
        m += (grad - m) * (1 - self.beta_1)
        v += (grad * grad - v) * (1 - self.beta_2)
        if self.amsgrad:
            xp.maximum(state["velocity_hat"], v, out=state["velocity_hat"])
            v = state["velocity_hat"]
        alpha = lr * (1 - self.beta_2 ** t) ** 0.5 / (1 - self.beta_1 ** t)
        param -= alpha * m / xp.sqrt(v + self.epsilon)


# ------------------------------------------------------------------ the catalogue of mistakes
_DERIV = ("the activation's derivative is forgotten in backward",
          "backward must go through the activation first: dz = self.activation.backward(dy, y) "
          "(= f'(z) * dy), and only then dW, db and dx from dz")
_ODD = ("'same' padding's odd cell on the wrong side",
        "TensorFlow's 'same' puts the extra row/column at the BOTTOM/RIGHT: "
        "before = total // 2, after = total - before")

MISTAKES = {
    "dense": [
        Mistake("activation_derivative_forgotten", *_DERIV, _derivative_forgotten(Dense)),
        Mistake("bias_grad_averaged", "db averaged over the batch (an extra 1/N)",
                "db = sum over the batch of dz; the loss's dy already carries the 1/N", DenseBiasGradAveraged),
    ],
    "relu": [Mistake("activation_derivative_forgotten", "relu's derivative forgotten",
                     "dx = dy * (y > 0): units that were off pass no gradient",
                     _activation_derivative_forgotten(activations.ReLU))],
    "sigmoid": [
        Mistake("activation_derivative_forgotten", "sigmoid's derivative forgotten",
                "dx = dy * y * (1 - y)", _activation_derivative_forgotten(activations.Sigmoid)),
        Mistake("derivative_of_output", "sigmoid' evaluated at the output y instead of the input",
                "backward(dy, y) receives y = sigmoid(x) already: sigmoid'(x) = y * (1 - y), "
                "not sigmoid(y) * (1 - sigmoid(y))", SigmoidDerivativeOfOutput),
    ],
    "tanh": [
        Mistake("activation_derivative_forgotten", "tanh's derivative forgotten", "dx = dy * (1 - y^2)",
                _activation_derivative_forgotten(activations.Tanh)),
        Mistake("tanh_not_squared", "tanh' written as 1 - y", "tanh'(x) = 1 - tanh(x)^2 = 1 - y * y",
                TanhDerivativeNotSquared),
    ],
    "softmax_cross_entropy": [
        Mistake("missing_one_over_n", "a missing 1/N",
                "the loss is the MEAN over the batch, so dL/dz = (softmax(z) - onehot(y)) / N", SoftmaxCEMissingOneOverN),
        Mistake("sign_flipped", "the gradient's sign is flipped", "dL/dz = softmax(z) - onehot(y), not onehot - softmax",
                SoftmaxCESignFlipped),
        Mistake("no_max_shift", "exp overflows: softmax without the max shift",
                "subtract z.max(axis=-1, keepdims=True) before exp (softmax is shift-invariant), "
                "and take log-softmax as z - logsumexp(z)", SoftmaxCENoMaxShift),
    ],
    "dropout": [
        Mistake("not_inverted", "kept units not scaled by 1/(1 - rate)",
                "inverted dropout: y = x * mask / (1 - rate) in training (and dx = dy * mask / (1 - rate)), "
                "so that inference needs no rescaling", DropoutNotInverted),
        Mistake("backward_mask_forgotten", "the mask is forgotten in backward",
                "dx = dy * mask / (1 - rate): dropped units get no gradient", DropoutBackwardMaskForgotten),
        Mistake("dropout_at_inference", "dropout applied at inference",
                "with training=False Dropout is the identity (y = x, dx = dy)", DropoutAtInference),
    ],
    "conv2d": [
        Mistake("kernel_flipped", "kernel flipped (true convolution instead of cross-correlation)",
                "deep-learning 'convolution' is cross-correlation: y[h, w] = sum x[h*SH + i, w*SW + j] * W[i, j], "
                "with no W[KH-1-i, KW-1-j]", ConvKernelFlipped),
        Mistake("same_padding_odd_before", *_ODD, ConvSamePaddingOddBefore),
        Mistake("same_padding_odd_before", *_ODD, same_padding_odd_before, function="same_padding"),
        Mistake("stride_ignored_in_col2im", "stride ignored in col2im",
                "col2im must add tap (i, j)'s gradient back at rows i*DH + h*SH (slice(i*DH, ..., SH)), the same "
                "strided slices im2col read", ConvStrideIgnoredInCol2im),
        Mistake("stride_ignored_in_col2im", "stride ignored in col2im",
                "col2im must add tap (i, j)'s gradient back at rows i*DH + h*SH (slice(i*DH, ..., SH)), the same "
                "strided slices im2col read", col2im_stride_ignored, function="col2im"),
        Mistake("activation_derivative_forgotten", *_DERIV, _derivative_forgotten(Conv2D)),
    ],
    "max_pooling2d": [
        Mistake("same_padding_odd_before", *_ODD, _pool_odd_before(MaxPooling2D)),
        Mistake("same_padding_odd_before", *_ODD, same_padding_odd_before, function="same_padding"),
        Mistake("padding_with_zeros", "'same' padding with zeros takes part in the max",
                "pad with -inf (or skip padded cells): a padded cell must never win the max", 
                _pool_pads_as_cells(MaxPooling2D, 0.0)),
        Mistake("overlap_overwrites", "overlapping windows overwrite instead of accumulate",
                "when strides < pool_size a cell can win in several windows: dx_pad[...] += ..., not =",
                MaxPoolOverwrites),
    ],
    "average_pooling2d": [
        Mistake("same_padding_odd_before", *_ODD, _pool_odd_before(AveragePooling2D)),
        Mistake("same_padding_odd_before", *_ODD, same_padding_odd_before, function="same_padding"),
        Mistake("padded_cells_counted", "padded cells counted in the average (a wrong 1/N)",
                "TF's 'same' divides each window by the number of REAL cells in it, not by KH*KW",
                _pool_pads_as_cells(AveragePooling2D, 0.0)),
    ],
    "batch_normalization": [
        Mistake("unbiased_variance", "unbiased variance (1/(M-1)) in training",
                "Keras normalises with the biased batch variance, mean((x - mu)^2) = sum / M", BatchNormUnbiasedVariance),
        Mistake("stats_as_constants", "mu and var treated as constants in backward",
                "in training mu and var depend on every x: dx = inv_std * (dx_hat - mean(dx_hat) - "
                "x_hat * mean(dx_hat * x_hat))", BatchNormStatsAsConstants),
        Mistake("sums_instead_of_means", "sums where the backward needs means (a missing 1/M)",
                "the two correction terms are MEANS over the M values per channel", BatchNormSumsInsteadOfMeans),
    ],
    "sgd": [
        Mistake("velocity_not_stored", "the velocity is never stored (state not updated in place)",
                "m = momentum * m - lr * g makes a new array and leaves state['momentum'] at zero: update it in "
                "place (m *= momentum; m -= lr * g, or state['momentum'][...] = ...)", SGDVelocityRebound),
        Mistake("nesterov_ignored", "nesterov=True ignored",
                "Nesterov: w = w + momentum * m - lr * g, with the NEW m", SGDNesterovIgnored),
    ],
    "rmsprop": [Mistake("eps_outside_sqrt", "epsilon outside the square root",
                        "Keras: w -= lr * g / sqrt(v + eps), eps INSIDE the sqrt", RMSpropEpsOutsideSqrt)],
    "adam": [
        Mistake("no_bias_correction", "bias correction forgotten",
                "alpha = lr * sqrt(1 - b2^t) / (1 - b1^t) with t = iterations + 1", AdamNoBiasCorrection),
        Mistake("eps_inside_sqrt", "epsilon inside the square root",
                "Keras's Adam: w -= alpha * m / (sqrt(v) + eps), eps OUTSIDE the sqrt", AdamEpsInsideSqrt),
    ],
}


def for_exercise(name):
    return MISTAKES.get(name, [])
