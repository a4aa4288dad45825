"""tl.distributed: data-parallel training across processes, over MPI (mpi4py) on the CPU and NCCL (CuPy) on GPUs.

The way ChainerMN did it for Chainer: start N copies of the script with `mpiexec -n N python train.py`;
each process (a *rank*) holds a replica of the model, trains on its shard of every batch, and the
gradients are all-reduced (summed, then divided by N) before each optimizer step, so the replicas stay
identical.

    import tinygrad_lite as tl
    dist = tl.distributed
    dist.init()                                            # MPI under mpiexec, else one process
    model = dist.DistributedDataParallel(build_model())    # rank 0's weights on every rank
    sampler = tl.data.DistributedSampler(dataset)          # this rank's shard of each epoch
    loader = tl.data.DataLoader(dataset, batch_size=64 // dist.world_size(), sampler=sampler)

Without mpiexec (or without mpi4py) everything works in one process: world size 1, collectives
are no-ops. mpi4py is imported only under mpiexec, never by `import tinygrad_lite`. Install it with
the `mpi` extra: `pip install -e ".[mpi]"` (mpi4py and the MPICH wheel).

Collectives on CPU arrays go through mpi4py's buffer interface (the uppercase methods: no
pickling); GPU arrays go through NCCL (`cupy.cuda.nccl`), the communicator's unique id broadcast
over MPI, all-reducing device memory in place without host copies. Each public collective first
exchanges the (shape, dtype, device) of its argument, so a mismatch between ranks raises the same
clear error on every rank instead of hanging or corrupting memory.

An uncaught exception on any rank aborts the whole job (`MPI.COMM_WORLD.Abort`) after printing that
rank's traceback, so no other rank waits forever in a collective.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import weakref

import numpy as np

from . import backend
from .backend import DeviceError
from .function import is_grad_enabled
from .nn.modules import Module
from .tensor import Tensor, _post_backward_hooks

__all__ = ["init", "is_initialized", "rank", "world_size", "local_rank", "is_main", "barrier", "all_reduce",
           "broadcast", "all_gather", "ReduceOp", "DistributedDataParallel", "DistributedError",
           "get_rank", "get_world_size", "save_checkpoint", "load_checkpoint", "rng_states"]

MPI_EXTRA = 'pip install -e ".[mpi]"  (or: pip install mpi4py mpich)'
# Environment variables that MPI launchers set in the processes they start (MPICH/Hydra, Open MPI, PMIx, Slurm's PMI).
_LAUNCHER_VARS = ("PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK",
                  "MPI_LOCALNRANKS", "MV2_COMM_WORLD_SIZE")


class DistributedError(RuntimeError):
    """Ranks that disagree (shapes, dtypes, devices, models), or a missing MPI."""


class ReduceOp:
    """PyTorch's names for the reductions: all_reduce(t, op=ReduceOp.SUM) is all_reduce(t, op="sum")."""
    SUM, AVG, MAX, MIN = "sum", "mean", "max", "min"


_OPS = ("sum", "mean", "max", "min")


class _World:
    """The process group: an MPI communicator (or None for one process) and, lazily, a NCCL one."""

    def __init__(self, comm, mpi):
        self.comm, self.MPI = comm, mpi
        self.rank = comm.Get_rank() if comm is not None else 0
        self.size = comm.Get_size() if comm is not None else 1
        self.local_rank = 0
        self.nccl = None
        if comm is not None:
            node = comm.Split_type(mpi.COMM_TYPE_SHARED, key=self.rank)
            self.local_rank = node.Get_rank()
            node.Free()


_world: _World | None = None


def _launched_by_mpi() -> bool:
    return any(v in os.environ for v in _LAUNCHER_VARS)


def _import_mpi(why):
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise DistributedError(f"tl.distributed: {why}, but mpi4py cannot be imported ({e}); install the mpi "
                               f"extra: {MPI_EXTRA}") from None
    return MPI


