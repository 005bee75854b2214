"""Learning-rate schedules (Keras's formulas). The step is the optimizer's ``iterations``
before the update, so the first update uses step 0."""
from __future__ import annotations

import math
import numbers


class LearningRateSchedule:
    """Base class: ``schedule(step) -> float`` learning rate."""

    def __call__(self, step):
        raise NotImplementedError

    def get_config(self):
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _check_positive(cls, **values):
    for k, v in values.items():
        if not isinstance(v, numbers.Real) or isinstance(v, bool) or v <= 0:  # NumPy numbers too
            raise ValueError(f"{cls}: {k} must be a positive number, received {v!r}")


class _DecaySchedule(LearningRateSchedule):
    """Shared arguments of the decay schedules: p = step / decay_steps, floored if staircase."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None):
        cls = type(self).__name__
        _check_positive(cls, initial_learning_rate=initial_learning_rate, decay_steps=decay_steps)
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = int(decay_steps) if float(decay_steps).is_integer() else float(decay_steps)  # JSON-safe
        self.decay_rate = float(decay_rate)
        self.staircase = bool(staircase)
        self.name = name or cls

    def _progress(self, step):
        p = step / self.decay_steps
        return math.floor(p) if self.staircase else p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_DecaySchedule):
    """lr(step) = initial_learning_rate * decay_rate ^ (step / decay_steps),
    with the exponent floored when ``staircase=True``."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        _check_positive("ExponentialDecay", decay_rate=decay_rate)
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return self.initial_learning_rate * self.decay_rate ** self._progress(step)


class InverseTimeDecay(_DecaySchedule):
    """lr(step) = initial_learning_rate / (1 + decay_rate * step / decay_steps),
    with step / decay_steps floored when ``staircase=True``."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return self.initial_learning_rate / (1 + self.decay_rate * self._progress(step))


_REGISTRY = {"ExponentialDecay": ExponentialDecay, "InverseTimeDecay": InverseTimeDecay}


def serialize(schedule):
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config):
    name = config["class_name"]
    if name not in _REGISTRY:
        raise ValueError(f"unknown learning-rate schedule {name!r}; known: {', '.join(_REGISTRY)}")
    return _REGISTRY[name].from_config(dict(config["config"]))
