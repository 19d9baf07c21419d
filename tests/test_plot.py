"""xpnn.plot (issue 14, "Plots"): what each figure draws (axes, lines, labels, scales), the PNG
it saves, the errors it raises before drawing, and matplotlib staying an optional extra."""

import math
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.text import Text  # noqa: E402

import xpnn  # noqa: E402
from xpnn import plot  # noqa: E402
from xpnn.plot.model import predicted_class  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
once = pytest.mark.once


def labelled_lines(axes):
    """The lines drawn for data (matplotlib names reference lines such as axhline '_child...')."""
    return [line for line in axes.lines if not line.get_label().startswith("_")]


def legend_texts(axes):
    return [text.get_text() for text in axes.get_legend().get_texts()]


def figure_texts(figure):
    """Every text of the figure, its suptitle included (Figure.get_suptitle is matplotlib 3.8+)."""
    return [text.get_text() for text in figure.findobj(Text)]


def run_python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})


# ---------------------------------------------------------------- matplotlib is optional

@once
def test_importing_xpnn_never_imports_matplotlib():
    done = run_python("import xpnn, sys; assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    assert done.returncode == 0, done.stderr


@once
def test_only_xpnn_plot_imports_matplotlib():
    package = pathlib.Path(xpnn.__file__).parent
    pattern = re.compile(r"^\s*(import|from)\s+(matplotlib|pylab)\b", re.MULTILINE)
    importers = {str(path.relative_to(package)) for path in package.rglob("*.py") if pattern.search(path.read_text())}
    assert importers and all(path.startswith("plot/") for path in importers), importers


@once
def test_without_matplotlib_the_import_error_gives_the_install_line():
    done = run_python("import sys; sys.modules['matplotlib'] = None\n"
                      "try:\n    import xpnn.plot\n"
                      "except ImportError as error:\n    print(error)\nelse:\n    print('imported')")
    assert done.returncode == 0, done.stderr
    assert "matplotlib, which is not installed" in done.stdout and 'pip install "xpnn[plot]"' in done.stdout


# ---------------------------------------------------------------- activations

@once
def test_activations_draws_each_function_and_its_derivative():
    figure = plot.activations(["sigmoid", "tanh", "relu", xpnn.LeakyReLU(alpha=0.2)])
    value_axes, slope_axes = figure.axes
    names = ["sigmoid", "tanh", "relu", "LeakyReLU(alpha=0.2)"]
    for axes in (value_axes, slope_axes):
        assert [line.get_label() for line in labelled_lines(axes)] == names
        assert legend_texts(axes) == names
    assert value_axes.get_title() == "activation" and value_axes.get_xlabel() == "z"
    assert slope_axes.get_ylabel() == "da/dz" and "saturated" in slope_axes.get_title()
    z = labelled_lines(slope_axes)[0].get_xdata()
    assert z[0] == -6 and z[-1] == 6
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(labelled_lines(value_axes)[0].get_ydata(), s, rtol=1e-12)
    np.testing.assert_allclose(labelled_lines(slope_axes)[0].get_ydata(), s * (1 - s), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(labelled_lines(slope_axes)[3].get_ydata(), np.where(z > 0, 1.0, 0.2))


@once
def test_activations_takes_a_function_or_a_layer_class_alone():
    assert [line.get_label() for line in labelled_lines(plot.activations(xpnn.activations.gelu).axes[0])] == ["GELU()"]
    assert [line.get_label() for line in labelled_lines(plot.activations(xpnn.Tanh).axes[1])] == ["Tanh()"]


@once
def test_activations_shades_only_where_the_derivative_is_below_the_threshold():
    figure = plot.activations(["sigmoid", "identity"], saturation=0.01)
    shaded = figure.axes[1].collections
    assert len(shaded) == 1  # the identity never saturates
    edges = np.concatenate([path.vertices[:, 0] for path in shaded[0].get_paths()])
    # sigmoid'(z) = 0.01 at |z| = 4.59: the two tails only
    assert edges.min() == -6 and edges.max() == 6 and np.all(np.abs(edges) > 4.5)


@once
@pytest.mark.parametrize("names, error, message", [
    (["sigmoid", "nope"], ValueError, r"names\[1\]: unknown activation 'nope'; valid names: .*relu"),
    ("softmax", ValueError, r"names\[0\]: softmax is not elementwise"),
    (["prelu"], ValueError, r"names\[0\]: 'prelu' learns its shape.*leaky_relu"),
    ([], ValueError, "names is empty"),
    (3, TypeError, "names must be an activation name"),
    ([3.5], TypeError, r"names\[0\]: activation must be a name"),
])
def test_activations_refuses_what_it_cannot_draw(names, error, message):
    with pytest.raises(error, match=message):
        plot.activations(names)


@once
@pytest.mark.parametrize("arguments, message", [
    ({"z_range": (2, 1)}, "low < high"),
    ({"z_range": 5}, r"z_range must be \(low, high\)"),
    ({"z_range": (0, math.inf)}, r"z_range\[1\]"),
    ({"points": 1}, "points"),
    ({"saturation": -1}, "saturation"),
])
def test_activations_checks_its_options(arguments, message):
    with pytest.raises(ValueError, match=message):
        plot.activations("relu", **arguments)


# ---------------------------------------------------------------- history

def a_history(stop_reason=None):
    return xpnn.History({"loss": [1.0, 0.5, 0.4], "val_loss": [1.1, 0.7, 0.8], "accuracy": [0.5, 0.8, 0.9],
                         "val_accuracy": [0.4, 0.7, 0.7]}, epoch=[0, 1, 2], stop_reason=stop_reason)


@once
def test_history_draws_training_solid_and_validation_dashed_per_quantity():
    figure = plot.history(a_history("EarlyStopping: val_loss did not improve for 1 epoch"))
    assert [axes.get_title() for axes in figure.axes] == ["loss", "accuracy"]
    for axes, key in zip(figure.axes, ["loss", "accuracy"]):
        training, validation = labelled_lines(axes)
        assert legend_texts(axes) == ["training", "validation"]
        assert training.get_linestyle() == "-" and validation.get_linestyle() == "--"
        assert list(training.get_xdata()) == [1, 2, 3]  # epochs as fit prints them
        assert list(training.get_ydata()) == a_history().history[key]
        assert list(validation.get_ydata()) == a_history().history["val_" + key]
        assert axes.get_xlabel() == "epoch"
    assert "EarlyStopping: val_loss did not improve for 1 epoch" in figure_texts(figure)


@once
def test_history_takes_the_dict_and_gives_a_validation_only_value_its_axes():
    logs = {"loss": [1.0, 0.5], "mae": [2.0, 1.0], "r2": [0.1, 0.2], "val_rmse": [3.0, 2.0]}
    figure = plot.history(logs)
    drawn = [axes for axes in figure.axes if axes.axison]
    assert [axes.get_title() for axes in drawn] == ["loss", "mae", "r2", "rmse"]
    assert [len(labelled_lines(axes)) for axes in drawn] == [1, 1, 1, 1]
    assert legend_texts(drawn[3]) == ["validation"]
    assert len(figure.axes) == 6  # a 2 x 3 grid, two cells empty


@once
def test_history_of_a_real_fit():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2)).astype("float32")
    model = xpnn.Model(xpnn.Dense(2, 4, activation="relu", rng=0), xpnn.Dense(4, 2, rng=1))
    fitted = model.fit(X, (X[:, 0] > 0).astype("int64"), loss="cross_entropy", optimizer="adam", epochs=2,
                       metrics=["accuracy"], validation_split=0.25, verbose=0)
    figure = plot.history(fitted)
    assert [axes.get_title() for axes in figure.axes] == ["loss", "accuracy"]
    assert [len(labelled_lines(axes)) for axes in figure.axes] == [2, 2]


