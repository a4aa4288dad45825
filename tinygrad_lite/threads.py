"""CPU threads: how many threads NumPy's BLAS (the matrix products) may use.

``set_num_threads(n)`` / ``get_num_threads()`` carry PyTorch's names; here they act on the
BLAS NumPy is linked with (OpenBLAS, MKL, BLIS), through threadpoolctl, which is imported only
when they are called (the ``tools`` extra brings it). threadpoolctl changes the limit of a
BLAS already loaded, and reads back the count in force, so a script can set it from a flag
after ``import numpy`` and print the true figure; the environment variables
(``OPENBLAS_NUM_THREADS`` ...) only work when set before NumPy loads.

The examples' default, ``default_num_threads()``: the cores this process may run on, less the
1-minute load average (work already running), rounded, at least 1 and at most 4. On a 2-core
machine shared with other work that is 1: BLAS threads that must wait for a busy core wait
for each other, and small matrix products ran 3-4x slower on two threads than on one
(README, "Set up and run"). On a quiet machine it is the cores, up to 4: the tutorials'
products (batch 64, 784x1000) are small, and the cap keeps a 16-core machine from spreading
them thin (not measured here: no such machine was at hand).
"""
from __future__ import annotations

import math
import os

__all__ = ["set_num_threads", "get_num_threads", "default_num_threads", "configure", "add_argument"]

ENV_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")
MAX_DEFAULT = 4
_limiter = None        # the threadpoolctl limit in force (kept: dropping it would not undo it, but be explicit)


def _threadpoolctl(what):
    try:
        import threadpoolctl
    except ImportError as e:
        raise ImportError(f"{what} needs threadpoolctl, which is not installed: pip install threadpoolctl "
                          "(it comes with pip install -e \".[tools]\"); or set OPENBLAS_NUM_THREADS=N "
                          "before Python starts") from e
    return threadpoolctl


def available_cores():
    """The CPU cores this process may run on (its affinity mask, else os.cpu_count())."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def load_average():
    """The 1-minute load average, or None where the OS has none (Windows)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def default_num_threads(cores=None, load=None):
    """The examples' default: idle cores (``cores`` less the ``load`` average, rounded), in 1..MAX_DEFAULT.

    >>> default_num_threads(cores=2, load=1.9), default_num_threads(cores=2, load=0.7)
    (1, 1)
    >>> default_num_threads(cores=2, load=0.2), default_num_threads(cores=16, load=0.3)
    (2, 4)
    """
    cores = available_cores() if cores is None else cores
    load = (load_average() or 0.0) if load is None else load
    return max(1, min(MAX_DEFAULT, math.floor(cores - load + 0.5)))


def set_num_threads(n):
    """Let NumPy's BLAS use ``n`` threads from now on (PyTorch's ``torch.set_num_threads``, for the
    BLAS; needs threadpoolctl)."""
    global _limiter
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive int, got {n!r}")
    _limiter = _threadpoolctl("set_num_threads").threadpool_limits(limits=n, user_api="blas")


def get_num_threads():
    """The threads NumPy's BLAS uses now (the largest count over the BLAS libraries loaded; needs
    threadpoolctl); None when no BLAS is found."""
    info = [i for i in _threadpoolctl("get_num_threads").threadpool_info() if i.get("user_api") == "blas"]
    return max(i["num_threads"] for i in info) if info else None


def configure(threads=None):
    """Apply a script's ``--threads`` value (None: the default above) and describe the result in one
    line for its header, e.g. ``"threads: 1 (BLAS; default: 2 cores, load average 1.85)"``.
    An environment variable such as OPENBLAS_NUM_THREADS, when set, is left in charge of the default.
    Raises ImportError (saying what to install) only when ``threads`` is given and threadpoolctl is
    missing; without it the default leaves the BLAS as it is and says so."""
    env = [f"{v}={os.environ[v]}" for v in ENV_VARS if os.environ.get(v)]
    if threads is not None:
        set_num_threads(threads)
        why = f"--threads {threads}"
    elif env:
        why = f"set by {', '.join(env)}"
    else:
        cores, load = available_cores(), load_average()
        n = default_num_threads(cores, load)
        try:
            set_num_threads(n)
        except ImportError:
            return "threads: the BLAS's own default (threadpoolctl not installed: pip install threadpoolctl)"
        shown = "unknown" if load is None else f"{load:.2f}"
        why = f"default: {cores} cores, load average {shown}; --threads N to choose"
    try:
        count = get_num_threads()
    except ImportError:
        count = None
    return f"threads: {count if count is not None else '?'} (BLAS; {why})"


def add_argument(parser):
    """Add the examples' ``--threads N`` flag to an argparse parser."""
    def positive(text):
        try:
            v = int(text)
        except ValueError:
            v = 0
        if v < 1:
            import argparse
            raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
        return v
    parser.add_argument("--threads", type=positive, metavar="N",
                        help="threads for NumPy's BLAS (default: the idle cores, 1 to 4: 1 on a busy "
                             "2-core machine, where more threads wait for each other)")
    return parser
