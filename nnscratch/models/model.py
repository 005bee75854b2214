"""The Model API shared by Sequential and the functional Model: parameters and weights, compile,
the backward plan, calling, saving and summary. The training loops are in ``trainer.py``,
input checking in ``data_adapter.py``, CPU threading in ``cpu_threads.py``.

Subclasses provide ``layers``, ``build``, ``forward`` and ``backward``.
"""
from __future__ import annotations

import contextlib
import json

from nnscratch import backend, losses as losses_mod, optimizers as optimizers_mod
from nnscratch import saving
from nnscratch.layers.base import _INTERNAL, Layer, backward_pass, public_result
from nnscratch.models import compile_metrics, device, stepping
from nnscratch.models.compile_loss import OutputLosses
from nnscratch.models.summary import summary as _summary
from nnscratch.models.trainer import Trainer
from nnscratch.saving import model_file, onnx_export


def _traced_if_custom(loss):
    """A user's loss function written with nn.ops, or a Loss subclass that defines ``call``
    (Keras's way) instead of forward/backward: traced into a graph of ops with their
    hand-written backwards (``TracedLoss``). Names, nnscratch's losses and their function
    forms pass through unchanged."""
    if isinstance(loss, str) or isinstance(loss, type) or loss in losses_mod.CLASS_OF:
        return loss
    if isinstance(loss, losses_mod.Loss):
        defines_call = "call" in type(loss).__dict__ or any("call" in vars(c) for c in type(loss).__mro__[1:-1]
                                                            if c is not losses_mod.Loss)
        return losses_mod.TracedLoss(loss) if defines_call and type(loss).forward is losses_mod.Loss.forward else loss
    return losses_mod.TracedLoss(loss) if callable(loss) else loss


class NotCompiledError(RuntimeError, ValueError):
    """fit/evaluate/train_on_batch before compile (a RuntimeError, and a ValueError as Keras)."""


