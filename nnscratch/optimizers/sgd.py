"""Stochastic gradient descent with optional (Nesterov) momentum."""
from __future__ import annotations

from nnscratch.optimizers.base import Optimizer


class SGD(Optimizer):
    """SGD, Keras's form.

    Math:
        momentum == 0:  w <- w - lr * g
        momentum > 0:   m <- momentum * m - lr * g          (lr inside the velocity, Keras;
                                                             PyTorch keeps v = mu v + g)
                        plain:     w <- w + m
                        nesterov:  w <- w + momentum * m - lr * g   (with the new m)
    Args: learning_rate (0.01), momentum (0.0), nesterov (False), plus the base options.
    State: momentum (same shape as w), only when momentum > 0.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name="SGD", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"SGD: momentum must be in [0, 1], received {momentum!r}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.slot_names = ("momentum",) if self.momentum > 0 else ()

    def update_step(self, param, grad, state, lr):
        if self.momentum == 0.0:
            param -= lr * grad
            return
        m = state["momentum"]
        m *= self.momentum
        m -= lr * grad  # m = momentum*m - lr*g
        if self.nesterov:
            param += self.momentum * m - lr * grad  # look-ahead with the new velocity
        else:
            param += m

    def get_config(self):
        cfg = super().get_config()
        cfg.update(momentum=self.momentum, nesterov=self.nesterov)
        return cfg
