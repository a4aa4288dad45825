"""Shared pytest / hypothesis configuration for the tinygrad_lite test suite.

* Hypothesis profiles: ``dev`` (default) and ``ci`` (selected automatically when
  the ``CI`` environment variable is set; deterministic and prints reproduction
  blobs); ``thorough`` (200 examples) and ``mutation`` (deterministic, no example
  database: scripts/mutation_test.sh).  ``HYPOTHESIS_PROFILE=<name>`` overrides the choice.
* ``device`` fixture: every device-dependent test is parametrized over "cpu" and
  "gpu".  The gpu parameter carries ``pytest.mark.gpu`` and skips with a reason
  that says whether CuPy is missing or CuPy is present but no GPU is visible.
* MNIST for the tests: ``MNIST_DIR`` is the folder tl.datasets itself would read
  (``tl.datasets.locate``: $TINYGRAD_LITE_DATA/mnist, ~/.cache/tinygrad_lite/mnist,
  /usr/share/datasets/mnist), after the ``shared/datasets`` folder beside the checkout
  that examples/mnist.py also finds; ``needs_mnist()`` skips, saying where it looked.
* The run ends with a short summary of what was skipped, grouped by cause
  (``pytest_terminal_summary``), so "all tested" and "most skipped" look different.
"""
import os
import re
from collections import Counter
from pathlib import Path

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
# BLAS threads: the examples' default (tl.threads: the idle cores, 1 to 4), so a
# busy 2-core machine runs the tests on one BLAS thread instead of two that wait
# for each other (10x slower small matmuls); OPENBLAS_NUM_THREADS & co. win.
# --------------------------------------------------------------------------- #
try:
    BLAS_THREADS = tl.threads.configure()
except Exception as e:  # noqa: BLE001 - never stop the test run over a thread setting
    BLAS_THREADS = f"threads: left as they are ({type(e).__name__}: {e})"


def pytest_report_header(config):
    return f"tinygrad_lite {BLAS_THREADS}"


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


# --------------------------------------------------------------------------- #
# MNIST, found where the library finds it
# --------------------------------------------------------------------------- #
REPO = Path(__file__).resolve().parents[1]


def checkout_data_dir():
    """examples/mnist.py's rule: a `shared/datasets` folder beside the checkout, unless
    $TINYGRAD_LITE_DATA is set (then the library's search alone)."""
    beside = REPO.parent / "shared" / "datasets"
    return beside if tl.datasets.ENV_VAR not in os.environ and beside.is_dir() else None


# Located once, before any test changes HOME or the environment.
MNIST_DIR = tl.datasets.locate("mnist", root=checkout_data_dir())
_SEARCHED = [str(p) for _, p in tl.datasets._candidate_dirs("mnist", checkout_data_dir())]
MNIST_SKIP_REASON = (f"MNIST data not found (looked in {', '.join(dict.fromkeys(_SEARCHED))}); "
                     "`python examples/mnist.py` downloads it into ~/.cache/tinygrad_lite/mnist")
_mnist_home = None


def needs_mnist():
    """The folder holding MNIST's four files (for root=/--data-dir); skips, saying where it looked."""
    if MNIST_DIR is None:
        pytest.skip(MNIST_SKIP_REASON)
    return MNIST_DIR


def mnist_home():
    """A folder D with D/mnist holding the files: what $TINYGRAD_LITE_DATA wants (for subprocesses)."""
    global _mnist_home
    folder = needs_mnist()
    if folder.name == "mnist":
        return folder.parent
    if _mnist_home is None:                       # files found in a folder not named mnist: link it
        import tempfile
        _mnist_home = Path(tempfile.mkdtemp(prefix="tl-mnist-home-"))
        (_mnist_home / "mnist").symlink_to(folder, target_is_directory=True)
    return _mnist_home


# --------------------------------------------------------------------------- #
# the closing summary: what was skipped, grouped by cause
# --------------------------------------------------------------------------- #
# (label, pattern over the skip reason): the first that matches names the group. A skip no pattern
# matches is grouped by the module pytest.importorskip could not import, else by its own reason, so a
# new kind of skip shows up as its own line without touching this table.
SKIP_GROUPS = [
    ("README block", r"^README"),
    ("GPU/CuPy", r"\bcupy\b|\bgpu\b|\bcuda\b"),
    ("MPI", r"\bmpi|mpiexec|mpi4py"),
    ("tensorboard", r"tensorboard"),
    ("chromium", r"chrom"),
    ("graphviz", r"graphviz|\bdot\b executable"),
    ("torch", r"\btorch\b|pytorch"),
    ("scikit-learn", r"sklearn|scikit-learn"),
    ("data", r"mnist|dataset|TINYGRAD_LITE_DATA"),
]


def skip_reason(report):
    """The reason text of a skipped test's report."""
    lr = report.longrepr
    text = lr[2] if isinstance(lr, tuple) and len(lr) == 3 else str(lr)
    return text[len("Skipped: "):] if text.startswith("Skipped: ") else text


def skip_group(reason):
    for label, pattern in SKIP_GROUPS:
        if re.search(pattern, reason, re.I):
            return label
    m = re.search(r"could not import '([\w.]+)'", reason)
    if m:
        return f"no {m.group(1)}"
    return re.sub(r"\d+", "N", reason.split("\n")[0].split(": ")[0])[:60]     # numbers and details aside


def skip_summary(reasons):
    """[(group, count, the commonest reason in it, how many different reasons)], the biggest group first."""
    groups = {}
    for r in reasons:
        groups.setdefault(skip_group(r), Counter())[r] += 1
    rows = [(g, sum(c.values()), c.most_common(1)[0][0], len(c)) for g, c in groups.items()]
    return sorted(rows, key=lambda row: (-row[1], row[0]))


def pytest_terminal_summary(terminalreporter):
    stats = terminalreporter.stats
    skipped = stats.get("skipped", [])
    ran = sum(len(stats.get(k, [])) for k in ("passed", "failed", "error", "xfailed", "xpassed"))
    deselected = len(stats.get("deselected", []))
    width = getattr(terminalreporter, "_tw", None)
    width = (width.fullwidth if width is not None else 100) - 1
    terminalreporter.write_sep("-", "skipped, by cause")
    if not skipped:
        terminalreporter.write_line(f"nothing skipped: all {ran} selected tests ran")
    for group, n, reason, kinds in skip_summary([skip_reason(r) for r in skipped]):
        more = f" (+{kinds - 1} other reason{'s' if kinds > 2 else ''})" if kinds > 1 else ""
        line = f"{n:>5} {reason}" if reason.startswith(group) else f"{n:>5} {group}: {reason}"
        line = line if len(line) + len(more) <= width else line[:width - 3 - len(more)] + "..."
        terminalreporter.write_line(line + more)
    total = ran + len(skipped)
    tail = (f"; {deselected} deselected by -m/-k (by default the slow ones: pytest -m slow)"
            if deselected else "")
    if skipped:
        terminalreporter.write_line(f"{ran} of {total} ran, {len(skipped)} skipped "
                                    f"({100 * len(skipped) / max(total, 1):.0f}%; each test and its reason: "
                                    f"pytest -rs){tail}")
    elif tail:
        terminalreporter.write_line(tail[2:])
