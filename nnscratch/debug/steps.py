"""``model.backward_steps(x, y)``: one training step, paused after every layer. The generator
lives with the model (nnscratch/models/stepping.py, it runs the model's own step); its names are
re-exported here for the debugging tools."""
from nnscratch.models.stepping import Step, backward_steps

__all__ = ["Step", "backward_steps"]
