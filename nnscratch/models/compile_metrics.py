"""Metrics per output for a model with several outputs (Keras 3's CompileMetrics rules).

``metrics`` (and ``weighted_metrics``) for K > 1 outputs is a list with exactly K entries (entry
i: None, a metric, or a list of metrics for output i) or a dict by output name (outputs left
out get none). Anything else is refused, as Keras 3 refuses it; in particular a flat list of
metrics whose length is not K is NOT applied to every output (and one of length K is read as
one metric per output, as in Keras). Each metric is logged as ``<output>_<metric>``; a repeated
name gets ``_1``, ``_2``; a weighted metric repeating an unweighted one is
``<output>_weighted_<metric>``. The logs list the metrics sorted by name, after ``loss`` and the
per-output losses (the order of Keras 3's ``evaluate`` list).
"""
from __future__ import annotations

from nnscratch import metrics as metrics_mod


def per_output_specs(model, given, which):
    """``given`` as one list of metric specs per output (validated names)."""
    names = list(model.output_names)
    if not given:
        return [[] for _ in names]
    if not isinstance(given, (list, tuple, dict)):
        raise ValueError(f"Model '{model.name}': expected `{which}` argument to be a list, tuple, or dict. "
                         f"Received instead: {which}={given!r} of type {type(given)}")
    if isinstance(given, (list, tuple)) and len(given) == len(names):
        per = list(given)
    elif isinstance(given, dict) and set(given) <= set(names):
        per = [given.get(name) for name in names]
    else:
        raise ValueError(f"Model '{model.name}': invalid `{which}`. `{which}` should contain metrics objects and "
                         f"either be a dict or a list matching the output names of the functional model {names} "
                         f"(one entry per output). Received: {which}={given!r}")
    out = []
    for entry in per:
        entry = [] if entry is None else (list(entry) if isinstance(entry, (list, tuple)) else [entry])
        for spec in entry:
            metrics_mod.get_metric(spec, (None, 2), (None, 2))  # validates names early
        out.append(entry)
    return out


class OutputMetric:
    """A metric of output ``index``: picks that output's targets, predictions and weights."""

    def __init__(self, metric, index):
        self.metric, self.index = metric, index
        self.name = metric.name

    @property
    def variables(self):
        return self.metric.variables

    @property
    def _direction(self):
        return getattr(self.metric, "_direction", "up")

    def reset_state(self):
        self.metric.reset_state()

    def result(self):
        return self.metric.result()

    def update_state(self, y_true, y_pred, sample_weight=None):
        sw = sample_weight[self.index] if isinstance(sample_weight, list) else sample_weight
        self.metric.update_state(y_true[self.index], y_pred[self.index], sample_weight=sw)


def build(model, metric_specs, weighted_specs, y_shapes):
    """[(log name, OutputMetric, weighted)] sorted by name, for targets of shapes ``y_shapes``."""
    names, counts, built = list(model.output_names), {}, []
    for weighted, specs in ((False, metric_specs), (True, weighted_specs)):
        for i, (output, entry) in enumerate(zip(names, specs)):
            if entry and y_shapes[i] is None:
                raise ValueError(f"Model '{model.name}': output '{output}' has metrics but no targets were given "
                                 f"for it; outputs {names}")
            for spec in entry:
                out_shape = (None,) + tuple(model.output_shape[i][1:])
                metric = metrics_mod.get_metric(spec, y_shapes[i], out_shape)
                name = f"{output}_{metric.name}"
                if name in counts and weighted:
                    name = f"{output}_weighted_{metric.name}"
                if name in counts:
                    counts[name] += 1
                    name = f"{name}_{counts[name] - 1}"
                else:
                    counts[name] = 1
                built.append((name, OutputMetric(metric, i), weighted))
    return sorted(built, key=lambda item: item[0])


def single_output_specs(given, which):
    """The metric specs of a single-output model as one flat list (names validated)."""
    if given is None:
        given = []
    if isinstance(given, str) or callable(given):
        given = [given]
    if isinstance(given, dict):  # Keras 3: with one output, every metric applies to it
        given = [m for entry in given.values() for m in (entry if isinstance(entry, (list, tuple)) else [entry])]
    flat = []
    for m in given:
        for spec in (m if isinstance(m, (list, tuple)) else [m]):
            metrics_mod.get_metric(spec, (None, 2), (None, 2))  # validates names early
            flat.append(spec)
    return flat


def shape_key(y_shape):
    """A hashable key for the targets' shape: a tuple, or a tuple of them for several outputs."""
    return None if y_shape is None else tuple(y_shape)


def _single(model, y_shape):
    """Keras 3's naming for one output: the metric's name, '_1', '_2' for repeats, 'weighted_'
    for a weighted metric repeating an unweighted one."""
    out_shape = (None,) + tuple(model.output_shape[1:])
    y_shape = y_shape if y_shape is not None else out_shape
    built, counts = [], {}
    specs = [(m, False) for m in model._metric_specs] + [(m, True) for m in model._weighted_metric_specs]
    for spec, weighted in specs:
        metric = metrics_mod.get_metric(spec, y_shape, out_shape)
        name = metric.name
        if name in counts:
            counts[name] += 1
            name = f"weighted_{name}" if weighted and f"weighted_{name}" not in counts else f"{name}_{counts[name] - 1}"
        counts.setdefault(name, 1)
        built.append((name, metric, weighted))
    return built


def metric_fns(model, y_shape):
    """[(log name, metric, weighted)]: the per-output losses (several outputs with a loss), then
    the compiled metrics."""
    losses = model._output_losses
    trackers = losses.trackers() if losses is not None else []
    if model._output_metric_specs is None:
        return trackers + _single(model, y_shape)
    n = len(model.output_names)
    shapes = list(y_shape) if y_shape is not None else [None] * n
    return trackers + build(model, *model._output_metric_specs, shapes)
