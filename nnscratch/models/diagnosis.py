"""What to say when the loss becomes NaN or Inf during fit: where the values first became
non-finite (a weight, a layer's output, or the loss itself), so that fit can stop with a
message that points at it (``model.stop_reason``)."""
from __future__ import annotations

from nnscratch import backend


def check_finite_loss(model, loss, xb, step, epoch):
    """Stop training when the loss became NaN/Inf, naming the step and the first layer whose
    weights or outputs are non-finite."""
    xp = backend.get_array_module(loss)
    if bool(backend.to_host(xp.isfinite(loss))):
        return
    culprit = None
    for layer in model.layers:
        for name, w in list(layer.params.items()) + list(layer.state.items()):
            if not bool(backend.to_host(xp.isfinite(w).all())):
                culprit = f"weight '{name}' of layer '{layer.name}' ({type(layer).__name__})"
                break
        if culprit:
            break
    if culprit is None:
        # run the model once more and note the first layer whose output is non-finite
        # (forward hooks: the same code serves Sequential and functional graphs)
        found = []

        def note_non_finite(layer, _inputs, out):
            if not found and not bool(backend.to_host(xp.isfinite(out).all())):
                found.append(layer)

        handles = [layer.register_forward_hook(note_non_finite) for layer in model.layers]
        try:
            model.forward(xb, training=False)
        finally:
            for h in handles:
                h.remove()
        if found:
            culprit = f"the output of layer '{found[0].name}' ({type(found[0]).__name__})"
    where = culprit or "the loss itself (every layer output was finite)"
    model.stop_reason = (f"non-finite loss ({backend.to_float(loss)}) at epoch {epoch + 1}, step {step + 1}; "
                        f"first non-finite value: {where}")
    model.stop_training = True
    print(f"\nStopping: {model.stop_reason}")
