"""The Model API shared by Sequential and the functional Model: parameters and weights, compile,
the backward plan, calling, saving and summary. The training loops are in ``trainer.py``,
input checking in ``data_adapter.py``, CPU threading in ``cpu_threads.py``.

Subclasses provide ``layers``, ``build``, ``forward`` and ``backward``.
"""
from __future__ import annotations

import contextlib
import json

from nnscratch import backend, losses as losses_mod, metrics as metrics_mod, optimizers as optimizers_mod
from nnscratch import saving
from nnscratch.models import stepping
from nnscratch.models.summary import summary as _summary
from nnscratch.models.trainer import Trainer
from nnscratch.saving import model_file


class NotCompiledError(RuntimeError, ValueError):
    """fit/evaluate/train_on_batch before compile (a RuntimeError, and a ValueError as Keras)."""


class Model(Trainer):
    """A graph of layers that trains (see ``trainer.py`` for fit/evaluate/predict)."""

    _is_model = True  # a model called on a symbolic tensor is recognised without importing models

    def __init__(self, name=None):
        self.name = name or "model"
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._metric_specs = []
        self._weighted_metric_specs = []
        self._compiled_metrics = {}
        self._interrupted = False
        self._interrupt_requested = False
        self._resume_point = None
        self._progress = None
        self.stop_reason = None

    # ------------------------------------------------------------------ to implement
    @property
    def layers(self):
        raise NotImplementedError

    def forward(self, x, training=False):
        raise NotImplementedError

    def backward(self, dy, from_logits=False, need_input_grad=True):
        raise NotImplementedError

    def plan_backward(self):
        """Set each layer's declared ``need_input_grad`` for training: False where nothing
        trainable comes before the layer (its dx would go unused). Called when the model is
        built, compiled and at the start of fit (Keras too asks for compile after a change of
        ``trainable``)."""

    def output_layer(self):
        return self.layers[-1]

    @contextlib.contextmanager
    def _every_input_grad(self, enabled=True):
        """Within the block every layer computes dx (gradient checks, step-through tools)."""
        if not enabled:
            yield
            return
        saved = [(layer, layer.need_input_grad) for layer in self.layers]
        for layer, _ in saved:
            layer.need_input_grad = True
        try:
            yield
        finally:
            for layer, value in saved:
                layer.need_input_grad = value


    # ------------------------------------------------------------------ parameters
    def parameters(self):
        """[(key, param, grad)] for every trainable parameter, keys like 'dense_1/kernel'."""
        out = []
        for layer in self.layers:
            if layer.trainable:
                for k, p in layer.params.items():
                    out.append((f"{layer.name}/{k}", p, layer.grads[k]))
        return out

    @property
    def weights(self):
        return [w for layer in self.layers for w in layer.weights]

    def get_weights(self):
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights):
        weights = list(weights)
        expected = sum(len(layer.weights) for layer in self.layers)
        if len(weights) != expected:
            raise ValueError(f"Model '{self.name}': expected {expected} weight arrays, received {len(weights)}")
        i = 0
        for layer in self.layers:  # validate everything before writing anything
            for w, value in zip(layer.weights, weights[i:i + len(layer.weights)]):
                if tuple(w.shape) != tuple(value.shape):
                    raise ValueError(f"layer '{layer.name}': weight of shape {tuple(w.shape)}, received {tuple(value.shape)}")
            i += len(layer.weights)
        i = 0
        for layer in self.layers:
            n = len(layer.weights)
            if n:
                layer.set_weights(weights[i:i + n])
            i += n

    def count_params(self):
        return sum(layer.count_params() for layer in self.layers)

    def get_layer(self, name=None, index=None):
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r}; layers: {', '.join(l.name for l in self.layers)}")


    # ------------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, weighted_metrics=None,
                **kwargs):
        """Choose the optimizer, loss and metrics (Keras's defaults: optimizer='rmsprop').

        ``loss``: a name, an nn.losses class/instance, or a function form (``nn.losses.mse``,
        mapped to its class so training keeps the fused logits path); any other function goes
        through ``nn.losses.from_callable``. ``metrics``: names, functions or nn.metrics.Metric
        instances; ``weighted_metrics`` are also weighted by the sample weights of fit/evaluate."""
        unsupported = {k: v for k, v in kwargs.items()
                       if k not in ("run_eagerly", "jit_compile", "steps_per_execution", "auto_scale_loss")}
        if unsupported:
            raise TypeError(f"compile: unexpected keyword argument(s) {', '.join(sorted(unsupported))}")
        if loss_weights is not None:
            raise ValueError("compile: loss_weights is not supported (one output, one loss)")
        if loss is None:
            raise ValueError("compile: a loss is required, e.g. loss='sparse_categorical_crossentropy'")
        if isinstance(loss, (dict, list, tuple)):
            raise ValueError("compile: one loss per output (a dict or list of losses) is not supported; "
                             f"pass a single loss, received {type(loss).__name__}")
        self.optimizer = optimizers_mod.get(optimizer)
        self.loss = losses_mod.get(loss)
        specs = {"metrics": [], "weighted_metrics": []}
        for which, given in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if given is None:
                given = []
            if isinstance(given, str) or callable(given):
                given = [given]
            if isinstance(given, dict):
                raise ValueError(f"compile: {which} as a dict (one list per output) is not supported")
            for m in given:
                metrics_mod.get_metric(m, (None, 2), (None, 2))  # validates names early
                specs[which].append(m)
        self._metric_specs, self._weighted_metric_specs = specs["metrics"], specs["weighted_metrics"]
        self._compiled_metrics = {}
        self.compiled = True
        self.plan_backward()

    def _require_compiled(self, what):
        if not self.compiled:
            raise NotCompiledError(f"Model '{self.name}': call compile(optimizer, loss) before {what}()")

    def _metric_fns(self, y_shape):
        """[(name, Metric, weighted)] for labels of ``y_shape``, built once per label shape and
        named as Keras names them in the logs (a repeated name gets '_1', '_2', ...)."""
        key = None if y_shape is None else tuple(y_shape)
        if key not in self._compiled_metrics:
            out_shape = (None,) + tuple(self.output_shape[1:])
            y_shape = key if key is not None else out_shape
            built, counts = [], {}
            specs = [(m, False) for m in self._metric_specs] + [(m, True) for m in self._weighted_metric_specs]
            for spec, weighted in specs:
                metric = metrics_mod.get_metric(spec, y_shape, out_shape)
                name = metric.name
                if name in counts:
                    counts[name] += 1
                    name = f"weighted_{name}" if weighted and f"weighted_{name}" not in counts else f"{name}_{counts[name] - 1}"
                counts.setdefault(name, 1)
                built.append((name, metric, weighted))
            self._compiled_metrics[key] = built
        return self._compiled_metrics[key]

    @property
    def metrics_names(self):
        return ["loss"] + [name for name, _, _ in next(iter(self._compiled_metrics.values()), [])]

    def fuses_loss(self):
        """True when the output activation is fused with the loss (Keras's logits trap): a
        softmax (sigmoid) output layer under a categorical (binary) cross-entropy."""
        out = self.output_layer()
        act = getattr(getattr(out, "activation", None), "name", None)
        return (self.loss.fuses is not None and act == self.loss.fuses and getattr(out, "_keep_logits", False)
                and getattr(getattr(out, "activation", None), "axis", -1) == -1)


    def loss_at_output(self, y_pred, y):
        """(loss, from_logits) for the output ``y_pred`` of the last forward: computed from the
        logits behind the output activation when ``fuses_loss()``, else from ``y_pred``. The one
        place this decision is made (training, evaluation, step-through tools, gradient checks);
        ``self.loss.backward()`` then gives dL/dz or dL/dy_pred accordingly."""
        if self.fuses_loss():
            return self.loss.forward_logits(self.output_layer().logits, y), True
        return self.loss.forward(y_pred, y), False

    def backward_steps(self, x, y, apply_update=True):
        """One training step on (x, y) as a generator of Steps, paused after every layer's
        forward and backward, then the update (see ``nnscratch.models.stepping``)."""
        return stepping.backward_steps(self, x, y, apply_update=apply_update)

    def __call__(self, x, training=False):
        if getattr(x, "_is_symbolic", False):
            return x.record_call(self, x)
        return self.forward(backend.to_device(x), training=training)  # host arrays move to the device

    # ------------------------------------------------------------------ saving / summary
    def save_weights(self, path):
        """Write weights to ``.npz`` (with the optimizer state) or ``.weights.h5`` (atomically)."""
        saving.save_weights(self, path)

    def save(self, filepath, overwrite=True):
        """Save architecture, weights, optimizer state and compile settings to one file
        (``.keras`` or ``.nnscratch``); ``nn.models.load_model(path)`` restores it."""
        model_file.save_model(self, filepath, overwrite=overwrite)

    def load_weights(self, path):
        """Load weights (and optimizer state, if saved); a failed load changes nothing."""
        saving.load_weights(self, path)

    def to_json(self, **kwargs):
        """The architecture as Keras's JSON: {"class_name": ..., "config": ...} (no weights);
        ``nn.models.model_from_json`` rebuilds it."""
        return json.dumps(model_file.model_to_config(self)["model"], **kwargs)

    def summary(self, line_length=None, print_fn=None):
        return _summary(self, line_length=line_length, print_fn=print_fn)
