"""xpnn.datasets: the bundled data, the generators and the file loaders.

Data sets are host (NumPy) arrays whatever the backend, so most tests here are not
backend-parametrized; the training check at the end runs on every backend.
"""

import gzip
import importlib.resources

import numpy as np
import pytest

import xpnn
from xpnn import datasets
from xpnn.datasets import (
    load_csv, load_digits, load_iris, load_npz, make_moons, make_regression_1d, make_spirals,
    make_xor,
)



# ---------------------------------------------------------------- bundled data


def test_iris_is_fishers_150_flowers_with_sklearn_names():
    iris = load_iris()
    assert iris.X.shape == (150, 4) and iris.X.dtype == np.float64
    assert iris.y.shape == (150,) and iris.y.dtype == np.int64
    assert np.bincount(iris.y).tolist() == [50, 50, 50]
    assert iris.feature_names == [
        "sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
    assert iris.target_names.tolist() == ["setosa", "versicolor", "virginica"]
    assert iris.target_names[iris.y][0] == "setosa"
    assert iris.data is iris.X and iris.target is iris.y
    assert (iris.n_samples, iris.n_features) == (150, 4)
    # the summary statistics of scikit-learn's description
    assert np.allclose(iris.X.min(axis=0), [4.3, 2.0, 1.0, 0.1])
    assert np.allclose(iris.X.max(axis=0), [7.9, 4.4, 6.9, 2.5])
    assert np.allclose(iris.X.mean(axis=0), [5.843, 3.057, 3.758, 1.199], atol=1e-3)
    assert "Dataset('iris': X (150, 4) float64, y (150,) int64, 3 classes)" == repr(iris)


def test_iris_is_fishers_data_in_its_usual_order():
    X, y = load_iris(return_X_y=True)
    assert X[0].tolist() == [5.1, 3.5, 1.4, 0.2] and y[0] == 0
    assert X[-1].tolist() == [5.9, 3.0, 5.1, 1.8] and y[-1] == 2
    # the published column means (UCI iris.names: 5.84, 3.05, 3.76, 1.20; 3.057 with the fixed rows)
    assert np.allclose(X.mean(axis=0), [5.8433, 3.0573, 3.7580, 1.1993], atol=1e-4)


def test_digits_are_the_1797_uci_test_images():
    digits = load_digits()
    assert digits.X.shape == (1797, 64) and digits.X.dtype == np.float64
    assert digits.y.shape == (1797,) and digits.y.dtype == np.int64
    counts = np.bincount(digits.y)
    assert counts.tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert digits.X.min() == 0 and digits.X.max() == 16
    assert np.array_equal(digits.X, np.round(digits.X))  # integer pixel counts
    assert digits.feature_names[:2] == ["pixel_0_0", "pixel_0_1"]
    assert digits.feature_names[-1] == "pixel_7_7" and len(digits.feature_names) == 64
    assert digits.target_names.tolist() == list(range(10))
    assert digits.images.shape == (1797, 8, 8)
    assert np.array_equal(digits.images[5].ravel(), digits.X[5])
    # scikit-learn's first image: a zero
    assert digits.y[0] == 0 and digits.images[0][0].tolist() == [0, 0, 5, 13, 9, 1, 0, 0]


def test_digits_n_class_keeps_the_first_digits_only():
    X, y = load_digits(n_class=3, return_X_y=True)
    assert X.shape == (178 + 182 + 177, 64) and set(y.tolist()) == {0, 1, 2}
    assert load_digits(n_class=3).target_names.tolist() == [0, 1, 2]


@pytest.mark.parametrize("bad", [0, 11, 2.0, True, "10"])
def test_digits_refuses_a_bad_n_class(bad):
    with pytest.raises(ValueError, match=r"load_digits: n_class must be an int from 1 to 10, got"):
        load_digits(n_class=bad)


@pytest.mark.parametrize("loader, doi", [(load_iris, "10.24432/C56C76"), (load_digits, "10.24432/C50P49")])
def test_bundled_data_say_where_they_come_from_and_their_licence(loader, doi):
    description = loader().description
    assert doi in description and "CC BY 4.0" in description and "scikit-learn 1.9.1" in description


def test_the_data_files_are_package_resources_with_a_readme():
    folder = importlib.resources.files("xpnn.datasets").joinpath("data")
    for name in datasets.DATA_FILES:
        assert folder.joinpath(name).is_file(), name
        assert datasets.data_file(name).read_bytes() == folder.joinpath(name).read_bytes()
    with datasets.data_file("digits.csv.gz").open("rb") as raw:
        assert gzip.decompress(raw.read()).count(b"\n") == 1797
    readme = folder.joinpath("README.md").read_text(encoding="utf-8")
    for name in datasets.DATA_FILES:
        assert f"`{name}`" in readme
    assert readme.count("CC BY 4.0") >= 3
    with pytest.raises(ValueError, match=r"data_file: no bundled file 'mnist.csv'; there are: iris.csv"):
        datasets.data_file("mnist.csv")


# ---------------------------------------------------------------- generators

CLASSIFICATION = [
    (make_xor, {}),
    (make_moons, {}),
    (make_spirals, {}),
    (make_spirals, {"n_classes": 3}),
]


@pytest.mark.parametrize("make, kwargs", CLASSIFICATION)
def test_classification_generators_give_float64_points_and_int64_labels(make, kwargs):
    X, y = make(101, random_state=0, **kwargs)
    assert X.shape == (101, 2) and X.dtype == np.float64
    assert y.shape == (101,) and y.dtype == np.int64
    counts = np.bincount(y)
    assert len(counts) == kwargs.get("n_classes", 2)
    assert counts.max() - counts.min() <= 1  # balanced
    assert np.all(np.isfinite(X))


ALL_GENERATORS = CLASSIFICATION + [(make_regression_1d, {}), (make_regression_1d, {"function": "abs"})]


@pytest.mark.parametrize("make, kwargs", ALL_GENERATORS)
def test_generators_are_reproducible_from_random_state(make, kwargs):
    first, again, other = (make(50, random_state=seed, **kwargs) for seed in (7, 7, 8))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], other[0])
    generator = np.random.default_rng(7)
    assert np.array_equal(make(50, random_state=generator, **kwargs)[0], first[0])


