"""Every textbook example runs as ``python examples/NAME.py --quick`` and prints its answers.

Each script runs in its own process, as a reader would run it, with its figures sent to a
temporary folder. The full-size runs (without ``--quick``) are timed in the README's Examples
section. ``OPENBLAS_NUM_THREADS=1``: on a machine shared by several jobs, OpenBLAS's threads
slow the small matrix products of these networks several times over.
"""

import math
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).parent.parent
EXAMPLES = ROOT / "examples"

pytestmark = pytest.mark.once


def run_example(name, out, *arguments):
    pytest.importorskip("matplotlib")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    result = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), "--quick", "--out", str(out), *arguments],
                            capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def number_after(text, label):
    """The number printed right after ``label`` (the first occurrence)."""
    match = re.search(re.escape(label) + r"\s*([-+0-9.e]+|nan)", text)
    assert match, f"{label!r} not in the output:\n{text}"
    return float(match.group(1))


def pngs(folder):
    return sorted(path.name for path in folder.glob("*.png") if path.stat().st_size > 1000)


def test_single_neuron_prints_the_notes_trainer_numbers(tmp_path):
    out = run_example("single_neuron", tmp_path)
    w, b, lines = 0.8, -0.3, {}
    for step in range(1, 501):  # the notes' Java trainer, line by line
        a = 1 / (1 + math.exp(-(2.0 * w + b)))
        cost = 0.5 * (a - 0.0) ** 2
        delta = (a - 0.0) * a * (1 - a)
        w, b = w - 0.5 * delta * 2.0, b - 0.5 * delta
        if step % 50 == 0 or step == 1:
            lines[step] = (f"Epoch [{step:3d}] -- Objective Loss: {cost:.6f} -- Weight Matrix: {w:.4f} -- "
                           f"Bias Vector: {b:.4f}")
    printed = [line for line in out.splitlines() if line.startswith("Epoch [")]
    assert printed == list(lines.values())
    assert printed[0] == "Epoch [  1] -- Objective Loss: 0.308768 -- Weight Matrix: 0.6677 -- Bias Vector: -0.3661"
    assert f"Model Prediction Output: {1 / (1 + math.exp(-(2.0 * w + b))):.4f}" in out
    assert number_after(out, "largest difference from the notes' arithmetic over 500 steps:") < 1e-12
    assert f"Weight {w:.4f}, Bias {b:.4f}" in out  # Model.fit with SGD(0.25) on MSE: the same point
    assert pngs(tmp_path) == ["single_neuron.png"]


def test_perceptron_converges_on_separable_data_fails_on_xor_and_an_mlp_solves_it(tmp_path):
    out = run_example("perceptron_xor", tmp_path)
    assert "perceptron on 2 separable clouds (100 points): converged after" in out
    assert number_after(out, "training accuracy") == 1.0
    assert "perceptron on XOR: converged False after 100 epochs" in out
    assert "ConvergenceWarning: Perceptron:" in out and "not linearly separable" in out
    assert number_after(out, "perceptron on XOR: converged False after 100 epochs, accuracy") < 1.0
    solved = re.search(r"2-2-1 MLP on XOR: solved from (\d+) of 4 random starts", out)
    assert solved and int(solved.group(1)) >= 1, out
    assert "predictions [0, 1, 1, 0]" in out
    assert pngs(tmp_path) == ["perceptron_xor.png"]