class Model(Trainer, Layer):
    """A graph of layers that trains (see ``trainer.py`` for fit/evaluate/predict). A Model is
    also a Layer (Keras's design), so a model can be used as a layer of another model; its
    weights are then the same arrays in both."""

    _is_model = True  # a model called on a symbolic tensor is recognised without importing models

    def __init__(self, name=None, trainable=True, **kwargs):
        Layer.__init__(self, name=name, trainable=trainable, **kwargs)
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._metric_specs = []
        self._weighted_metric_specs = []
        self._compiled_metrics = {}
        self._output_losses = None  # compile_loss.OutputLosses when each output has its own loss
        self._output_metric_specs = None
        self._interrupted = False
        self._interrupt_requested = False
        self._resume_point = None
        self._progress = None
        self.stop_reason = None

    # ------------------------------------------------------------------ to implement
    @property
    def layers(self):
        """A subclassed model's layers: those held as attributes or used by its traced call."""
        return Layer._sublayers(self)

    def _sublayers(self):
        return self.layers

    def _traced(self):
        return not getattr(type(self).call, "framework_call", False)  # a subclassed Model with call()

    def backward(self, dy, from_logits=False, need_input_grad=True):
        """A subclassed model (call traced): run its graph in reverse."""
        if not self._traced():
            raise NotImplementedError(f"{type(self).__name__}.backward")
        if from_logits:
            raise TypeError(f"Model '{self.name}': a traced call() has no fused logits backward")
        saved, self.need_input_grad = self.need_input_grad, need_input_grad
        try:
            with backward_pass():
                return self._traced_backward(dy)
        finally:
            self.need_input_grad = saved

    def call_backward(self, dy, from_logits=False):
        """A model used as a layer: its backward, planned by the calling graph's need_input_grad."""
        dx = self.backward(dy, from_logits=from_logits, need_input_grad=self.need_input_grad)
        for hook in self._backward_hooks:
            hook(self, dy, dx)
        return dx

    def build_symbolic(self, tensors, multi):
        """The model called on symbolic tensors (a model used as a layer): build it for their
        shapes if needed and return its output shape(s)."""
        if self._traced():
            return Layer.build_symbolic(self, tensors, multi)
        shapes = [(None,) + tuple(t.shape)[1:] for t in tensors]
        self.build(shapes if multi else shapes[0])  # builds, or checks the shapes of a built model
        return self.output_shape

    def _cache_state(self):
        return self._record_state()

    def _set_cache_state(self, state):
        self._restore_state(state)

    def _record_state(self):
        return Layer._cache_state(self)

    def _restore_state(self, state):
        Layer._set_cache_state(self, state)

    @property
    def losses(self):
        """The ``add_loss`` terms of the latest forward (0-d arrays), from every layer inside."""
        return list(self._last_added_losses)

    def added_loss(self):
        """HOOK for the trainer: the sum of ``self.losses`` (a 0-d array), or None when no layer
        adds a loss. Add it to the compiled loss; its gradient already flows in ``backward``."""
        terms = self.losses
        if not terms:
            return None
        total = terms[0]
        for t in terms[1:]:
            total = total + t
        return total

    def plan_backward(self):
        """Called when the model is built, compiled and at the start of fit. The backward plan
        (which layers need dx: only those with something trainable before them) is now made
        per backward call from the model's own graph, so that a layer may sit in several
        models; nothing is stored on the layers."""

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
        """[(key, param, grad)] for every trainable parameter, keys like 'dense_1/kernel';
        layers inside nested models and custom layers included, shared layers once. During fit
        the list is gathered once (``fixed_parameters``): walking nested layers at every step
        cost a batch-32 MLP a fifth of its time."""
        if getattr(self, "_fixed_parameters", None) is not None:
            return self._fixed_parameters
        out = []
        for layer in self._trainable_owners():
            for k, p in layer.params.items():
                out.append((f"{layer.name}/{k}", p, layer.grads[k]))
        return out

    @contextlib.contextmanager
    def fixed_parameters(self):
        """Within the block (a fit), ``parameters()`` returns the list gathered at its start
        (the layers and their trainable flags do not change inside a fit, as in Keras)."""
        self._fixed_parameters = None
        self._fixed_parameters = self.parameters()
        try:
            yield
        finally:
            self._fixed_parameters = None

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
        instances; ``weighted_metrics`` are also weighted by the sample weights of fit/evaluate.
        Several outputs: ``loss`` and ``metrics`` as a list per output or a dict by output name,
        ``loss_weights`` a list or dict (``compile_loss.py``, ``compile_metrics.py``)."""
        unsupported = {k: v for k, v in kwargs.items()
                       if k not in ("run_eagerly", "jit_compile", "steps_per_execution", "auto_scale_loss")}
        if unsupported:
            raise TypeError(f"compile: unexpected keyword argument(s) {', '.join(sorted(unsupported))}")
        self.optimizer = optimizers_mod.get(optimizer)
        resolve = lambda spec: losses_mod.get(_traced_if_custom(spec))  # noqa: E731
        multi = bool(getattr(self, "_multi_out", False))
        if not multi and isinstance(loss, (list, tuple)) and len(loss) == 1:  # one output: its one loss
            loss = loss[0]
        elif not multi and isinstance(loss, dict) and list(loss) == list(getattr(self, "output_names", None) or ()):
            loss = next(iter(loss.values()))
        per_output = multi or loss_weights is not None or isinstance(loss, (dict, list, tuple))
        # several outputs, or weights: compile_loss.py; else one loss (None: the model's add_loss terms)
        self._output_losses = OutputLosses(self, loss, loss_weights, resolve) if per_output else None
        self.loss = None if loss is None or per_output else resolve(loss)
        per = [compile_metrics.per_output_specs(self, given, which) if multi else compile_metrics.single_output_specs(given, which)
               for which, given in (("metrics", metrics), ("weighted_metrics", weighted_metrics))]
        # saving reads the flat lists of a single output; several outputs keep theirs apart
        self._metric_specs, self._weighted_metric_specs = ([], []) if multi else per
        self._output_metric_specs = per if multi else None
        self._compiled_metrics = {}
        self.compiled = True
        self.plan_backward()

    def _require_compiled(self, what):
        if not self.compiled:
            raise NotCompiledError(f"Model '{self.name}': call compile(optimizer, loss) before {what}()")

    def _metric_fns(self, y_shape):
        """[(name, Metric, weighted)] for labels of ``y_shape``, built once per label shape and
        named as Keras names them in the logs (``compile_metrics.py``)."""
        key = compile_metrics.shape_key(y_shape)
        if key not in self._compiled_metrics:
            self._compiled_metrics[key] = compile_metrics.metric_fns(self, key)
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
        if self._traced():
            return Layer.__call__(self, x, training=training)
        device.check_weights_backend(self)
        out = self.forward(backend.to_device(x), training=training)  # host arrays move to the device
        return out if _INTERNAL[0] else public_result(out)  # model(x).numpy() works, as in TF

    def to(self, backend_name):
        """Move weights, gradients, layer state and optimizer slots to ``backend_name`` (after
        ``nn.backend.set_backend(backend_name)``); returns the model (``models/device.py``)."""
        return device.move_model(self, backend_name)

    # ------------------------------------------------------------------ saving / summary
    def save_weights(self, path):
        """Write weights to ``.npz`` (with the optimizer state) or ``.weights.h5`` (atomically)."""
        saving.save_weights(self, path)

    def save(self, filepath, overwrite=True):
        """Save architecture, weights, optimizer state and compile settings to one file
        (``.keras``: Keras 3's format; ``.h5``: Keras's legacy HDF5; ``.nnscratch``: nnscratch's own zip);
        ``nn.models.load_model(path)`` (or ``keras.models.load_model``) restores it."""
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

    def export(self, filepath, format="onnx", verbose=None, input_signature=None, **kwargs):
        """Keras 3's ``model.export``: an ONNX inference graph (see nnscratch.saving.onnx_export)."""
        return onnx_export.export(self, filepath, format=format, verbose=verbose, input_signature=input_signature, **kwargs)
