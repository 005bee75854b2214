"""nnscratch.debug: gradient checks and tools to inspect backprop."""
from nnscratch.debug.gradcheck import (GradCheckResult, check_layer, check_loss, check_model, gradient_check,
                                       numerical_gradient, rel_error)

__all__ = ["gradient_check", "check_layer", "check_loss", "check_model", "numerical_gradient", "rel_error",
           "GradCheckResult"]
