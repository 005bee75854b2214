"""The classic mistakes, each written down as a working bug: a subclass of the real layer,
activation, loss or optimizer (or a helper function) with that one mistake planted
(``planted_layers.py``, ``planted_math.py``), with its name and its hint.

They have two uses. ``check`` runs them on the same inputs as the student's code: when the
student's wrong output equals a planted mistake's output, the report names that mistake and
gives its hint. The tests run ``check`` on them and require each to be caught and named.
"""
from __future__ import annotations

from dataclasses import dataclass

from nnscratch import activations
from nnscratch.exercises.planted_layers import (
    BatchNormStatsAsConstants, BatchNormSumsInsteadOfMeans, BatchNormUnbiasedVariance, ConvKernelFlipped,
    ConvSamePaddingOddBefore, ConvStrideIgnoredInCol2im, DenseBiasGradAveraged, DropoutAtInference,
    DropoutBackwardMaskForgotten, DropoutNotInverted, MaxPoolOverwrites, _derivative_forgotten, _pool_odd_before,
    _pool_pads_as_cells, col2im_stride_ignored, same_padding_odd_before)
from nnscratch.exercises.planted_math import (
    AdamEpsInsideSqrt, AdamNoBiasCorrection, RMSpropEpsOutsideSqrt, SGDNesterovIgnored, SGDVelocityRebound,
    SigmoidDerivativeOfOutput, SoftmaxCEMissingOneOverN, SoftmaxCENoMaxShift, SoftmaxCESignFlipped,
    TanhDerivativeNotSquared, _activation_derivative_forgotten)
from nnscratch.layers.conv import Conv2D
from nnscratch.layers.dense import Dense
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
