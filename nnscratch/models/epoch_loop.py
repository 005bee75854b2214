"""One epoch of fit: the source's batches, one ``train_step`` each, the running loss (Keras's:
batch-size-weighted, computed before each batch's update) and the compiled metrics (stateful,
on the device), the progress bar, batch callbacks, Ctrl-C and the NaN check."""
from __future__ import annotations

import time

from tqdm.auto import tqdm

from nnscratch import backend
from nnscratch.metrics import unwrap
from nnscratch.models.data_adapter import take
from nnscratch.models.diagnosis import check_finite_loss


def metric_state(metric_fns):
    """The metrics' state variables (device arrays), for checkpoints."""
    return [[v.value for v in m.variables] for _, m, _ in metric_fns]


def set_metric_state(metric_fns, states):
    for (_, m, _), values in zip(metric_fns, states or []):
        for var, value in zip(m.variables, values):
            var.assign(backend.to_device(backend.to_host(value), dtype=var.dtype))


def reset_metrics(metric_fns):
    for _, m, _ in metric_fns:
        m.reset_state()


def update_metrics(metric_fns, y, y_pred, sample_weight):
    """Fold one batch into every metric (``weighted_metrics`` get the sample weights)."""
    for _, m, weighted in metric_fns:
        m.update_state(y, y_pred, sample_weight=sample_weight if weighted else None)


def run_epoch(model, source, order, metric_fns, cbs, verbose, epoch, epochs, start=None):
    """One pass over ``source``. ``start`` (from a checkpoint) gives the first step and the
    running sums accumulated before it."""
    bar = None
    steps = source.steps
    first_step = start["step"] if start else 0
    if verbose == 1:
        bar = tqdm(total=steps, initial=first_step, desc=f"Epoch {epoch + 1}/{epochs}", unit="step",
                   dynamic_ncols=True, mininterval=0.25, leave=True)
    loss_sum = start["loss_sum"] if start else 0.0
    reset_metrics(metric_fns)
    if start:
        set_metric_state(metric_fns, start.get("metric_sums"))
    seen = start["seen"] if start else 0
    model._progress = {"epoch": epoch, "step": first_step, "order": order,
                       "sums": (loss_sum, metric_state(metric_fns), seen)}
    last_refresh = time.monotonic()
    batch_begin = cbs.has_batch_hooks("on_train_batch_begin")
    batch_end = cbs.has_batch_hooks("on_train_batch_end")
    check_each_step = backend.current() == "numpy"  # on a device, checked at sync points only
    step, xb = first_step - 1, None
    try:
        for step, (xb, yb, swb, nb) in enumerate(source.batches(order, first_step), start=first_step):
            if batch_begin:
                cbs.on_train_batch_begin(step, {})
            loss, _ = model.train_step(xb, yb, metric_fns, sample_weight=swb)
            loss_sum = loss_sum + loss * nb
            seen += nb
            model._progress["step"] = step + 1
            model._progress["sums"] = (loss_sum, metric_state(metric_fns), seen)
            if check_each_step:
                rows = (step * source.batch_size, step * source.batch_size + nb) if hasattr(source, "batch_size") else None
                check_finite_loss(model, loss, xb, step, epoch, rows=rows,
                                  logs=lambda: epoch_logs(loss_sum, metric_fns, seen))
            if batch_end:
                cbs.on_train_batch_end(step, epoch_logs(loss_sum, metric_fns, seen))
            if bar is not None:
                bar.update(1)
                now = time.monotonic()
                if now - last_refresh > 0.5 or step == (steps or 0) - 1:
                    last_refresh = now
                    bar.set_postfix(epoch_logs(loss_sum, metric_fns, seen), refresh=False)
            if model._interrupt_requested:
                model._interrupted = True
                model.stop_training = True
                print(f"\nTraining interrupted (Ctrl-C) at epoch {epoch + 1}, step {step + 1}/{steps}: the step "
                      f"completed; weights and optimizer state are those after update {model.optimizer.iterations}.")
                break
            if model.stop_training:
                break
    finally:
        if bar is not None:
            bar.close()
    if not check_each_step and not model.stop_reason and seen:
        check_finite_loss(model, loss_sum, take(xb, slice(0, 1)), step, epoch)
    return epoch_logs(loss_sum, metric_fns, max(seen, 1)), seen


def log_value(v):
    """A host float (or list, for metrics with several values) from a device result."""
    v = unwrap(v)
    if backend.is_array(v):
        host = backend.to_host(v)
        return float(host) if host.size == 1 else host.tolist()
    return float(v)


def epoch_logs(loss_sum, metric_fns, seen):
    """{'loss': mean loss, name: metric result, ...} as host floats (one read per value)."""
    logs = {"loss": log_value(loss_sum) / seen}
    for name, m, _ in metric_fns:
        logs[name] = log_value(m.result())
    return logs
