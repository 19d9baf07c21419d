"""The shared backend fixtures: every test that takes ``xp`` runs once per usable backend.

``XPNN_BACKEND`` (or ``--backend``) narrows the parametrized tests to one backend; backends
that are missing or narrowed away show up as skipped, with the reason, never silently dropped.
"""

import collections
import os

# before anything imports scipy: scikit-learn's check_array_api_input runs only with it set
# (tests/test_sklearn.py checks that it ran)
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import pytest  # noqa: E402

import xpnn  # noqa: E402
from xpnn import backend  # noqa: E402

ALL_BACKENDS = ("numpy", "array_api_strict", "cupy")
STATUS = backend.available_backends()


def pytest_addoption(parser):
    parser.addoption(
        "--backend", default=None,
        help="run backend-parametrized tests on this backend only (default: $XPNN_BACKEND, "
             "else every usable backend)",
    )


def pytest_terminal_summary(terminalreporter):
    """Skips as one line per reason with a count (pyproject's ``-rfExX`` leaves them out of the
    short summary, where a skipped backend would list every test it skips, about a hundred lines
    burying a real failure). ``-rs`` on the command line still lists each skipped test."""
    reasons = collections.Counter()
    for report in terminalreporter.stats.get("skipped", []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reasons[reason.removeprefix("Skipped: ")] += 1
    if reasons:
        terminalreporter.section("skipped, by reason", sep="-")
        for reason, count in reasons.most_common():
            terminalreporter.write_line(f"{count:5} skipped: {reason}")


def selected_backend(config):
    choice = config.getoption("--backend") or os.environ.get(backend.ENV_VAR, "").strip()
    if not choice:
        return None
    if choice == "auto":
        with xpnn.use_backend("auto"):
            return xpnn.backend.name()
    return choice.replace("-", "_")


def pytest_report_header(config):
    lines = [f"xpnn backends: {name}: {'usable' if ok else 'unusable'} ({why})"
             for name, (ok, why) in STATUS.items()]
    narrowed = selected_backend(config)
    lines.append(f"xpnn backend selection: {narrowed or 'every usable backend'}")
    return lines


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "once: backend-independent and slow (examples, a cluster, MPI); runs only in the "
        "numpy pass of backends/run-suite (or with no backend selected), not once per backend")


def pytest_runtest_setup(item):
    narrowed = selected_backend(item.config)
    if item.get_closest_marker("once") and narrowed not in (None, "numpy"):
        pytest.skip(f"backend-independent: runs in the numpy pass, not in the {narrowed} one")


def _usable_or_skip(name, config):
    narrowed = selected_backend(config)
    if narrowed and name != narrowed:
        pytest.skip(f"narrowed to {narrowed} by XPNN_BACKEND/--backend")
    usable, why = STATUS[name]
    if not usable:
        pytest.skip(f"{name} unusable here: {why.split(';')[0]}")


@pytest.fixture(params=ALL_BACKENDS)
def backend_name(request):
    _usable_or_skip(request.param, request.config)
    return request.param


@pytest.fixture
def xp(backend_name):
    """The namespace of one backend, active for the test (new arrays are created there)."""
    with xpnn.use_backend(backend_name) as namespace:
        yield namespace


@pytest.fixture(params=[name for name in ALL_BACKENDS if name != "numpy"])
def other_backend(request):
    """A backend to compare against NumPy, the reference."""
    narrowed = selected_backend(request.config)
    if narrowed == "numpy":
        pytest.skip("narrowed to numpy: no second backend to compare it with")
    _usable_or_skip(request.param, request.config)
    return request.param


@pytest.fixture(autouse=True)
def _isolated_random_state():
    """Each test starts from the same library seed and leaves no stream behind."""
    with backend.seeded(1234):
        yield
