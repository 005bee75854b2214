"""Input preparation for fit / evaluate / predict: each array is converted once, checked in a
straight line, and moved to the device (Keras's ``data_adapters``, for in-memory arrays).

``prepare_x(model, x)``: convert to an array -> numeric dtype -> at least one sample -> build
the model if it is not built -> shape against the model's input -> NaN/Inf (only with
``nn.config.set_check_numerics(True)``) -> the weights on the current backend (``device.py``)
-> device, in the weights' dtype (``backend.floatx()``, or a warning if that changed since the
model was built). Models with several
inputs take a list of arrays, one per input, which must agree on the number of samples.

``prepare_y(model, y, n)``: convert -> same number of samples as x -> the loss checks the
labels against the model's output (range, integer vs one-hot) before any step runs.
"""
from __future__ import annotations

import warnings

from nnscratch import backend, config
from nnscratch.layers.base import positive_int
from nnscratch.models.device import check_weights_backend, input_dtype, weights_dtype


class OutputSpec:
    """Shape/dtype stand-in for a prediction array (used to validate labels up front)."""

    def __init__(self, shape, dtype):
        self.shape, self.dtype, self.ndim = tuple(shape), dtype, len(shape)


def take(x, index):
    """x[index] for one array, or for each array of a list (several inputs or outputs; None stays)."""
    return [None if a is None else a[index] for a in x] if isinstance(x, list) else x[index]


def shape_of(y):
    """The targets' shape, or a tuple of shapes (None where absent) for several outputs."""
    if y is None:
        return None
    return tuple(None if a is None else tuple(a.shape) for a in y) if isinstance(y, list) else tuple(y.shape)


def first(x):
    """The first array of a multi-input list, or x itself."""
    return x[0] if isinstance(x, list) else x


def batch_size_arg(batch_size, default=32):
    """Keras's default batch size (32) or a positive integer (NumPy integers accepted)."""
    return default if batch_size is None else positive_int(batch_size, "batch_size")


def _as_array(x, name):
    """``x`` as a host or device array, converted once (lists and array-likes go to the host)."""
    if backend.is_array(x):
        return x
    if not hasattr(x, "__len__") and not hasattr(x, "__array__"):
        raise TypeError(f"{name} must be an array, received {type(x).__name__}")
    return backend.to_host(x)


as_array = _as_array


def _check_one(model, x, name, expected_shape, layer_name):
    if x.ndim == 0:
        raise ValueError(f"{name} must have a batch axis, received a scalar")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty (0 samples)")
    if x.dtype.kind not in "fiub":
        raise TypeError(f"Model '{model.name}': {name} must be numeric, received dtype {x.dtype}")
    if expected_shape is not None and tuple(x.shape[1:]) != tuple(expected_shape):
        raise ValueError(
            f"Model '{model.name}': expected {name} of shape (N, {', '.join(map(str, expected_shape))}) "
            f"for layer '{layer_name}', received {tuple(x.shape)}"
        )
    if config.check_numerics() and x.dtype.kind == "f":
        xp = backend.get_array_module(x)
        finite = backend.to_host(xp.isfinite(x).reshape(x.shape[0], -1).all(axis=1))
        if not finite.all():
            raise ValueError(
                f"Model '{model.name}': {name} contain NaN or Inf (first in sample {int(finite.argmin())}); "
                "clean the data or turn checking off with nn.config.set_check_numerics(False)"
            )


def prepare_x(model, x, name="inputs"):
    """(device array or list of them, number of samples), checked against ``model``. Several
    inputs: a list in input order, or a dict by input name (Keras's ``{name: array}``)."""
    if getattr(model, "_multi_in", False) and isinstance(x, dict):
        names = [t.layer.name for t in model.inputs]
        unknown, missing = [k for k in x if k not in names], [k for k in names if k not in x]
        if unknown or missing:
            raise ValueError(f"Model '{model.name}': x as a dict needs one array per input {names}; received keys "
                             f"{list(x)}" + (f" (unknown: {unknown})" if unknown else "")
                             + (f" (missing: {missing})" if missing else ""))
        x = [x[k] for k in names]
    if getattr(model, "_multi_in", False):
        if not isinstance(x, (list, tuple)) or len(x) != len(model.inputs):
            raise ValueError(f"Model '{model.name}': expected a list of {len(model.inputs)} input arrays "
                             f"({', '.join(t.layer.name for t in model.inputs)}), received {type(x).__name__}")
        arrays = [_as_array(a, f"{name}[{i}]") for i, a in enumerate(x)]
        counts = [a.shape[0] if a.ndim else 0 for a in arrays]
        if len(set(counts)) != 1:
            raise ValueError(f"x: the input arrays have different numbers of samples {counts}; they must match")
        for t, a in zip(model.inputs, arrays):
            _check_one(model, a, f"input '{t.layer.name}'", tuple(t.shape[1:]), t.layer.name)
        check_weights_backend(model)
        dtype = input_dtype(model)
        return [backend.to_device(a, dtype=dtype) for a in arrays], counts[0]
    x = _as_array(x, "x")
    if x.ndim and x.shape[0] and not model.built:
        model.build((None,) + tuple(x.shape[1:]))
    expected = tuple(model.input_shape[1:]) if model.built else None
    _check_one(model, x, name, expected, model.layers[0].name if model.layers else "?")
    check_weights_backend(model)  # the backend or floatx may have changed since the model was built
    dtype = input_dtype(model)
    _warn_overflow(model, x, name, dtype)
    return backend.to_device(x, dtype=dtype), x.shape[0]


def _warn_overflow(model, x, name, dtype):
    """Warn when casting to float32 turns finite values into inf (float64 1e300 -> float32)."""
    if x.dtype.kind != "f" or x.dtype.itemsize <= 4 or str(dtype) != "float32":
        return
    xp = backend.get_array_module(x)
    limit = float(xp.finfo("float32").max)
    # two reductions and no temporaries in the common case; the element-wise mask only when needed
    if not (float(backend.to_host(x.max())) > limit or float(backend.to_host(x.min())) < -limit):
        return
    big = xp.isfinite(x) & (xp.abs(x) > limit)
    if bool(backend.to_host(big.any())):
        rows = backend.to_host(big.reshape(x.shape[0], -1).any(axis=1))
        warnings.warn(f"Model '{model.name}': {int(backend.to_host(big.sum()))} values of {name} ({x.dtype}) exceed "
                      f"float32's range (3.4e38) and become inf when cast to float32 (first in sample "
                      f"{int(rows.argmax())}); rescale them, or train in float64 (nn.backend.set_floatx('float64'))",
                      RuntimeWarning, stacklevel=3)


def prepare_y(model, y, n):
    """The targets on the device, checked by the loss against the model's output."""
    if y is None:
        raise ValueError("y (the targets) is required")
    if getattr(model, "_output_losses", None) is not None:  # one loss per output (compile_loss.py)
        return model._output_losses.prepare_targets(y, n)
    y = _as_array(y, "y")
    if y.ndim == 0 or y.shape[0] != n:
        raise ValueError(f"Model '{model.name}': x has {n} samples but y has {y.shape[0] if y.ndim else 0}; "
                         "they must match")
    if model.loss is None:  # compiled without a loss (add_loss only): the targets are kept for metrics
        return backend.to_device(y)
    spec = OutputSpec((n,) + tuple(model.output_shape[1:]), weights_dtype(model))
    return model.loss.check_labels(y, spec)
