"""The step page from ``model.backward_steps(x, y)``: walk the generator (or what is left of
it) and write the same self-contained HTML page as ``trace(model).save_html``::

    nn.debug.html_steps.save_steps_html(model.backward_steps(x, y), "step.html")

Unlike ``trace``, every layer's backward runs here (``backward_steps`` computes each dx), and
each panel's cache is a snapshot taken right after that layer's backward, the moment a
student stepping through the generator sees it.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from nnscratch import backend
from nnscratch.debug import html_report
from nnscratch.debug.trace import LayerRecord, is_relu_output


def _host(a):
    return None if a is None else np.array(backend.to_host(a), copy=True)


def _snapshot(cache):
    return {k: _host(v) if backend.is_array(v) else v for k, v in cache.items()}


def record_steps(steps):
    """(trace-like object, layers, caches) from an iterable of ``Step``s."""
    records, layers, caches, loss = {}, {}, {}, None
    for s in steps:
        if s.phase == "forward":
            rec = LayerRecord(s.index, s.layer.name, type(s.layer).__name__, relu=is_relu_output(s.layer))
            rec.x, rec.y = _host(s.x), _host(s.y)
            rec.params_before = {k: _host(p) for k, p in s.layer.params.items()}
            records[s.index], layers[s.index], caches[s.index] = rec, s.layer, _snapshot(s.cache)
        elif s.phase == "loss":
            loss = s.loss
        elif s.phase == "backward":
            rec = records[s.index]
            rec.dy, rec.dx, rec.backward_ran, rec.dy_at_logits = _host(s.dy), _host(s.dx), True, s.from_logits
            rec.grads = {k: _host(g) for k, g in s.layer.grads.items()}
            caches[s.index] = _snapshot(s.cache)
        elif s.phase == "update":
            for i, rec in records.items():
                rec.params_after = {k: _host(p) for k, p in layers[i].params.items()}
    order = sorted(records)
    tr = SimpleNamespace(records=[records[i] for i in order], loss=loss)
    return tr, [layers[i] for i in order], [caches[i] for i in order]


def save_steps_html(steps, path, title="One training step, step by step", gradcheck=None, tol=1e-6):
    """Consume ``steps`` (from ``model.backward_steps(x, y)``) and write the page to ``path``."""
    tr, layers, caches = record_steps(steps)
    text = html_report.render_trace(tr, title, gradcheck, tol, layers=layers, caches=caches,
                                    note="Each cache is a snapshot right after that layer's backward.")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path