def init(backend_name: str = "auto"):
    """Join the job and return its world size. Idempotent; every other function calls it on first use.

    backend_name: "auto" (MPI when this process was started by mpiexec/mpirun/srun, else one process),
    "mpi" (always MPI; mpi4py must be installed) or "none" (one process even under mpiexec).
    Under MPI, an uncaught exception on any rank aborts the whole job (see module docstring), and on a
    machine with GPUs each rank uses GPU `local_rank % device_count` (as ChainerMN's intra-rank device).
    """
    global _world
    if _world is not None:
        return _world.size
    if backend_name not in ("auto", "mpi", "none"):
        raise ValueError(f"tl.distributed.init: backend_name must be 'auto', 'mpi' or 'none', got {backend_name!r}")
    if backend_name == "none" or (backend_name == "auto" and not _launched_by_mpi()):
        _world = _World(None, None)
        return 1
    launcher = {v: os.environ[v] for v in _LAUNCHER_VARS if v in os.environ}
    why = (f"this process was started by an MPI launcher ({', '.join(f'{k}={v}' for k, v in launcher.items())})"
           if launcher else "backend 'mpi' was asked for")
    MPI = _import_mpi(why)
    _world = _World(MPI.COMM_WORLD, MPI)
    if _world.size > 1:
        _install_abort_hook(_world)
        _pick_gpu(_world)
    return _world.size


def _pick_gpu(w):
    """One GPU per rank on a node (only where CuPy is installed; it is not imported otherwise)."""
    import importlib.util
    if importlib.util.find_spec("cupy") is None:
        return
    cp = backend._load_cupy()
    if cp is not None:
        cp.cuda.Device(w.local_rank % cp.cuda.runtime.getDeviceCount()).use()


def _install_abort_hook(w):
    """ChainerMN's fail-fast: print this rank's traceback, then abort every rank (exit status 1)."""
    previous = sys.excepthook

    def abort_on_error(kind, value, tb):
        try:      # the error itself on the first line: mpiexec may drop the rest of the output when it aborts
            sys.stderr.write(f"tl.distributed: rank {w.rank} of {w.size} raised {kind.__name__}: {value}; "
                             f"aborting all ranks (MPI.COMM_WORLD.Abort)\n")
            sys.stderr.flush()
            previous(kind, value, tb)
            sys.stderr.flush()
            sys.stdout.flush()
            time.sleep(0.2)   # let the launcher forward this rank's output before the abort kills it
        finally:
            w.MPI.COMM_WORLD.Abort(1)

    sys.excepthook = abort_on_error


def _w() -> _World:
    if _world is None:
        init()
    return _world


def is_initialized() -> bool:
    return _world is not None


def rank() -> int:
    """This process's rank, 0 .. world_size() - 1 (0 in a single process)."""
    return _w().rank


def world_size() -> int:
    """The number of processes in the job (1 without mpiexec)."""
    return _w().size


def local_rank() -> int:
    """This process's rank among those on the same machine (its GPU index)."""
    return _w().local_rank


def is_main() -> bool:
    """True on rank 0: the rank that prints, plots and writes checkpoints."""
    return _w().rank == 0


get_rank, get_world_size = rank, world_size     # PyTorch's names


def barrier():
    """Wait until every rank gets here."""
    w = _w()
    if w.comm is not None:
        w.comm.Barrier()


# ---------------------------------------------------------------- collectives
def _array_of(x, name):
    arr = x.data if isinstance(x, Tensor) else x
    if not backend.is_array(arr):
        raise TypeError(f"tl.distributed.{name}: expected a Tensor or an array, got {type(x).__name__}")
    return arr


def _counts(w, n):
    """Every rank's count n, in rank order (MPI's buffer interface: no pickle)."""
    counts = np.empty(w.size, dtype=np.int64)
    w.comm.Allgather(np.array([n], dtype=np.int64), counts)
    return counts


def _json_array(a):
    if isinstance(a, np.ndarray):
        return {"__ndarray__": [a.dtype.str, list(a.shape), np.ascontiguousarray(a).tobytes().hex()]}
    raise TypeError(f"tl.distributed: cannot exchange a {type(a).__name__}")


def _json_hook(d):
    if "__ndarray__" in d:
        dtype, shape, data = d["__ndarray__"]
        return np.frombuffer(bytes.fromhex(data), dtype=np.dtype(dtype)).reshape(shape).copy()
    return d