@once
@pytest.mark.parametrize("history, error, message", [
    ([1, 2], TypeError, "history must be an xpnn History"),
    ({}, ValueError, "history has no epochs"),
    ({"loss": [1.0, 2.0], "val_loss": [1.0]}, ValueError, r"one value per epoch \(2\), but 'val_loss' has 1"),
    ({"loss": ["a"]}, TypeError, r"history\['loss'\] must be a list of numbers"),
])
def test_history_refuses_what_is_not_a_history(history, error, message):
    with pytest.raises(error, match=message):
        plot.history(history)


# ---------------------------------------------------------------- gradient flow

def diagnostics():
    """The TrainingMonitor's contract: a Dropout layer has no gradient (NaN); a zero norm."""
    return {"layers": ["Dense 2->8, sigmoid", "Dropout 0.5", "Dense 8->1"], "epoch": [0, 1, 2],
            "grad_norm": [[1e-6, math.nan, 0.5], [2e-6, math.nan, 0.0], [1e-7, math.nan, 0.2]],
            "grad_ratio": [[2e-6, math.nan, 1.0]] * 3}


@once
def test_gradient_flow_draws_each_layer_on_a_log_scale():
    history = xpnn.History({"loss": [1.0, 0.9, 0.8]}, epoch=[0, 1, 2])
    history.diagnostics = diagnostics()
    figure = plot.gradient_flow(history)
    over_epochs, across_layers = figure.axes
    assert over_epochs.get_yscale() == "log" and across_layers.get_yscale() == "log"
    lines = labelled_lines(over_epochs)
    assert [line.get_label() for line in lines] == ["0: Dense 2->8, sigmoid", "2: Dense 8->1"]  # Dropout skipped
    assert list(lines[0].get_xdata()) == [1, 2, 3]
    np.testing.assert_array_equal(lines[1].get_ydata(), [0.5, math.nan, 0.2])  # zero: a gap on a log axis
    first, last = labelled_lines(across_layers)
    assert legend_texts(across_layers) == ["epoch 1", "epoch 3"]
    np.testing.assert_array_equal(last.get_ydata(), [1e-7, math.nan, 0.2])
    assert over_epochs.get_ylabel() == "gradient norm (L2)"


