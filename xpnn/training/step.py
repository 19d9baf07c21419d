"""One training step, the unit ``fit``, the benchmarks and the scikit-learn estimators share.

``train_step`` is what ``Model.fit`` does per batch, without its bookkeeping (shuffling,
running sums, metrics, callbacks); a hand-written loop calls it the same way.
"""

from __future__ import annotations

from ..nn.layer import backward_for_parameters


def forward_backward(model, loss, x, y, params, sample_weight=None):
    """Forward ``x`` through ``model`` in training mode, the loss of its output against ``y``,
    then backward: each of ``params`` (the model's parameters, ``model.parameters()``) ends
    with dL/dparam in ``grad``, earlier gradients cleared. ``x`` is taken to be data, so the
    first layer computes no dL/dx. ``loss`` is anything with ``forward(pred, target) ->
    (value, backward)``. Returns ``(output, value)``, both arrays on the model's device:
    nothing is read back to the host. ``sample_weight`` (batch,) makes the loss the weighted
    mean of the per-sample losses (``Loss.forward``)."""
    out, backward = model.forward(x, training=True)
    value, loss_backward = (loss.forward(out, y) if sample_weight is None
                            else loss.forward(out, y, sample_weight=sample_weight))
    for parameter in params:  # model.zero_grad() would walk the layer tree again
        parameter.zero_grad()
    backward_for_parameters(backward, loss_backward())
    return out, value


def train_step(model, loss, optimizer, x, y, params=None, sample_weight=None):
    """One step of gradient descent on the batch ``(x, y)``: ``forward_backward``, then
    ``optimizer.step(params)``. ``params`` defaults to ``model.parameters()``; a loop passes
    the list once made, which saves walking the layers every step. Returns ``(output, loss
    value)`` as device arrays, for metrics and a running loss. ``sample_weight``: see
    ``forward_backward``."""
    params = model.parameters() if params is None else params
    out, value = forward_backward(model, loss, x, y, params, sample_weight)
    optimizer.step(params)
    return out, value