def _allgather_json(w, value):
    """Every rank's value (JSON data, NumPy arrays inside allowed), in rank order, on every rank. Sent as JSON
    bytes through MPI's buffer interface: mpi4py's lowercase collectives would pickle, and nothing a rank
    receives is ever unpickled. Tuples come back as lists."""
    data = np.frombuffer(json.dumps(value, default=_json_array).encode(), dtype=np.uint8)
    counts = _counts(w, data.size)
    out = np.empty(int(counts.sum()), dtype=np.uint8)
    w.comm.Allgatherv(data, [out, counts, np.concatenate([[0], np.cumsum(counts)[:-1]]), w.MPI.BYTE])
    ends = np.cumsum(counts)
    return [json.loads(out[e - c:e].tobytes(), object_hook=_json_hook) for c, e in zip(counts, ends)]


def _agree(w, name, arr):
    """Exchange (shape, dtype, device) and raise the same clear error on every rank when they differ."""
    mine = [list(arr.shape), np.dtype(arr.dtype).str, backend.device_of(arr)]
    everyone = _allgather_json(w, mine)         # a few bytes of metadata
    if all(e == mine for e in everyone):
        return
    listing = "; ".join(f"rank {r}: shape {tuple(e[0])}, dtype {np.dtype(e[1])}, device {e[2]}"
                        for r, e in enumerate(everyone))
    if len({e[2] for e in everyone}) > 1:
        raise DeviceError(f"tl.distributed.{name}: the ranks hold their tensors on different devices ({listing}); "
                          "every rank must use the same device")
    raise DistributedError(f"tl.distributed.{name}: the tensor differs between ranks ({listing}); "
                           "every rank must pass the same shape and dtype")


def _mpi_op(w, op, name):
    if op not in _OPS:
        raise ValueError(f"tl.distributed.{name}: op must be one of {', '.join(map(repr, _OPS))}, got {op!r}")
    return {"sum": w.MPI.SUM, "mean": w.MPI.SUM, "max": w.MPI.MAX, "min": w.MPI.MIN}[op]


def _contiguous(arr):
    return arr if arr.flags.c_contiguous else backend.xp_of(arr).ascontiguousarray(arr)


def _in_place(arr, on_gpu, on_cpu):
    """Run the collective for arr's device (`on_gpu(buf)` through NCCL, `on_cpu(buf)` through MPI) on a
    C-contiguous buffer of arr (arr itself when it is one); copy the result back when the buffer was a copy."""
    buf = _contiguous(arr)
    (on_gpu if backend.device_of(arr) == "gpu" else on_cpu)(buf)
    if buf is not arr:
        arr[...] = buf


def all_reduce(tensor, op: str = "sum", check: bool = True):
    """Reduce `tensor` (a Tensor or array) over all ranks, in place, and return it.

    op: "sum", "mean" (the sum divided by world_size; floating dtypes only), "max" or "min"
    (tl.distributed.ReduceOp names them as PyTorch does). check=False skips the exchange of
    shapes/dtypes/devices that guards against mismatched ranks (one small message).
    """
    w = _w()
    arr = _array_of(tensor, "all_reduce")
    if op not in _OPS:
        raise ValueError(f"tl.distributed.all_reduce: op must be one of {', '.join(map(repr, _OPS))}, got {op!r}")
    if op == "mean" and np.dtype(arr.dtype).kind not in "fc":
        raise TypeError(f"tl.distributed.all_reduce: op='mean' needs a floating dtype, got {arr.dtype}; "
                        "use op='sum' and divide")
    if w.comm is None:
        return tensor
    if check:
        _agree(w, "all_reduce", arr)
    _in_place(arr, lambda buf: _nccl(w).all_reduce(buf, op),
              lambda buf: w.comm.Allreduce(w.MPI.IN_PLACE, buf, op=_mpi_op(w, op, "all_reduce")))
    if op == "mean":
        arr /= w.size
    return tensor