@pytest.mark.parametrize("make, kwargs", ALL_GENERATORS)
def test_generators_without_random_state_follow_the_library_seed(make, kwargs):
    xpnn.set_seed(3)
    first = make(40, **kwargs)
    xpnn.set_seed(3)
    assert np.array_equal(make(40, **kwargs)[0], first[0])
    assert not np.array_equal(make(40, **kwargs)[0], first[0])


def test_xor_labels_are_the_xor_of_the_signs_without_noise():
    X, y = make_xor(400, noise=0, random_state=1)
    assert np.array_equal(y, ((X[:, 0] > 0) != (X[:, 1] > 0)).astype(np.int64))
    assert np.all(np.abs(X) <= 1) and np.all(X != 0)
    quadrants = {(bool(a), bool(b)) for a, b in X > 0}
    assert len(quadrants) == 4
    assert np.bincount(y).tolist() == [200, 200]


def test_xor_noise_blurs_the_points_not_the_labels():
    clean, labels = make_xor(2000, noise=0, random_state=1)
    noisy, same = make_xor(2000, noise=0.1, random_state=1)
    assert np.array_equal(labels, same)
    assert np.std(noisy - clean) == pytest.approx(0.1, rel=0.1)


def test_moons_lie_on_sklearns_two_half_circles_without_noise():
    X, y = make_moons(101, noise=0, shuffle=False, random_state=0)
    assert np.bincount(y).tolist() == [50, 51] and np.array_equal(y, np.sort(y))
    upper, lower = X[y == 0], X[y == 1]
    assert np.allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0) and np.all(upper[:, 1] >= -1e-12)
    assert np.allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0)
    assert np.all(lower[:, 1] <= 0.5 + 1e-12)
    assert np.allclose(upper[[0, -1]], [[1, 0], [-1, 0]])  # evenly spaced from angle 0 to pi
    assert np.allclose(lower[[0, -1]], [[0, 0.5], [2, 0.5]])
    shuffled, labels = make_moons(101, noise=0, random_state=0)
    assert not np.array_equal(labels, y)
    order = np.lexsort(shuffled.T)
    assert np.allclose(shuffled[order], X[np.lexsort(X.T)])


