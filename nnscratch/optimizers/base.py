"""Optimizer base class: iterations, per-parameter state, clipping, weight decay, schedules.

One step (Keras 3's order, ``base_optimizer.apply``):
  1. clip the gradients (clipnorm per tensor, else global_clipnorm, else clipvalue);
  2. lr = schedule(iterations) (the first update sees step 0) or the constant rate;
  3. decoupled weight decay, if set: w <- w - w * weight_decay * lr (before the update);
  4. ``update_step(param, grad, state, lr)`` for every parameter: the one place the math is;
  5. iterations += 1 (last: Adam's bias correction uses t = iterations + 1).
State (moments, accumulators) is created lazily per parameter key with ``zeros_like`` on the
parameter's own device. Parameters are updated in place.
"""
from __future__ import annotations

import math
import numbers

from nnscratch import backend
from nnscratch.optimizers import schedules


class Optimizer:
    """Base class; subclasses set ``slot_names`` and implement ``update_step``."""

    slot_names: tuple = ()

    def __init__(self, learning_rate=0.001, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None, **kwargs):
        if kwargs:
            if "lr" in kwargs:  # Keras 2's spelling; Keras 3 refuses it too
                raise TypeError(f"{type(self).__name__}: lr= is Keras 2's spelling; use learning_rate={kwargs['lr']!r}")
            if "decay" in kwargs:
                raise TypeError(f"{type(self).__name__}: decay= is Keras 2's; use a schedule, e.g. "
                                "learning_rate=nn.optimizers.schedules.InverseTimeDecay(...)")
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) {', '.join(sorted(kwargs))}")
        if isinstance(learning_rate, schedules.LearningRateSchedule):
            self._schedule = learning_rate
            self._lr = None
        else:
            if not isinstance(learning_rate, numbers.Real) or isinstance(learning_rate, bool) or learning_rate < 0:
                raise ValueError(
                    f"{type(self).__name__}: learning_rate must be a non-negative float or a schedule, received {learning_rate!r}"
                )
            self._schedule = None
            self._lr = float(learning_rate)
        if sum(v is not None for v in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(f"{type(self).__name__}: set only one of clipnorm, clipvalue, global_clipnorm")
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self.state: dict = {}
        self._scratch_bufs: dict = {}  # temporaries for update_step, see scratch()

    # ------------------------------------------------------------------ learning rate
    @property
    def learning_rate(self):
        """The current learning rate as a float (the schedule's value at this step)."""
        if self._schedule is not None:
            return float(self._schedule(self.iterations))
        return self._lr

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, schedules.LearningRateSchedule):
            self._schedule, self._lr = value, None
        else:
            self._schedule, self._lr = None, float(value)

    @property
    def schedule(self):
        return self._schedule

    # ------------------------------------------------------------------ state
    def build_state(self, key, param):
        xp = backend.get_array_module(param)
        self.state[key] = {slot: xp.zeros_like(param) for slot in self.slot_names}
        return self.state[key]

    @property
    def built(self):
        return bool(self.state)

    # ------------------------------------------------------------------ stepping
    def _clip(self, grads):
        if self.clipnorm is not None:
            out = []
            for g in grads:
                xp = backend.get_array_module(g)
                norm = xp.sqrt((g * g).sum())
                out.append(g * (self.clipnorm / xp.maximum(norm, self.clipnorm)))
            return out
        if self.global_clipnorm is not None:
            xp = backend.get_array_module(grads[0])
            norm = xp.sqrt(sum((g * g).sum() for g in grads))
            factor = self.global_clipnorm / xp.maximum(norm, self.global_clipnorm)
            return [g * factor for g in grads]
        if self.clipvalue is not None:
            return [backend.get_array_module(g).clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    def step(self, parameters):
        """One update of ``parameters``: an iterable of (key, param, grad) triples."""
        parameters = list(parameters)
        lr = self.learning_rate
        grads = self._clip([g for _, _, g in parameters])
        for (key, param, _), grad in zip(parameters, grads):
            state = self.state.get(key)
            if state is None:
                state = self.build_state(key, param)
            if self.weight_decay:
                param -= param * (self.weight_decay * lr)  # decoupled decay, before the step (Keras)
            self.update_step(param, grad, state, lr)
        self.iterations += 1

    def apply(self, grads, variables):
        """Keras 3's ``optimizer.apply(grads, vars)`` on raw arrays (updated in place)."""
        grads, variables = list(grads), list(variables)
        if len(grads) != len(variables):
            raise ValueError(f"{type(self).__name__}.apply: {len(grads)} gradients for {len(variables)} variables")
        self.step((f"var{i}", v, g) for i, (g, v) in enumerate(zip(grads, variables)))

    def apply_gradients(self, grads_and_vars):
        """Keras's ``apply_gradients(zip(grads, vars))``."""
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])

    def update_step(self, param, grad, state, lr):
        raise NotImplementedError

    def scratch(self, like, n=2):
        """``n`` temporary arrays shaped like ``like``, allocated once and reused by every step
        (performance: an update then allocates nothing). They hold values only during one
        ``update_step``, so parameters of the same shape and dtype share them; they are not
        optimizer state (not saved, not counted)."""
        key = (tuple(like.shape), like.dtype.str, type(like))
        bufs = self._scratch_bufs.get(key)
        if bufs is None or len(bufs) < n:
            xp = backend.get_array_module(like)
            bufs = self._scratch_bufs[key] = [xp.empty_like(like) for _ in range(n)]
        return bufs

    def _t(self):
        """1-based step number for bias correction (Keras: iterations + 1)."""
        return self.iterations + 1

    @staticmethod
    def _f(value, like):
        """A Python float as a scalar of ``like``'s dtype (Keras does this math in float32)."""
        return backend.host_scalar(value, like.dtype)

    # ------------------------------------------------------------------ saving
    def get_state(self):
        """{'iterations': int, 'slots': {param_key: {slot: host array}}}."""
        return {"iterations": self.iterations,
                "slots": {k: {s: backend.to_host(a) for s, a in st.items()} for k, st in self.state.items()}}

    def set_state(self, state, like=None):
        """Restore from ``get_state()``'s structure; ``like`` maps param keys to params (dtype/device)."""
        self.iterations = int(state["iterations"])
        new = {}
        for key, slots in state["slots"].items():
            dtype = like[key].dtype if like is not None and key in like else None
            new[key] = {s: backend.to_device(a, dtype=dtype) for s, a in slots.items()}
        self.state = new

    def get_config(self):
        lr = schedules.serialize(self._schedule) if self._schedule is not None else self._lr
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "clipvalue": self.clipvalue, "global_clipnorm": self.global_clipnorm}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        lr = config.get("learning_rate")
        if isinstance(lr, dict):
            config["learning_rate"] = schedules.deserialize(lr)
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(learning_rate={self._schedule or self._lr!r})"


def sqrt(x):
    return math.sqrt(x)