@once
def test_gradient_flow_of_a_training_monitor():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 3)).astype("float32")
    model = xpnn.Model(xpnn.Dense(3, 4, activation="sigmoid", rng=0), xpnn.Dense(4, 4, activation="relu", rng=1),
                       xpnn.Dense(4, 1, rng=2))
    fitted = model.fit(X, X[:, :1], loss="mse", optimizer="sgd", epochs=2, verbose=0,
                       callbacks=[xpnn.TrainingMonitor(verbose=0)])
    figure = plot.gradient_flow(fitted)
    lines = labelled_lines(figure.axes[0])
    assert [line.get_label() for line in lines] == ["0: Dense 3->4, sigmoid", "1: Dense 4->4, relu", "2: Dense 4->1"]
    assert [text.get_text() for text in figure.legends[0].get_texts()] == [line.get_label() for line in lines]
    for index, line in enumerate(lines):
        assert list(line.get_ydata()) == [row[index] for row in fitted.diagnostics["grad_norm"]]


@once
def test_gradient_flow_takes_the_diagnostics_dict():
    assert len(labelled_lines(plot.gradient_flow(diagnostics()).axes[0])) == 2


@once
@pytest.mark.parametrize("history", [{}, xpnn.History({"loss": [1.0]}, epoch=[0])])
def test_gradient_flow_without_a_monitor_says_how_to_get_one(history):
    with pytest.raises(ValueError, match=r"no diagnostics.*callbacks=\[xpnn.TrainingMonitor\(\)\]"):
        plot.gradient_flow(history)


@once
@pytest.mark.parametrize("change, error, message", [
    ({"grad_norm": [[1.0, 2.0]] * 3}, ValueError, r"\['grad_norm'\]\[0\] must be 3 numbers"),
    ({"grad_norm": []}, ValueError, "holds no epochs"),
    ({"layers": "Dense"}, ValueError, r"\['layers'\] must be a non-empty list"),
    ({"grad_norm": [[math.nan] * 3] * 3}, ValueError, "no layer has a gradient norm"),
])
def test_gradient_flow_refuses_diagnostics_that_do_not_match(change, error, message):
    with pytest.raises(error, match=message):
        plot.gradient_flow({**diagnostics(), **change})