def test_spiral_points_lie_on_their_arm_without_noise():
    X, y = make_spirals(301, n_classes=3, noise=0, turns=1.5, random_state=0)
    assert np.bincount(y).tolist() == [101, 100, 100]
    radius = np.hypot(X[:, 0], X[:, 1])
    assert np.all((radius > 0) & (radius <= 1 + 1e-12)) and np.isclose(radius.max(), 1)
    expected = 2 * np.pi * (y / 3 + 1.5 * radius)
    difference = np.angle(np.exp(1j * (np.arctan2(X[:, 1], X[:, 0]) - expected)))
    assert np.allclose(difference, 0, atol=1e-9)


def test_spiral_noise_jitters_the_angle_only():
    clean, _ = make_spirals(200, noise=0, shuffle=False, random_state=2)
    noisy, _ = make_spirals(200, noise=0.3, shuffle=False, random_state=2)
    assert np.allclose(np.hypot(*noisy.T), np.hypot(*clean.T))
    assert not np.allclose(noisy, clean)


@pytest.mark.parametrize("name", datasets.REGRESSION_FUNCTIONS)
def test_regression_1d_samples_each_function_on_minus_pi_to_pi(name):
    x, y = make_regression_1d(300, noise=0, function=name, random_state=0)
    assert x.shape == y.shape == (300, 1) and x.dtype == y.dtype == np.float64
    assert np.all((x >= -np.pi) & (x <= np.pi)) and np.all(np.isfinite(y))
    assert x.min() < -2.5 and x.max() > 2.5


def test_regression_1d_functions_are_what_their_names_say():
    def sample(name):
        x, y = make_regression_1d(200, noise=0, function=name, random_state=4)
        return x[:, 0], y[:, 0]

    x, y = sample("sin")
    assert np.array_equal(y, np.sin(x))
    x, y = sample("abs")
    assert np.array_equal(y, np.abs(x))
    x, y = sample("step")
    assert np.array_equal(y, (x >= 0).astype(np.float64))
    x, y = sample("square")
    assert np.allclose(y, x ** 2)
    x, y = sample("gaussian")
    assert np.allclose(y, np.exp(-x ** 2))
    x, y = sample("sawtooth")
    assert np.all(np.abs(y) <= np.pi / 3)


def test_regression_1d_adds_noise_of_the_given_size_and_takes_a_callable():
    x, y = make_regression_1d(5000, noise=0.05, random_state=1)
    assert np.std(y - np.sin(x)) == pytest.approx(0.05, rel=0.05)
    x, y = make_regression_1d(10, noise=0, function=lambda x: 2 * x + 1, random_state=1)
    assert np.allclose(y, 2 * x + 1)
    x, y = make_regression_1d(10, noise=0, function=lambda x: x.ravel() ** 2, random_state=1)
    assert y.shape == (10, 1) and np.allclose(y, x ** 2)


GENERATOR_ERRORS = [
    (make_xor, {"n_samples": 1}, r"make_xor: n_samples must be an int >= 2, got 1"),
    (make_xor, {"n_samples": 10.0}, r"make_xor: n_samples must be an int >= 2, got 10.0"),
    (make_xor, {"n_samples": True}, r"make_xor: n_samples must be an int >= 2, got True"),
    (make_xor, {"noise": -0.1}, r"make_xor: noise must be >= 0, got -0.1"),
    (make_xor, {"noise": "0.1"}, r"make_xor: noise must be a number, got '0.1'"),
    (make_xor, {"noise": float("nan")}, r"make_xor: noise must be finite, got nan"),
    (make_xor, {"shuffle": 1}, r"make_xor: shuffle must be True or False, got 1"),
    (make_xor, {"random_state": -1},
     r"make_xor: random_state must be None, an int >= 0 or a numpy Generator, got -1"),
    (make_xor, {"random_state": "seed"}, r"make_xor: random_state must be None, an int >= 0"),
    (make_moons, {"n_samples": 0}, r"make_moons: n_samples must be an int >= 2, got 0"),
    (make_moons, {"noise": float("inf")}, r"make_moons: noise must be finite, got inf"),
    (make_moons, {"random_state": 1.5}, r"make_moons: random_state must be None"),
    (make_spirals, {"n_classes": 1}, r"make_spirals: n_classes must be an int >= 2, got 1"),
    (make_spirals, {"n_samples": 2, "n_classes": 3},
     r"make_spirals: n_samples must be an int >= 3 \(at least one point per class; n_classes=3\), got 2"),
    (make_spirals, {"turns": 0}, r"make_spirals: turns must be > 0, got 0"),
    (make_spirals, {"noise": -1}, r"make_spirals: noise must be >= 0"),
    (make_regression_1d, {"n_samples": 0}, r"make_regression_1d: n_samples must be a positive int, got 0"),
    (make_regression_1d, {"function": "tan"},
     r"make_regression_1d: function must be one of sin, cos, abs, step, square, cubic, gaussian, "
     r"sawtooth or a callable, got 'tan'"),
    (make_regression_1d, {"function": lambda x: x[:3]},
     r"make_regression_1d: function must return 200 numbers \(shape \(200, 1\)\)"),
    (make_regression_1d, {"noise": -0.05}, r"make_regression_1d: noise must be >= 0"),
]


