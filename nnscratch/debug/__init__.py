"""nnscratch.debug: gradient checks and tools to inspect backprop.

* ``gradient_check(model_or_layer_or_loss, ...)``: hand-written backward vs central differences.
* ``trace(model)``: record one training step layer by layer and print a table.
* ``backward_steps(model, x, y)`` (also ``model.backward_steps``): step through backprop.
* ``detect_anomaly(model)``: name the first layer whose forward or backward is NaN/Inf.
* ``reference``: plain-loop convolution and pooling; ``use_reference_kernels(model)``.
"""
from nnscratch.debug import reference
from nnscratch.debug.anomaly import detect_anomaly
from nnscratch.debug.gradcheck import (GradCheckResult, check_layer, check_loss, check_model, gradient_check,
                                       numerical_gradient, rel_error)
from nnscratch.debug.reference import use_reference_kernels
from nnscratch.debug.steps import Step, backward_steps
from nnscratch.debug.trace import LayerRecord, Trace, trace

__all__ = ["gradient_check", "check_layer", "check_loss", "check_model", "numerical_gradient", "rel_error",
           "GradCheckResult", "trace", "Trace", "LayerRecord", "backward_steps", "Step", "detect_anomaly",
           "reference", "use_reference_kernels"]
