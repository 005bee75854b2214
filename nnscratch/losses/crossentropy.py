"""Cross-entropy losses with Keras's names, defaults and numerics, each with a hand-written gradient.

Cross-entropies also offer ``forward_logits(z, y_true)``: the loss of ``softmax(z)`` (or
``sigmoid(z)``) computed from the logits in one stable step. Keras does this inside fit and
evaluate whenever the model's output layer is a softmax/sigmoid and the loss has
``from_logits=False`` (keras-team/keras#15271); the model calls it in that case, so there is no
epsilon clipping there. Clipping (``config.epsilon()``, 1e-7) applies only when the loss is
called on plain probabilities.
"""
from __future__ import annotations

from nnscratch import activations, backend
from nnscratch.losses.base import Loss, check_axis, epsilon


def _log_softmax(xp, z):
    """log softmax(z) along the last axis via log-sum-exp (shifted by the max: no overflow)."""
    z_shift = z - z.max(axis=-1, keepdims=True)
    return z_shift - xp.log(xp.exp(z_shift).sum(axis=-1, keepdims=True))


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

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size", name=None, axis=-1,
                 dtype=None):
        super().__init__(reduction, name)
        check_axis(type(self).__name__, axis)
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
        eps = epsilon()
        q = xp.clip(p, eps, 1 - eps)
        s = q.sum(axis=-1)  # (N,)
        rows = xp.arange(p.shape[0])
        per_sample = -xp.log(q[rows, y]) + xp.log(s)  # = -log_softmax(log q)[y]
        self.cache = {"mode": "probs", "p": p, "q": q, "s": s, "y": y, "shape": y_pred.shape, "eps": eps}
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
            return dz.reshape(c["shape"]) * self.grad_scale()
        p, q, s, y = c["p"], c["q"], c["s"], c["y"]
        dq = xp.broadcast_to((1.0 / s)[:, None], q.shape).astype(q.dtype)  # d/dq log sum q
        dq[rows, y] -= 1.0 / q[rows, y]  # d/dq -log q_y
        inside = (p >= c["eps"]) & (p <= 1 - c["eps"])  # the clip passes gradient only inside
        return (dq * inside).reshape(c["shape"]) * self.grad_scale()

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

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size", name=None,
                 dtype=None):
        super().__init__(reduction, name)
        check_axis(type(self).__name__, axis)
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
        eps = epsilon()
        q = xp.clip(r, eps, 1 - eps)
        per_sample = -(t * xp.log(q)).sum(axis=-1)
        self.cache = {"mode": "probs", "t": t, "r": r, "q": q, "s": s, "eps": eps}
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
            return (p * t.sum(axis=-1, keepdims=True) - t) * self.grad_scale()  # softmax(z) - t for one-hot t
        r, q, s = c["r"], c["q"], c["s"]
        inside = (r >= c["eps"]) & (r <= 1 - c["eps"])
        dr = -t / q * inside  # through the clip
        dp = (dr - (dr * r).sum(axis=-1, keepdims=True)) / s  # through r = p / sum(p)
        return dp * self.grad_scale()

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

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size", name=None,
                 dtype=None):
        super().__init__(reduction, name)
        check_axis(type(self).__name__, axis)
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
        self.cache["K"] = K  # mean over the last axis first: each gradient also divides by K
        return value

    def forward(self, y_pred, y_true):
        if self.from_logits:
            return self.forward_logits(y_pred, y_true)
        xp = backend.get_array_module(y_pred)
        t = self._smooth(y_true)
        eps = epsilon()
        q = xp.clip(y_pred, eps, 1 - eps)
        elementwise = -(t * xp.log(q) + (1 - t) * xp.log(1 - q))
        self.cache = {"mode": "probs", "t": t, "q": q, "p": y_pred, "eps": eps}
        return self._reduce_last(xp, elementwise)

    def forward_logits(self, z, y_true):
        xp = backend.get_array_module(z)
        t = self._smooth(y_true)
        elementwise = xp.maximum(z, 0) - z * t + xp.log1p(xp.exp(-xp.abs(z)))
        self.cache = {"mode": "logits", "t": t, "z": z}
        return self._reduce_last(xp, elementwise)

    def backward(self):
        c = self.cache
        scale = self.grad_scale() / c["K"]
        if c["mode"] == "logits":
            return (activations.sigmoid.fn(c["z"]) - c["t"]) * scale
        q, t, p = c["q"], c["t"], c["p"]
        inside = (p >= c["eps"]) & (p <= 1 - c["eps"])
        return (q - t) / (q * (1 - q)) * inside * scale

    def get_config(self):
        cfg = super().get_config()
        cfg.update(from_logits=self.from_logits, label_smoothing=self.label_smoothing)
        return cfg
