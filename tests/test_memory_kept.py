"""backend.keep_freed_memory (run at import): on Linux with glibc the memory a training step frees stays in the
process for the next step instead of going back to the OS and being faulted in again, page by page (the page
faults took a third of a SimpleConvNet step on our VM). Checked by counting page faults in fresh processes."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A step's pattern: several arrays of 8 MiB alive at once, then all freed (32 MiB free at the heap's top, more
# than glibc's adaptive trim threshold of 2x the largest array), ten times; page faults counted after the first.
STEPS = r"""
import resource, numpy as np
import tinygrad_lite as tl
def step():
    arrays = [np.ones(2 << 20, np.float32) for _ in range(4)]
    return sum(float(a[-1]) for a in arrays)
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, "|", tl.backend.memory_kept())
"""


def _run(**env):
    e = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "TINYGRAD_LITE_KEEP_MEMORY"}
    e.update(env, PYTHONPATH=ROOT + os.pathsep + e.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", STEPS], env=e, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    faults, line = out.stdout.split("|")
    return int(faults), line.strip()


def _glibc():
    try:
        return sys.platform.startswith("linux") and (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (ValueError, OSError):
        return False


@pytest.mark.skipif(not _glibc(), reason="keep_freed_memory acts on Linux with glibc only")
def test_freed_memory_is_reused_without_page_faults():
    kept, line = _run()
    assert line.startswith("freed memory kept"), line
    default, line0 = _run(TINYGRAD_LITE_KEEP_MEMORY="0")
    assert line0 == "glibc's malloc defaults (TINYGRAD_LITE_KEEP_MEMORY=0)"
    # 10 steps of 32 MiB: glibc's defaults give part of it back and fault it in again (~2,500 pages a step here)
    assert default > 10 * 1000, default
    assert kept < 10 * 50, (kept, default)


@pytest.mark.skipif(not _glibc(), reason="keep_freed_memory acts on Linux with glibc only")
def test_glibc_environment_variables_win():
    _, line = _run(MALLOC_TRIM_THRESHOLD_="131072")
    assert line == "glibc's malloc defaults (glibc's MALLOC_*_ environment variables are set: they decide)"


def test_keep_freed_memory_runs_once_and_says_what_it_did():
    import tinygrad_lite as tl
    first = tl.backend.keep_freed_memory()
    assert tl.backend.keep_freed_memory() is first                 # decided once, at import
    done, why = first
    assert done == (not why)
    assert tl.backend.memory_kept().startswith("freed memory kept" if done else "glibc's malloc defaults (")
