"""One epoch of fit: batches in the epoch's order, one ``train_step`` each, the running loss and
metric sums (Keras's: batch-size-weighted, computed before each batch's update), the progress
bar, batch callbacks, Ctrl-C and the NaN check."""
from __future__ import annotations

import time

from tqdm.auto import tqdm

from nnscratch import backend
from nnscratch.models.data_adapter import first, take
from nnscratch.models.diagnosis import check_finite_loss


def run_epoch(model, x, y, order, batch_size, steps, metric_fns, cbs, verbose, epoch, epochs, start=None):
    """One pass over the data. ``start`` (from a checkpoint) gives the first step and the
    running sums accumulated before it."""
    n = first(x).shape[0]
    bar = None
    first_step = start["step"] if start else 0
    if verbose == 1:
        bar = tqdm(total=steps, initial=first_step, desc=f"Epoch {epoch + 1}/{epochs}", unit="step",
                   dynamic_ncols=True, mininterval=0.25, leave=True)
    order_dev = backend.to_device(order) if order is not None else None
    loss_sum = start["loss_sum"] if start else 0.0
    metric_sums = list(start["metric_sums"]) if start else [0.0] * len(metric_fns)
    seen = start["seen"] if start else 0
    model._progress = {"epoch": epoch, "step": first_step, "order": order, "sums": (loss_sum, metric_sums, seen)}
    last_refresh = time.monotonic()
    batch_logs = cbs.has_batch_hooks("on_train_batch_end") or cbs.has_batch_hooks("on_train_batch_begin")
    check_each_step = backend.current() == "numpy"  # on a device, checked at sync points only
    try:
        for step in range(first_step, steps):
            start_i, stop_i = step * batch_size, min((step + 1) * batch_size, n)
            if order_dev is None:
                xb, yb = take(x, slice(start_i, stop_i)), y[start_i:stop_i]  # views, no copy
            else:
                idx = order_dev[start_i:stop_i]
                xb, yb = take(x, idx), y[idx]
            if batch_logs:
                cbs.on_train_batch_begin(step)
            loss, sums = model.train_step(xb, yb, metric_fns)
            nb = stop_i - start_i
            loss_sum = loss_sum + loss * nb
            metric_sums = [a + b for a, b in zip(metric_sums, sums)]
            seen += nb
            model._progress["step"] = step + 1
            model._progress["sums"] = (loss_sum, metric_sums, seen)
            if check_each_step:
                check_finite_loss(model, loss, xb, step, epoch, rows=(start_i, stop_i),
                                  logs=lambda: epoch_logs(loss_sum, metric_sums, metric_fns, seen))
            if batch_logs:
                cbs.on_train_batch_end(step, epoch_logs(loss_sum, metric_sums, metric_fns, seen))
            if bar is not None:
                bar.update(1)
                now = time.monotonic()
                if now - last_refresh > 0.5 or step == steps - 1:
                    last_refresh = now
                    bar.set_postfix(epoch_logs(loss_sum, metric_sums, metric_fns, seen), refresh=False)
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
        check_finite_loss(model, loss_sum, take(x, slice(0, 1)), steps - 1, epoch)
    return epoch_logs(loss_sum, metric_sums, metric_fns, max(seen, 1))

def epoch_logs(loss_sum, metric_sums, metric_fns, seen):
    logs = {"loss": backend.to_float(loss_sum) / seen if backend.is_array(loss_sum) else float(loss_sum) / seen}
    for (name, _), s in zip(metric_fns, metric_sums):
        logs[name] = (backend.to_float(s) if backend.is_array(s) else float(s)) / seen
    return logs
