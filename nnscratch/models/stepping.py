"""``model.backward_steps(x, y)``: one training step, paused after every layer.

A generator that does exactly what ``Model.train_step`` does, but yields a ``Step`` after each
layer's forward, after the loss, after each layer's backward and after the optimizer update,
so that a student can walk through backprop in a notebook cell or under pdb::

    steps = model.backward_steps(x_batch, y_batch)
    s = next(steps)        # Step(phase='forward', layer='dense', x (32, 784) -> y (32, 128))
    s.cache.keys()         # what Dense.forward kept for its backward: x, y
    for s in steps:        # ... or run to the end
        print(s)

Order of the steps::

    forward  layer 0, layer 1, ..., layer L-1     y_k = layer_k(y_{k-1}, training=True)
    loss                                           L = loss(y_{L-1}, y), dy = dL/dy_{L-1}
    backward layer L-1, ..., layer 0               dx_k = layer_k.backward(dy_k)
    update                                         optimizer.step(model.parameters())

Differences from ``train_step``, both on purpose: every layer's backward runs and computes
``dx`` (training skips the input gradient of the first trainable layer and everything before
it, because no one needs it), and with ``apply_update=False`` the parameters are left as they
were (the gradients are still in ``layer.grads``). The parameter updates are identical.
When the output activation is fused with the loss, the 'loss' step's ``dy`` is dL/dz at the
logits and the last layer's backward runs at the logits (``call_backward(dz, from_logits=True)``), as in training.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from nnscratch import backend
from nnscratch.models.data_adapter import prepare_x, prepare_y


def _shape(a):
    return None if a is None else tuple(a.shape)


def _norm(a):
    """L2 norm of an array, as a Python float ('-' when there is none)."""
    if a is None:
        return "-"
    xp = backend.get_array_module(a)
    return f"{backend.to_float(xp.sqrt(xp.sum(xp.square(a.astype('float64')))) ):.3g}"


@dataclass
class Step:
    """One pause of ``backward_steps``.

    Attributes:
        phase: 'forward', 'loss', 'backward' or 'update'.
        index: the layer's position in ``model.layers`` (None for 'loss' and 'update').
        layer: the layer object (None for 'loss' and 'update').
        cache: the layer's ``cache`` dict right after this step (what backward will read).
        x, y: the layer's input and output ('forward'); for 'loss', y is the prediction.
        dy, dx: the gradient arriving at the layer and the one it sends down ('backward');
            for 'loss', dy is dL/dy_pred (or dL/dz when fused).
        loss: the batch loss (from the 'loss' step on), a Python float.
        from_logits: True when the loss was fused with the output activation.
    """

    phase: str
    index: int = None
    layer: object = None
    cache: dict = field(default_factory=dict)
    x: object = None
    y: object = None
    dy: object = None
    dx: object = None
    loss: float = None
    from_logits: bool = False

    def __repr__(self):
        name = f" layer {self.index} '{self.layer.name}' ({type(self.layer).__name__})" if self.layer is not None else ""
        if self.phase == "forward":
            detail = f"x {_shape(self.x)} -> y {_shape(self.y)}, cache keys {sorted(self.cache)}"
        elif self.phase == "backward":
            detail = f"dy {_shape(self.dy)} -> dx {_shape(self.dx)}, |dy| {_norm(self.dy)} -> |dx| {_norm(self.dx)}"
        elif self.phase == "loss":
            detail = f"loss {self.loss:.6g}, dy {_shape(self.dy)}, |dy| {_norm(self.dy)}" + (" (at the logits)" if self.from_logits else "")
        else:
            detail = f"loss {self.loss:.6g} (before the update)"
        return f"Step({self.phase}{name}: {detail})"


def backward_steps(model, x, y, apply_update=True):
    """Generator over the ``Step``s of one training step of a compiled Sequential model (a plain
    stack: each layer feeds the next)."""
    if getattr(model, "_layers", None) is None or getattr(model, "_graph", None) is not None:
        raise TypeError(f"backward_steps: expected a Sequential model, received {type(model).__name__}")
    model._require_compiled("backward_steps")
    return _steps(model, x, y, apply_update)


def _steps(model, x, y, apply_update):
    x_dev, n = prepare_x(model, x)
    y_dev = prepare_y(model, y, n)
    layers = model.layers

    h = x_dev
    for i, layer in enumerate(layers):
        out = layer(h, training=True)
        yield Step("forward", i, layer, layer.cache, x=h, y=out)
        h = out

    loss, fused = model.loss_at_output(h, y_dev)  # from the logits z when fused (no clipping)
    dy = model.loss.backward()  # dL/dy_pred (or dL/dz), already divided by the batch size
    loss = backend.to_float(loss)
    yield Step("loss", y=h, dy=dy, loss=loss, from_logits=fused)

    for i in range(len(layers) - 1, -1, -1):
        layer = layers[i]
        with model._every_input_grad():  # a step-through computes every dx
            dx = layer.call_backward(dy, from_logits=fused and i == len(layers) - 1)
        yield Step("backward", i, layer, layer.cache, dy=dy, dx=dx, loss=loss, from_logits=fused and i == len(layers) - 1)
        dy = dx

    if apply_update:
        model.optimizer.step(model.parameters())
        yield Step("update", loss=loss)
