"""The closing "skipped, by cause" summary of tests/conftest.py: what it groups, and that it shows."""
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import MNIST_SKIP_REASON, pytest_terminal_summary, skip_group, skip_summary

CONFTEST = Path(__file__).resolve().parent / "conftest.py"


def test_groups_by_cause():
    reasons = (["CuPy is not installed or cannot be imported (ModuleNotFoundError: No module named 'cupy')"] * 5
               + ["CuPy is installed but no GPU is visible (tl.gpu_available() is False)"]
               + [MNIST_SKIP_REASON] * 3
               + ["could not import 'torch': No module named 'torch'"] * 2
               + ["Graphviz's dot is not installed", "could not import 'foo_bar': No module named 'foo_bar'",
                  "needs mpi4py and mpiexec", "a brand new reason nobody listed"])
    rows = skip_summary(reasons)
    assert rows[0] == ("GPU/CuPy", 6, reasons[0], 2)           # biggest first, commonest reason shown
    assert rows[1] == ("data", 3, MNIST_SKIP_REASON, 1)
    assert rows[2][:2] == ("torch", 2)
    groups = {row[0] for row in rows}
    assert {"graphviz", "MPI", "no foo_bar", "a brand new reason nobody listed"} <= groups
    assert sum(row[1] for row in rows) == len(reasons)
    # an unknown reason is grouped without its numbers and details: the same cause, one line
    assert skip_group("needs 3 ranks: run under mpi") == "MPI"
    assert skip_group("disk has 12 GB free: needs 40") == skip_group("disk has 3 GB free: needs 40") == "disk has N GB free"
    assert skip_group("README block at line 15 not run: needs a GPU") == "README block"
    assert skip_group("tensorboard is not installed (pip install tensorboard)") == "tensorboard"
    assert skip_group("no chromium to render the page") == "chromium"


def test_summary_line_is_printed(tmp_path):
    """A pytest run on a throwaway file with this hook ends with the grouped skips and the counts."""
    (tmp_path / "conftest.py").write_text(textwrap.dedent(f"""
        import importlib.util
        spec = importlib.util.spec_from_file_location("tl_conftest", {str(CONFTEST)!r})
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        pytest_terminal_summary = mod.pytest_terminal_summary
    """))
    (tmp_path / "test_x.py").write_text(textwrap.dedent("""
        import pytest
        def test_ok(): pass
        @pytest.mark.parametrize("i", range(3))
        def test_gpu(i): pytest.skip("CuPy is not installed" if i else "no GPU visible")
        def test_torch(): pytest.importorskip("surely_not_a_module_xyz")
    """))
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120).stdout
    assert "skipped, by cause" in out, out
    assert "    3 GPU/CuPy: CuPy is not installed (+1 other reason)" in out, out
    assert "    1 no surely_not_a_module_xyz: could not import" in out, out
    assert "1 of 5 ran, 4 skipped (80%" in out, out


class FakeReporter:
    def __init__(self, **stats):
        self.stats, self.lines = stats, []

    def write_sep(self, sep, title):
        self.lines.append(f"--- {title}")

    def write_line(self, line):
        self.lines.append(line)


def test_nothing_skipped_says_so():
    rep = FakeReporter(passed=[object()] * 7, deselected=[object()] * 2)
    pytest_terminal_summary(rep)
    assert rep.lines == ["--- skipped, by cause", "nothing skipped: all 7 selected tests ran",
                         "2 deselected by -m/-k (by default the slow ones: pytest -m slow)"]
