"""tl.threads: the BLAS thread count (set/get_num_threads), the examples' default and --threads."""
import subprocess
import sys
from pathlib import Path

import pytest

import tinygrad_lite as tl
from tinygrad_lite import threads as T

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("cores,load,expected", [(2, 1.9, 1), (2, 3.5, 1), (2, 0.7, 1), (2, 0.3, 2), (2, 0.0, 2),
                                                 (16, 0.3, 4), (16, 14.2, 2), (16, 15.8, 1), (4, 1.2, 3),
                                                 (1, 0.0, 1), (1, 5.0, 1)])
def test_default_is_the_idle_cores_from_1_to_4(cores, load, expected):
    assert T.default_num_threads(cores=cores, load=load) == expected


@pytest.fixture
def restore_blas():
    pytest.importorskip("threadpoolctl", reason="threadpoolctl not installed (pip install threadpoolctl)")
    before = tl.get_num_threads()
    yield before
    if before is not None:
        tl.set_num_threads(before)


def test_set_and_get(restore_blas):
    if restore_blas is None:
        pytest.skip("NumPy's BLAS is not one threadpoolctl knows")
    for n in (1, 2):
        tl.set_num_threads(n)
        assert tl.get_num_threads() == n
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="set_num_threads"):
            tl.set_num_threads(bad)


def test_configure_says_what_it_did(restore_blas, monkeypatch):
    for v in T.ENV_VARS:
        monkeypatch.delenv(v, raising=False)
    assert T.configure(1) == "threads: 1 (BLAS; --threads 1)"
    monkeypatch.setattr(T, "available_cores", lambda: 2)
    monkeypatch.setattr(T, "load_average", lambda: 1.5)
    assert T.configure() == "threads: 1 (BLAS; default: 2 cores, load average 1.50; --threads N to choose)"
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")           # the user's variable wins over the default
    assert T.configure().endswith("(BLAS; set by OPENBLAS_NUM_THREADS=1)")


def test_without_threadpoolctl_the_default_says_so_and_the_flag_says_what_to_install(monkeypatch):
    for v in T.ENV_VARS:
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)
    assert "threadpoolctl not installed: pip install threadpoolctl" in T.configure()
    with pytest.raises(ImportError, match="pip install threadpoolctl"):
        T.configure(2)


def test_flag_in_the_examples_header():
    """--threads reaches the BLAS and the run header prints the count (iris: a second's training)."""
    pytest.importorskip("threadpoolctl")
    env = {"OPENBLAS_NUM_THREADS": "", "OMP_NUM_THREADS": "", "MKL_NUM_THREADS": ""}
    import os
    p = subprocess.run([sys.executable, str(REPO / "examples" / "iris.py"), "--quiet", "--epochs", "3",
                        "--threads", "2"], capture_output=True, text=True, env={**os.environ, **env}, timeout=120)
    assert "threads: 2 (BLAS; --threads 2)" in p.stdout, p.stdout + p.stderr
    p = subprocess.run([sys.executable, str(REPO / "examples" / "gates.py"), "--threads", "zero"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "--threads: must be a positive integer" in p.stderr and "Traceback" not in p.stderr
