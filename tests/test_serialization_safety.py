"""Saves keep permission bits, clean up after killed saves (never a live writer's temp
file), and name the target and the reason when they cannot write."""

import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import serialization as ser

posix_only = pytest.mark.skipif(os.name != "posix", reason="flock and permission bits are POSIX")


def _temps(directory):
    return sorted(p.name for p in Path(directory).iterdir() if p.name.endswith(".tmp"))


@posix_only
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o400])
def test_resave_keeps_permission_bits(tmp_path, mode):
    path = tmp_path / "m.safetensors"
    tl.save({"w": np.zeros(3, np.float32)}, path)
    os.chmod(path, mode)
    tl.save({"w": np.ones(3, np.float32)}, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == mode
    assert tl.load(path)["w"].numpy().tolist() == [1, 1, 1]
    tl.save_checkpoint(path, epoch=1)
    assert stat.S_IMODE(os.stat(path).st_mode) == mode


@posix_only
def test_new_file_honours_umask(tmp_path):
    old = os.umask(0o077)
    try:
        tl.save({"w": np.zeros(1, np.float32)}, tmp_path / "n.safetensors")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "n.safetensors").st_mode) == 0o600


# A writer that stops after writing part of its file and waits to be killed.
_STUCK_WRITER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from tinygrad_lite import serialization as ser
    def chunks():
        yield b"x" * 100000
        print("writing", flush=True)
        time.sleep(120)
        yield b""
    ser._atomic_write(sys.argv[1], chunks())
""")


def _start_stuck_writer(path):
    p = subprocess.Popen([sys.executable, "-c", _STUCK_WRITER, str(path)],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "writing"
    return p


@posix_only
def test_killed_save_temp_is_removed_by_next_save_but_live_writer_is_not(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    tl.save({"w": np.zeros(2, np.float32)}, path)
    dead = _start_stuck_writer(path)
    dead_temps = _temps(tmp_path)
    assert len(dead_temps) == 1
    dead.send_signal(signal.SIGKILL)
    dead.wait(timeout=30)
    live = _start_stuck_writer(path)
    try:
        live_temps = sorted(set(_temps(tmp_path)) - set(dead_temps))
        assert len(live_temps) == 1
        # a temp from an older version (no pid in the name, no lock) and unrelated files
        (tmp_path / ".ckpt.safetensors.0123456789ab.tmp").write_bytes(b"old")
        (tmp_path / ".other.safetensors.0123456789ab.tmp").write_bytes(b"other file's")
        (tmp_path / ".ckpt.safetensors.notours.tmp").write_bytes(b"user's")
        tl.save({"w": np.ones(2, np.float32)}, path)
        left = _temps(tmp_path)
        assert dead_temps[0] not in left                      # killed writer's: removed
        assert ".ckpt.safetensors.0123456789ab.tmp" not in left
        assert live_temps[0] in left                          # live writer's: untouched
        assert ".other.safetensors.0123456789ab.tmp" in left  # another file's
        assert ".ckpt.safetensors.notours.tmp" in left        # not a name we generate
        assert tl.load(path)["w"].numpy().tolist() == [1, 1]
    finally:
        live.kill()
        live.wait(timeout=30)
    tl.save({"w": np.full(2, 2, np.float32)}, path)
    assert live_temps[0] not in _temps(tmp_path)
    assert tl.load(path)["w"].numpy().tolist() == [2, 2]


def test_empty_path_names_the_reason(tmp_path):
    with pytest.raises(FileNotFoundError, match="path is empty"):
        tl.save({"w": np.zeros(1, np.float32)}, "")
    with pytest.raises(FileNotFoundError, match="path is empty"):
        tl.save_checkpoint("", epoch=0)


def test_directory_path_names_it(tmp_path):
    with pytest.raises(IsADirectoryError) as e:
        tl.save({"w": np.zeros(1, np.float32)}, tmp_path)
    assert str(tmp_path) in str(e.value) and "is a directory" in str(e.value)
    assert ".tmp" not in str(e.value)


def test_missing_directory_names_it(tmp_path):
    target = tmp_path / "nope" / "m.safetensors"
    with pytest.raises(FileNotFoundError) as e:
        tl.save({"w": np.zeros(1, np.float32)}, target)
    assert str(target) in str(e.value) and "does not exist" in str(e.value)


def test_unwritable_directory_names_target_not_temp(tmp_path, monkeypatch):
    target = tmp_path / "m.safetensors"
    real_open = os.open

    def refuse(p, flags, *a, **k):  # what a read-only directory does (root ignores chmod)
        if str(p).endswith(".tmp") and flags & os.O_CREAT:
            raise PermissionError(13, "Permission denied", p)
        return real_open(p, flags, *a, **k)

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(PermissionError) as e:
        tl.save({"w": np.zeros(1, np.float32)}, target)
    msg = str(e.value)
    assert str(target) in msg and "Permission denied" in msg and ".tmp" not in msg


@posix_only
@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_directory_names_target(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    os.chmod(d, 0o555)
    try:
        with pytest.raises(PermissionError) as e:
            tl.save({"w": np.zeros(1, np.float32)}, d / "m.safetensors")
        assert str(d / "m.safetensors") in str(e.value) and "not writable" in str(e.value)
    finally:
        os.chmod(d, 0o755)
