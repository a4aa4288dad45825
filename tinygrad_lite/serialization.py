"""Saving and loading without pickle: safetensors state_dicts and training checkpoints.

Files are written in the `safetensors <https://github.com/huggingface/safetensors>`_
format, so they can be read by the ``safetensors`` package (and anything built on it)
and vice versa::

    [8 bytes: little-endian u64 N][N bytes: UTF-8 JSON header, space padded][raw data]

The header maps each tensor name to ``{"dtype", "shape", "data_offsets"}`` (offsets are
relative to the start of the data section) plus an optional ``"__metadata__"`` str -> str
map.  The codec below is self-contained (stdlib ``json`` + numpy) so that loading can
validate every field strictly: nothing in a file is ever executed, and a damaged or
foreign file raises :class:`CheckpointError` naming the file and the problem.

Public API
----------
``save(state_dict, path, metadata=None)`` / ``load(path, device=None)``
    A mapping of name -> Tensor / numpy / cupy array <-> ``{name: Tensor}``.
``save_checkpoint(path, model=None, optimizer=None, epoch=None, rng=True, **extra)`` /
``load_checkpoint(path, model=None, optimizer=None, device=None, rng=True)``
    One safetensors file holding model + optimizer state, epoch, RNG state and any
    JSON-able extras; nested structures are stored with :func:`flatten_tree`.
``read_safetensors(path)`` / ``write_safetensors(path, arrays, metadata=None)``
    The numpy-level codec.
``flatten_tree(tree, prefix)`` / ``unflatten_tree(spec, arrays, device=None)``
    Exact, pickle-free encoding of nested dict/list/tuple structures: array leaves
    become named tensors, everything else a JSON spec.

Writes are atomic: the file is written to a temporary file in the same directory,
flushed and fsync'ed, then ``os.replace``'d over ``path``; on any error the temporary
file is removed and a previous file at ``path`` is left untouched.  A save keeps an
existing file's permission bits.  The writer holds an exclusive ``flock`` on its temporary
file until the rename, so when a save is killed the next save of the same file finds the
orphan unlocked and removes it (a live writer's temporary file stays locked and is never
touched).  An empty path, a directory, or a missing or read-only directory raises an
``OSError`` naming the target file and the reason.
"""

from __future__ import annotations

import errno
import json
import math
import os
import secrets
import stat
import struct
import sys
import time
import warnings
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from . import backend as _backend

__all__ = [
    "CheckpointError",
    "save",
    "load",
    "save_checkpoint",
    "load_checkpoint",
    "read_safetensors",
    "write_safetensors",
    "flatten_tree",
    "unflatten_tree",
]

#: Same limit as the reference implementation (a larger header is refused, not read).
MAX_HEADER_SIZE = 100_000_000

