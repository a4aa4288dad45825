"""The IDX reader bounds its memory by what a file may hold: a gzip bomb or a header
claiming gigabytes is refused, naming the file, inside a process limited to 1 GiB of
address space (RLIMIT_AS) and a time limit."""

import gzip
import json
import os
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest

resource = pytest.importorskip("resource", reason="RLIMIT_AS needs the POSIX resource module")

LIMIT_AS = 1 << 30  # the reading process may map at most 1 GiB in all

_READER = textwrap.dedent("""
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[2]), int(sys.argv[2])))
    from tinygrad_lite import datasets as ds
    out = {"error": None}
    try:
        if sys.argv[3] == "read_idx":
            ds.read_idx(sys.argv[1])
        else:
            ds.mnist(root=sys.argv[1], download=False, verify=sys.argv[3] == "verify")
    except Exception as e:
        out["error"] = f"{type(e).__name__}: {e}"
    try:  # this process's own peak (ru_maxrss may carry the parent's from before exec)
        with open("/proc/self/status") as f:
            hwm = [l for l in f if l.startswith("VmHWM:")][0]
        out["maxrss_mib"] = int(hwm.split()[1]) / 1024
    except (OSError, IndexError):
        out["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))
""")


def _run_reader(target, mode):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-c", _READER, str(target), str(LIMIT_AS), mode],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def _header(dims):
    return struct.pack(">I", 0x0800 | len(dims)) + b"".join(struct.pack(">I", d) for d in dims)


def _gzip_stream(prefix: bytes, zeros: int) -> bytes:
    """gzip of prefix + `zeros` zero bytes, compressed in pieces (never held whole)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts, block = [c.compress(prefix)], bytes(1 << 22)
    for _ in range(zeros // len(block)):
        parts.append(c.compress(block))
    parts.append(c.flush())
    return b"".join(parts)


def _labels(folder, n, train=True):
    name = ("train" if train else "t10k") + "-labels-idx1-ubyte.gz"
    (Path(folder) / name).write_bytes(gzip.compress(_header((n,)) + bytes(n)))


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    """A ~0.5 MB gzip with the official training set's header that inflates to 512 MiB
    (over 10x what that header allows): what a tampered download in place of train-images-idx3-ubyte.gz could be."""
    d = tmp_path_factory.mktemp("bomb")
    data = _gzip_stream(_header((60000, 28, 28)), 1 << 29)
    assert len(data) < 2 << 20
    (d / "train-images-idx3-ubyte.gz").write_bytes(data)
    _labels(d, 60000)
    return d


@pytest.mark.parametrize("mode", ["verify", "noverify"])
def test_gzip_bomb_is_refused_within_bounded_memory(bomb, mode):
    out = _run_reader(bomb, mode)
    assert out["error"] is not None and out["error"].startswith("DatasetError")
    assert str(bomb / "train-images-idx3-ubyte.gz") in out["error"]
    assert "trailing data" in out["error"]
    assert out["maxrss_mib"] < 300, out


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("mode", ["verify", "noverify", "read_idx"])
def test_header_claiming_gigabytes_is_refused_before_allocating(tmp_path, gz, mode):
    dims = (1 << 24, 32, 32)  # 16 GiB
    data = _header(dims) + bytes(4096)
    path = tmp_path / ("train-images-idx3-ubyte" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(data) if gz else data)
    _labels(tmp_path, 5)
    out = _run_reader(path if mode == "read_idx" else tmp_path, mode)
    assert out["error"] is not None and out["error"].startswith("DatasetError"), out
    assert str(path) in out["error"]
    assert "header claims" in out["error"] or "file has" in out["error"]
    assert out["maxrss_mib"] < 300, out


def test_header_claiming_more_than_the_official_count_names_the_limit(tmp_path):
    from tinygrad_lite import datasets as ds

    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(_header((60001, 28, 28))))
    _labels(tmp_path, 60001)
    with pytest.raises(ds.DatasetError) as e:
        ds.mnist(root=tmp_path, download=False)
    assert str(path) in str(e.value) and "60001" in str(e.value) and "verify=False" in str(e.value)


def test_wrong_dimensions_are_refused_before_reading(tmp_path):
    from tinygrad_lite import datasets as ds

    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(_header((5, 27, 28)) + bytes(5 * 27 * 28))
    _labels(tmp_path, 5, train=False)
    with pytest.raises(ds.DatasetError, match=r"expected N x 28 x 28") as e:
        ds.mnist(root=tmp_path, train=False, download=False, verify=False)
    assert str(path) in str(e.value)


def test_reader_result_is_writable_and_exact(tmp_path):
    from tinygrad_lite import datasets as ds

    arr = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(_header(arr.shape) + arr.tobytes()))
    back = ds.read_idx(path, expected_dims=(None, 28, 28))
    np.testing.assert_array_equal(back, arr)
    back[0, 0, 0] = 1  # writable
