"""RMSprop (no bias correction), Keras's form."""
from __future__ import annotations

from nnscratch import backend
from nnscratch.optimizers.base import Optimizer


class RMSprop(Optimizer):
    """RMSprop.

    Math:
        v <- rho * v + (1 - rho) * g^2
        centered:  a <- rho * a + (1 - rho) * g;   den = v - a^2 + eps   else den = v + eps
        inc = lr * g / sqrt(den)                  (Keras: eps INSIDE the square root)
        momentum > 0:  mom <- momentum * mom + inc;  w <- w - mom      else  w <- w - inc
    Args: learning_rate (0.001), rho (0.9), momentum (0.0), epsilon (1e-7), centered (False).
    State: velocity; average_gradient if centered; momentum if momentum > 0 (each the same shape as w).
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 name="rmsprop", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = float(rho), float(momentum), float(epsilon), bool(centered)
        slots = ["velocity"]
        if self.centered:
            slots.append("average_gradient")
        if self.momentum > 0:
            slots.append("momentum")
        self.slot_names = tuple(slots)

    def update_step(self, param, grad, state, lr):
        xp = backend.get_array_module(param)
        rho = self.rho
        v = state["velocity"]
        v *= rho
        v += (1 - rho) * (grad * grad)
        if self.centered:
            a = state["average_gradient"]
            a *= rho
            a += (1 - rho) * grad
            den = v - a * a + self.epsilon
        else:
            den = v + self.epsilon
        inc = lr * grad / xp.sqrt(den)
        if self.momentum > 0:
            mom = state["momentum"]
            mom *= self.momentum
            mom += inc
            param -= mom
        else:
            param -= inc

    def get_config(self):
        cfg = super().get_config()
        cfg.update(rho=self.rho, momentum=self.momentum, epsilon=self.epsilon, centered=self.centered)
        return cfg
