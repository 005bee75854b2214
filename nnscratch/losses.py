"""Losses with Keras's names, defaults, reductions and numerics, each with a hand-written gradient.

Contract (like a layer's): ``loss.forward(y_pred, y_true) -> 0-d array`` caches what it needs
and ``loss.backward() -> dL/dy_pred`` (same shape as y_pred, already divided by the batch as
Keras's default reduction 'sum_over_batch_size' does). Calling ``loss(y_true, y_pred)`` (Keras's
argument order) validates the labels and returns the value.

Cross-entropies also offer ``forward_logits(z, y_true)``: the loss of ``softmax(z)`` (or
``sigmoid(z)``) computed from the logits in one stable step. Keras does this inside fit and
evaluate whenever the model's output layer is a softmax/sigmoid and the loss has
``from_logits=False`` (keras-team/keras#15271); the model calls it in that case, so there is no
1e-7 clipping there. Clipping applies only when the loss is called on plain probabilities.
"""
from __future__ import annotations

from nnscratch import backend

EPSILON = 1e-7  # keras.config.epsilon()


def _log_softmax(xp, z):
    """log softmax(z) along the last axis via log-sum-exp (shifted by the max: no overflow)."""
    z_shift = z - z.max(axis=-1, keepdims=True)
    return z_shift - xp.log(xp.exp(z_shift).sum(axis=-1, keepdims=True))