@once
def test_gradient_flow_refuses_other_things():
    with pytest.raises(TypeError, match="history must be an xpnn History"):
        plot.gradient_flow([1.0])
    with pytest.raises(ValueError, match="has no 'layers' entry"):
        plot.gradient_flow({"grad_norm": [[1.0]]})
    with pytest.raises(ValueError, match="has no 'grad_norm' entry"):
        plot.gradient_flow({"layers": ["Dense 2->1"]})


# ---------------------------------------------------------------- activation histograms

def test_activation_histograms_one_axes_per_layer(xp):
    model = xpnn.Model(xpnn.Dense(3, 5, activation="tanh", rng=0), xpnn.ReLU(), xpnn.Dense(5, 2, rng=1))
    X = xp.asarray(np.random.default_rng(0).normal(size=(30, 3)).astype("float32"))
    figure = plot.activation_histograms(model, X, bins=7)
    assert len(figure.axes) == 3
    first = xpnn.to_numpy(xpnn.diagnostics.activations(model, X)[0])
    titles = [axes.get_title() for axes in figure.axes]
    assert titles[0] == f"0: Dense 3->5, tanh\nmean {first.mean():.3g}, std {first.std():.3g}"
    assert titles[1].startswith("1: ReLU\n") and titles[2].startswith("2: Dense 5->2\n")
    assert [len(axes.patches) for axes in figure.axes] == [7, 7, 7]
    assert sum(patch.get_height() for patch in figure.axes[0].patches) == 30 * 5  # every output counted


@once
def test_activation_histograms_checks_its_arguments():
    model = xpnn.Model(xpnn.Dense(3, 2))
    with pytest.raises(ValueError, match="bins"):
        plot.activation_histograms(model, np.zeros((4, 3), "float32"), bins=0)
    with pytest.raises(TypeError, match="model must be an xpnn Layer"):
        plot.activation_histograms("model", np.zeros((4, 3), "float32"))
    with pytest.raises(ValueError, match="X"):
        plot.activation_histograms(model, np.zeros((4, 5), "float32"))
    with pytest.raises(ValueError, match="the model has no layers"):
        plot.activation_histograms(xpnn.Model(), np.zeros((4, 3), "float32"))


# ---------------------------------------------------------------- decision boundary

def line_model(activation=None, outputs=1):
    """Output 0 (and 1 when there are two) is x0: the class is the side of x0 = 0."""
    model = xpnn.Model(xpnn.Dense(2, outputs, activation=activation))
    weight = [[1.0], [0.0]] if outputs == 1 else [[-1.0, 1.0], [0.0, 0.0]]
    model.set_weights([np.asarray(weight, "float32"), np.zeros(outputs, "float32")])
    return model


@once
@pytest.mark.parametrize("activation, outputs", [(None, 1), ("sigmoid", 1), (None, 2), ("softmax", 2)])
def test_the_predicted_class_uses_the_right_threshold(activation, outputs):
    """A logit splits at 0, a sigmoid's probability at 0.5 (at 0 every point would be class 1),
    several outputs by argmax."""
    plane = np.asarray([[-2.0, 5.0], [-0.1, 0.0], [0.1, 0.0], [3.0, -1.0]])
    assert predicted_class(line_model(activation, outputs), plane).tolist() == [0, 0, 1, 1]


