"""The README's examples must run as printed."""

import pathlib
import re

README = (pathlib.Path(__file__).parent.parent / "README.md").read_text()


def run_example(heading):
    example = re.search(rf"## {heading}.*?```python\n(.*?)```", README, re.S).group(1)
    namespace = {}
    exec(compile(example, f"README.md, {heading}", "exec"), namespace)
    return namespace


def test_model_example_runs():
    assert run_example("A model")["dx"].shape == (8, 4)


def test_training_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # it writes run.ckpt and xor.xpnn
    namespace = run_example("Training")
    assert namespace["history"].stop_reason.startswith("EarlyStopping")
    assert namespace["model"].evaluate(namespace["X"][-120:], namespace["y"][-120:])["accuracy"] > 0.9
    assert {"run.ckpt", "xor.xpnn"} <= {p.name for p in tmp_path.iterdir()}


def test_cnn_example_runs():
    namespace = run_example("Convolutional networks")
    assert len(namespace["history"].history["loss"]) == 2


def test_sklearn_example_runs():
    import pytest

    pytest.importorskip("sklearn")
    namespace = run_example("scikit-learn drop-in")
    assert round(namespace["scores"].mean(), 4) == 0.9332  # the README's number, and scikit-learn's
    assert namespace["search"].best_score_ > 0.85  # 20 epochs only, for time
