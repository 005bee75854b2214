"""Adagrad, Keras's form."""
from __future__ import annotations

from nnscratch import backend
from nnscratch.optimizers.base import Optimizer


class Adagrad(Optimizer):
    """Adagrad.

    Math:
        acc <- acc + g^2                   (acc starts at initial_accumulator_value = 0.1, Keras;
                                            PyTorch starts at 0)
        w   <- w - lr * g / sqrt(acc + eps)  (Keras: eps INSIDE the square root)
    Args: learning_rate (0.001), initial_accumulator_value (0.1), epsilon (1e-7).
    State: accumulator, the same shape as w.
    """

    slot_names = ("accumulator",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, name="adagrad", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if initial_accumulator_value < 0:
            raise ValueError(f"Adagrad: initial_accumulator_value must be >= 0, received {initial_accumulator_value!r}")
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)

    def build_state(self, key, param):
        xp = backend.get_array_module(param)
        self.state[key] = {"accumulator": xp.full_like(param, self.initial_accumulator_value)}
        return self.state[key]

    def update_step(self, param, grad, state, lr):
        xp = backend.get_array_module(param)
        acc = state["accumulator"]
        acc += grad * grad
        param -= lr * grad / xp.sqrt(acc + self.epsilon)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(initial_accumulator_value=self.initial_accumulator_value, epsilon=self.epsilon)
        return cfg
