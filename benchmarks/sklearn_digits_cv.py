"""5-fold cross-validated accuracy on the bundled 8x8 digits: xpnn.sklearn.MLPClassifier against
scikit-learn's MLPClassifier with the same settings (issue 4's acceptance table).

    python benchmarks/sklearn_digits_cv.py                 # numpy, float64 as given, ~1 minute
    python benchmarks/sklearn_digits_cv.py --float32       # the same data cast to float32
    XPNN_BACKEND=array_api_strict python benchmarks/sklearn_digits_cv.py

Both estimators get ``MLPClassifier(hidden_layer_sizes=(100,), random_state=0)`` and the raw
pixel values (0-16), folds from ``StratifiedKFold(5)`` (what ``cross_val_score`` uses).
"""

import argparse
import warnings

from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.neural_network import MLPClassifier as SklearnMLP

import xpnn
from xpnn.datasets import load_digits
from xpnn.sklearn import MLPClassifier as XpnnMLP


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--float32", action="store_true", help="cast the data to float32 first")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    X, y = load_digits(return_X_y=True)
    if args.float32:
        X = X.astype("float32")
    warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter=200, for both
    folds = StratifiedKFold(args.folds)
    print(f"digits {X.shape[0]}x{X.shape[1]} {X.dtype}, {args.folds}-fold CV, xpnn backend {xpnn.backend.name()}")
    print("| estimator | mean accuracy | std | per fold | fit s (median) |")
    print("|---|---|---|---|---|")
    means = {}
    for label, cls in (("xpnn.sklearn.MLPClassifier", XpnnMLP), ("sklearn MLPClassifier", SklearnMLP)):
        result = cross_validate(cls(hidden_layer_sizes=(100,), random_state=0), X, y, cv=folds)
        scores = result["test_score"]
        means[label] = scores.mean()
        fit_times = sorted(result["fit_time"])
        print(f"| {label} | {scores.mean():.4f} | {scores.std():.4f} | {' '.join(f'{s:.4f}' for s in scores)} "
              f"| {fit_times[len(fit_times) // 2]:.2f} |", flush=True)
    xp_mean, sk_mean = means.values()
    print(f"\ndifference (xpnn - scikit-learn): {100 * (xp_mean - sk_mean):+.2f} percentage points")


if __name__ == "__main__":
    main()
