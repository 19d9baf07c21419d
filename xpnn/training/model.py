"""``Model``: a Sequential that can train, predict, evaluate and save itself (the Keras front).

The layers below know nothing of training; this class is where the two floors meet. Any other
Layer trains through the same functions: ``xpnn.training.fit(layer, X, y, ...)``.
"""

from __future__ import annotations

from ..nn.layers.sequential import Sequential
from . import checkpoint, loop


class Model(Sequential):
    """``Model(*layers)``: ``Sequential`` plus ``fit``, ``predict``, ``evaluate``, ``save``.

    After ``fit``, ``model.history`` is the run's ``History`` and ``model.loss`` the loss
    used, the default for ``evaluate``.
    """

    def fit(self, X, y, *, loss, optimizer=None, epochs: int = 1, batch_size: int | None = 32,
            shuffle: bool = True, validation_split: float = 0.0, validation_data=None,
            metrics="auto", callbacks=(), seed=None, verbose: int = 1, resume_from=None):
        """Train with mini-batch gradient descent and return the ``History``.

        - ``loss``, ``optimizer``: names ("cross_entropy", "adam") or objects. ``optimizer`` may
          be left out when ``resume_from`` is given: the checkpoint's is rebuilt.
        - ``epochs``: the total number of epochs; a resumed run continues up to it.
        - ``batch_size``: samples per step; ``None`` is the whole set (batch gradient descent)
          and 1 is stochastic gradient descent.
        - ``shuffle``: reshuffle the training samples every epoch (seeded by ``seed``).
        - ``validation_split``: the fraction of samples, taken from the END of X/y before
          shuffling, held out for validation; ``validation_data=(X_val, y_val)`` instead.
        - ``metrics``: names or Metric objects; "auto" is accuracy for classification losses
          and none for regression.
        - ``callbacks``: EarlyStopping, ModelCheckpoint, LearningRateScheduler, TerminateOnNaN...
        - ``verbose``: 0 silent, 1 a progress bar, 2 one line per epoch.
        - ``resume_from``: a checkpoint written by ``ModelCheckpoint``; training continues
          exactly where it stopped (weights, optimizer, schedule, epoch, random state, history
          and callback state).
        """
        self.loss = loss
        self.history = loop.fit(
            self, X, y, loss=loss, optimizer=optimizer, epochs=epochs, batch_size=batch_size,
            shuffle=shuffle, validation_split=validation_split, validation_data=validation_data,
            metrics=metrics, callbacks=callbacks, seed=seed, verbose=verbose, resume_from=resume_from,
        )
        return self.history

    def predict(self, X, *, batch_size: int | None = None):
        """Outputs for X in inference mode, an array of the active backend
        (``xpnn.to_numpy`` brings it to the host)."""
        return loop.predict(self, X, batch_size=batch_size)

    def evaluate(self, X, y, *, loss=None, metrics="auto", batch_size: int | None = None) -> dict:
        """``{"loss": ..., metric: ...}`` on (X, y); ``loss`` defaults to the one ``fit`` used."""
        loss = loss if loss is not None else getattr(self, "loss", None)
        if loss is None:
            raise ValueError("evaluate: loss is required when the model has not been fit")
        return loop.evaluate(self, X, y, loss=loss, metrics=metrics, batch_size=batch_size)

    def save(self, path) -> None:
        """Architecture (JSON) and weights to ``path``, atomically; ``xpnn.load(path)`` reads it."""
        checkpoint.save_model(self, path)

    def load_weights(self, path) -> "Model":
        """Weights from a model file or checkpoint with exactly this architecture."""
        checkpoint.load_weights(self, path)
        return self


def load(path):
    """The model saved at ``path`` (by ``Model.save`` or a checkpoint), on the active backend."""
    return checkpoint.load_model(path)
