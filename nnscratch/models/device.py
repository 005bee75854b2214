"""Where a model's weights live: their backend and dtype, checked against the global choices
when data comes in, and ``model.to(backend_name)`` to move them.

The backend and ``floatx`` are process-wide (Keras's), and a model's arrays are created on the
backend and in the dtype that were current when it was built. When the global choice changes
afterwards, the data prepared for ``fit``/``predict`` would follow the new choice while the
weights stay where they are:

* another backend: the arrays cannot be mixed; ``check_weights_backend`` says where the
  weights are and how to move them (``model.to(name)``, which ``move_model`` implements);
* another float type: the inputs are cast to the weights' dtype (as Keras casts inputs to a
  layer's dtype) with a warning naming both dtypes (``input_dtype``).
"""
from __future__ import annotations

import warnings

from nnscratch import backend


def _first_weight(model):
    for layer in model.layers:
        for w in layer.weights:
            return w
    return None


def check_weights_backend(model):
    """RuntimeError when the model's weights live on another backend than the current one."""
    w = _first_weight(model)
    if w is None:
        return
    where, now = backend.backend_of(w), backend.current()
    if where != now:
        raise RuntimeError(
            f"Model '{model.name}': its weights live on the '{where}' backend but the current backend is "
            f"'{now}' (set_backend was called after the model was built). Move the model with "
            f"model.to('{now}'), or switch back with nn.backend.set_backend('{where}').")


def weights_dtype(model):
    """The weights' float dtype name, or ``floatx()`` before the model has weights."""
    w = _first_weight(model)
    return w.dtype.name if w is not None and w.dtype.kind == "f" else backend.floatx()


def input_dtype(model):
    """The dtype that inputs are cast to: ``weights_dtype(model)``, with a warning when that
    differs from ``floatx()``."""
    dtype = weights_dtype(model)
    if dtype == backend.floatx():
        return dtype
    warnings.warn(
        f"Model '{model.name}': its weights are {dtype} but nn.backend.floatx() is {backend.floatx()} "
        f"(set_floatx was called after the model was built); the inputs are cast to {dtype}, the "
        f"weights' dtype, as Keras casts inputs to a layer's dtype. To train in {backend.floatx()}, build the "
        f"model after set_floatx('{backend.floatx()}').", UserWarning, stacklevel=4)
    return dtype


def _move_layer(layer):
    for store in (layer.params, layer.grads, layer.state):
        for k in store:
            store[k] = backend.to_device(store[k])
    layer.cache = {}  # the last forward's arrays; the next forward refills it
    for name, value in list(vars(layer).items()):  # array buffers a layer keeps between calls
        if backend.is_array(value):
            setattr(layer, name, backend.to_device(value))


def move_model(model, name):
    """Move every layer's params, grads and state, and the optimizer's slots, to backend
    ``name`` ('numpy', 'cupy' or 'emulated'); returns the model. References to the old arrays
    held elsewhere (trace records) keep the old copies. The current backend is not changed."""
    with backend.backend_scope(name):  # validates the name (and CuPy's presence) first
        for layer in model.layers:
            _move_layer(layer)
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None:
            for slots in optimizer.state.values():
                for k in slots:
                    slots[k] = backend.to_device(slots[k])
            if hasattr(optimizer, "_scratch_bufs"):
                optimizer._scratch_bufs = {}  # scratch space is reallocated on the new device
    return model