# safetensors dtype name -> little-endian numpy dtype
_DTYPES = {
    "F16": np.dtype("<f2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "I8": np.dtype("i1"),
    "I16": np.dtype("<i2"),
    "I32": np.dtype("<i4"),
    "I64": np.dtype("<i8"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_BY_KIND = {(dt.kind, dt.itemsize): name for name, dt in _DTYPES.items()}
_SUPPORTED = ", ".join(_DTYPES)

# Unsigned integer arrays the format subset above lacks are stored bit-exactly as the
# signed type of the same size by flatten_tree (e.g. an MT19937 RNG key, uint32).
_VIEW_AS = {"uint16": "int16", "uint32": "int32", "uint64": "int64"}

_CKPT_FORMAT = "tinygrad_lite.checkpoint"
_CKPT_VERSION = 1


class CheckpointError(ValueError):
    """A file (or checkpoint structure) is damaged, foreign, or otherwise unreadable."""


# --------------------------------------------------------------------------- helpers


def _tensor_type():
    """The Tensor class if tinygrad_lite.tensor has been imported (no import needed:
    without the module loaded no Tensor instance can exist)."""
    mod = sys.modules.get(__name__.rpartition(".")[0] + ".tensor")
    return getattr(mod, "Tensor", None)


def _is_cupy(x) -> bool:
    return type(x).__module__.split(".")[0] == "cupy" and hasattr(x, "__cuda_array_interface__")


def _st_dtype(dt: np.dtype):
    if dt.kind == "b":
        return "BOOL"
    return _BY_KIND.get((dt.kind, dt.itemsize)) if dt.kind in "fiu" else None


def _to_host(value, what: str) -> np.ndarray:
    """Host numpy array for a Tensor / numpy / cupy array (no copy when already host)."""
    T = _tensor_type()
    if T is not None and isinstance(value, T):
        return np.asarray(value.numpy())
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, np.generic):
        return np.asarray(value)
    if _is_cupy(value):
        return np.asarray(_backend.to_numpy(value))
    raise TypeError(
        f"{what}: expected a Tensor, numpy array or cupy array, got {type(value).__name__}"
    )


def _fail(path: str, problem: str) -> CheckpointError:
    return CheckpointError(f"{path!r} is not a valid safetensors file: {problem}")


def _sniff(prefix: bytes) -> str:
    if prefix[:1] == b"\x80" and prefix[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return " (the file looks like a Python pickle, which is never loaded)"
    if prefix.startswith(b"PK\x03\x04"):
        return " (the file looks like a zip archive, e.g. a torch.save() file or .npz)"
    if prefix.startswith(b"\x93NUMPY"):
        return " (the file looks like a numpy .npy file)"
    return ""


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _is_count(x) -> bool:
    return type(x) is int and x >= 0


# --------------------------------------------------------------------------- codec


def _save_target(path: str) -> tuple:
    """(target, directory, base) for a save to ``path``, or an OSError naming ``path``
    and the reason (empty path, a directory, a missing or read-only directory)."""
    if path == "":
        raise FileNotFoundError(errno.ENOENT, "cannot save: the path is empty (give a file name)", path)
    target = os.path.realpath(path)  # write through symlinks
    directory, base = os.path.split(target)
    if os.path.isdir(target) or not base:
        raise IsADirectoryError(errno.EISDIR, "cannot save: the path is a directory, not a file", path)
    if not os.path.isdir(directory):
        raise FileNotFoundError(errno.ENOENT, f"cannot save: directory {directory!r} does not exist", path)
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, f"cannot save: directory {directory!r} is not writable "
                                            "(permission denied)", path)
    return target, directory, base


# A writer holds an exclusive flock on its temp file until the rename, and the kernel drops
# the lock when the writer dies; so a temp whose lock can be taken belongs to a dead writer.
try:
    import fcntl as _fcntl
except ImportError:  # Windows: no flock; stale temps are only removed by age there
    _fcntl = None
_STALE_AGE_S = 24 * 3600  # without flock: a temp this old is taken for dead


def _is_our_temp(name: str, base: str) -> bool:
    if not (name.startswith(f".{base}.") and name.endswith(".tmp")):
        return False
    middle = name[len(base) + 2 : -4]
    return bool(middle) and all(c in "0123456789abcdef-" for c in middle)


def _remove_stale_temps(directory: str, base: str) -> None:
    """Remove temp files left by killed saves of ``base``, never a live writer's."""
    try:
        names = [n for n in os.listdir(directory) if _is_our_temp(n, base)]
    except OSError:
        return
    for name in names:
        tmp = os.path.join(directory, name)
        try:
            fd = os.open(tmp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue  # gone (renamed by its writer) or not ours to read
        try:
            st = os.fstat(fd)
            if _fcntl is not None:
                try:
                    _fcntl.flock(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
                except OSError:
                    continue  # a live writer holds it
            elif time.time() - st.st_mtime < _STALE_AGE_S:
                continue
            try:  # still the same file under that name (not renamed or recreated meanwhile)?
                if os.stat(tmp, follow_symlinks=False).st_ino != st.st_ino:
                    continue
            except OSError:
                continue
            try:
                os.unlink(tmp)
            except OSError:
                pass
        finally:
            os.close(fd)


def _atomic_write(path: str, chunks) -> None:
    target, directory, base = _save_target(path)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)  # keep an existing file's permission bits
    except OSError:
        mode = None
    _remove_stale_temps(directory, base)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f".{base}.{os.getpid():x}-{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)  # mode honours the umask, like open()
        except FileExistsError:
            continue
        except OSError as e:  # e.g. a read-only directory or file system: name the target
            raise type(e)(e.errno, f"cannot save: cannot create a file in directory {directory!r} "
                                   f"({e.strerror or e})", path) from None
        if _fcntl is not None:
            _fcntl.flock(fd, _fcntl.LOCK_EX)  # released by the kernel if we die
            try:  # a cleaner may have taken our file in the instant before the lock
                same = os.stat(tmp, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
            except OSError:
                same = False
            if not same:
                os.close(fd)
                continue
        break
    try:
        if mode is not None:
            os.fchmod(fd, mode) if hasattr(os, "fchmod") else os.chmod(tmp, mode)
        with os.fdopen(os.dup(fd), "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    finally:
        os.close(fd)  # drops the lock
    if os.name == "posix":  # make the rename itself durable (best effort)
        try:
            dfd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:
            pass


def write_safetensors(path, arrays: Mapping, metadata: Mapping | None = None) -> None:
    """Atomically write ``arrays`` (name -> Tensor/numpy/cupy array) as safetensors.

    Tensors are laid out in the mapping's order.  ``metadata`` must map str -> str.
    Everything is validated before anything touches the disk.
    """
    path = os.fspath(path)
    if not isinstance(arrays, Mapping):
        hint = " (pass model.state_dict())" if hasattr(arrays, "state_dict") else ""
        raise TypeError(f"expected a mapping of name -> tensor, got {type(arrays).__name__}{hint}")
    header: dict = {}
    if metadata:
        for k, v in metadata.items():
            if type(k) is not str or type(v) is not str:
                raise TypeError(f"metadata must map str -> str, got {k!r}: {type(v).__name__}")
        header["__metadata__"] = dict(metadata)
    chunks, offset = [], 0
    for name, value in arrays.items():
        if type(name) is not str:
            raise TypeError(f"tensor names must be str, got {name!r}")
        if name == "__metadata__":
            raise ValueError("'__metadata__' is reserved and cannot be a tensor name")
        arr = _to_host(value, f"tensor {name!r}")
        st = _st_dtype(arr.dtype)
        if st is None:
            raise TypeError(
                f"tensor {name!r}: dtype {arr.dtype} is not supported (supported: {_SUPPORTED})"
            )
        shape = [int(d) for d in arr.shape]
        arr = arr.astype(_DTYPES[st], order="C", copy=False)  # contiguous little-endian
        nbytes = arr.nbytes
        header[name] = {"dtype": st, "shape": shape, "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
        if nbytes:
            chunks.append(memoryview(arr.reshape(-1).view(np.uint8)))
    head = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    head += b" " * (-len(head) % 8)  # align the data section to 8 bytes
    _atomic_write(path, [struct.pack("<Q", len(head)), head, *chunks])


def read_safetensors(path):
    """Read a safetensors file -> (dict name -> numpy array in file order, metadata).

    ``metadata`` is the ``__metadata__`` dict (str -> str), or ``{}``.
    Raises :class:`CheckpointError` for anything that is not a valid file.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < 8:
            raise _fail(path, f"file is {size} bytes, too short for the 8-byte header length")
        prefix = f.read(8)
        n = int.from_bytes(prefix, "little")
        if n > size - 8:
            raise _fail(path, f"header length {n} exceeds the {size - 8} bytes after it "
                              f"(file truncated or not safetensors){_sniff(prefix)}")
        if n > MAX_HEADER_SIZE:
            raise _fail(path, f"header length {n} exceeds the {MAX_HEADER_SIZE}-byte limit{_sniff(prefix)}")
        raw = f.read(n)
        if len(raw) != n:
            raise _fail(path, "file truncated while reading the header")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise _fail(path, f"header is not valid UTF-8 ({e.reason} at byte {8 + e.start}){_sniff(prefix)}") from None
        if not text.startswith("{"):
            raise _fail(path, f"header does not start with '{{'{_sniff(prefix)}")
        try:
            header = json.loads(text, object_pairs_hook=_no_duplicates)
        except (ValueError, RecursionError) as e:
            raise _fail(path, f"header is not valid JSON: {e}") from None
        if not isinstance(header, dict):
            raise _fail(path, "header is not a JSON object")

        metadata = header.pop("__metadata__", None)
        if metadata is None:
            metadata = {}
        elif not isinstance(metadata, dict) or not all(type(v) is str for v in metadata.values()):
            raise _fail(path, "'__metadata__' must be an object mapping str -> str")

        data_len = size - 8 - n
        entries = []
        for name, info in header.items():
            where = f"tensor {name!r}"
            if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
                raise _fail(path, f"{where}: entry must be an object with exactly the keys "
                                  "'dtype', 'shape', 'data_offsets'")
            dt_name, shape, offs = info["dtype"], info["shape"], info["data_offsets"]
            if type(dt_name) is not str or dt_name not in _DTYPES:
                raise _fail(path, f"{where}: unsupported dtype {dt_name!r} (supported: {_SUPPORTED})")
            if type(shape) is not list or not all(_is_count(d) for d in shape):
                raise _fail(path, f"{where}: shape must be a list of non-negative ints, got {shape!r}")
            if (type(offs) is not list or len(offs) != 2 or not all(_is_count(o) for o in offs)
                    or offs[0] > offs[1]):
                raise _fail(path, f"{where}: data_offsets must be [begin, end] with "
                                  f"0 <= begin <= end, got {offs!r}")
            dt = _DTYPES[dt_name]
            begin, end = offs
            expected = math.prod(shape) * dt.itemsize
            if end - begin != expected:
                raise _fail(path, f"{where}: data_offsets {offs} span {end - begin} bytes but "
                                  f"{dt_name} {shape} needs {expected}")
            if end > data_len:
                raise _fail(path, f"{where}: data_offsets {offs} extend past the end of the "
                                  f"{data_len}-byte data section (file truncated?)")
            entries.append((begin, end, name, dt, shape))

        entries.sort(key=lambda e: (e[0], e[1]))
        pos, prev = 0, None
        for begin, end, name, _, _ in entries:
            if begin < pos:
                raise _fail(path, f"tensor {name!r}: data_offsets overlap tensor {prev!r}")
            if begin > pos:
                raise _fail(path, f"tensor {name!r}: gap of {begin - pos} unused bytes before it")
            pos, prev = end, name
        if pos != data_len:
            raise _fail(path, f"data section is {data_len} bytes but the header accounts for "
                              f"{pos} ({data_len - pos} trailing bytes)")

        arrays = {}
        for begin, end, name, dt, shape in entries:
            try:
                arr = np.empty(shape, dtype=dt)
            except (ValueError, OverflowError, MemoryError) as e:
                raise _fail(path, f"tensor {name!r}: cannot allocate shape {shape}: {e}") from None
            buf = memoryview(arr.reshape(-1).view(np.uint8))
            got = 0
            while got < len(buf):
                k = f.readinto(buf[got:])
                if not k:
                    raise _fail(path, f"tensor {name!r}: file truncated while reading data")
                got += k
            if dt.kind == "b" and buf.nbytes and arr.view(np.uint8).max() > 1:
                raise _fail(path, f"tensor {name!r}: BOOL data contains bytes other than 0/1")
            if not dt.isnative:
                arr = arr.astype(dt.newbyteorder("="))
            arrays[name] = arr
    return arrays, metadata


def save(obj, path, metadata: Mapping | None = None) -> None:
    """Save a state_dict (name -> Tensor / numpy / cupy array) to ``path`` as safetensors.

    ``metadata`` (optional) is stored in the header as str -> str.  Atomic.
    A ``.pt`` / ``.pth`` / ``.bin`` path gets a warning: the file is safetensors, which PyTorch reads
    with ``safetensors.torch.load_file``, not ``torch.load``.
    """
    suffix = os.path.splitext(os.fspath(path))[1].lower() if isinstance(path, (str, os.PathLike)) else ""
    if suffix in (".pt", ".pth", ".bin"):
        warnings.warn(f"tl.save({os.fspath(path)!r}): the file is safetensors, not a PyTorch pickle; PyTorch reads it "
                      f"with safetensors.torch.load_file, not torch.load (name it .safetensors to say so)",
                      UserWarning, stacklevel=2)
    write_safetensors(path, obj, metadata)


def load(path, device=None, *, map_location=None, weights_only=True, **kwargs) -> dict:
    """Load a safetensors file -> ``{name: Tensor}`` in file order, on ``device`` (cpu).

    PyTorch's spellings are accepted: ``map_location`` (a device name) for ``device``, and
    ``weights_only`` (a tl file never holds anything but tensors, so it is weights only either way).
    """
    from .tensor import Tensor

    if kwargs:
        raise TypeError(f"load: unexpected keyword arguments {sorted(kwargs)}")
    if device is None and map_location is not None:
        if not isinstance(map_location, str):
            raise TypeError(f"load: map_location must be a device name such as 'cpu', got {type(map_location).__name__}")
        device = map_location
    dev = _backend.canonical_device(device)
    arrays, _ = read_safetensors(path)
    return {name: _make_tensor(Tensor, arr, dev) for name, arr in arrays.items()}


def _make_tensor(Tensor, arr, device, requires_grad=False):
    return Tensor._wrap(arr, requires_grad=requires_grad, device=device, dtype=arr.dtype)   # (arr is ours: no copy)


# --------------------------------------------------------------------------- trees

_SCALARS = (str, int, float, bool, type(None))


def flatten_tree(tree, prefix: str = ""):
    """Encode a nested structure as ``(spec, arrays)``, pickle-free and exact.

    ``arrays`` maps generated names (the dotted path below ``prefix``, e.g.
    ``optimizer.state.0.exp_avg``) to host numpy arrays; ``spec`` is JSON-able and
    references them by name.  Supported: dict / OrderedDict (str, int, float, bool or
    None keys), list, tuple, str / int / float (incl. nan/inf) / bool / None, numpy
    scalars, and numpy arrays, cupy arrays and Tensors as array leaves.
    :func:`unflatten_tree` restores the same types and values.
    """
    arrays: dict = {}
    T = _tensor_type()

    def name_for(parts):
        base = ".".join(parts) or "value"
        name, i = base, 0
        while name in arrays:
            i += 1
            name = f"{base}~{i}"
        return name

    def enc(obj, parts):
        where = ".".join(parts) or "<root>"
        tp = type(obj)
        if tp in _SCALARS:
            return obj
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                if type(k) not in _SCALARS:
                    raise TypeError(f"{where}: dict key {k!r} of type {type(k).__name__} is not "
                                    "supported (use str, int, float, bool or None)")
                items.append([k, enc(v, parts + [str(k)])])
            return {"t": "odict" if isinstance(obj, OrderedDict) else "dict", "items": items}
        if isinstance(obj, (list, tuple)):
            return {"t": "tuple" if isinstance(obj, tuple) else "list",
                    "items": [enc(v, parts + [str(i)]) for i, v in enumerate(obj)]}
        if isinstance(obj, np.generic) and obj.dtype.kind in "biuf":
            return {"t": "scalar", "dtype": obj.dtype.name, "value": obj.item()}
        if T is not None and isinstance(obj, T):
            node = {"t": "tensor", "requires_grad": bool(getattr(obj, "requires_grad", False)),
                    "device": str(getattr(obj, "device", "cpu"))}
        elif isinstance(obj, np.ndarray):
            node = {"t": "ndarray"}
        elif _is_cupy(obj):
            node = {"t": "cupy"}
        else:
            raise TypeError(f"{where}: cannot store a {tp.__name__} (supported: dict, list, tuple, "
                            "str, int, float, bool, None, numpy scalars, arrays and Tensors; no pickle)")
        arr = _to_host(obj, where)
        if _st_dtype(arr.dtype) is None:
            if arr.dtype.name not in _VIEW_AS:
                raise TypeError(f"{where}: array dtype {arr.dtype} is not supported "
                                f"(supported: {_SUPPORTED}, uint16/32/64)")
            node["dtype"] = arr.dtype.name
            arr = np.ascontiguousarray(arr).view(_VIEW_AS[arr.dtype.name]).reshape(arr.shape)
        node["key"] = name = name_for(parts)
        arrays[name] = arr
        return node

    parts = [prefix] if prefix else []
    return enc(tree, parts), arrays


def unflatten_tree(spec, arrays: Mapping, device=None, _used: set | None = None):
    """Inverse of :func:`flatten_tree`.

    With ``device=None`` array leaves come back as they were saved (numpy, cupy, or a
    Tensor on its original device); with a device ("cpu"/"gpu") numpy/cupy leaves are
    placed on it and Tensors are created on it.  Malformed input raises
    :class:`CheckpointError`.
    """
    dev = None if device is None else _backend.canonical_device(device)
    used = set() if _used is None else _used

    def bad(msg):
        return CheckpointError(f"malformed structure spec: {msg}")

    def dec(node, where):
        if type(node) in _SCALARS:
            return node
        if not isinstance(node, dict) or type(node.get("t")) is not str:
            raise bad(f"{where}: unexpected node {str(node)[:80]!r}")
        t = node["t"]
        if t in ("dict", "odict", "list", "tuple"):
            items = node.get("items")
            if type(items) is not list:
                raise bad(f"{where}: {t} node without an 'items' list")
            if t in ("list", "tuple"):
                out = [dec(v, f"{where}.{i}") for i, v in enumerate(items)]
                return tuple(out) if t == "tuple" else out
            out = OrderedDict() if t == "odict" else {}
            for item in items:
                if type(item) is not list or len(item) != 2 or type(item[0]) not in _SCALARS:
                    raise bad(f"{where}: bad dict item {str(item)[:80]!r}")
                out[item[0]] = dec(item[1], f"{where}.{item[0]}")
            return out
        if t == "scalar":
            dtype, value = node.get("dtype"), node.get("value")
            try:
                dt = np.dtype(dtype)
                if dt.kind not in "biuf" or type(value) not in (bool, int, float):
                    raise TypeError
                return dt.type(value)
            except (TypeError, ValueError, OverflowError):
                raise bad(f"{where}: bad numpy scalar {dtype!r} {value!r}") from None
        if t in ("ndarray", "cupy", "tensor"):
            key = node.get("key")
            if type(key) is not str or key not in arrays:
                raise bad(f"{where}: references missing tensor {key!r}")
            used.add(key)
            arr = arrays[key]
            if "dtype" in node:
                view = node["dtype"]
                if view not in _VIEW_AS or np.dtype(_VIEW_AS[view]) != arr.dtype:
                    raise bad(f"{where}: cannot view tensor {key!r} ({arr.dtype}) as {view!r}")
                arr = arr.view(view)
            if t == "tensor":
                from .tensor import Tensor

                rg = node.get("requires_grad", False)
                return _make_tensor(Tensor, arr, dev or node.get("device", "cpu"), bool(rg))
            target = dev or ("gpu" if t == "cupy" else None)
            return arr if target in (None, "cpu") else _backend.to_device(arr, target)
        raise bad(f"{where}: unknown node type {t!r}")

    return dec(spec, "<root>")


# --------------------------------------------------------------------------- checkpoints


def save_checkpoint(path, model=None, optimizer=None, epoch=None, rng=True, **extra) -> None:
    """Atomically write a training checkpoint (one safetensors file).

    Stores ``model.state_dict()`` (tensors ``model.<name>``), ``optimizer.state_dict()``
    (array leaves as tensors ``optimizer.<path>``, everything else as JSON in the
    header metadata), ``epoch``, the RNG state of every device in use (``rng=True``),
    and ``extra`` keyword values (any nesting of JSON-able values and arrays).
    """
    sections = {}
    if model is not None:
        sections["model"] = model.state_dict()
    if optimizer is not None:
        sections["optimizer"] = optimizer.state_dict()
    if rng:
        sections["rng"] = _backend.get_rng_state()
    sections["epoch"] = epoch
    sections["extra"] = extra

    spec, arrays = {}, {}
    for name, value in sections.items():
        spec[name], section_arrays = flatten_tree(value, name)
        arrays.update(section_arrays)  # prefixes differ, so names cannot collide
    blob = json.dumps({"version": _CKPT_VERSION, "sections": spec}, separators=(",", ":"))
    metadata = {"format": _CKPT_FORMAT, _CKPT_FORMAT: blob}
    if epoch is not None and type(epoch) in (int, float, str):
        metadata["epoch"] = str(epoch)  # for humans / other tools only
    write_safetensors(path, arrays, metadata)


def _model_device(model):
    try:
        for v in model.state_dict().values():
            dev = getattr(v, "device", None)
            if isinstance(dev, str):
                return _backend.canonical_device(dev)
    except Exception:
        pass
    return "cpu"


def _is_real(x) -> bool:
    return type(x) in (int, float) or (isinstance(x, np.generic) and x.dtype.kind in "iuf")


def _check_epoch_and_history(epoch, extra, field_error):
    """epoch: None or an int >= 0; extra["history"] (fit()'s rows), when present: a list of
    dicts whose standard fields (fit()'s) have the right types."""
    if epoch is not None and (type(epoch) is not int or epoch < 0):
        raise field_error("epoch", f"expected None or an integer >= 0, got {epoch!r}")
    history = extra.get("history")
    if history is None:
        return
    if not isinstance(history, list):
        raise field_error("history", f"expected a list of per-epoch rows, got {type(history).__name__}")
    for i, row in enumerate(history):
        if not isinstance(row, dict):
            raise field_error(f"history[{i}]", f"expected a dict, got {type(row).__name__}")
        for key in ("epoch", "steps"):
            if key in row and (type(row[key]) is not int or row[key] < 0):
                raise field_error(f"history[{i}].{key}", f"expected an integer >= 0, got {row[key]!r}")
        for key in ("train_loss", "train_acc", "test_loss", "test_acc", "seconds"):
            if key in row and row[key] is not None and not _is_real(row[key]):
                raise field_error(f"history[{i}].{key}", f"expected a number, got {row[key]!r}")


def _check_model_state(state, model, field_error):
    """The model section maps names to arrays; with a tinygrad_lite Module, its keys, shapes and
    dtypes must be the model's (what load_state_dict would refuse, found before anything loads)."""
    if not isinstance(state, Mapping):
        raise field_error("model", f"expected a dict of name -> tensor, got {type(state).__name__}")
    for k, v in state.items():
        if not (hasattr(v, "shape") and hasattr(v, "dtype")):
            raise field_error(f"model.{k}", f"expected a tensor, got {type(v).__name__}")
    items = getattr(model, "_state_items", None) if model is not None else None
    if items is None:
        return  # a stand-in with its own load_state_dict: it does its own checks
    own = dict(items())  # parameters and persistent buffers, as load_state_dict sees them
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        raise field_error("model", f"does not fit {type(model).__name__}: missing keys {missing}, "
                                   f"unexpected keys {unexpected}")
    for k, p in own.items():
        v = state[k]
        if tuple(v.shape) != tuple(p.shape):
            raise field_error(f"model.{k}", f"has shape {tuple(v.shape)} in the file, {tuple(p.shape)} in the model")
        if np.dtype(v.dtype) != np.dtype(p.dtype):
            raise field_error(f"model.{k}", f"has dtype {v.dtype} in the file, {p.dtype} in the model")


def load_checkpoint(path, model=None, optimizer=None, device=None, rng=True) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` and restore state.

    The whole file is validated before anything is applied: the model's tensors (keys,
    shapes, dtypes against ``model``), the optimizer's state (layout, keys, shapes,
    dtypes, finite values; hyperparameters finite and in range), the RNG state, and the
    epoch and ``history``.  A problem raises :class:`CheckpointError` naming the file and
    the field, and leaves ``model``, ``optimizer`` and the global RNG as they were.  Then
    ``model`` and ``optimizer`` are restored via their ``load_state_dict`` and the RNG
    state when stored and ``rng``.
    Tensors and arrays are placed on ``device`` (default: the model's device, else
    cpu).  Returns ``{"epoch", "extra", "model_state", "optimizer_state", "rng_state",
    "metadata"}`` (absent pieces are ``None``).
    """
    path = os.fspath(path)
    arrays, metadata = read_safetensors(path)
    if metadata.get("format") != _CKPT_FORMAT or _CKPT_FORMAT not in metadata:
        raise CheckpointError(f"{path!r} is a safetensors file but not a tinygrad_lite checkpoint "
                              "(no checkpoint metadata); use tl.load() for plain state_dicts")
    try:
        blob = json.loads(metadata[_CKPT_FORMAT])
    except (ValueError, RecursionError) as e:
        raise CheckpointError(f"{path!r}: checkpoint metadata is not valid JSON: {e}") from None
    if not isinstance(blob, dict) or not isinstance(blob.get("sections"), dict):
        raise CheckpointError(f"{path!r}: checkpoint metadata has no 'sections' object")
    version = blob.get("version")
    if type(version) is not int or version > _CKPT_VERSION:
        raise CheckpointError(f"{path!r}: checkpoint format version {version!r} is not supported "
                              f"(this tinygrad_lite reads up to {_CKPT_VERSION})")
    spec = blob["sections"]
    unknown = set(spec) - {"model", "optimizer", "rng", "epoch", "extra"}
    if unknown:
        raise CheckpointError(f"{path!r}: unknown checkpoint sections {sorted(unknown)}")

    dev = _backend.canonical_device(device) if device is not None else (
        _model_device(model) if model is not None else "cpu")
    used: set = set()
    out = {}
    try:
        for name in ("model", "optimizer", "rng", "epoch", "extra"):
            if name in spec:
                # RNG state is restored exactly as saved (host arrays stay host arrays)
                out[name] = unflatten_tree(spec[name], arrays, None if name == "rng" else dev, used)
            else:
                out[name] = None
    except CheckpointError as e:
        raise CheckpointError(f"{path!r}: {e}") from None
    unused = [k for k in arrays if k not in used]
    if unused:
        raise CheckpointError(f"{path!r}: tensors not referenced by the checkpoint metadata: "
                              f"{unused[:5]}{' ...' if len(unused) > 5 else ''}")
    extra = out["extra"] if out["extra"] is not None else {}
    if not isinstance(extra, dict):
        raise CheckpointError(f"{path!r}: checkpoint 'extra' section is not a dict")

    # validate everything first: on any error the model, optimizer and global RNG stay as they were
    def field_error(field, e):
        return CheckpointError(f"{path!r}: {field}: {e}")

    if model is not None and out["model"] is None:
        raise CheckpointError(f"{path!r}: checkpoint contains no model state")
    if optimizer is not None and out["optimizer"] is None:
        raise CheckpointError(f"{path!r}: checkpoint contains no optimizer state")
    _check_epoch_and_history(out["epoch"], extra, field_error)
    if out["model"] is not None:
        _check_model_state(out["model"], model, field_error)
    if optimizer is not None and hasattr(optimizer, "_validate_state_dict"):
        try:
            optimizer._validate_state_dict(out["optimizer"])
        except (ValueError, TypeError, KeyError) as e:
            msg = str(e) if str(e).startswith("optimizer") else f"optimizer: {e}"
            raise CheckpointError(f"{path!r}: {msg}") from None
    if out["rng"] is not None:
        try:
            _backend.validate_rng_state(out["rng"])
        except ValueError as e:
            raise CheckpointError(f"{path!r}: {e}") from None

    if model is not None:
        model.load_state_dict(out["model"])
    if optimizer is not None:
        optimizer.load_state_dict(out["optimizer"])
    if rng and out["rng"] is not None:
        _backend.set_rng_state(out["rng"])

    other_meta = {k: v for k, v in metadata.items() if k not in ("format", _CKPT_FORMAT)}
    return {
        "epoch": out["epoch"],
        "extra": extra,
        "model_state": out["model"],
        "optimizer_state": out["optimizer"],
        "rng_state": out["rng"],
        "metadata": other_meta,
    }