def broadcast(tensor, src: int = 0, check: bool = True):
    """Overwrite `tensor` (a Tensor or array) on every rank with rank `src`'s values, in place; returns it."""
    w = _w()
    arr = _array_of(tensor, "broadcast")
    if not 0 <= src < w.size:
        raise ValueError(f"tl.distributed.broadcast: src {src} is not a rank of this world of {w.size}")
    if w.comm is None:
        return tensor
    if check:
        _agree(w, "broadcast", arr)
    _in_place(arr, lambda buf: _nccl(w).broadcast(buf, src), lambda buf: w.comm.Bcast(buf, root=src))
    return tensor


def all_gather(*args, check: bool = True):
    """Every rank's `tensor`, in rank order, on every rank.

    all_gather(tensor) returns a list of world_size Tensors (arrays for an array argument);
    all_gather(tensor_list, tensor) fills `tensor_list` in place, as PyTorch's does. The tensors must
    have the same shape and dtype on every rank.
    """
    if len(args) == 1:
        out_list, tensor = None, args[0]
    elif len(args) == 2:
        out_list, tensor = args
    else:
        raise TypeError("tl.distributed.all_gather(tensor) or all_gather(tensor_list, tensor)")
    w = _w()
    arr = _array_of(tensor, "all_gather")
    if w.comm is not None and check:
        _agree(w, "all_gather", arr)
    xp = backend.xp_of(arr)
    gathered = xp.empty((w.size,) + tuple(arr.shape), dtype=arr.dtype)
    if w.comm is None:
        gathered[0] = arr
    elif backend.device_of(arr) == "gpu":
        _nccl(w).all_gather(_contiguous(arr), gathered)
    else:
        w.comm.Allgather(_contiguous(arr), gathered)
    parts = [gathered[r] for r in range(w.size)]
    if isinstance(tensor, Tensor):
        parts = [Tensor._make(p, False, None) for p in parts]
    if out_list is None:
        return parts
    if len(out_list) != w.size:
        raise ValueError(f"tl.distributed.all_gather: tensor_list has {len(out_list)} entries for {w.size} ranks")
    for dst, src in zip(out_list, parts):
        _array_of(dst, "all_gather")[...] = _array_of(src, "all_gather")
    return out_list


def _all_gather_v(w, arr):
    """Concatenate every rank's 1-D CPU array of any length, in rank order (for evaluate's predictions)."""
    counts = _counts(w, int(arr.size))
    out = np.empty(int(counts.sum()), dtype=arr.dtype)
    displs = np.concatenate([[0], np.cumsum(counts)[:-1]])
    from mpi4py.util.dtlib import from_numpy_dtype
    w.comm.Allgatherv(np.ascontiguousarray(arr), [out, counts, displs, from_numpy_dtype(arr.dtype)])
    return out


# ---------------------------------------------------------------- NCCL (GPU)
class _Nccl:
    """A NCCL communicator over the MPI world: rank 0 draws the unique id, MPI broadcasts it (ChainerMN's way)."""

    def __init__(self, w):
        try:
            from cupy.cuda import nccl
        except ImportError as e:
            raise DistributedError(f"tl.distributed: GPU tensors are reduced with NCCL, which this CuPy lacks ({e}); "
                                   "install a CuPy wheel built with NCCL (cupy-cuda12x ships it)") from None
        if not getattr(nccl, "available", True):
            raise DistributedError("tl.distributed: GPU tensors are reduced with NCCL, which this CuPy lacks; "
                                   "install a CuPy wheel built with NCCL (cupy-cuda12x ships it)")
        self.nccl, self.cp = nccl, backend.cupy_module()
        uid = np.zeros(128, dtype=np.int8)              # NCCL_UNIQUE_ID_BYTES
        if w.rank == 0:
            uid[:] = np.array(nccl.get_unique_id(), dtype=np.int64).astype(np.int8)
        w.comm.Bcast(uid, root=0)
        self.comm = nccl.NcclCommunicator(w.size, tuple(int(v) for v in uid), w.rank)
        self.size = w.size
        self.types = {np.dtype(k): getattr(nccl, v) for k, v in (
            ("float16", "NCCL_FLOAT16"), ("float32", "NCCL_FLOAT32"), ("float64", "NCCL_FLOAT64"),
            ("int32", "NCCL_INT32"), ("int64", "NCCL_INT64"), ("uint8", "NCCL_UINT8"), ("int8", "NCCL_INT8"))
            if hasattr(nccl, v)}
        self.ops = {"sum": nccl.NCCL_SUM, "mean": nccl.NCCL_SUM, "max": nccl.NCCL_MAX, "min": nccl.NCCL_MIN}

    def _type(self, arr, name):
        t = self.types.get(np.dtype(arr.dtype))
        if t is None:
            raise TypeError(f"tl.distributed.{name}: NCCL cannot reduce dtype {arr.dtype} "
                            f"(supported: {', '.join(str(d) for d in self.types)})")
        return t

    def _stream(self):
        return self.cp.cuda.get_current_stream().ptr

    def all_reduce(self, buf, op):
        """In place on a C-contiguous device array ("mean" is summed here; the caller divides)."""
        self.comm.allReduce(buf.data.ptr, buf.data.ptr, buf.size, self._type(buf, "all_reduce"), self.ops[op],
                            self._stream())

    def broadcast(self, buf, src):
        """In place on a C-contiguous device array."""
        self.comm.bcast(buf.data.ptr, buf.size, self._type(buf, "broadcast"), src, self._stream())

    def all_gather(self, arr, out):
        self.comm.allGather(arr.data.ptr, out.data.ptr, arr.size, self._type(arr, "all_gather"), self._stream())


