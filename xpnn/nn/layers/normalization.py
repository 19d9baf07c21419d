"""Normalisation layers: standardise x along one axis, then scale by gamma and shift by beta.

BatchNorm standardises each feature over the batch (axis 0), or each channel of NCHW images
over the batch, height and width (axes 0, 2, 3), and keeps running statistics for inference; LayerNorm standardises each sample over its features (the last axis). Both share
one forward helper and one backward formula, written once below.
"""

from __future__ import annotations

from ...backend import dtype_name, namespace_of
from ...utils.validation import (
    check_bool, check_float_array, check_float_dtype, check_int, check_number, check_output_shape,
    check_same_dtype,
)
from .. import init
from ..layer import Layer
from ..parameter import Buffer, Parameter


def _standardize(xp, x, axis: int, eps: float):
    """(xhat, invstd, mean, biased var) with the statistics kept broadcastable (keepdims)."""
    mean = xp.mean(x, axis=axis, keepdims=True)
    centered = x - mean
    var = xp.mean(centered * centered, axis=axis, keepdims=True)
    invstd = 1.0 / xp.sqrt(var + eps)
    return centered * invstd, invstd, mean, var


def _standardize_over(xp, x, axis, eps: float, total, n: int):
    """``_standardize`` with the statistics of a batch spread over processes: ``total`` sums
    an array over all of them, ``n`` is the values per feature in the whole batch. Two passes,
    as on one process: the mean, then the mean of squared deviations from it."""
    mean = total(xp.sum(x, axis=axis, keepdims=True)) / n
    centered = x - mean
    var = total(xp.sum(centered * centered, axis=axis, keepdims=True)) / n
    invstd = 1.0 / xp.sqrt(var + eps)
    return centered * invstd, invstd, mean, var


def _standardize_backward(xp, dxhat, xhat, invstd, axis: int):
    """dL/dx through xhat = (x - mean(x)) * invstd(x), the statistics being x's own.

    The compact form (1/N) invstd (N dxhat - sum dxhat - xhat sum(dxhat xhat)), written with
    means: the two subtracted terms are what flows back through the mean and the variance.
    """
    return invstd * (
        dxhat
        - xp.mean(dxhat, axis=axis, keepdims=True)
        - xhat * xp.mean(dxhat * xhat, axis=axis, keepdims=True)
    )


def _check_options(where: str, eps, affine, affine_name: str, dtype) -> float:
    eps = check_number(eps, "eps", where, low=0, low_open=True)
    check_bool(affine, affine_name, where)
    check_float_dtype(dtype, "dtype", where)
    return eps


