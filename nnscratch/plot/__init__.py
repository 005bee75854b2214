"""Pictures of what a network learned: curves, samples, confusion matrices, filters, paths.

Every function here builds a :class:`matplotlib.figure.Figure` directly (no ``pyplot``), so
nothing touches pyplot's global "current figure" state, nothing needs a display, and there is
nothing to close: the figure is an ordinary object that is freed when you drop it. In a Jupyter
notebook a returned figure shows itself; in a script pass ``path=`` and a PNG is written
atomically (a temporary file in the same directory, then ``os.replace``), so a crash never leaves
half an image behind.

Each figure also carries the numbers it drew in ``fig.nn_data`` (a dict), so a test, or a
curious reader, can check the picture against the data without reading pixels::

    fig = nn.plot.plot_history(history, path="curves.png")
    fig.nn_data["loss"]["train"]          # the exact list that was drawn

This is a host-side module: it works on NumPy arrays and brings device (CuPy) arrays back with
``backend.to_host`` first.
"""
from nnscratch.plot._figure import RIGHT_COLOR, WRONG_COLOR, save_figure
from nnscratch.plot.layers import FEATURE_LAYERS, plot_feature_maps, plot_filters
from nnscratch.plot.optimizers import (SURFACES, beale, beale_grad, elongated_bowl, elongated_bowl_grad,
                                       optimizer_path, plot_optimizer_paths, rosenbrock, rosenbrock_grad)
from nnscratch.plot.training import confusion_matrix, plot_confusion_matrix, plot_history, plot_samples

__all__ = ["plot_history", "plot_samples", "confusion_matrix", "plot_confusion_matrix",
    "plot_filters", "plot_feature_maps", "plot_optimizer_paths", "optimizer_path",
    "rosenbrock", "rosenbrock_grad", "beale", "beale_grad", "elongated_bowl",
    "elongated_bowl_grad", "SURFACES", "save_figure", "FEATURE_LAYERS", "WRONG_COLOR", "RIGHT_COLOR"]