def _nccl(w):
    if w.nccl is None:
        w.nccl = _Nccl(w)
    return w.nccl


# ---------------------------------------------------------------- data parallelism
def _run_hook(ref):
    ddp = ref()
    if ddp is not None:
        ddp._after_backward()


class DistributedDataParallel(Module):
    """PyTorch's DistributedDataParallel: a replica of `module` per rank, gradients averaged over the ranks.

    At construction every rank checks that the replicas agree (names, shapes, dtypes, devices of the
    parameters and buffers) and takes rank 0's parameters and buffers; with `broadcast_buffers` (the
    default, as in PyTorch) rank 0's buffers (e.g. BatchNorm's running statistics) are broadcast again
    before each training forward. After each backward() that follows a forward through
    this wrapper, the gradients are summed over the ranks in flat buckets (`bucket_cap_mb` each: a few
    large messages, not one per parameter) and divided by the world size, so every rank's optimizer
    takes the same step. A parameter with no gradient on any rank keeps `grad=None`.

        model = tl.distributed.DistributedDataParallel(net)
        opt = tl.optim.Adam(model.parameters())
        loss = F.cross_entropy(model(xb), yb); opt.zero_grad(); loss.backward(); opt.step()

    `no_sync()` skips the reduction for gradient accumulation: backward passes of forwards run inside
    it only accumulate locally; the first backward after it reduces the accumulated sum. The wrapper's
    state_dict keys start with "module." as in PyTorch; `.module` is the wrapped model.
    `comm_seconds` and `reductions` count the time spent in (and number of) gradient reductions;
    `allreduce_seconds` the part of it inside the collectives (the rest copies into and out of the buckets).
    """

    def __init__(self, module, bucket_cap_mb: float = 25.0, broadcast_buffers: bool = True):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected a tl.nn.Module, got {type(module).__name__}")
        self.module = module
        init()
        w = _world
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        devices = sorted({backend.device_of(p.data) for _, p in named})
        if len(devices) > 1:
            raise DeviceError(f"DistributedDataParallel: the model's parameters are on several devices "
                              f"({' and '.join(devices)}); move it to one with model.to(device)")
        object.__setattr__(self, "_params", [p for _, p in named])
        object.__setattr__(self, "_sync", True)
        object.__setattr__(self, "_pending", False)
        object.__setattr__(self, "comm_seconds", 0.0)
        object.__setattr__(self, "allreduce_seconds", 0.0)
        object.__setattr__(self, "reductions", 0)
        object.__setattr__(self, "_broadcast_buffers", bool(broadcast_buffers) and bool(_buffers_of(module)))
        if w.comm is not None:
            layout = [[n, list(p.data.shape), p.data.dtype.str, backend.device_of(p.data)]
                      for n, p in list(module.named_parameters()) + list(_named_buffers(module))]
            everyone = _allgather_json(w, layout)
            for r, other in enumerate(everyone):
                if other != layout:
                    k = next(i for i in range(max(len(other), len(layout)))
                             if i >= min(len(other), len(layout)) or other[i] != layout[i])
                    there, here = (f"({e[k][0]!r}, {tuple(e[k][1])}, {e[k][2]!r}, {e[k][3]!r})" if k < len(e)
                                   else "no such parameter" for e in (other, layout))
                    raise DistributedError(
                        f"DistributedDataParallel: rank {r}'s model differs from rank {w.rank}'s at parameter "
                        f"{k}: {there} there, {here} here (name, shape, dtype, device); build the same model "
                        "on every rank")
            for t in [p for _, p in module.named_parameters()] + _buffers_of(module):
                broadcast(t, 0, check=False)          # rank 0's weights and buffers everywhere
        object.__setattr__(self, "_buckets", _plan_buckets(self._params, bucket_cap_mb))
        hook = _tensor_hook(weakref.ref(self))
        _post_backward_hooks.append(hook)
        weakref.finalize(self, _remove_hook, hook)

    def forward(self, *args, **kwargs):
        if self._sync and is_grad_enabled():
            object.__setattr__(self, "_pending", True)    # the next backward reduces the gradients
            if self._broadcast_buffers and self.training and _world.comm is not None:
                for b in _buffers_of(self.module):        # PyTorch's broadcast_buffers: rank 0's running stats
                    broadcast(b, 0, check=False)
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Accumulate gradients locally: backward passes of forwards run inside do not communicate."""
        old = self._sync
        object.__setattr__(self, "_sync", False)
        try:
            yield
        finally:
            object.__setattr__(self, "_sync", old)

    def _after_backward(self):
        if self._pending:
            object.__setattr__(self, "_pending", False)
            self.reduce_gradients()

    def reduce_gradients(self):
        """Average every parameter's .grad over the ranks now (done for you after backward)."""
        w = _w()
        if w.comm is None:
            return
        t0 = time.perf_counter()
        params = self._params
        k = len(params)
        codes = np.fromiter((_layout(p.grad) for p in params), dtype=np.int8, count=k)
        both = np.concatenate([codes, -codes])
        t1 = time.perf_counter()
        w.comm.Allreduce(w.MPI.IN_PLACE, both, op=w.MPI.MAX)   # every rank's max and min layout code
        collective = time.perf_counter() - t1
        have = both[:k] > 0                                     # a parameter with a grad on any rank
        by_column = (both[:k] == 2) & (-both[k:] == 2)         # every rank holds it column-major
        flats = self.__dict__.setdefault("_flats", {})
        for b, (idx, device, dtype, total) in enumerate(self._buckets):
            xp, flat = backend.xp_for(device), flats.get(b)
            if flat is None:        # one buffer per bucket for the model's life: no fresh pages every step
                flat = flats[b] = xp.empty(total, dtype=dtype)
            off = 0
            for i in idx:
                p = params[i]
                n = p.data.size
                if p.grad is None:
                    flat[off:off + n] = 0
                else:       # a transposed (column-major) gradient goes in as its memory lies: one plain copy
                    g = p.grad.data
                    flat[off:off + n] = (g.T if by_column[i] else g).reshape(-1)
                off += n
            t1 = time.perf_counter()
            if device == "gpu":
                _nccl(w).all_reduce(flat, "sum")
            else:
                w.comm.Allreduce(w.MPI.IN_PLACE, flat, op=w.MPI.SUM)
            collective += time.perf_counter() - t1
            scale, off = flat.dtype.type(1.0 / w.size), 0
            for i in idx:           # the mean, written back into each gradient's own array (never a view of flat)
                p = params[i]
                n = p.data.size
                if have[i]:
                    g = p.grad
                    if g is None or g._ctx is not None or not _writable(g.data, dtype):   # else: the leaf owns it
                        g = p.grad = Tensor._make(xp.empty(p.data.shape, dtype=dtype), False, None)
                    seg = flat[off:off + n]
                    src = seg.reshape(p.data.shape[::-1]).T if by_column[i] else seg.reshape(p.data.shape)
                    xp.multiply(src, scale, out=g.data)
                off += n
        object.__setattr__(self, "comm_seconds", self.comm_seconds + time.perf_counter() - t0)
        object.__setattr__(self, "allreduce_seconds", self.allreduce_seconds + collective)
        object.__setattr__(self, "reductions", self.reductions + 1)

    def extra_repr(self):
        return f"world_size={world_size()}, buckets={len(self._buckets)}"