def test_decision_boundary_draws_regions_and_points_by_class(xp):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2)).astype("float32")
    y = (X[:, 0] > 0).astype("int64")
    figure = plot.decision_boundary(line_model("sigmoid"), xp.asarray(X), xp.asarray(y), resolution=20)
    (axes,) = figure.axes
    assert legend_texts(axes) == ["class 0", "class 1"]
    points = [collection for collection in axes.collections if collection.get_label() in ("class 0", "class 1")]
    assert [len(collection.get_offsets()) for collection in points] == [int((y == 0).sum()), int((y == 1).sum())]
    np.testing.assert_allclose(points[1].get_offsets(), X[y == 1])
    assert axes.get_xlabel() == "x[:, 0]" and axes.get_ylabel() == "x[:, 1]"
    low, high = axes.get_xlim()
    assert low < X[:, 0].min() and high > X[:, 0].max()


@once
@pytest.mark.parametrize("X, y, message", [
    (np.zeros((5, 3)), np.zeros(5), r"X must be 2-D data of shape \(samples, 2\).*got shape \(5, 3\)"),
    (np.zeros(5), np.zeros(5), r"got shape \(5,\)"),
    (np.zeros((5, 2)), np.zeros(4), r"y must hold one class label per sample of X, shape \(5,\)"),
    (np.zeros((2, 2)), np.asarray([0.0, 0.5]), "whole-number class labels"),
    (np.zeros((2, 2)), np.asarray([0, -1]), "whole-number class labels"),
    (np.zeros((2, 2)), np.asarray([0, 10**9]), r"fewer than 1000\), got 1000000000"),
    (np.asarray([[0.0, math.nan]]), np.zeros(1), "all finite"),
])
def test_decision_boundary_refuses_what_is_not_2d_classification(X, y, message):
    with pytest.raises(ValueError, match=message):
        plot.decision_boundary(line_model(), X, y)


