"""The flags of ``nn.debug.trace``'s table: the clues of one recorded step that a student should
not have to know the thresholds for (see ``nnscratch.debug.trace``'s docstring for the codes)."""
from __future__ import annotations

import numpy as np


def _norm(a):
    return float(np.sqrt(np.sum(np.square(a, dtype=np.float64)))) if a is not None else None


#: The thresholds of the flags (see the module docstring).
UPDATE_RATIO_FLAG = 0.1
GRAD_GAIN_FLAG = 100.0
INPUT_RANGE_FLAG = 10.0


def _nonfinite(*arrays):
    return any(a is not None and a.dtype.kind == "f" and not np.isfinite(a).all() for a in arrays)


def record_flags(r, first):
    """[(code, message)] for one LayerRecord (``first``: the model's first layer)."""
    flags = []
    ratio = r.update_ratio
    if ratio is not None and ratio > UPDATE_RATIO_FLAG:
        flags.append(("U", f"upd/w {ratio:.3g}: far above the ~1e-3 rule of thumb (learning rate too high? "
                           "inputs not scaled?)"))
    zf = r.zero_fraction
    if zf is not None and zf == 1.0:
        flags.append(("D", "every ReLU output is 0 for this batch: dead units, no gradient flows below"))
    if not r.params_before and r.backward_ran and r.dx is not None and r.dy is not None:
        ny, nx = _norm(r.dy), _norm(r.dx)
        if ny > 0 and nx > 0 and (nx / ny > GRAD_GAIN_FLAG or ny / nx > GRAD_GAIN_FLAG):
            flags.append(("x", f"a parameter-free layer changes the gradient norm {nx / ny:.3g}-fold "
                               f"(|dy| {ny:.3g} -> |dx| {nx:.3g}): check its backward with gradient_check(layer, x)"))
    zero_grad = r.grads and r.grad_norm == 0
    zero_dx = r.backward_ran and r.dx is not None and _norm(r.dx) == 0
    if zero_grad or zero_dx:
        what = "its parameter gradients are" if zero_grad else "the gradient it sends down (dx) is"
        flags.append(("0", f"{what} exactly zero: nothing below learns from this batch"))
    if first and r.x is not None and r.x.size and r.x.dtype.kind == "f" and np.isfinite(r.x).all():
        top = float(np.abs(r.x).max())
        if top > INPUT_RANGE_FLAG:
            flags.append(("S", f"inputs up to {top:.4g}: not scaled? (divide images by 255, or standardise)"))
    if _nonfinite(r.y, r.dy, r.dx, *r.grads.values()):
        flags.append(("N", "NaN or Inf in its output or gradients (nn.debug.detect_anomaly names where it began)"))
    return flags