def _layout(grad):
    """0: no gradient; 1: row-major (C) memory; 2: column-major only (a transposed view, e.g. a weight's
    gradient x^T g); 3: neither. The ranks agree on a bucket's layout before summing positions."""
    if grad is None:
        return 0
    f = grad.data.flags
    return 1 if f.c_contiguous else 2 if f.f_contiguous else 3


def _writable(a, dtype):
    """Whether the reduced gradient can be written into a, the leaf's own gradient array (the engine never
    hands a leaf memory it shares), in place. Any layout will do: a weight's gradient is often a transposed
    view, and writing into it beats a fresh array every step (measured: a fresh 3 MB gradient each step
    made the next Adam step up to twice as slow on a 2-core VM)."""
    return a.dtype == dtype and getattr(a.flags, "writeable", True)


def _named_buffers(module):
    return module.named_buffers() if hasattr(module, "named_buffers") else ()


def _buffers_of(module):
    return [b for _, b in _named_buffers(module)]


def _tensor_hook(ref):
    return lambda: _run_hook(ref)


def _remove_hook(hook):
    try:
        _post_backward_hooks.remove(hook)
    except ValueError:
        pass


def _plan_buckets(params, cap_mb):
    """Group parameters by (device, dtype) into flat buckets of at most cap_mb (a parameter never splits)."""
    cap = max(1, int(cap_mb * 2 ** 20))
    buckets, current = [], {}
    for i, p in enumerate(params):
        a = p.data
        key = (backend.device_of(a), a.dtype)
        b = current.get(key)
        if b is not None and (b[3] + a.size) * a.dtype.itemsize > cap:
            buckets.append(b)
            b = None
        if b is None:
            b = ([], key[0], a.dtype, 0)
        b[0].append(i)
        current[key] = (b[0], b[1], b[2], b[3] + a.size)
    buckets.extend(current.values())
    return buckets


