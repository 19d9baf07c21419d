"""``Dataset``: what every loader returns — host arrays plus the names and the story of the data."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Dataset:
    """A loaded data set: host (NumPy) arrays that ``fit`` moves to the active backend.

    - ``X``: features, shape (samples, features), float64.
    - ``y``: targets, shape (samples,): int64 class labels, or float64 for regression
      (``None`` when a file held no targets).
    - ``feature_names``: one name per column of ``X``.
    - ``target_names``: for classification, the name of each class label (``target_names[y]``
      names every sample); ``None`` otherwise.
    - ``description``: where the data comes from, its licence and how to cite it.
    - ``target_name``: the name of the target column, when the file named it.
    - ``images``: for image data (the digits), ``X`` reshaped to (samples, height, width).

    ``data`` and ``target`` are aliases of ``X`` and ``y``, as in scikit-learn's Bunch.
    """

    name: str
    X: object
    y: object
    feature_names: list = field(default_factory=list)
    target_names: object = None
    description: str = ""
    images: object = None
    target_name: str | None = None

    @property
    def data(self):
        return self.X

    @property
    def target(self):
        return self.y

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1]) if self.X.ndim > 1 else 1

    def __repr__(self) -> str:
        parts = [f"X {tuple(self.X.shape)} {self.X.dtype}"]
        if self.y is not None:
            parts.append(f"y {tuple(self.y.shape)} {self.y.dtype}")
        if self.target_names is not None:
            parts.append(f"{len(self.target_names)} classes")
        return f"Dataset({self.name!r}: {', '.join(parts)})"
