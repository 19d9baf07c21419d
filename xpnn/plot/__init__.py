"""Plots of networks and their training, drawn with matplotlib (the optional extra ``plot``:
``pip install "xpnn[plot]"``); importing xpnn never imports matplotlib, importing xpnn.plot
without it is an ImportError with that install line.

Each function returns a ``matplotlib.figure.Figure`` made with the object-oriented API (no
display needed, nothing kept in pyplot's registry of open figures: show it in a notebook by
leaving it as a cell's value, or with ``figure.savefig``) and takes ``path=`` to save it as a
PNG, written atomically; a path in a missing folder is refused before anything is drawn.

- ``activations(names)``: activation functions and their derivatives, saturation shaded
- ``history(history)``: loss and each metric per epoch, training vs validation
- ``gradient_flow(history)``: per-layer gradient norms (``xpnn.TrainingMonitor``), log scale
- ``activation_histograms(model, X)``: the distribution of each layer's outputs for a batch
- ``decision_boundary(model, X, y)``: the predicted class over the plane of 2-D data
- ``network(model)``: the architecture: layers, widths, activations, parameter counts

``check_path(path, where)`` is the check each of them makes of ``path=``, for a caller that
must refuse a destination before long work (``xpnn train --plot``).
"""

from ._figure import INSTALL, check_path
from .functions import activations
from .model import activation_histograms, decision_boundary, network
from .training import gradient_flow, history

__all__ = ["INSTALL", "check_path", "activations", "history", "gradient_flow", "activation_histograms", "decision_boundary",
           "network"]
