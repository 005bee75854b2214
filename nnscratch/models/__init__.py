"""nnscratch.models: Sequential, the functional Model, and whole-model loading.

``nn.Model(inputs, outputs)`` is the functional model (``nnscratch.models.functional.Model``);
the training base class that both build on stays importable as
``nnscratch.models.training.Model`` (also exported here as ``BaseModel``).
"""
from nnscratch.models.functional import Model
from nnscratch.models.model_io import load_model, save_model
from nnscratch.models.sequential import Sequential
from nnscratch.models.training import Model as BaseModel

__all__ = ["Sequential", "Model", "BaseModel", "load_model", "save_model"]