@pytest.mark.parametrize("make, kwargs, message", GENERATOR_ERRORS)
def test_generators_name_the_bad_argument(make, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make(**kwargs)


def test_noise_none_means_no_noise_and_numpy_scalars_are_accepted():
    X, y = make_moons(np.int64(20), noise=None, random_state=np.int64(0))
    assert np.allclose(make_moons(20, noise=0.0, random_state=0)[0], X)
    assert make_xor(10, noise=np.float32(0.1), random_state=0)[0].dtype == np.float64


# ---------------------------------------------------------------- load_csv


def write(path, text, encoding="utf-8"):
    path.write_text(text, encoding=encoding)
    return path


def test_load_csv_round_trips_a_table_with_a_named_target(tmp_path):
    X = np.random.default_rng(0).normal(size=(20, 3))
    y = np.arange(20) % 3
    path = tmp_path / "table.csv"
    with open(path, "w", encoding="utf-8") as stream:
        stream.write("a,label,b,c\n")
        for row, target in zip(X, y):
            stream.write(f"{row[0]:.17g},{target},{row[1]:.17g},{row[2]:.17g}\n")
    data = load_csv(path, "label")
    assert data.X.dtype == np.float64 and np.array_equal(data.X, X)
    assert data.y.dtype == np.int64 and np.array_equal(data.y, y)
    assert data.feature_names == ["a", "b", "c"]
    assert data.target_names.tolist() == [0, 1, 2]
    assert data.name == "table.csv" and str(path) in data.description
    X2, y2 = load_csv(str(path), "label", return_X_y=True)
    assert np.array_equal(X2, X) and np.array_equal(y2, y)
    assert np.array_equal(load_csv(path, 1).X, X) and np.array_equal(load_csv(path, -3).y, y)


def test_load_csv_reads_the_bundled_iris_file_as_load_iris_does():
    with importlib.resources.as_file(datasets.data_file("iris.csv")) as path:
        data = load_csv(path, "species")
    iris = load_iris()
    assert np.array_equal(data.X, iris.X) and np.array_equal(data.y, iris.y)
    assert data.feature_names == ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def test_load_csv_float_targets_are_float_and_word_targets_are_coded(tmp_path):
    regression = load_csv(write(tmp_path / "r.csv", "x,y\n1,0.5\n2,1\n3,1.5e0\n"), "y")
    assert regression.y.dtype == np.float64 and regression.y.tolist() == [0.5, 1.0, 1.5]
    assert regression.target_names is None
    words = load_csv(write(tmp_path / "w.csv", "x,kind\n1,spam\n2,ham\n3, spam\n4,eggs\n"), "kind")
    assert words.y.dtype == np.int64 and words.y.tolist() == [2, 1, 2, 0]
    assert words.target_names.tolist() == ["eggs", "ham", "spam"]


def test_load_csv_handles_headerless_delimited_gzipped_quoted_and_bom_files(tmp_path):
    plain = load_csv(write(tmp_path / "n.csv", "1,2,0\n3,4,1\n\n"), -1, header=False)
    assert plain.feature_names == ["column_0", "column_1"] and plain.y.tolist() == [0, 1]
    semi = load_csv(write(tmp_path / "s.csv", "a;b;t\n1.5;2;0\n"), "t", delimiter=";")
    assert semi.X.tolist() == [[1.5, 2.0]] and semi.feature_names == ["a", "b"]
    zipped = tmp_path / "z.csv.gz"
    zipped.write_bytes(gzip.compress(b"a,t\n1,0\n2,1\n"))
    assert load_csv(zipped, "t").X.tolist() == [[1.0], [2.0]]
    quoted = load_csv(write(tmp_path / "q.csv", '"width, cm",t\n" 1.5 ",1\n'), "t")
    assert quoted.feature_names == ["width, cm"] and quoted.X.tolist() == [[1.5]]
    bom = load_csv(write(tmp_path / "b.csv", "a,t\n1,0\n", encoding="utf-8-sig"), "a")
    assert bom.feature_names == ["t"]
    blank = load_csv(write(tmp_path / "blank.csv", "\n\na,t\n\n1,0\n\n2,1\n"), "t")
    assert blank.X.shape == (2, 1)


def test_load_csv_reads_what_numpy_savetxt_writes(tmp_path):
    X, y = make_moons(60, random_state=0)
    path = tmp_path / "moons.csv"
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", header="x1,x2,moon", comments="",
               fmt=["%.17g", "%.17g", "%d"])
    data = load_csv(path, "moon")
    assert np.array_equal(data.X, X) and np.array_equal(data.y, y)


