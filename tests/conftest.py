"""Shared pytest / hypothesis configuration for the tinygrad_lite test suite.

* Hypothesis profiles: ``dev`` (default) and ``ci`` (selected automatically when
  the ``CI`` environment variable is set; deterministic and prints reproduction
  blobs); ``thorough`` (200 examples) and ``mutation`` (deterministic, no example
  database: scripts/mutation_test.sh).  ``HYPOTHESIS_PROFILE=<name>`` overrides the choice.
* ``device`` fixture: every device-dependent test is parametrized over "cpu" and
  "gpu".  The gpu parameter carries ``pytest.mark.gpu`` and skips with a reason
  that says whether CuPy is missing or CuPy is present but no GPU is visible.
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import tinygrad_lite as tl

# --------------------------------------------------------------------------- #
# hypothesis profiles
# --------------------------------------------------------------------------- #
_COMMON = dict(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
settings.register_profile("dev", **_COMMON)
settings.register_profile("ci", derandomize=True, print_blob=True, **_COMMON)
settings.register_profile("thorough", **{**_COMMON, "max_examples": 200})
# scripts/mutation_test.sh: the same examples for every mutant (a score that doesn't vary by luck), no database
settings.register_profile("mutation", derandomize=True, database=None, **_COMMON)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


# --------------------------------------------------------------------------- #
# devices
# --------------------------------------------------------------------------- #
def gpu_skip_reason():
    """None when the GPU backend is usable, otherwise a human-readable reason."""
    try:
        import cupy  # noqa: F401
    except Exception as e:  # ImportError, or CUDA libraries failing to load
        return f"CuPy is not installed or cannot be imported ({type(e).__name__}: {e})"
    if not tl.gpu_available():
        return "CuPy is installed but no GPU is visible (tl.gpu_available() is False)"
    return None


@pytest.fixture(
    scope="session",
    params=["cpu", pytest.param("gpu", marks=pytest.mark.gpu)],
)
def device(request):
    if request.param == "gpu":
        reason = gpu_skip_reason()
        if reason is not None:
            pytest.skip(reason)
    return request.param


@pytest.fixture(autouse=True)
def _grad_mode_is_clean():
    """Every test starts (and must end) with gradient recording enabled."""
    assert tl.is_grad_enabled(), "a previous test leaked a no_grad() state"
    yield
    assert tl.is_grad_enabled(), "this test leaked a no_grad() state"


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