class BatchNorm(Layer):
    """``BatchNorm(num_features, *, momentum=0.1, eps=1e-5, affine=True, dtype="float32")``
    for inputs of shape (batch, num_features), or NCHW images (batch, num_features, height,
    width), with PyTorch's semantics (``torch.nn.BatchNorm1d``, ``torch.nn.BatchNorm2d``).

    For images the statistics are per channel, over the batch, height and width (n = batch
    height width values each), and gamma/beta scale and shift each channel.

    Training standardises with the batch mean and biased batch variance and updates the running
    statistics (``running = (1 - momentum) running + momentum batch``, the variance unbiased by
    n/(n-1)); inference standardises with the running statistics. ``gamma``/``beta`` are the
    affine Parameters (absent when ``affine=False``); ``running_mean``/``running_var`` are
    Buffers, saved with the weights but never trained. Freezing stops gamma/beta only: as in
    PyTorch, a training forward still updates the running statistics.
    """

    min_training_batch = 2  # one sample has no variance to standardise with

    def __init__(self, num_features: int, *, momentum=0.1, eps=1e-5, affine=True, dtype="float32"):
        self.num_features = check_int(num_features, "num_features", "BatchNorm", minimum=1)
        self.momentum = check_number(momentum, "momentum", "BatchNorm", low=0, high=1)
        self.eps = _check_options("BatchNorm", eps, affine, "affine", dtype)
        shape = (self.num_features,)
        self.gamma = Parameter(init.ones(shape, dtype=dtype), name="gamma") if affine else None
        self.beta = Parameter(init.zeros(shape, dtype=dtype), name="beta") if affine else None
        self.running_mean = Buffer(init.zeros(shape, dtype=dtype), name="running_mean")
        self.running_var = Buffer(init.ones(shape, dtype=dtype), name="running_var")
        self._batch_sum = None  # (sum over processes, rows of the global batch) while synchronised

    def set_batch_sum(self, total, rows: int | None = None) -> None:
        """Until told otherwise (``total=None``), this process holds a share of a global batch of
        ``rows`` rows, and ``total(array)`` returns the sum of ``array`` over every process's
        share: training then standardises with the global batch's statistics, so the processes
        of a data-parallel job reproduce one process (``xpnn.distributed``, ``sync_batchnorm``)."""
        self._batch_sum = None if total is None else (total, rows)

    def forward(self, x, training: bool = True):
        gamma, beta, momentum = self.gamma, self.beta, self.momentum
        xp = namespace_of(x=x, running_mean=self.running_mean.value)
        self._check_input(xp, x, training)
        axes = (0,) if x.ndim == 2 else (0, 2, 3)  # (batch, features) or NCHW images
        n = x.shape[0] if x.ndim == 2 else x.shape[0] * x.shape[2] * x.shape[3]
        # per-feature arrays broadcast over the feature axis: (C,) or (C, 1, 1)
        along = (-1,) if x.ndim == 2 else (-1, 1, 1)
        synchronised = self._batch_sum if training else None
        if training:
            if synchronised is None:
                xhat, invstd, mean, var = _standardize(xp, x, axes, self.eps)
            else:
                total, rows = synchronised
                n = rows * (n // x.shape[0])  # the global batch's values per feature
                xhat, invstd, mean, var = _standardize_over(xp, x, axes, self.eps, total, n)
            # Replace the arrays, never update them in place: whoever holds the old ones (a
            # snapshot for a checkpoint, an earlier closure) keeps the values it was given.
            batch_mean = xp.reshape(mean, (-1,))
            batch_var = xp.reshape(var, (-1,)) * (n / (n - 1))  # unbiased, as PyTorch keeps it
            keep = 1 - momentum
            self.running_mean.value = keep * self.running_mean.value + momentum * batch_mean
            self.running_var.value = keep * self.running_var.value + momentum * batch_var
        else:
            invstd = xp.reshape(1.0 / xp.sqrt(self.running_var.value + self.eps), along)
            xhat = (x - xp.reshape(self.running_mean.value, along)) * invstd
        out = xhat if gamma is None else xhat * xp.reshape(gamma.value, along) + xp.reshape(beta.value, along)

        def backward(dout):
            check_output_shape(dout, out, "BatchNorm.backward")
            if gamma is not None and gamma.trainable:
                gamma.accumulate(xp.sum(dout * xhat, axis=axes))
            if beta is not None and beta.trainable:
                beta.accumulate(xp.sum(dout, axis=axes))
            dxhat = dout if gamma is None else dout * xp.reshape(gamma.value, along)
            if synchronised is not None:  # the means of the formula over the global batch
                sums = total(xp.stack([xp.sum(dxhat, axis=axes), xp.sum(dxhat * xhat, axis=axes)]))
                shaped = [xp.reshape(sums[row, ...], (1, -1) if x.ndim == 2 else (1, -1, 1, 1)) / n for row in (0, 1)]
                return invstd * (dxhat - shaped[0] - xhat * shaped[1])
            if training:  # the batch statistics depend on x too
                return _standardize_backward(xp, dxhat, xhat, invstd, axes)
            return dxhat * invstd  # running statistics are constants: a plain affine map

        return out, backward

    #: the input ranks this layer takes: 2, (batch, features), and 4, NCHW images
    _ranks = (2, 4)

    def _check_input(self, xp, x, training):
        where, c = type(self).__name__, self.num_features
        if x.ndim not in self._ranks or x.shape[1] != c:
            expected = " or ".join({2: f"(batch, {c})", 4: f"(batch, {c}, height, width)"}[r]
                                   for r in self._ranks)
            raise ValueError(f"{where}: x has shape {tuple(x.shape)}, expected {expected} "
                             f"for a layer with num_features={c}")
        check_float_array(xp, x, "x", where)
        check_same_dtype(x, self.running_mean.value, "x", "the layer's running_mean", where)
        if training and x.shape[0] < 2:
            raise ValueError(
                f"{where}: training needs at least 2 samples per batch to estimate a variance, "
                f"got a batch of {x.shape[0]}; use a larger batch or forward(x, training=False)"
            )

    def get_config(self) -> dict:
        return {
            "num_features": self.num_features, "momentum": self.momentum, "eps": self.eps,
            "affine": self.gamma is not None, "dtype": dtype_name(self.running_mean.value.dtype),
        }

    def __repr__(self) -> str:
        extra = "" if self.gamma is not None else ", affine=False"
        return f"{type(self).__name__}({self.num_features}, momentum={self.momentum}, eps={self.eps}{extra})"


class BatchNorm2D(BatchNorm):
    """``BatchNorm2D(num_features, ...)``: ``BatchNorm`` that accepts NCHW images only,
    (batch, num_features, height, width), as ``torch.nn.BatchNorm2d``: statistics per channel
    over the batch, height and width. Use it to have a 2-D input rejected by name."""

    _ranks = (4,)


class LayerNorm(Layer):
    """``LayerNorm(normalized_shape, *, eps=1e-5, elementwise_affine=True, dtype="float32")``:
    each sample standardised over its last axis (of size ``normalized_shape``), then scaled by
    ``gamma`` and shifted by ``beta``. The same in training and inference; no running state."""

    def __init__(self, normalized_shape: int, *, eps=1e-5, elementwise_affine=True,
                 dtype="float32"):
        self.normalized_shape = check_int(normalized_shape, "normalized_shape", "LayerNorm", minimum=1)
        self.eps = _check_options("LayerNorm", eps, elementwise_affine, "elementwise_affine", dtype)
        self.dtype = dtype_name(dtype)  # what get_config reports when there are no parameters
        shape = (self.normalized_shape,)
        affine = elementwise_affine
        self.gamma = Parameter(init.ones(shape, dtype=dtype), name="gamma") if affine else None
        self.beta = Parameter(init.zeros(shape, dtype=dtype), name="beta") if affine else None

    def forward(self, x, training: bool = True):
        gamma, beta, size = self.gamma, self.beta, self.normalized_shape
        xp = namespace_of(x=x) if gamma is None else namespace_of(x=x, gamma=gamma.value)
        self._check_input(xp, x)
        xhat, invstd, _, _ = _standardize(xp, x, -1, self.eps)
        out = xhat if gamma is None else xhat * gamma.value + beta.value

        def backward(dout):
            check_output_shape(dout, out, "LayerNorm.backward")
            # gamma and beta are shared by every leading position (batch, time...): sum them all
            if gamma is not None and gamma.trainable:
                gamma.accumulate(xp.sum(xp.reshape(dout * xhat, (-1, size)), axis=0))
            if beta is not None and beta.trainable:
                beta.accumulate(xp.sum(xp.reshape(dout, (-1, size)), axis=0))
            dxhat = dout if gamma is None else dout * gamma.value
            return _standardize_backward(xp, dxhat, xhat, invstd, -1)

        return out, backward

    def _check_input(self, xp, x):
        if x.ndim < 1 or x.shape[-1] != self.normalized_shape:
            raise ValueError(
                f"LayerNorm: x has shape {tuple(x.shape)}, expected (..., {self.normalized_shape}) "
                f"for a layer with normalized_shape={self.normalized_shape}"
            )
        check_float_array(xp, x, "x", "LayerNorm")
        if self.gamma is not None:
            check_same_dtype(x, self.gamma.value, "x", "the layer's gamma", "LayerNorm")

    def get_config(self) -> dict:
        return {
            "normalized_shape": self.normalized_shape, "eps": self.eps,
            "elementwise_affine": self.gamma is not None,
            "dtype": self.dtype if self.gamma is None else dtype_name(self.gamma.dtype),
        }

    def __repr__(self) -> str:
        extra = "" if self.gamma is not None else ", elementwise_affine=False"
        return f"LayerNorm({self.normalized_shape}, eps={self.eps}{extra})"
