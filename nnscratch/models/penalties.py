"""Regularization penalties in training: their value joins the loss, their gradient the layer's.

For every layer with ``kernel_regularizer`` (``bias_regularizer``) R and weight w:

    total loss = loss + sum_layers R(w)                 (not divided by the batch: Keras's rule)
    grads[w]  += dR/dw                                  (after backward has written dL/dw)

``activity_regularizer`` A on a layer's output y adds A(y) / N to the loss (Keras 3 divides it
by the batch size N), so dL/dy gains dA/dy / N: the trainer adds it to the dy that reaches
that layer (``activity_gradient``), through the backward hook of the layer that follows.
"""
from __future__ import annotations

_WEIGHTS = (("kernel_regularizer", "kernel"), ("bias_regularizer", "bias"))


def regularized(model):
    """[(layer, param name, regularizer)] for every trainable regularized weight of the model."""
    out = []
    for layer in model.layers:
        if not layer.trainable:
            continue
        for attr, key in _WEIGHTS:
            reg = getattr(layer, attr, None)
            if reg is not None and key in layer.params:
                out.append((layer, key, reg))
    return out


def weight_penalty(model):
    """sum R(w) over the regularized weights (0.0 when there are none)."""
    total = 0.0
    for layer, key, reg in regularized(model):
        total = total + reg(layer.params[key])
    return total


def add_weight_gradients(model):
    """grads[w] += dR/dw for every regularized weight (call after model.backward)."""
    for layer, key, reg in regularized(model):
        layer.grads[key] = layer.grads[key] + reg.gradient(layer.params[key])


def activity_layers(model):
    return [layer for layer in model.layers if getattr(layer, "activity_regularizer", None) is not None]
