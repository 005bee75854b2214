"""BatchNormalization: normalise each channel with batch statistics (training) or moving
statistics (inference), then scale and shift."""
from __future__ import annotations

from nnscratch import backend, initializers
from nnscratch.layers.base import Layer, as_int, shape_str


class BatchNormalization(Layer):
    """Batch normalisation over every axis but ``axis`` (the channels), Keras's way.

    Math (C channels on ``axis``; mean/sum over the other axes, M values per channel):
        training (batch statistics):
            mu    = mean(x)                          (C,)
            var   = mean((x - mu)^2)                 (C,)  biased: divided by M, as Keras
            x_hat = (x - mu) / sqrt(var + epsilon)         Keras: epsilon inside the sqrt
            y     = gamma * x_hat + beta
            moving_mean     <- moving_mean * momentum + mu  * (1 - momentum)
            moving_variance <- moving_variance * momentum + var * (1 - momentum)   (biased var)
        inference:
            x_hat = (x - moving_mean) / sqrt(moving_variance + epsilon);  y = gamma * x_hat + beta
        backward (training; inv_std = 1/sqrt(var+eps), means over the M values per channel):
            dbeta  = sum(dy);   dgamma = sum(dy * x_hat)
            dx_hat = dy * gamma
            dx     = inv_std * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat))
        backward (inference: the statistics are constants):
            dx = dy * gamma * inv_std
    momentum=0.99 is the weight of the OLD value (PyTorch's momentum=0.1 is the new value's).

    Args:
        axis: the channel axis, default -1 (use 1 after a channels_first Conv2D).
        momentum: 0.99. epsilon: 1e-3. center: learn beta (True). scale: learn gamma (True).
        beta_initializer 'zeros', gamma_initializer 'ones', moving_mean_initializer 'zeros',
        moving_variance_initializer 'ones'.
    Input/Output shape: any rank >= 2, unchanged.
    Weights (Keras order): gamma (C,), beta (C,) trainable; moving_mean, moving_variance (C,)
        in ``state`` (non-trainable).
    Cache: x_hat (input shape), inv_std (broadcastable (1,..,C,..,1)), batch_stats (bool).
    With ``trainable=False`` the layer runs in inference mode even when training (Keras 2.x+).
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", **kwargs):
        super().__init__(**kwargs)
        if as_int(axis) is None:  # NumPy ints and -1.0, as Keras
            raise TypeError(f"BatchNormalization '{self.name}': axis must be an int, received {axis!r}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNormalization '{self.name}': momentum must be in [0, 1], received {momentum!r}")
        if epsilon <= 0:
            raise ValueError(f"BatchNormalization '{self.name}': epsilon must be positive, received {epsilon!r}")
        self.axis, self.momentum, self.epsilon = as_int(axis), float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)

    def _axis(self, rank):
        axis = self.axis + rank if self.axis < 0 else self.axis
        if not 1 <= axis < rank:
            raise ValueError(f"BatchNormalization '{self.name}': axis {self.axis} is invalid for inputs of rank {rank}")
        return axis

    def check_input_shape(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(f"BatchNormalization '{self.name}': expected input of rank >= 2, received {shape_str(input_shape)}")
        if input_shape[self._axis(len(input_shape))] is None:
            raise ValueError(f"BatchNormalization '{self.name}': the size of axis {self.axis} must be known, "
                             f"received {shape_str(input_shape)}")

    def build(self, input_shape):
        C = input_shape[self._axis(len(input_shape))]
        if self.scale:
            self.add_param("gamma", (C,), self.gamma_initializer)
        if self.center:
            self.add_param("beta", (C,), self.beta_initializer)
        self.add_param("moving_mean", (C,), self.moving_mean_initializer, trainable=False)
        self.add_param("moving_variance", (C,), self.moving_variance_initializer, trainable=False)
        super().build(input_shape)

    def _shapes(self, x):
        """(reduction axes, broadcast shape (1,..,C,..,1)) for an input like x."""
        axis = self._axis(x.ndim)
        reduce_axes = tuple(i for i in range(x.ndim) if i != axis)
        bshape = [1] * x.ndim
        bshape[axis] = x.shape[axis]
        return reduce_axes, tuple(bshape)

    def _gamma_beta(self, bshape, x):
        xp = backend.get_array_module(x)
        gamma = self.params["gamma"].reshape(bshape) if self.scale else xp.ones(bshape, dtype=x.dtype)
        beta = self.params["beta"].reshape(bshape) if self.center else None
        return gamma, beta

    def forward(self, x, training=False):
        xp = backend.get_array_module(x)
        reduce_axes, bshape = self._shapes(x)
        use_batch = bool(training) and self.trainable
        if use_batch:
            mu = x.mean(axis=reduce_axes, keepdims=True)  # (1,..,C,..,1)
            xc = x - mu
            var = (xc * xc).mean(axis=reduce_axes, keepdims=True)  # biased variance (divide by M), as Keras
            m = self.momentum  # Keras: the old value keeps weight `momentum`
            mm, mv = self.state["moving_mean"], self.state["moving_variance"]
            mm[...] = mm * m + mu.reshape(-1) * (1.0 - m)  # in place: references to state stay valid
            mv[...] = mv * m + var.reshape(-1) * (1.0 - m)
        else:
            mu = self.state["moving_mean"].reshape(bshape).astype(x.dtype, copy=False)
            var = self.state["moving_variance"].reshape(bshape).astype(x.dtype, copy=False)
            xc = x - mu
        inv_std = 1.0 / xp.sqrt(var + self.epsilon)  # Keras: epsilon inside the sqrt
        x_hat = xc * inv_std
        gamma, beta = self._gamma_beta(bshape, x)
        y = x_hat * gamma
        if beta is not None:
            y = y + beta
        self.cache = {"x_hat": x_hat, "inv_std": inv_std, "batch_stats": use_batch}
        return y

    def backward(self, dy):
        x_hat, inv_std = self.cache["x_hat"], self.cache["inv_std"]
        reduce_axes, bshape = self._shapes(dy)
        if self.center:
            self.grads["beta"][...] = dy.sum(axis=reduce_axes)  # dL/dbeta = sum dy
        if self.scale:
            self.grads["gamma"][...] = (dy * x_hat).sum(axis=reduce_axes)  # dL/dgamma = sum dy * x_hat
        if not self.need_input_grad:  # the first trainable layer: nobody needs dL/dx
            return None
        gamma, _ = self._gamma_beta(bshape, dy)
        dx_hat = dy * gamma  # dL/dx_hat
        if not self.cache["batch_stats"]:
            return dx_hat * inv_std  # moving statistics are constants
        # mu and var depend on every x: the two mean terms are their contributions
        mean_dx_hat = dx_hat.mean(axis=reduce_axes, keepdims=True)
        mean_dx_hat_x_hat = (dx_hat * x_hat).mean(axis=reduce_axes, keepdims=True)
        return inv_std * (dx_hat - mean_dx_hat - x_hat * mean_dx_hat_x_hat)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(axis=self.axis, momentum=self.momentum, epsilon=self.epsilon, center=self.center, scale=self.scale,
                   beta_initializer=initializers.serialize(self.beta_initializer) or "zeros",
                   gamma_initializer=initializers.serialize(self.gamma_initializer) or "ones",
                   moving_mean_initializer=initializers.serialize(self.moving_mean_initializer) or "zeros",
                   moving_variance_initializer=initializers.serialize(self.moving_variance_initializer) or "ones")
        return cfg
