import pytest


@pytest.mark.once
def test_once_marked_tests_run_in_the_numpy_pass(pytestconfig):
    from tests.conftest import selected_backend

    assert selected_backend(pytestconfig) in (None, "numpy")
