"""SOLUTIONS to the notebooks' exercises. Try each exercise before you read its answer here.

Every exercise cell ends with ``answer = solution("04.lenet_params", answer)``: normally that
returns *your* answer unchanged, so the check cell below it grades your work. The tests run
the notebooks with ``NNSCRATCH_NOTEBOOK_SOLUTIONS=1``; then ``solution`` returns the reference
answer from this file instead, so that CI checks the checks (and the notebooks) end to end.
"""
import os

import numpy as np


def solution(key, yours):
    """Your answer, or (with NNSCRATCH_NOTEBOOK_SOLUTIONS=1, as in the tests) the reference one."""
    if os.environ.get("NNSCRATCH_NOTEBOOK_SOLUTIONS") == "1":
        return SOLUTIONS[key]
    return yours


# ---------------------------------------------------------------- 01 images as tensors
def flat_index(h, w):
    return h * 28 + w


def to_nchw(x):
    return x.transpose(0, 3, 1, 2)


def standardise(train, test):
    mean, std = train.mean(), train.std()
    return (train - mean) / std, (test - mean) / std


# ---------------------------------------------------------------- 02 softmax, cross-entropy
def softmax_backward(dy, p):
    # dL/dz_i = sum_j dy_j dp_j/dz_i = p_i (dy_i - sum_j dy_j p_j)
    return p * (dy - (dy * p).sum(axis=1, keepdims=True))


def bce_grad_logits(z, y):
    return (1.0 / (1.0 + np.exp(-z)) - y) / len(y)


# ---------------------------------------------------------------- 03 MLP
def dropout_forward(x, rate, rng):
    keep = rng.random(x.shape) >= rate
    return x * keep / (1.0 - rate)


# ---------------------------------------------------------------- 04 LeNet
def conv_output_size(n, k, stride, padding):
    if padding == "same":
        return -(-n // stride)  # ceil(n / stride)
    return (n - k) // stride + 1


# ---------------------------------------------------------------- 05 optimizers
def momentum_step(w, g, v, lr, mu):
    v = mu * v - lr * g  # Keras keeps lr inside the velocity
    return w + v, v


def adam_step(w, g, m, v, t, lr, b1=0.9, b2=0.999, eps=1e-7):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)  # Keras folds the bias correction into lr
    return w - alpha * m / (np.sqrt(v) + eps), m, v


# ---------------------------------------------------------------- 06 backprop
def leaky_relu_backward(dy, x, slope):
    return dy * np.where(x > 0, 1.0, slope)


# ---------------------------------------------------------------- 07 beside Keras
def dense_relu_forward(x, kernel, bias):
    return np.maximum(x @ kernel + bias, 0.0)


# ---------------------------------------------------------------- 09 initialisation
def he_std(fan_in):
    return np.sqrt(2.0 / fan_in)


def batchnorm_forward(x, gamma, beta, eps):
    mean, var = x.mean(axis=0), x.var(axis=0)
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


SOLUTIONS = {
    "01.flat_index": flat_index,
    "01.to_nchw": to_nchw,
    "01.standardise": standardise,
    "02.softmax_backward": softmax_backward,
    "02.bce_grad_logits": bce_grad_logits,
    "03.mlp_params": 784 * 128 + 128 + 128 * 10 + 10,
    "03.dropout_forward": dropout_forward,
    "04.lenet_params": [5 * 5 * 1 * 6 + 6, 5 * 5 * 6 * 16 + 16, 400 * 120 + 120, 120 * 84 + 84, 84 * 10 + 10],
    "04.conv_output_size": conv_output_size,
    "05.momentum_step": momentum_step,
    "05.adam_step": adam_step,
    "06.leaky_relu_backward": leaky_relu_backward,
    "07.dense_relu_forward": dense_relu_forward,
    "09.he_std": he_std,
    "09.batchnorm_forward": batchnorm_forward,
    "10.fix": {"scale": 255.0, "learning_rate": 0.2},
    "10.culprit": "act_b",
}
