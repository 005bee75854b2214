"""nnscratch.models: Sequential (and the functional Model), plus whole-model loading."""
from nnscratch.models.sequential import Sequential
from nnscratch.models.training import Model

__all__ = ["Sequential", "Model"]
