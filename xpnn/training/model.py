"""``Model``: a Sequential that can train, predict, evaluate, describe and save itself (the
Keras front).

The layers below know nothing of training; this class is where the two floors meet. Any other
Layer trains through the same functions: ``xpnn.training.fit(layer, X, y, ...)``.
"""

from __future__ import annotations

import copy
import math

from ..backend import backend_name_of, dtype_name, name as backend_name, namespace, namespace_of
from ..nn import losses
from ..nn.layers.sequential import Sequential
from . import checkpoint, data, loop


class Model(Sequential):
    """``Model(*layers)`` or ``Model([layers])``: ``Sequential`` plus ``fit``, ``predict``,
    ``evaluate``, ``summary`` and saving.

    After ``fit`` the model remembers what it was trained with, as Keras's ``compile`` does:
    ``model.loss`` (a Loss), ``model.optimizer`` (the Optimizer, with its state) and
    ``model.metrics`` (the Metric objects), the defaults of later ``fit`` and ``evaluate`` calls;
    ``model.history`` is the last run's ``History``. ``save`` keeps all three in the file.
    """

    loss = optimizer = metrics = history = None  # until fit or load sets them

    def fit(self, X, y, *, loss=None, optimizer=None, epochs: int = 1, batch_size: int | None = 32,
            shuffle: bool = True, validation_split: float = 0.0, validation_data=None,
            metrics=None, callbacks=(), seed=None, verbose: int = 1, resume_from=None,
            sample_weight=None, class_weight=None, terminate_on_nan: bool = True, distributed=None):
        """Train with mini-batch gradient descent and return the ``History``.

        - ``X``: (samples, features) or (samples, ...) for layers that take more axes;
          ``y``: integer labels (samples,) or probability rows for cross-entropy, 0/1 per output
          for binary cross-entropy, values of the output's shape for regression losses.
        - ``loss``, ``optimizer``: names ("cross_entropy", "adam") or objects. Left out, they are
          the ones this model last trained with (or was loaded with), else, with ``resume_from``,
          the checkpoint's.
        - ``epochs``: the total number of epochs; a resumed run continues up to it.
        - ``batch_size``: samples per step; ``None`` is the whole set (batch gradient descent)
          and 1 is stochastic gradient descent.
        - ``shuffle``: reshuffle the training samples every epoch (seeded by ``seed``).
        - ``validation_split``: the fraction of samples, taken from the END of X/y before
          shuffling, held out for validation; ``validation_data=(X_val, y_val)`` or
          ``(X_val, y_val, sample_weight_val)`` instead.
        - ``metrics``: names or Metric objects; "auto" is accuracy for classification losses
          and none for regression; left out, the ones this model last used, else "auto".
        - ``callbacks``: EarlyStopping, ModelCheckpoint, LearningRateScheduler, TrainingMonitor...
        - ``seed``: the shuffling order, nothing else. The initial weights and Dropout's masks
          come from the library stream when the layers are built: for a run that repeats
          exactly, call ``xpnn.set_seed(s)`` before building the model (or give each layer
          ``rng=``/``seed=``) and pass ``seed=`` here.
        - ``verbose``: 0 silent; 1 a line per epoch (loss, metrics, validation metrics) with a
          bar for the running epoch on a terminal, and a last line saying why training ended;
          2 the same lines without the bar.
        - ``resume_from``: a checkpoint written by ``ModelCheckpoint``; training continues
          exactly where it stopped (weights, optimizer, schedule, epoch, random state, history
          and callback state).
        - ``sample_weight`` (samples,) and ``class_weight`` ({class: weight}, classes left out
          weigh 1): the loss becomes the weighted mean sum w_i l_i / sum w_i (PyTorch's
          ``reduction="none"`` then a weighted mean); both given, they multiply. Metrics stay
          unweighted. Validation samples keep their ``sample_weight`` under ``validation_split`` and
          take ``validation_data``'s third item otherwise; ``class_weight`` is for training only (Keras).
        - ``terminate_on_nan`` (Keras's ``TerminateOnNaN``, inf included): when an epoch ends with
          a NaN or infinite loss or weight, find the first step and layer where it appeared
          (forward, loss, backward or update), stop, and put back the weights and optimizer state
          from just before that step (a later ``fit`` continues from there); the epoch's logs are
          kept, ``history.stop_reason`` says where it happened and a
          ``xpnn.TrainingHealthWarning(kind="non_finite")`` names the epoch, batch and layer. Checked
          once per epoch (no step waits for it); it keeps a device copy of the weights and optimizer
          state. False trains on through NaN, as before.
        - ``distributed``: True (or an ``xpnn.distributed`` Communicator or DataParallel) trains
          data-parallel over the processes ``mpiexec`` started, every one running this same
          call on the same data: ``batch_size`` is then the global batch, each process takes
          its share of every batch, and the result is the single-process run's (README,
          "Data-parallel training over MPI"). ImportError with the install line without mpi4py.

        Every argument and array is checked before the first step; a ValueError or TypeError
        names the one that is wrong. A final sigmoid or softmax fed to a loss on logits (or a
        linear output fed to one on probabilities) is refused, with the fix.
        """
        loss = self.loss if loss is None else loss
        if loss is None and resume_from is None:  # a checkpoint may hold the loss: loop.fit reads it
            raise ValueError("fit: loss is required (a name such as 'cross_entropy' or 'mse', or a Loss): "
                             "this model has not been trained or loaded with one")
        if optimizer is None and resume_from is None:
            optimizer = self.optimizer  # the same object: its moments carry on, as in Keras
        metrics = (self.metrics if self.metrics is not None else "auto") if metrics is None else metrics
        self.history = loop.fit(
            self, X, y, loss=loss, optimizer=optimizer, epochs=epochs, batch_size=batch_size,
            shuffle=shuffle, validation_split=validation_split, validation_data=validation_data,
            metrics=metrics, callbacks=callbacks, seed=seed, verbose=verbose, resume_from=resume_from,
            sample_weight=sample_weight, class_weight=class_weight, terminate_on_nan=terminate_on_nan,
            remember=self._remember, distributed=distributed,
        )
        return self.history

    def _remember(self, loss, optimizer, metric_list, input_shape) -> None:
        """Called by ``loop.fit`` once every check has passed (the callbacks' included), just
        before the first step: a refused fit leaves the model's configuration as it was."""
        self.loss, self.optimizer = loss, optimizer
        self.metrics = list(metric_list)  # the Metric objects: their settings (k, average...) too
        self._input_shape = input_shape

    def predict(self, X, *, batch_size: int | None = None):
        """Outputs for X (samples, features) in inference mode, an array of the active backend
        (``xpnn.to_numpy`` brings it to the host). One sample is ``X.reshape(1, -1)``."""
        return loop.predict(self, X, batch_size=batch_size)

    def evaluate(self, X, y, *, loss=None, metrics=None, batch_size: int | None = None,
                 sample_weight=None) -> dict:
        """``{"loss": ..., metric: ...}`` on (X, y) in inference mode; ``loss`` and ``metrics``
        default to the ones the model was trained (or loaded) with. With ``sample_weight``
        (samples,) the loss is the weighted mean; metrics are not weighted."""
        loss = self.loss if loss is None else loss
        if loss is None:
            raise ValueError("evaluate: loss is required when the model has not been trained or "
                             "loaded with one")
        metrics = (self.metrics if self.metrics is not None else "auto") if metrics is None else metrics
        return loop.evaluate(self, X, y, loss=loss, metrics=metrics, batch_size=batch_size,
                             sample_weight=sample_weight)

    # -- describing itself
    def summary(self, input_shape=None, *, print_fn=print) -> str:
        """A table of the layers (output shape, parameters), the trainable and frozen totals,
        printed with ``print_fn`` (None: not printed) and returned.

        Output shapes come from running one sample of zeros through the layers in inference
        mode: of ``input_shape`` (the shape of one sample, e.g. ``(4,)``) when given, else of
        the shape the model was last trained on, else of the first layer's ``in_features``;
        "?" where none is known. Buffers (BatchNorm's running statistics) are not parameters:
        they are listed on a line of their own. Raises ValueError for an ``input_shape`` the
        layers cannot take."""
        shapes = self._output_shapes(input_shape)
        rows = [("Layer", "Output shape", "Param #")]
        for index, layer in enumerate(self.layers):
            rows.append((f"({index}) {_short(layer)}", shapes[index], f"{layer.count_params():,}"))
        widths = [max(len(row[column]) for row in rows) for column in range(3)]
        rule = "-" * (sum(widths) + 4)

        def line(row):
            return f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}"

        parameters = self.parameters()
        trainable = sum(math.prod(p.shape) for p in parameters if p.trainable)
        total = self.count_params()
        buffers = sum(math.prod(held.shape) for _, held in self.named_state()) - total
        dtypes = sorted({dtype_name(p.dtype) for p in parameters}) or ["none"]
        where = backend_name_of(namespace_of(value=parameters[0].value)) if parameters else backend_name()
        lines = [f"{type(self).__name__} ({', '.join(dtypes)}, backend {where})", rule,
                 line(rows[0]), rule, *map(line, rows[1:]), rule,
                 f"Total params: {total:,}", f"Trainable params: {trainable:,}",
                 f"Frozen params: {total - trainable:,}"]
        if buffers:
            lines.append(f"Buffers (not trained, e.g. running statistics): {buffers:,}")
        text = "\n".join(lines)
        if print_fn is not None:
            print_fn(text)
        return text

    def _output_shapes(self, input_shape) -> list[str]:
        if input_shape is None:
            input_shape = getattr(self, "_input_shape", None)
            if input_shape is None:
                width = data.input_width(self)
                input_shape = None if width is None else (width,)
        elif isinstance(input_shape, int) or not all(isinstance(n, int) and n > 0 for n in input_shape):
            raise ValueError(f"summary: input_shape must be the shape of one sample, a tuple of positive "
                             f"ints such as (4,), got {input_shape!r:.60}")
        if input_shape is None:
            return ["?"] * len(self.layers)
        parameters = self.parameters()  # the model's own backend, whichever is active now
        xp = namespace_of(value=parameters[0].value) if parameters else namespace()
        x = xp.zeros((1, *input_shape), dtype=data.model_dtype(self))
        shapes = []
        for index, layer in enumerate(self.layers):
            try:
                x = layer(x)
            except (ValueError, TypeError) as error:
                raise ValueError(f"summary: layer {index} ({_short(layer)}) cannot take input of shape "
                                 f"(None, {', '.join(map(str, x.shape[1:]))}): {error}") from None
            shapes.append("(None, " + ", ".join(map(str, x.shape[1:])) + ")")
        return shapes

    def __getstate__(self) -> dict:
        """Pickled without the metrics' running sums (device arrays): they are reset before
        every use, and leaving them out keeps a pickle free of arrays that would not be made on
        the unpickling backend (xpnn/backend/pickling.py)."""
        state = super().__getstate__()  # Layer's: without forward hooks
        if self.metrics is not None:
            state["metrics"] = [_reset_copy(metric) for metric in self.metrics]
        return state

    # -- files
    def save(self, path) -> None:
        """Architecture (JSON), weights and, after training, the loss, metrics and optimizer
        state to ``path``, atomically; ``xpnn.load(path)`` reads it back."""
        training = None
        if self.loss is not None:
            training = checkpoint.training_config(losses.get(self.loss), self.metrics or [], self.optimizer)
        checkpoint.save_model(self, path, training)

    def save_weights(self, path) -> None:
        """Architecture and weights to ``path`` without the training configuration (a model
        file ``xpnn.load`` and ``load_weights`` read)."""
        checkpoint.save_model(self, path)

    def load_weights(self, path) -> "Model":
        """Weights from a model file or checkpoint with exactly this architecture; on a
        mismatch a ValueError names the file and the entry, and nothing changes."""
        checkpoint.load_weights(self, path)
        return self


def _reset_copy(metric):
    twin = copy.copy(metric)
    twin.reset()
    return twin


def _short(layer) -> str:
    text = repr(layer)
    return text if "\n" not in text else f"{type(layer).__name__}({len(getattr(layer, 'layers', ()))} layers)"


def load(path):
    """The model saved at ``path`` (by ``Model.save`` or a checkpoint), on the active backend,
    with the loss, metrics and optimizer it was trained with when the file holds them."""
    return checkpoint.load_model(path)