def csv_error_cases(tmp_path):
    return [
        (tmp_path / "missing.csv", "t", {}, FileNotFoundError,
         r"load_csv: .*missing\.csv: no such file"),
        (write(tmp_path / "empty.csv", ""), "t", {}, ValueError,
         r"load_csv: .*empty\.csv: the file is empty \(no header, no rows\)"),
        (write(tmp_path / "blank.csv", "\n \n"), 0, {"header": False}, ValueError,
         r"blank\.csv: the file is empty \(no rows\)"),
        (write(tmp_path / "head.csv", "a,t\n"), "t", {}, ValueError,
         r"head\.csv: the header is there but there are no data rows"),
        (write(tmp_path / "target.csv", "a,b,t\n1,2,3\n"), "label", {}, ValueError,
         r"target\.csv: no column named 'label'; the columns are: 'a', 'b', 't'"),
        (write(tmp_path / "cell.csv", "a,b,t\n1,2,0\n1,x2,1\n"), "t", {}, ValueError,
         r"cell\.csv: line 3, column 'b': 'x2' is not a number"),
        (write(tmp_path / "gap.csv", "a,b,t\n1,2,0\n1,,1\n"), "t", {}, ValueError,
         r"gap\.csv: line 3, column 'b': an empty cell \(missing value\)"),
        (write(tmp_path / "notarget.csv", "a,t\n1,0\n2, \n"), "t", {}, ValueError,
         r"notarget\.csv: line 3, column 't': an empty cell \(missing target\)"),
        (write(tmp_path / "ragged.csv", "a,b,t\n1,2,0\n1,2\n"), "t", {}, ValueError,
         r"ragged\.csv: line 3 has 2 fields, expected 3 \(as in the header\)"),
        (write(tmp_path / "long.csv", "1,2\n1,2,3\n"), 0, {"header": False}, ValueError,
         r"long\.csv: line 2 has 3 fields, expected 2 \(as on the first row\)"),
        (write(tmp_path / "mixed.csv", "a,t\n1,0.5\n2,0.7\n3,O.9\n"), "t", {}, ValueError,
         r"mixed\.csv: line 4, column 't': 'O.9' mixes with the rest of the target column"),
        (write(tmp_path / "named.csv", "1,2\n"), "t", {"header": False}, ValueError,
         r"named\.csv: target='t' is a column name but header=False; give the column's index"),
        (write(tmp_path / "range.csv", "a,t\n1,2\n"), 2, {}, ValueError,
         r"range\.csv: target column index 2 is out of range; the file has 2 columns"),
        (write(tmp_path / "twice.csv", "t,a,t\n1,2,3\n"), "t", {}, ValueError,
         r"twice\.csv: the header names column 't' more than once \(columns 1, 3\); give every column"),
        (write(tmp_path / "alone.csv", "t\n1\n"), "t", {}, ValueError,
         r"alone\.csv: there is only the target column 't'; at least one feature column"),
        (write(tmp_path / "delim.csv", "a,t\n1,2\n"), "t", {"delimiter": ", "}, ValueError,
         r"load_csv: delimiter must be a single character, got ', '"),
        (write(tmp_path / "kind.csv", "a,t\n1,2\n"), ["t"], {}, ValueError,
         r"load_csv: target must be a column name \(str\) or index \(int\), got \['t'\]"),
        (tmp_path, "t", {}, ValueError, r"load_csv: .*: is a directory, not a file"),
    ]