class Loss:
    """Base class. Subclasses implement ``forward`` and ``backward``."""

    #: 'softmax' or 'sigmoid' when forward_logits exists
    fuses = None

    def __init__(self, reduction="sum_over_batch_size", name=None):
        if reduction not in ("sum_over_batch_size", "sum", "mean", None, "none"):
            raise ValueError(
                f"{type(self).__name__}: reduction must be 'sum_over_batch_size', 'sum', 'mean' or None, "
                f"received {reduction!r}"
            )
        self.reduction = "sum_over_batch_size" if reduction == "mean" else reduction
        self.name = name or _ALIASES_BY_CLASS.get(type(self).__name__, type(self).__name__.lower())
        self.cache = {}

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Keras's call order: ``loss(y_true, y_pred)``; returns a 0-d array."""
        if sample_weight is not None:
            raise ValueError(f"{type(self).__name__}: sample_weight is not supported")
        y_pred = backend.to_device(y_pred)  # host arrays move to the current device (no-op on numpy)
        y_true = self.check_labels(y_true, y_pred)
        return self.forward(y_pred, y_true)

    def check_labels(self, y_true, y_pred):
        """Validate and convert y_true (host check before any device indexing)."""
        return backend.to_device(y_true)  # host labels must join y_pred on the device

    def _reduce(self, xp, per_sample):
        """per_sample -> scalar by the reduction; also remembers the divisor for backward."""
        n = per_sample.size
        self.cache["scale"] = 1.0 / n if self.reduction == "sum_over_batch_size" else 1.0
        if self.reduction in (None, "none"):
            return per_sample
        total = per_sample.sum()
        return total / n if self.reduction == "sum_over_batch_size" else total

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy with integer labels.

    Math (z = logits, p = softmax(z), y = class index, N samples):
        from_logits=True:  L_n = logsumexp(z_n) - z_n[y_n];   dL/dz = (p - onehot(y)) / N
        from_logits=False: q = clip(p, 1e-7, 1 - 1e-7);  L_n = -log q_n[y_n] + log sum_j q_nj
                           (Keras re-normalises the clipped probabilities);
                           dL/dp = (1/sum_j q_nj - onehot/q) / N where p was not clipped, else 0
    Args: from_logits (False), ignore_class (None, unsupported), reduction, name.
    Shapes: y_pred (N, C); y_true (N,) or (N, 1) integers in [0, C).
    """

    fuses = "softmax"

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size", name=None, axis=-1):
        super().__init__(reduction, name)
        if ignore_class is not None:
            raise ValueError("SparseCategoricalCrossentropy: ignore_class is not supported")
        self.from_logits = bool(from_logits)

    def check_labels(self, y_true, y_pred):
        host = backend.to_host(y_true)
        C = y_pred.shape[-1]
        if host.dtype.kind == "f":
            if host.size and not (host == host.round()).all():
                raise ValueError(
                    f"{type(self).__name__}: labels must be integer class indices, received float labels "
                    f"(dtype {host.dtype}); for one-hot labels use CategoricalCrossentropy"
                )
        elif host.dtype.kind not in "iub":
            raise TypeError(f"{type(self).__name__}: labels must be integers, received dtype {host.dtype}")
        if host.ndim == y_pred.ndim and host.shape[-1] == 1:
            host = host.reshape(host.shape[:-1])
        if host.shape != tuple(y_pred.shape[:-1]):
            raise ValueError(
                f"{type(self).__name__}: labels of shape {host.shape} do not match predictions of shape "
                f"{tuple(y_pred.shape)}; expected labels of shape {tuple(y_pred.shape[:-1])}"
            )
        if host.size and (host.min() < 0 or host.max() >= C):
            raise ValueError(
                f"{type(self).__name__}: labels must be in [0, {C - 1}] for {C} classes, "
                f"received labels in [{int(host.min())}, {int(host.max())}]"
            )
        return backend.to_device(host.astype("int64"))

    def forward(self, y_pred, y_true):
        if self.from_logits:
            return self.forward_logits(y_pred, y_true)
        xp = backend.get_array_module(y_pred)
        y = y_true.reshape(-1)
        p = y_pred.reshape(-1, y_pred.shape[-1])  # (N, C)
        q = xp.clip(p, EPSILON, 1 - EPSILON)
        s = q.sum(axis=-1)  # (N,)
        rows = xp.arange(p.shape[0])
        per_sample = -xp.log(q[rows, y]) + xp.log(s)  # = -log_softmax(log q)[y]
        self.cache = {"mode": "probs", "p": p, "q": q, "s": s, "y": y, "shape": y_pred.shape}
        return self._reduce(xp, per_sample.reshape(y_pred.shape[:-1]))

    def forward_logits(self, z, y_true):
        xp = backend.get_array_module(z)
        y = y_true.reshape(-1)
        z2 = z.reshape(-1, z.shape[-1])  # (N, C)
        log_p = _log_softmax(xp, z2)
        rows = xp.arange(z2.shape[0])
        per_sample = -log_p[rows, y]
        self.cache = {"mode": "logits", "log_p": log_p, "y": y, "shape": z.shape}
        return self._reduce(xp, per_sample.reshape(z.shape[:-1]))

    def backward(self):
        c = self.cache
        xp = backend.get_array_module(c["y"])
        rows = xp.arange(c["y"].shape[0])
        if c["mode"] == "logits":
            dz = xp.exp(c["log_p"])  # softmax(z)
            dz[rows, c["y"]] -= 1  # p - onehot(y): one fused expression, no softmax Jacobian
            dz *= c["scale"]
            return dz.reshape(c["shape"])
        p, q, s, y = c["p"], c["q"], c["s"], c["y"]
        dq = xp.broadcast_to((1.0 / s)[:, None], q.shape).astype(q.dtype)  # d/dq log sum q
        dq[rows, y] -= 1.0 / q[rows, y]  # d/dq -log q_y
        inside = (p >= EPSILON) & (p <= 1 - EPSILON)  # the clip passes gradient only inside
        return (dq * inside * c["scale"]).reshape(c["shape"])

    def get_config(self):
        cfg = super().get_config()
        cfg["from_logits"] = self.from_logits
        return cfg


class CategoricalCrossentropy(Loss):
    """Cross-entropy with one-hot (or soft) labels.

    Math (t = labels after smoothing t = t*(1-ls) + ls/C):
        from_logits=True:  L_n = -sum_j t_nj log softmax(z_n)_j;  dL/dz = (p * sum_j t_nj - t) / N
        from_logits=False: r = p / sum_j p_j (normalised first), q = clip(r, 1e-7, 1-1e-7),
                           L_n = -sum_j t_nj log q_nj;
                           dL/dr = -t/q (0 where clipped), dL/dp = (dL/dr - sum_j dL/dr_j r_j) / sum_j p_j
    Args: from_logits (False), label_smoothing (0.0), axis (-1), reduction, name.
    Shapes: y_pred (N, C); y_true (N, C).
    """

    fuses = "softmax"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction, name)
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)

    def check_labels(self, y_true, y_pred):
        y_true = super().check_labels(y_true, y_pred)
        if tuple(y_true.shape) != tuple(y_pred.shape):
            hint = ""
            if y_true.ndim == y_pred.ndim - 1 or (y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1):
                hint = "; integer labels need SparseCategoricalCrossentropy, or one-hot them with nn.utils.to_categorical"
            raise ValueError(
                f"{type(self).__name__}: one-hot labels of shape {tuple(y_true.shape)} do not match predictions "
                f"of shape {tuple(y_pred.shape)}{hint}"
            )
        return y_true.astype(y_pred.dtype, copy=False)

    def _smooth(self, t):
        if self.label_smoothing:
            C = t.shape[-1]
            return t * (1.0 - self.label_smoothing) + self.label_smoothing / C
        return t

    def forward(self, y_pred, y_true):
        if self.from_logits:
            return self.forward_logits(y_pred, y_true)
        xp = backend.get_array_module(y_pred)
        t = self._smooth(y_true)
        s = y_pred.sum(axis=-1, keepdims=True)
        r = y_pred / s  # Keras normalises, then clips
        q = xp.clip(r, EPSILON, 1 - EPSILON)
        per_sample = -(t * xp.log(q)).sum(axis=-1)
        self.cache = {"mode": "probs", "t": t, "r": r, "q": q, "s": s}
        return self._reduce(xp, per_sample)

    def forward_logits(self, z, y_true):
        xp = backend.get_array_module(z)
        t = self._smooth(y_true)
        log_p = _log_softmax(xp, z)
        per_sample = -(t * log_p).sum(axis=-1)
        self.cache = {"mode": "logits", "t": t, "log_p": log_p}
        return self._reduce(xp, per_sample)

    def backward(self):
        c = self.cache
        xp = backend.get_array_module(c["t"])
        t = c["t"]
        if c["mode"] == "logits":
            p = xp.exp(c["log_p"])
            return (p * t.sum(axis=-1, keepdims=True) - t) * c["scale"]  # softmax(z) - t for one-hot t
        r, q, s = c["r"], c["q"], c["s"]
        inside = (r >= EPSILON) & (r <= 1 - EPSILON)
        dr = -t / q * inside  # through the clip
        dp = (dr - (dr * r).sum(axis=-1, keepdims=True)) / s  # through r = p / sum(p)
        return dp * c["scale"]

    def get_config(self):
        cfg = super().get_config()
        cfg.update(from_logits=self.from_logits, label_smoothing=self.label_smoothing)
        return cfg


class BinaryCrossentropy(Loss):
    """Binary cross-entropy, averaged over the last axis, then over the batch.

    Math (t = labels after smoothing t = t*(1-ls) + 0.5*ls, K = size of the last axis):
        from_logits=True:  l = max(z, 0) - z*t + log(1 + exp(-|z|));  dl/dz = sigmoid(z) - t
        from_logits=False: q = clip(p, 1e-7, 1-1e-7); l = -(t log q + (1-t) log(1-q));
                           dl/dp = (q - t) / (q (1 - q)) inside the clip, 0 outside
        L = mean over all elements; each gradient is divided by N*K.
    Shapes: y_pred (N, K) (K is usually 1); y_true the same shape, or (N,) when K == 1.
    """

    fuses = "sigmoid"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction, name)
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)

    def check_labels(self, y_true, y_pred):
        y_true = super().check_labels(y_true, y_pred)
        if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
            y_true = y_true.reshape(tuple(y_true.shape) + (1,))
        if tuple(y_true.shape) != tuple(y_pred.shape):
            raise ValueError(
                f"{type(self).__name__}: labels of shape {tuple(y_true.shape)} do not match predictions of shape "
                f"{tuple(y_pred.shape)}"
            )
        return y_true.astype(y_pred.dtype, copy=False)

    def _smooth(self, t):
        return t * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing if self.label_smoothing else t

    def _reduce_last(self, xp, elementwise):
        K = elementwise.shape[-1]
        value = self._reduce(xp, elementwise.mean(axis=-1))
        self.cache["scale"] = self.cache["scale"] / K  # mean over the last axis first
        return value

    def forward(self, y_pred, y_true):
        if self.from_logits:
            return self.forward_logits(y_pred, y_true)
        xp = backend.get_array_module(y_pred)
        t = self._smooth(y_true)
        q = xp.clip(y_pred, EPSILON, 1 - EPSILON)
        elementwise = -(t * xp.log(q) + (1 - t) * xp.log(1 - q))
        self.cache = {"mode": "probs", "t": t, "q": q, "p": y_pred}
        return self._reduce_last(xp, elementwise)

    def forward_logits(self, z, y_true):
        xp = backend.get_array_module(z)
        t = self._smooth(y_true)
        elementwise = xp.maximum(z, 0) - z * t + xp.log1p(xp.exp(-xp.abs(z)))
        self.cache = {"mode": "logits", "t": t, "z": z}
        return self._reduce_last(xp, elementwise)

    def backward(self):
        c = self.cache
        if c["mode"] == "logits":
            from nnscratch.activations import sigmoid

            return (sigmoid(c["z"]) - c["t"]) * c["scale"]
        q, t, p = c["q"], c["t"], c["p"]
        inside = (p >= EPSILON) & (p <= 1 - EPSILON)
        return (q - t) / (q * (1 - q)) * inside * c["scale"]

    def get_config(self):
        cfg = super().get_config()
        cfg.update(from_logits=self.from_logits, label_smoothing=self.label_smoothing)
        return cfg


class MeanSquaredError(Loss):
    """Mean squared error.

    Math (M = number of elements of y_pred):
        forward:   L = mean((y_pred - y_true)^2)   (Keras: mean over the last axis, then the batch)
        backward:  dL/dy_pred = 2 (y_pred - y_true) / M
    Shapes: y_pred (N, ...) and y_true of the same shape ((N,) is accepted for (N, 1)).
    """

    def check_labels(self, y_true, y_pred):
        y_true = Loss.check_labels(self, y_true, y_pred)  # not super(): MeanAbsoluteError borrows this method
        if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
            y_true = y_true.reshape(tuple(y_true.shape) + (1,))
        if tuple(y_true.shape) != tuple(y_pred.shape):
            raise ValueError(
                f"{type(self).__name__}: targets of shape {tuple(y_true.shape)} do not match predictions of shape "
                f"{tuple(y_pred.shape)}"
            )
        return y_true.astype(y_pred.dtype, copy=False)

    def forward(self, y_pred, y_true):
        xp = backend.get_array_module(y_pred)
        diff = y_pred - y_true
        K = diff.shape[-1] if diff.ndim > 1 else 1
        value = self._reduce(xp, (diff * diff).mean(axis=-1) if diff.ndim > 1 else diff * diff)
        self.cache["scale"] = self.cache["scale"] / K
        self.cache["diff"] = diff
        return value

    def backward(self):
        return 2.0 * self.cache["diff"] * self.cache["scale"]


class MeanAbsoluteError(Loss):
    """Mean absolute error.

    Math (M = number of elements of y_pred):
        forward:   L = mean(|y_pred - y_true|)
        backward:  dL/dy_pred = sign(y_pred - y_true) / M
    Shapes: y_pred (N, ...) and y_true of the same shape ((N,) is accepted for (N, 1)).
    """

    check_labels = MeanSquaredError.check_labels

    def forward(self, y_pred, y_true):
        xp = backend.get_array_module(y_pred)
        diff = y_pred - y_true
        K = diff.shape[-1] if diff.ndim > 1 else 1
        value = self._reduce(xp, xp.abs(diff).mean(axis=-1) if diff.ndim > 1 else xp.abs(diff))
        self.cache["scale"] = self.cache["scale"] / K
        self.cache["diff"] = diff
        return value

    def backward(self):
        xp = backend.get_array_module(self.cache["diff"])
        return xp.sign(self.cache["diff"]) * self.cache["scale"]


_REGISTRY = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
}
_ALIASES_BY_CLASS = {
    "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
    "CategoricalCrossentropy": "categorical_crossentropy",
    "BinaryCrossentropy": "binary_crossentropy",
    "MeanSquaredError": "mean_squared_error",
    "MeanAbsoluteError": "mean_absolute_error",
}
_CLASSES = {cls.__name__: cls for cls in set(_REGISTRY.values())}


def get(identifier) -> Loss:
    """A Loss from a Keras name ('sparse_categorical_crossentropy', 'mse', ...), a class name,
    or a Loss instance."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        key = identifier.lower()
        if key not in _REGISTRY:
            raise ValueError(f"unknown loss {identifier!r}; valid losses: {', '.join(sorted(_REGISTRY))}")
        return _REGISTRY[key]()
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    raise TypeError(f"loss must be a string or a Loss instance, received {identifier!r}")


def serialize(loss: Loss):
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config):
    return _CLASSES[config["class_name"]].from_config(dict(config["config"]))
