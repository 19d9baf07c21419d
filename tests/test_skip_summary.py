"""Issue 16, item 9: skips are summarised by reason, one line with a count each, so that a real
failure is not buried under a hundred "cupy unusable here" lines."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_skips_are_one_line_per_reason_and_failures_stay_listed(tmp_path):
    (tmp_path / "test_many.py").write_text(
        "import pytest\n"
        "@pytest.mark.parametrize('i', range(40))\n"
        "def test_gpu(i):\n    pytest.skip('cupy unusable here: no GPU')\n"
        "@pytest.mark.parametrize('i', range(3))\n"
        "def test_other(i):\n    pytest.skip('another reason')\n"
        "def test_real_failure():\n    assert 1 == 2\n"
    )
    # the project's addopts and conftest hook, on a file of its own
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", os.path.join(ROOT, "pyproject.toml"),
         "--rootdir", str(tmp_path), "-p", "tests.conftest", str(tmp_path / "test_many.py")],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
        env={**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")})
    out = result.stdout
    assert result.returncode == 1, out
    assert "   40 skipped: cupy unusable here: no GPU" in out and "    3 skipped: another reason" in out
    assert "SKIPPED [" not in out  # no line per skipped test
    assert "FAILED " in out and "test_real_failure" in out.split("short test summary info")[1]