def test_the_seven_exercises_print_their_answers(tmp_path):
    out = run_example("exercises", tmp_path)
    for number in range(1, 8):
        assert f"=== Exercise {number}:" in out
    # 1: by hand and by xpnn: 0.5·1 + 0.5·2 + 0.1 = 1.6 is the one live unit; ŷ = 1.6 + 0.05
    assert "ŷ = 1·1.6 + -2·0 + 0.5·0 + 0.05 = 1.65" in out and "xpnn: 1.65 (difference 0.0e+00)" in out
    # 2: where the derivatives fall below 0.01: sigmoid beyond ±4.59, tanh beyond ±3, ReLU for z <= 0
    assert "sigmoid     largest derivative 0.25; saturated for z <= -4.59 and z >= 4.59" in out
    assert "tanh        largest derivative 1; saturated for z <= -3 and z >= 3" in out
    assert "relu        largest derivative 1; saturated for z <= 0 (derivative exactly 0" in out
    assert "leaky_relu  largest derivative 1; saturated for nowhere" in out
    # 3: the hand-written chain rule and xpnn's backward agree
    assert number_after(out, "largest gradient difference") < 1e-12
    # 4: lr 1.0 diverges, and one of the others is named fastest
    assert re.search(r"fastest: lr (0\.1|0\.01); diverges: lr 1;", out), out
    # 5: three architectures, each with a mean and a spread over the splits
    for name in ("4-50-3", "4-25-25-3", "4-20-20-20-3"):
        assert re.search(re.escape(name) + r" .*mean 0\.\d+, std 0\.\d+", out), name
    # 6: train and validation accuracy for each rate
    for rate in ("0", "0.2", "0.5", "0.8"):
        assert re.search(rf"dropout {re.escape(rate)} +training accuracy [01]\.\d+, validation [01]\.\d+, gap", out)
    # 7: zeros leave every unit at 0, uniform[-1, 1] saturates tanh, He keeps ReLU healthy
    assert re.search(r"tanh zeros .*every unit outputs 0", out)
    assert re.search(r"tanh uniform\[-1, 1\] .*: saturated", out)
    assert re.search(r"relu He .*: healthy", out) and re.search(r"relu uniform\[-1, 1\] .*: exploding", out)
    assert pngs(tmp_path) == ["activations.png", "dropout.png", "initialisation_he.png",
                              "initialisation_uniform.png", "initialisation_xavier.png", "initialisation_zeros.png",
                              "iris_architectures.png", "learning_rates.png"]


def test_vanishing_gradients_warn_for_sigmoid_and_not_for_relu_with_he(tmp_path):
    out = run_example("vanishing_gradients", tmp_path)
    sigmoid, relu = out.split("\nrelu hidden units")
    assert "TrainingHealthWarning (kind 'vanishing_gradient'): epoch 1: layer 0 (Dense 2->32, sigmoid)" in sigmoid
    first_layer = float(re.search(r"last epoch: (\S+)", sigmoid).group(1))
    assert first_layer < 1e-4
    assert "0 warnings in all (a healthy network)" in relu
    assert pngs(tmp_path) == ["gradient_flow_relu.png", "gradient_flow_sigmoid.png"]


def test_universal_approximation_relu_fits_the_kink_better_than_tanh(tmp_path):
    out = run_example("universal_approximation", tmp_path)
    widths = [number_after(out, f"width {w:>2}: training MSE") for w in (1, 4, 16)]
    assert widths[2] < widths[0]  # wider fits sin better
    assert number_after(out, "relu width 2: training MSE") < number_after(out, "tanh width 2: training MSE")
    assert pngs(tmp_path) == ["universal_approximation.png"]


def test_early_stopping_restores_the_best_epoch_and_tests_better(tmp_path):
    out = run_example("early_stopping", tmp_path)
    best = number_after(out, "validation loss lowest")
    assert number_after(out, f"{best:.3f} at epoch") == number_after(out, "weights restored from epoch")
    full = number_after(out, "all epochs    : loss")
    stopped = number_after(out, "early stopping: loss")
    assert stopped < full
    assert pngs(tmp_path) == ["early_stopping.png"]


def test_every_example_is_listed_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Examples", 1)[1].split("\n## ", 1)[0] if "## Examples" in readme else ""
    missing = [path.name for path in sorted(EXAMPLES.glob("*.py")) if f"examples/{path.name}" not in section]
    assert missing == [], f"not in the README's Examples section: {missing}"


def test_the_readme_figures_exist_and_are_small():
    readme = (ROOT / "README.md").read_text()
    shown = re.findall(r"!\[[^\]]*\]\((examples/figures/[^)]+\.png)\)", readme)
    assert shown, "the Examples section shows no figure"
    for name in shown:
        assert 1000 < (ROOT / name).stat().st_size < 100_000, name
