"""Dropout (inverted): active only when training."""
from __future__ import annotations

import numbers

from nnscratch import backend
from nnscratch.layers.base import Layer, non_negative_int


class Dropout(Layer):
    """Inverted dropout.

    Math (training=True):
        mask ~ Bernoulli(1 - rate), elementwise, drawn on the host RNG then moved to the device
        forward:   y = x * mask / (1 - rate)
        backward:  dx = dy * mask / (1 - rate)
    With training=False (evaluate, predict, model(x)) the layer is the identity and dx = dy.

    Args:
        rate: float in [0, 1). Fraction of units dropped.
        seed: int or None. Seeds this layer's own mask generator; None draws one from the
            global seed (``nn.utils.set_random_seed``), so runs stay reproducible.
    Input/Output shape: any, unchanged.
    Cache: scaled_mask (same shape as x) = mask / (1 - rate), only when training.
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(rate, numbers.Real) or isinstance(rate, bool) or not 0 <= rate < 1:  # NumPy floats too
            raise ValueError(f"Dropout '{self.name}': rate must be a float in [0, 1), received {rate!r}")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = None if seed is None else non_negative_int(seed, f"Dropout '{self.name}': seed", floats=False)
        self._rng = None

    def build(self, input_shape):
        self._rng = backend.rng(self.seed)
        super().build(input_shape)

    def make_mask(self, shape, dtype):
        """Draw a scaled mask (kept cells 1/(1-rate), dropped 0) of ``shape`` on the host."""
        if self._rng is None:
            self._rng = backend.rng(self.seed)
        if self.noise_shape is not None:
            shape = tuple(s if n is None else n for s, n in zip(shape, self.noise_shape))
        keep = self._rng.random(shape, dtype="float32") >= self.rate  # host bool mask
        return backend.to_device(keep, dtype=dtype) * (1.0 / (1.0 - self.rate))

    def forward(self, x, training=False, mask=None):
        if not training or self.rate == 0.0:
            self.cache = {"scaled_mask": None}
            return x
        scaled_mask = mask if mask is not None else self.make_mask(x.shape, x.dtype)
        self.cache = {"scaled_mask": scaled_mask}
        return x * scaled_mask

    def backward(self, dy):
        scaled_mask = self.cache["scaled_mask"]
        return dy if scaled_mask is None else dy * scaled_mask

    def get_rng_state(self):
        return None if self._rng is None else self._rng.bit_generator.state

    def set_rng_state(self, state):
        if state is not None:
            self._rng = backend.rng(0)
            self._rng.bit_generator.state = state

    def get_config(self):
        cfg = super().get_config()
        cfg.update(rate=self.rate, noise_shape=None if self.noise_shape is None else list(self.noise_shape), seed=self.seed)
        return cfg