# ---------------------------------------------------------------- checkpoints
def rng_states():
    """Every rank's tl RNG state (backend.get_rng_state()), in rank order, on every rank."""
    w = _w()
    mine = backend.get_rng_state()
    if w.comm is None:
        return [mine]
    return _allgather_json(w, mine)


def save_checkpoint(path, model=None, optimizer=None, epoch=None, **extra):
    """tl.save_checkpoint written by rank 0 only (atomically, as always), with every rank's RNG state.

    Collective: call it on every rank. The ranks' RNG states travel to rank 0 and are stored in the
    checkpoint's extra as "rank_rng_states"; `load_checkpoint` gives each rank its own back.
    A DistributedDataParallel model is saved as its wrapped module (keys without "module.").
    """
    from .serialization import save_checkpoint as _save
    states = rng_states()
    model = getattr(model, "module", model) if _is_ddp(model) else model
    if is_main():
        _save(path, model, optimizer, epoch=epoch, rank_rng_states=states, **extra)
    barrier()                                         # the file is complete before any rank reads it


def load_checkpoint(path, model=None, optimizer=None, device=None, rng=True):
    """tl.load_checkpoint on every rank, each taking back its own RNG state when the checkpoint has one
    for this world size (else rank 0's, as a single-process checkpoint stores)."""
    from .serialization import load_checkpoint as _load
    model = getattr(model, "module", model) if _is_ddp(model) else model
    info = _load(path, model, optimizer, device=device, rng=rng)
    states = (info.get("extra") or {}).pop("rank_rng_states", None)
    if rng and isinstance(states, list) and len(states) == world_size():
        backend.set_rng_state(states[rank()])
        info["rng_state"] = states[rank()]
    return info


def _is_ddp(model):
    return isinstance(model, DistributedDataParallel)
