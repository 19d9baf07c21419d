"""The README's example must run as printed."""

import pathlib
import re


def test_readme_example_runs():
    text = (pathlib.Path(__file__).parent.parent / "README.md").read_text()
    example = re.search(r"## A model.*?```python\n(.*?)```", text, re.S).group(1)
    namespace = {}
    exec(compile(example, "README.md example", "exec"), namespace)
    assert namespace["dx"].shape == (8, 4)
