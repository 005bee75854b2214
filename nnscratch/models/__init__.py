"""nnscratch.models: Sequential, the functional Model, and whole-model loading.

``nn.Model(inputs, outputs)`` is the functional model (``nnscratch.models.functional.Model``);
the base class that both build on is ``nnscratch.models.model.Model`` (also exported here as
``BaseModel``). Layout, following Keras's trainer seams:

* ``model.py``: the Model API (parameters, weights, compile, backward plan, save, summary);
* ``trainer.py``: fit / evaluate / predict / train_on_batch; ``epoch_loop.py``: one epoch;
* ``data_adapter.py``: input checking and conversion, once, in a straight line;
* ``cpu_threads.py``: BLAS threading and inference sub-batches (performance only);
* ``interrupt.py``: Ctrl-C finishes the step; ``diagnosis.py``: what a NaN stop says;
* ``stepping.py``: ``backward_steps``, one training step paused after every layer;
* ``sequential.py``, ``functional.py``, ``summary.py``, ``model_io.py`` (load_model).
"""
from nnscratch.models.functional import Model
from nnscratch.models.model import Model as BaseModel
from nnscratch.models.model_io import clone_model, load_model, model_from_json
from nnscratch.models.sequential import Sequential
from nnscratch.saving.model_file import save_model

__all__ = ["Sequential", "Model", "BaseModel", "load_model", "save_model", "clone_model", "model_from_json"]
