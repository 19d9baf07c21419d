"""Small real data sets shipped inside the package: they load offline, with no download.

``load_iris()`` and ``load_digits()`` mirror scikit-learn's loaders of the same name: the same
samples in the same order, the same feature and target names, float64 features and int64
labels, and ``return_X_y=True``. Sources and licences: ``xpnn/datasets/data/README.md`` and
each ``Dataset.description``.
"""

from __future__ import annotations

import gzip
import importlib.resources
import io

from .. import backend
from .dataset import Dataset
from .files import read_table

DATA_FILES = ("iris.csv", "digits.csv.gz")

IRIS_DESCRIPTION = """\
Iris plants (R. A. Fisher, 1936)

150 flowers, 50 of each of three species (0 = setosa, 1 = versicolor, 2 = virginica), each
measured in four ways: sepal length, sepal width, petal length and petal width, in cm. Setosa is
linearly separable from the other two; versicolor and virginica are not separable from each
other.

Source: R. A. Fisher, "The use of multiple measurements in taxonomic problems", Annals of
Eugenics 7(2), 179-188 (1936). Donated to the UCI Machine Learning Repository,
https://doi.org/10.24432/C56C76 (licence: CC BY 4.0). This copy is the one scikit-learn 1.9.1
ships (sklearn/datasets/data/iris.csv), which follows Fisher's paper and R's `iris` rather than
the UCI file with its two known transcription errors; only the header line was rewritten.
"""

DIGITS_DESCRIPTION = """\
Optical recognition of handwritten digits (E. Alpaydin, C. Kaynak, 1998)

1797 images of handwritten digits 0-9 (about 180 of each), 8x8 pixels whose values are
integers from 0 to 16: each pixel counts the "on" pixels of a 4x4 block of a 32x32 bitmap
extracted by NIST's preprocessing programs from forms filled in by 13 writers. The features
are the 64 pixels row by row (pixel_0_0 ... pixel_7_7); ``images`` holds them as 8x8 arrays.

Source: the test set (optdigits.tes) of E. Alpaydin and C. Kaynak, "Optical Recognition of
Handwritten Digits", UCI Machine Learning Repository (1998), https://doi.org/10.24432/C50P49
(licence: CC BY 4.0). This copy is the one scikit-learn 1.9.1 ships
(sklearn/datasets/data/digits.csv.gz), unchanged. Cite: C. Kaynak (1995), Methods of Combining
Multiple Classifiers and Their Applications to Handwritten Digit Recognition, MSc thesis,
Bogazici University; E. Alpaydin, C. Kaynak (1998), Cascading Classifiers, Kybernetika.
"""

IRIS_FEATURES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
IRIS_CLASSES = ["setosa", "versicolor", "virginica"]


def data_file(name: str):
    """The bundled file ``name`` (one of ``DATA_FILES``) as an ``importlib.resources`` Traversable:
    ``data_file("iris.csv").open("rb")`` works wherever the package is installed (even zipped)."""
    if name not in DATA_FILES:
        raise ValueError(f"data_file: no bundled file {name!r}; there are: {', '.join(DATA_FILES)}")
    return importlib.resources.files("xpnn.datasets").joinpath("data").joinpath(name)


def _table(name: str, target, *, header: bool, where: str) -> Dataset:
    with data_file(name).open("rb") as raw:
        stream = gzip.open(raw, "rb") if name.endswith(".gz") else raw
        with io.TextIOWrapper(stream, encoding="utf-8", newline="") as text:
            return read_table(text, f"bundled {name}", target, header=header, where=where)


def load_iris(*, return_X_y: bool = False):
    """Fisher's Iris data: ``X`` (150, 4) float64 in cm, ``y`` (150,) int64 in {0, 1, 2}.

    ``target_names`` are ``setosa``, ``versicolor``, ``virginica`` (50 flowers each) and
    ``feature_names`` those of scikit-learn (``"sepal length (cm)"``...). With
    ``return_X_y=True``, the tuple ``(X, y)``. Source and licence: ``description``.
    """
    table = _table("iris.csv", "species", header=True, where="load_iris")
    if return_X_y:
        return table.X, table.y
    xp = backend.host_namespace()
    return Dataset(name="iris", X=table.X, y=table.y, feature_names=list(IRIS_FEATURES),
                   target_names=xp.asarray(IRIS_CLASSES), description=IRIS_DESCRIPTION,
                   target_name="species")


def load_digits(*, n_class: int = 10, return_X_y: bool = False):
    """The 8x8 handwritten digits: ``X`` (1797, 64) float64 with values 0..16, ``y`` int64 0..9.

    ``n_class`` keeps only the digits ``0 .. n_class-1`` (as scikit-learn's ``load_digits``).
    ``feature_names`` are ``pixel_<row>_<column>``, ``target_names`` the digits, and ``images``
    the same pixels as (samples, 8, 8) arrays, ready for ``imshow``. With ``return_X_y=True``,
    the tuple ``(X, y)``. Source and licence: ``description``.
    """
    if isinstance(n_class, bool) or not isinstance(n_class, int) or not 1 <= n_class <= 10:
        raise ValueError(f"load_digits: n_class must be an int from 1 to 10, got {n_class!r}")
    table = _table("digits.csv.gz", -1, header=False, where="load_digits")
    xp = backend.host_namespace()
    X, y = table.X, table.y
    if n_class < 10:
        keep = y < n_class
        X, y = X[keep, :], y[keep]
    if return_X_y:
        return X, y
    features = [f"pixel_{row}_{column}" for row in range(8) for column in range(8)]
    return Dataset(name="digits", X=X, y=y, feature_names=features,
                   target_names=xp.arange(n_class), description=DIGITS_DESCRIPTION,
                   images=xp.reshape(X, (-1, 8, 8)), target_name="digit")


__all__ = ["DATA_FILES", "data_file", "load_digits", "load_iris"]
