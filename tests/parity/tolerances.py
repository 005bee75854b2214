"""Every tolerance of the TensorFlow-parity suite, each with the reason for its size.

A comparison passes when, elementwise,

    |ours - theirs| <= atol * scale + rtol * |theirs|,   scale = max(1, max |theirs|)

``atol`` is scaled by the largest reference magnitude because float32 rounding error grows with
the size of the numbers summed, not with the size of each result: an output element that
cancels to ~0 inside a convolution carries the rounding error of its large terms.

The float32 values are tight enough that every perturbation listed in docs/parity-report.md
(eps inside/outside a sqrt, padding on the wrong side, a flipped kernel, ...) fails: those are
O(1e-2) relative errors or larger, while float32 round-off between oneDNN/Eigen and NumPy is
O(1e-7) per operation.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tol:
    rtol: float
    atol: float
    reason: str

    def __str__(self):
        return f"rtol={self.rtol:g}, atol={self.atol:g}"


#: One layer's forward and backward (a few matmuls/sums over <= a few hundred terms).
LAYER = {
    "float32": Tol(1e-5, 1e-6, "float32 sums of <= a few hundred products: oneDNN/Eigen and NumPy order them "
                               "differently, about 1e-7 relative each; 1e-5 leaves 100x headroom"),
    "float64": Tol(1e-11, 1e-12, "float64 round-off (1e-16) times a few hundred terms; any formula error is "
                                 "orders of magnitude larger"),
}

#: Losses and their gradients (a softmax/log over <= 10 classes, a mean over the batch).
LOSS = {
    "float32": Tol(1e-5, 1e-6, "exp/log of float32 values: ~1e-7 relative per op; logits of 1e3 stay exact "
                               "because both sides shift by the max before exp"),
    "float64": Tol(1e-11, 1e-12, "float64 exp/log round-off"),
}

#: 200-step optimizer trajectories from identical starts and gradients.
OPTIMIZER = {
    "float32": Tol(2e-5, 2e-6, "200 in-place float32 updates, each rounding at ~6e-8 relative; errors add, "
                               "they do not compound (the gradients are fixed, not recomputed)"),
    "float64": Tol(1e-11, 1e-12, "200 float64 updates; learning rates are chosen exactly representable in "
                                 "float32, because Keras stores the learning rate as a float32 variable"),
}

#: Learning-rate schedule values (Keras computes them in float32).
SCHEDULE = Tol(1e-6, 1e-9, "Keras evaluates the schedule in float32 (the lr variable is float32); ours in "
                           "float64, so ~1e-7 relative apart")

#: Seed models trained for several steps (losses per step, final weights, predictions).
TRAINING = {
    "float32": Tol(1e-4, 2e-3, "float32 training with Adam/Adamax is a loose check on purpose: a gradient element "
                               "of size ~eps (1e-7) that cancels from terms ~1e-3 carries ~100% float32 noise, "
                               "and the adaptive step alpha*m/(sqrt(v)+eps) turns it into up to ~lr/2 of weight "
                               "difference per step (measured over 5 random Keras initialisations: up to 3.7e-4 "
                               "for LeNet at lr=1e-3, 1.4e-4 for the Dropout MLP at lr=1e-2). It catches wiring "
                               "errors (wrong layer order, loss, fused softmax); the first step's loss is compared "
                               "at LOSS tolerance, and the float64 run below pins every formula end to end"),
    "float64": Tol(1e-9, 1e-10, "float64 training: round-off ~1e-16 per op, amplified by the same mechanism "
                                "(~lr*1e-16/eps = 1e-12 per step); Keras's float32-cast hyperparameters are "
                                "given as float32-representable values on both sides"),
}

#: Weights moved across the Keras/nnscratch border (pure copies: must be exact).
EXACT = Tol(0.0, 0.0, "a weight copy or a file round-trip moves bits, it computes nothing")

#: Predictions of a model after its weights crossed the border (one inference, float32).
PREDICT = Tol(1e-5, 1e-6, "one float32 inference through a few layers (same reason as LAYER)")


def for_dtype(table, dtype):
    """Pick the entry of ``table`` for ``dtype`` ('float32' / 'float64' or a numpy dtype)."""
    return table[str(getattr(dtype, "name", dtype))]
