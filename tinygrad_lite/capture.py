"""tl.TinyJit: capture a step with fixed shapes once, replay it (CUDA graphs through CuPy).

    step = tl.TinyJit(train_step)          # train_step(x, y) -> loss Tensor
    for x, y in loader:
        loss = step(x, y)

On the GPU the first `warmup` calls (at least 1) for a given input signature (shapes,
dtypes) run eagerly, creating whatever state the step makes on first use (optimizer
moments, momentum buffers) in the usual memory; the next one is recorded with CuPy's
stream capture into a CUDA graph, its temporaries in a private memory pool kept for the
life of the process (arrays made during the capture, such as the .grad buffers, point
into it), and later calls copy their inputs into the captured buffers and launch
the graph: one launch per step, no Python dispatch and no host sync. A new signature
(e.g. a smaller last batch) warms up and captures its own graph; it never replays a graph
recorded for other shapes. On the CPU (or where capture is unavailable) calls run eagerly.

What a captured step cannot see change between replays: Python-side values (a learning
rate changed by a scheduler, a flag), and host syncs inside the step (`.item()`) are not
allowed while capturing. Adam keeps its step count on the device so bias correction
advances under replay. Outputs are copies, safe to keep. The graph holds the device
addresses of the parameters: `load_state_dict` copies in place and is safe, but moving the
model (`model.to(...)`) after a capture needs a new `TinyJit`.
"""
from __future__ import annotations

from . import backend
from .tensor import Tensor


_LIVE_POOLS = []   # every capture pool, never freed: arrays made while capturing outlive their TinyJit


class TinyJit:
    def __init__(self, fn, warmup=1):
        if int(warmup) < 1:
            raise ValueError(f"TinyJit: warmup must be >= 1, got {warmup} (the eager warmup call creates the "
                             "step's lazily made state, which a captured graph would otherwise re-create each replay)")
        self.fn, self.warmup = fn, int(warmup)
        self._graphs = {}   # signature -> (graph, static input arrays, static outputs)
        self._seen = {}     # signature -> eager calls so far

    @staticmethod
    def _signature(args):
        return tuple((a.shape, a.dtype.str, a.device) if isinstance(a, Tensor) else ("py", repr(a)) for a in args)

    def __call__(self, *args):
        tensors = [a for a in args if isinstance(a, Tensor)]
        if not tensors or tensors[0].device != "gpu":
            return self.fn(*args)                       # CPU: eager, nothing to capture
        sig = self._signature(args)
        entry = self._graphs.get(sig)
        if entry is not None:
            return self._replay(entry, tensors)
        n = self._seen.get(sig, 0)
        if n < self.warmup:
            self._seen[sig] = n + 1
            return _copy_out(self.fn(*args))
        pool = backend.cupy_module().cuda.MemoryPool()
        _LIVE_POOLS.append(pool)
        return self._capture(sig, args, tensors, pool)

    def _capture(self, sig, args, tensors, pool):
        cp = backend.cupy_module()
        static = [t.data.copy() for t in tensors]
        it = iter(static)
        static_args = [Tensor._make(next(it), False, None) if isinstance(a, Tensor) else a for a in args]
        stream = cp.cuda.Stream(non_blocking=True)
        cp.cuda.get_current_stream().synchronize()
        with cp.cuda.using_allocator(pool.malloc), stream:
            backend.set_capturing(True)
            try:
                stream.begin_capture()
                try:
                    out = self.fn(*static_args)
                except BaseException:
                    try:                                # end the capture, but report fn's own error
                        stream.end_capture()
                    except Exception:
                        pass
                    raise
                graph = stream.end_capture()
            finally:
                backend.set_capturing(False)
        entry = (graph, static, out)
        self._graphs[sig] = entry
        return self._replay(entry, tensors)

    @staticmethod
    def _replay(entry, tensors):
        cp = backend.cupy_module()
        graph, static, out = entry
        for buf, t in zip(static, tensors):
            cp.copyto(buf, t.data)
        graph.launch(cp.cuda.get_current_stream())
        return _copy_out(out)


def _copy_out(out):
    """Outputs the next replay will overwrite, copied: Tensors, arrays, and tuples/lists of them."""
    if isinstance(out, Tensor):
        return Tensor._make(out.data.copy(), False, None)
    if backend.is_array(out):
        return out.copy()
    if isinstance(out, (tuple, list)):
        return type(out)(_copy_out(o) for o in out)
    return out


def jit(fn=None, *, warmup=1):
    """Decorator form: @tl.jit or @tl.jit(warmup=2)."""
    if fn is None:
        return lambda f: TinyJit(f, warmup=warmup)
    return TinyJit(fn, warmup=warmup)
