"""Regularization penalties in training: their value joins the loss, their gradient the layer's.

For every layer with ``kernel_regularizer`` (``bias_regularizer``) R and weight w:

    total loss = loss + sum_layers R(w)                 (not divided by the batch: Keras's rule)
    grads[w]  += dR/dw                                  (after backward has written dL/dw)

``activity_regularizer`` A on a layer's output y adds A(y) / N to the loss (Keras 3 divides it
by the batch size N), so dL/dy gains dA/dy / N: the trainer adds it to the dy that reaches
that layer (``activity_gradient``), through the backward hook of the layer that follows.

Activity regularizers work in Sequential models: a forward hook on the regularized layer
records y and adds A(y)/N to the penalty; the backward hook of the next layer (the one that
consumes y) adds dA/dy / N to the dx it hands down, which is dL/dy. On the output layer the
term joins the loss's dy directly (not possible at fused logits: refused).
"""
from __future__ import annotations

import contextlib

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


class ActivityPenalty:
    """One forward/backward's activity penalties (see the module docstring)."""

    def __init__(self, model, layers):
        if type(model).__name__ != "Sequential":
            raise ValueError(f"Model '{model.name}': activity_regularizer is supported in Sequential models only "
                             f"(layers {', '.join(l.name for l in layers)})")
        self.penalty, self.outputs, self.handles = 0.0, {}, []
        stack = model.layers
        self.output_layer = stack[-1]
        for layer in layers:
            self.handles.append(layer.register_forward_hook(self._record))
            i = next(k for k, l in enumerate(stack) if l is layer)
            if i + 1 < len(stack):
                self.handles.append(stack[i + 1].register_backward_hook(self._adder(layer)))

    def _record(self, layer, x, y):
        """penalty += A(y) / N (Keras 3 divides the activity loss by the batch size)."""
        self.outputs[layer] = y
        self.penalty = self.penalty + layer.activity_regularizer(y) / y.shape[0]

    def gradient(self, layer):
        """dA(y)/dy / N for the recorded output y of ``layer``."""
        y = self.outputs[layer]
        return layer.activity_regularizer.gradient(y) / y.shape[0]

    def _adder(self, layer):
        def add_to_dx(consumer, dy, dx):  # dx of the consumer is dL/dy of ``layer``
            if dx is not None and layer in self.outputs:
                dx += self.gradient(layer)
        return add_to_dx

    def at_output(self, dy, from_logits):
        """The loss's dy plus the output layer's own activity gradient, if it has one."""
        if self.output_layer not in self.outputs:
            return dy
        if from_logits:
            raise ValueError(f"layer '{self.output_layer.name}': an activity_regularizer on a softmax/sigmoid output "
                             "fused with its cross-entropy is not supported; regularize an earlier layer")
        return dy + self.gradient(self.output_layer)

    def remove(self):
        for handle in self.handles:
            handle.remove()


@contextlib.contextmanager
def activity_scope(model):
    """``with activity_scope(model) as act:`` forward and backward of one step; ``act`` is None
    when no layer has an activity regularizer."""
    layers = activity_layers(model)
    scope = ActivityPenalty(model, layers) if layers else None
    try:
        yield scope
    finally:
        if scope is not None:
            scope.remove()