@once
def test_decision_boundary_refuses_other_arguments():
    with pytest.raises(TypeError, match="model must be an xpnn Layer"):
        plot.decision_boundary(None, np.zeros((2, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="resolution"):
        plot.decision_boundary(line_model(), np.zeros((2, 2)), np.zeros(2), resolution=1)
    with pytest.raises(ValueError, match="margin"):
        plot.decision_boundary(line_model(), np.zeros((2, 2)), np.zeros(2), margin=-0.1)
    with pytest.raises(TypeError, match="X must be numeric"):
        plot.decision_boundary(line_model(), [["a", "b"]], [0])
    with pytest.raises(TypeError, match="y must be numeric"):
        plot.decision_boundary(line_model(), np.zeros((2, 2)), ["yes", "no"])


# ---------------------------------------------------------------- network

@once
def test_network_draws_a_box_per_layer_with_sizes_activation_and_parameters():
    model = xpnn.Model(xpnn.Dense(4, 8, activation="relu"), xpnn.Dropout(0.5), xpnn.Dense(8, 3))
    (axes,) = plot.network(model).axes
    assert len(axes.patches) == 4  # the input and three layers
    texts = [text.get_text() for text in axes.texts if text.get_text()]
    assert texts == ["input\n(None, 4)", "Dense 4->8\nrelu\n(None, 8)\n40 params",
                     "Dropout 0.5\n(None, 8)\n0 params", "Dense 8->3\n(None, 3)\n27 params"]
    assert axes.get_title() == "Model: 3 layers, 67 parameters"
    heights = [patch.get_height() for patch in axes.patches]
    assert heights[1] > heights[0] > heights[3]  # taller for wider outputs


@once
def test_network_finds_image_shapes_from_input_shape():
    model = xpnn.Model(xpnn.Conv2D(1, 2, 3), xpnn.Flatten(), xpnn.Dense(2 * 4 * 4, 2))
    texts = [text.get_text() for text in plot.network(model).axes[0].texts if text.get_text()]
    assert texts[0] == "input\n?" and texts[1].endswith("\n?\n20 params")  # no in_features: unknown
    texts = [text.get_text() for text in plot.network(model, input_shape=(1, 6, 6)).axes[0].texts]
    assert "Conv2D 1->2 3x3\n(None, 2, 4, 4)\n20 params" in texts and "Flatten\n(None, 32)\n0 params" in texts


@once
def test_network_checks_its_arguments():
    model = xpnn.Model(xpnn.Dense(4, 2))
    with pytest.raises(TypeError, match="model must be an xpnn Layer"):
        plot.network([xpnn.Dense(4, 2)])
    with pytest.raises(ValueError, match="input_shape must be the shape of one sample"):
        plot.network(model, input_shape=4)
    with pytest.raises(ValueError, match=r"layer 0 \(Dense 4->2\) cannot take input of shape \(None, 5\)"):
        plot.network(model, input_shape=(5,))
    with pytest.raises(ValueError, match="the model has no layers"):
        plot.network(xpnn.Model())


# ---------------------------------------------------------------- path=

@once
def test_path_saves_a_png_atomically(tmp_path):
    target = tmp_path / "network.png"
    target.write_bytes(b"an older figure")
    figure = plot.network(xpnn.Model(xpnn.Dense(2, 2)), path=target)
    assert target.read_bytes().startswith(PNG_MAGIC)
    assert os.listdir(tmp_path) == ["network.png"]  # no temporary file left behind
    width, height = figure.get_size_inches() * figure.dpi
    assert target.stat().st_size > 1000 and width > 0 and height > 0


@once
def test_every_function_saves_when_given_a_path(tmp_path):
    model = line_model()
    X = np.random.default_rng(0).normal(size=(10, 2)).astype("float32")
    calls = {
        "activations": lambda path: plot.activations("tanh", path=path),
        "history": lambda path: plot.history({"loss": [1.0, 0.5]}, path=path),
        "gradient_flow": lambda path: plot.gradient_flow(diagnostics(), path=str(path)),
        "activation_histograms": lambda path: plot.activation_histograms(model, X, path=path),
        "decision_boundary": lambda path: plot.decision_boundary(model, X, X[:, 0] > 0, resolution=10, path=path),
    }
    for name, call in calls.items():
        call(tmp_path / f"{name}.png")
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == PNG_MAGIC, name


@once
@pytest.mark.parametrize("function, arguments", [
    (plot.activations, ("relu",)), (plot.history, ({"loss": [1.0]},)),
    (plot.gradient_flow, ({},)),  # the path is refused before the arguments are even looked at
    (plot.network, (None,)), (plot.decision_boundary, (None, None, None)),
    (plot.activation_histograms, (None, None)),
])
def test_a_path_in_a_missing_folder_is_refused_before_drawing(tmp_path, function, arguments):
    target = tmp_path / "missing" / "figure.png"
    with pytest.raises(FileNotFoundError, match=r"cannot write '.*figure.png': folder '.*missing' does not exist"):
        function(*arguments, path=target)
    assert not (tmp_path / "missing").exists()


@once
def test_other_bad_paths_are_named(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder"):
        plot.activations("relu", path=tmp_path)
    with pytest.raises(TypeError, match="path must be a file path"):
        plot.activations("relu", path=3)
    for name in ("", "  "):
        with pytest.raises(ValueError, match="path must name a file such as 'plot.png'"):
            plot.activations("relu", path=name)
    for name in ("figure.jpg", "figure.txt", "figure"):  # PNG data under another name misleads
        with pytest.raises(ValueError, match=r"path must end in \.png"):
            plot.activations("relu", path=tmp_path / name)
        assert not (tmp_path / name).exists()
    plot.activations("relu", path=tmp_path / "upper.PNG")
    locked = tmp_path / "locked.png"
    locked.write_bytes(b"keep me")
    locked.chmod(0o444)
    with pytest.raises(PermissionError, match="read-only"):
        plot.activations("relu", path=locked)
    assert locked.read_bytes() == b"keep me"


@once
def test_the_readme_example_runs(tmp_path, monkeypatch):
    readme = (pathlib.Path(__file__).parent.parent / "README.md").read_text()
    example = re.search(r"## Plots.*?```python\n(.*?)```", readme, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(example, "README.md, Plots", "exec"), namespace)
    assert [len(labelled_lines(axes)) for axes in plot.history(namespace["history"]).axes] == [2, 2]
    for name in ("history.png", "moons.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG_MAGIC