def test_load_csv_errors_name_the_file_and_the_problem(tmp_path):
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81garbage")
    cases = csv_error_cases(tmp_path) + [
        (binary, "t", {}, ValueError, r"binary\.csv: not a readable text table \(UnicodeDecodeError"),
    ]
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(b"not gzip at all")
    cases.append((broken, "t", {}, ValueError, r"broken\.csv\.gz: not a readable text table \(BadGzipFile"))
    for path, target, kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            load_csv(path, target, **kwargs)


# ---------------------------------------------------------------- load_npz


def test_load_npz_round_trips_arrays_and_names(tmp_path):
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    y = np.array([0, 1, 1, 0])
    path = tmp_path / "data.npz"
    np.savez(path, X=X, y=y)
    data = load_npz(path)
    assert data.X.dtype == np.float32 and np.array_equal(data.X, X) and np.array_equal(data.y, y)
    assert data.feature_names == ["X_0", "X_1", "X_2"] and data.target_names is None
    named = tmp_path / "named.npz"
    np.savez(named, features=X, labels=y, feature_names=np.array(["a", "b", "c"]),
             target_names=np.array(["no", "yes"]))
    data = load_npz(named, X="features", y="labels")
    assert data.feature_names == ["a", "b", "c"] and data.target_names.tolist() == ["no", "yes"]
    features, labels = load_npz(named, X="features", y="labels", return_X_y=True)
    assert np.array_equal(features, X) and np.array_equal(labels, y)
    unlabelled = load_npz(named, X="features", y=None)
    assert unlabelled.y is None and "y" not in repr(unlabelled)


def test_load_npz_errors_name_the_file_and_the_problem(tmp_path):
    good = tmp_path / "good.npz"
    np.savez(good, X=np.zeros((3, 2)), labels=np.zeros(3))
    with pytest.raises(FileNotFoundError, match=r"load_npz: .*nothing\.npz: no such file"):
        load_npz(tmp_path / "nothing.npz")
    with pytest.raises(ValueError, match=r"load_npz: .*good\.npz: no array named 'y'; the archive holds: 'X', 'labels'"):
        load_npz(good)
    with pytest.raises(ValueError, match=r"good\.npz: no array named 'features'"):
        load_npz(good, X="features", y="labels")
    short = tmp_path / "short.npz"
    np.savez(short, X=np.zeros((3, 2)), y=np.zeros(2))
    with pytest.raises(ValueError, match=r"short\.npz: array 'y' has 2 samples but 'X' has 3"):
        load_npz(short)
    scalar = tmp_path / "scalar.npz"
    np.savez(scalar, X=np.float64(1.0), y=np.zeros(1))
    with pytest.raises(ValueError, match=r"scalar\.npz: array 'X' is a scalar"):
        load_npz(scalar)
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(ValueError, match=r"load_npz: .*corrupt\.npz: not a readable \.npz archive"):
        load_npz(corrupt)
    text = write(tmp_path / "text.npz", "X,y\n1,2\n")
    with pytest.raises(ValueError, match=r"text\.npz: not a readable \.npz archive"):
        load_npz(text)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, X=np.array([{"a": 1}], dtype=object), y=np.zeros(1))
    with pytest.raises(ValueError, match=r"pickled\.npz: not a readable \.npz archive.*allow_pickle=False"):
        load_npz(pickled)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"single\.npy: holds a single array \(\.npy\), not an \.npz"):
        load_npz(single)
    with pytest.raises(ValueError, match=r"load_npz: y must be the name of an array in the archive, got 1"):
        load_npz(good, y=1)


# ---------------------------------------------------------------- end to end


def test_a_small_model_learns_the_moons(xp):
    X, y = make_moons(200, noise=0.1, random_state=0)
    xpnn.set_seed(0)
    model = xpnn.Model(xpnn.Dense(2, 16, activation="tanh"), xpnn.Dense(16, 2))
    model.fit(X, y, loss="cross_entropy", optimizer=xpnn.Adam(lr=0.03), epochs=60, batch_size=50,
              seed=0, verbose=0)
    assert model.evaluate(X, y)["accuracy"] > 0.9
    X_test, y_test = make_moons(200, noise=0.1, random_state=1)
    assert model.evaluate(X_test, y_test)["accuracy"] > 0.9
