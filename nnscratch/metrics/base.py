"""The Metric base class (Keras 3's stateful interface) and the mean-of-values metrics.

A metric keeps state variables on the device and folds in one batch at a time:

    m = nn.metrics.SparseCategoricalAccuracy()
    m.update_state(y_true, y_pred)        # device arithmetic only: no host synchronisation
    m.result()                            # 0-d device array; float(m.result()) reads it
    m.reset_state()

``add_variable(shape, initializer, dtype, name)`` (alias ``add_weight``) gives a
``MetricVariable`` with ``assign``/``assign_add``/``assign_sub``, ``.value`` and ``.numpy()``,
so a Keras-style subclass runs unchanged. ``MeanMetricWrapper(fn)`` averages a per-sample
function fn(y_true, y_pred) with optional sample weights:

    total += sum_n w_n v_n,   count += sum_n w_n,   result = total / count
"""
from __future__ import annotations

from nnscratch import backend
from nnscratch.backend.result import as_result
from nnscratch.naming import snake_case, unique_name


class MetricVariable:
    """A metric's state: a device array with Keras's variable methods."""

    def __init__(self, value, name):
        self._value, self.name = value, name

    @property
    def value(self):
        return self._value

    @property
    def shape(self):
        return tuple(self._value.shape)

    @property
    def dtype(self):
        return self._value.dtype

    def assign(self, value):
        xp = backend.get_array_module(self._value)
        self._value = xp.zeros_like(self._value) + unwrap(value)
        return self

    def assign_add(self, delta):
        self._value = self._value + unwrap(delta)
        return self

    def assign_sub(self, delta):
        self._value = self._value - unwrap(delta)
        return self

    def numpy(self):
        return backend.to_host(self._value)

    def __array__(self, dtype=None, copy=None):
        host = backend.to_host(self._value)
        return host.astype(dtype) if dtype is not None else host

    def __float__(self):
        return backend.to_float(self._value)

    def __getitem__(self, index):
        return self._value[index]

    def __repr__(self):
        return f"<MetricVariable {self.name} shape={self.shape}>"

    # arithmetic gives plain device arrays
    def __add__(self, o): return self._value + unwrap(o)
    def __radd__(self, o): return unwrap(o) + self._value
    def __sub__(self, o): return self._value - unwrap(o)
    def __rsub__(self, o): return unwrap(o) - self._value
    def __mul__(self, o): return self._value * unwrap(o)
    def __rmul__(self, o): return unwrap(o) * self._value
    def __truediv__(self, o): return self._value / unwrap(o)
    def __rtruediv__(self, o): return unwrap(o) / self._value
    def __neg__(self): return -self._value


def unwrap(x):
    """The array inside a MetricVariable (anything else unchanged)."""
    return x._value if isinstance(x, MetricVariable) else x


def divide_no_nan(xp, a, b):
    """a / b, and 0 where b == 0 (Keras's ops.divide_no_nan)."""
    safe = xp.where(b == 0, 1, b)
    return xp.where(b == 0, 0, a / safe)


class Metric:
    """Base class: override ``update_state(y_true, y_pred, sample_weight=None)`` and ``result()``;
    create state with ``self.add_variable(...)`` in ``__init__``. ``reset_state()`` sets every
    variable back to its initial value."""

    #: 'up' when larger is better (EarlyStopping's mode='auto' reads it), 'down' otherwise
    _direction = "up"

    def __init__(self, name=None, dtype=None):
        self.name = name or unique_name(snake_case(type(self).__name__))
        self.dtype = dtype or backend.floatx()  # Keras: the metric's variables are in floatx
        self._variables = []

    def add_variable(self, shape=(), initializer="zeros", dtype=None, name=None, aggregation="sum"):
        """A state variable on the device, zeros (or ``initializer``: 'zeros', 'ones' or a number)."""
        if not hasattr(self, "_variables"):
            raise RuntimeError(f"{type(self).__name__}: call super().__init__() before add_variable")
        xp = backend.xp()
        fill = {"zeros": 0.0, "ones": 1.0, None: 0.0}.get(initializer, initializer)
        if not isinstance(fill, (int, float)):
            fill = getattr(initializer, "value", None)
            if fill is None:
                raise ValueError(f"{type(self).__name__}.add_variable: initializer must be 'zeros', 'ones' or a number,"
                                 f" received {initializer!r}")
        shape = (shape,) if isinstance(shape, int) else tuple(shape or ())
        var = MetricVariable(xp.full(shape, fill, dtype=dtype or self.dtype), name or f"variable_{len(self._variables)}")
        var._initial = fill
        self._variables.append(var)
        return var

    add_weight = add_variable

    @property
    def variables(self):
        return list(self._variables)

    def reset_state(self):
        """Every variable back to its initial value, on the current backend's device (so a
        metric made before ``set_backend`` follows the model)."""
        xp = backend.xp()
        for v in self._variables:
            v._value = xp.full(v.shape, v._initial, dtype=v.dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        raise NotImplementedError(f"{type(self).__name__} must implement update_state(y_true, y_pred, sample_weight)")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must implement result()")

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Keras's eager call: update the state with this batch and return the result."""
        self.update_state(backend.to_device(y_true), backend.to_device(y_pred), sample_weight=sample_weight)
        return as_result(unwrap(self.result()))  # metric(y, p).numpy() works, as in TF

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _weights(xp, values, sample_weight):
    """Broadcast (N,) sample weights against per-sample values of shape (N, ...)."""
    if sample_weight is None:
        return None
    w = backend.to_device(sample_weight).astype(values.dtype)
    w = w.reshape(w.shape + (1,) * (values.ndim - w.ndim)) if w.ndim < values.ndim else w
    return xp.broadcast_to(w, values.shape)


class Mean(Metric):
    """The (weighted) mean of the values passed to update_state(values, sample_weight=None)."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(name="total")
        self.count = self.add_variable(name="count")

    def update_state(self, values, sample_weight=None):
        values = backend.to_device(values).astype(self.dtype)
        xp = backend.get_array_module(values)
        w = _weights(xp, values, sample_weight)
        if w is None:
            self.total.assign_add(values.sum())
            self.count.assign_add(float(values.size))
        else:
            self.total.assign_add((values * w).sum())
            self.count.assign_add(w.sum())

    def result(self):
        xp = backend.get_array_module(self.total.value)
        return divide_no_nan(xp, self.total.value, self.count.value)


class Sum(Metric):
    """The (weighted) sum of the values passed to update_state."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(name="total")

    def update_state(self, values, sample_weight=None):
        values = backend.to_device(values).astype(self.dtype)
        w = _weights(backend.get_array_module(values), values, sample_weight)
        self.total.assign_add(values.sum() if w is None else (values * w).sum())

    def result(self):
        return self.total.value


class MeanMetricWrapper(Mean):
    """Mean over samples of ``fn(y_true, y_pred, **kwargs)`` (per-sample values)."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", "mean_metric_wrapper"), dtype=dtype)
        self._fn, self._fn_kwargs = fn, kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        super().update_state(self._fn(y_true, y_pred, **self._fn_kwargs), sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), **self._fn_kwargs}
