"""Every difference between NumPy (device "cpu") and CuPy (device "gpu") lives here.

No other module imports numpy-vs-cupy specifics: they ask this module for the
array module of an array (`xp_of`), move arrays between devices (`to_device`,
`to_numpy`), and draw random numbers from the per-device generators.
CuPy is imported the first time the GPU is asked for, never at import time.
"""
from __future__ import annotations

import warnings

import numpy as np

DEVICES = ("cpu", "gpu")
_ALIASES = {"cpu": "cpu", "gpu": "gpu", "cuda": "gpu"}


class DeviceError(RuntimeError):
    """A device that is not available, or an op mixing devices."""


class DtypeError(TypeError, RuntimeError):
    """An op given dtypes it can't combine (PyTorch raises RuntimeError, Python code expects TypeError: both catch it)."""


# ---------------------------------------------------------------- freed memory kept for the next step (glibc)
KEEP_MEMORY_ENV = "TINYGRAD_LITE_KEEP_MEMORY"
_GLIBC_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3              # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD = 32 << 20     # arrays up to this size come from the heap (glibc's largest allowed on 64-bit)
TRIM_THRESHOLD = 256 << 20    # free memory at the heap's top beyond this goes back to the OS
_memory = None                # keep_freed_memory's verdict: (True, "") or (False, why)


def keep_freed_memory():
    """Keep the memory a training step frees in the process, for the next step's arrays (Linux with glibc; run
    at `import tinygrad_lite`). A step allocates and frees tens of MB of activations and gradients; with
    glibc's adaptive defaults the heap above 2x the largest array goes back to the OS after each step and is
    faulted in page by page in the next (5,000 page faults, ~15 ms of system time a SimpleConvNet step on our
    2-core VM, a third of the step). This sets mallopt's mmap threshold to 32 MiB and its trim threshold to
    256 MiB, as the environment variables MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ would: the process
    then keeps up to 256 MiB of freed memory at the heap's top for reuse (its peak size does not grow).
    It affects the whole process (NumPy, PyTorch, ...), once set it stays. Not done where any MALLOC_*_ variable
    above is set (yours win) or TINYGRAD_LITE_KEEP_MEMORY=0, nor off glibc. Returns (done, why not)."""
    global _memory
    if _memory is not None:
        return _memory
    import os
    import sys
    why = ""
    if os.environ.get(KEEP_MEMORY_ENV, "1").strip() in ("0", "false", "no", "off"):
        why = f"{KEEP_MEMORY_ENV}={os.environ[KEEP_MEMORY_ENV]}"
    elif any(v in os.environ for v in _GLIBC_ENV):
        why = "glibc's MALLOC_*_ environment variables are set: they decide"
    elif not sys.platform.startswith("linux") or sys.maxsize <= 2 ** 32:
        why = "not 64-bit Linux"
    else:
        import ctypes
        try:
            libc = os.confstr("CS_GNU_LIBC_VERSION") or ""
        except (ValueError, OSError):
            libc = ""
        if not libc.startswith("glibc"):
            why = "not glibc"
        else:
            try:
                mallopt = ctypes.CDLL(None).mallopt
                mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
                ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
                why = "" if ok else "mallopt refused the settings"
            except (OSError, AttributeError) as e:
                why = f"mallopt not available ({e})"
    _memory = (not why, why)
    return _memory


def memory_kept():
    """Whether keep_freed_memory's settings are in effect (False before it ran); a line for benchmark headers."""
    done, why = _memory or (False, "not run")
    if not done:
        return f"glibc's malloc defaults ({why})"
    return f"freed memory kept (mallopt: mmap {MMAP_THRESHOLD >> 20} MiB, trim {TRIM_THRESHOLD >> 20} MiB)"


# ---------------------------------------------------------------- CuPy, lazily
_cupy = None          # the cupy module once imported
_cupy_error = None    # why the GPU is unavailable (a message), once looked at
_XP = {np.ndarray: np}   # array type -> array module; cupy.ndarray added on first use


def _load_cupy():
    """Import CuPy and check it sees a GPU; remember the verdict."""
    global _cupy, _cupy_error
    if _cupy is not None or _cupy_error is not None:
        return _cupy
    try:
        import cupy
    except Exception as e:  # ImportError, or a broken CUDA install
        _cupy_error = (f"device 'gpu' needs CuPy, which could not be imported ({type(e).__name__}: {e}); "
                       "install it with `pip install tinygrad_lite[gpu]` (or the cupy-cudaXXx wheel matching "
                       "your CUDA), or use device='cpu'")
        return None
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:
        n, err = 0, f" ({type(e).__name__}: {e})"
    else:
        err = ""
    if n == 0:
        _cupy_error = (f"device 'gpu': CuPy {cupy.__version__} is installed but sees no GPU{err}; "
                       "check the NVIDIA driver and CUDA_VISIBLE_DEVICES, or use device='cpu'")
        return None
    _cupy = cupy
    _XP[cupy.ndarray] = cupy
    return cupy


def gpu_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    return _load_cupy() is not None


def cupy_module():
    """The cupy module; raises DeviceError saying what is missing."""
    cp = _load_cupy()
    if cp is None:
        raise DeviceError(_cupy_error)
    return cp


# ---------------------------------------------------------------- devices
def canonical_device(device) -> str:
    """'cpu', 'gpu', 'cuda', 'cuda:N' (or None -> 'cpu') to 'cpu' or 'gpu'."""
    if device is None:
        return "cpu"
    if isinstance(device, str):
        name = device.lower()
        base, _, index = name.partition(":")
        if base in _ALIASES and (not index or (index.isdigit() and base != "cpu")):
            dev = _ALIASES[base]
            if dev == "gpu":
                cp = cupy_module()
                if index:
                    cp.cuda.Device(int(index)).use()
            return dev
    raise ValueError(f"unknown device {device!r}: use 'cpu' or 'gpu' (aliases 'cuda', 'cuda:N')")


def device_of(array) -> str:
    return "cpu" if isinstance(array, (np.ndarray, np.generic)) else "gpu"


def xp_of(array):
    """The array module (numpy or cupy) that owns `array`."""
    try:
        return _XP[type(array)]
    except KeyError:
        if isinstance(array, (np.ndarray, np.generic)):
            return np
        return cupy_module()


def xp_for(device: str):
    return np if device == "cpu" else cupy_module()


def is_array(x) -> bool:
    t = type(x)
    if t in _XP or isinstance(x, np.ndarray):
        return True
    if t.__name__ == "ndarray" and t.__module__.startswith("cupy"):   # a CuPy array before we imported CuPy
        return _load_cupy() is not None
    return False


def to_device(array, device: str):
    """Move (or convert) an array-like to 'cpu' or 'gpu'; no copy when already there."""
    if device == "cpu":
        return to_numpy(array)
    cp = cupy_module()
    return cp.asarray(array)


def to_numpy(array):
    """A host NumPy array for a NumPy or CuPy array (or anything array-like)."""
    if isinstance(array, np.ndarray):
        return array
    if is_array(array):                  # a CuPy array (CuPy refuses np.asarray), also before tl imported CuPy
        return _cupy.asnumpy(array)
    return np.asarray(array)


def synchronize(device: str = "gpu"):
    """Wait for queued GPU work (a no-op on the CPU); for honest timings."""
    if device == "gpu" and _cupy is not None:
        _cupy.cuda.get_current_stream().synchronize()


_capturing = False


def set_capturing(flag: bool):
    """Set while a CUDA graph is being recorded: code that would sync with the host skips it."""
    global _capturing
    _capturing = bool(flag)


def capturing() -> bool:
    return _capturing


# ---------------------------------------------------------------- array helpers with no common API
def scatter_add(target, index, values):
    """target[index] += values with repeated indices accumulating (np.add.at; CuPy's add.at or cupyx.scatter_add)."""
    if isinstance(target, np.ndarray):
        np.add.at(target, index, values)
    elif hasattr(_cupy.add, "at"):
        _cupy.add.at(target, index, values)
    else:                                     # older CuPy
        import cupyx
        cupyx.scatter_add(target, index, values)
    return target


def ones(shape, dtype, like):
    """An array of ones beside `like` (on the GPU a fill kernel: no host copy, safe in graph capture)."""
    if isinstance(like, np.ndarray):
        one = np.asarray(1, dtype=dtype)      # cheaper than np.ones for the usual 0-d loss
        return one if shape == () else np.ones(shape, dtype=dtype)
    return xp_of(like).ones(shape, dtype=dtype)


def cache_slices(a, budget=1 << 19):
    """Slices of a's first axis covering about `budget` bytes of a each (at least one item): on the CPU,
    several elementwise passes over one slice at a time find it in the cache instead of streaming the whole
    array from memory on every pass. On the GPU one slice, the whole array (no gain, more launches)."""
    n = a.shape[0] if a.ndim else 0
    if not isinstance(a, np.ndarray) or n <= 1 or a.nbytes <= budget:
        return [slice(None)]
    per = max(1, budget * n // a.nbytes)
    return [slice(i, i + per) for i in range(0, n, per)]


def windows2d(x, kernel, stride, dilation):
    """The sliding windows of x (N, C, H, W) as a view (N, C, OH, OW, kh, kw), no copy (stride tricks):
    window (i, j) starts at row i*sh, column j*sw and takes every dh-th row and dw-th column.
    Read it, never write to it (its windows overlap in memory)."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    n, c, h, w = x.shape
    oh, ow = (h - dh * (kh - 1) - 1) // sh + 1, (w - dw * (kw - 1) - 1) // sw + 1
    s0, s1, s2, s3 = x.strides
    shape, strides = (n, c, oh, ow, kh, kw), (s0, s1, s2 * sh, s3 * sw, s2 * dh, s3 * dw)
    if isinstance(x, np.ndarray):
        return np.lib.stride_tricks.as_strided(x, shape, strides, writeable=False)
    return xp_of(x).lib.stride_tricks.as_strided(x, shape, strides)


# ---------------------------------------------------------------- random numbers
_seed = None
_rngs: dict = {}


def _canonical_seed(seed, what="manual_seed"):
    """An int seed in [0, 2**64) from what torch.manual_seed accepts: anything int() takes, in
    [-2**63, 2**64); a negative seed maps to seed + 2**64, as PyTorch's does."""
    try:
        s = int(seed)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{what}: the seed must be an integer, got {seed!r}") from None
    if not -(1 << 63) <= s < (1 << 64):
        raise ValueError(f"{what}: the seed must be in [-2**63, 2**64), got {s}")
    return s + (1 << 64) if s < 0 else s


def manual_seed(seed: int):
    """Seed the generators of every device (the GPU's lazily, when first used)."""
    global _seed
    _seed = _canonical_seed(seed)
    _rngs.clear()


def rng(device: str):
    """The generator of `device`: numpy.random.Generator or cupy.random.Generator."""
    g = _rngs.get(device)
    if g is None:
        if device == "cpu":
            g = np.random.default_rng(_seed)
        else:
            cp = cupy_module()
            g = cp.random.default_rng(_seed if _seed is not None else np.random.SeedSequence().entropy % 2**63)
        _rngs[device] = g
    return g


class Generator:
    """PyTorch's torch.Generator for the CPU, as random_split takes it:
    `tl.data.random_split(ds, [0.8, 0.2], generator=tl.Generator().manual_seed(42))`."""

    def __init__(self, device="cpu"):
        self._seed = int(np.random.SeedSequence().entropy % 2**63)
        self.numpy_generator = np.random.default_rng(self._seed)

    def manual_seed(self, seed):
        self._seed = int(seed)
        self.numpy_generator = np.random.default_rng(self._seed)
        return self

    def initial_seed(self):
        return self._seed


def _gpu_raw_state(g):
    """The device array holding a CuPy generator's cuRAND states (its `_state`: CuPy offers no public way to
    save or restore them, and its `state()` is only a pointer), or None where this CuPy lacks it."""
    raw = getattr(g.bit_generator, "_state", None)
    return raw if is_array(raw) else None


def get_rng_state() -> dict:
    """The generators' states as JSON-able values and arrays: the CPU's exactly (NumPy's bit-generator
    dict) and, once the GPU generator has drawn, a host copy of its cuRAND states (an int8 array,
    about 13 MB on an H100), or None where this CuPy does not expose them."""
    state = {"seed": _seed, "cpu": rng("cpu").bit_generator.state}
    if "gpu" in _rngs:
        raw = _gpu_raw_state(_rngs["gpu"])
        state["gpu"] = None if raw is None else to_numpy(raw).copy()
    return state


def validate_rng_state(state) -> None:
    """Raise ValueError naming the field when `state` is not what get_rng_state returns (checked on
    scratch generators: nothing global changes)."""
    if not isinstance(state, dict) or not set(state) <= {"seed", "cpu", "gpu"}:
        raise ValueError(f"rng: expected a dict with keys 'seed', 'cpu' (and 'gpu'), got "
                         f"{sorted(map(str, state)) if isinstance(state, dict) else type(state).__name__}")
    seed = state.get("seed")
    if seed is not None and (type(seed) is not int or not 0 <= seed < (1 << 64)):
        raise ValueError(f"rng.seed: expected None or an integer in [0, 2**64), got {seed!r}")
    cpu = state.get("cpu")
    if cpu is not None:
        try:
            name = cpu["bit_generator"]
            bitgen = getattr(np.random, name) if name in ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64") else None
            if bitgen is None:
                raise ValueError(f"unknown bit generator {name!r}")
            g = np.random.Generator(bitgen(0))
            g.bit_generator.state = cpu
            g.random()                                    # a draw works with it
        except Exception as e:  # noqa: BLE001 - any failure means a damaged state
            raise ValueError(f"rng.cpu: not a valid NumPy generator state ({type(e).__name__}: {e})") from None
    gpu = state.get("gpu")
    if gpu is not None and not (isinstance(gpu, np.ndarray) and gpu.dtype == np.int8):
        raise ValueError(f"rng.gpu: expected None or an int8 array of cuRAND states, got "
                         f"{type(gpu).__name__} {getattr(gpu, 'dtype', '')} {getattr(gpu, 'shape', '')}")


def set_rng_state(state: dict):
    """Restore what get_rng_state returned. The GPU generator is re-seeded and, where the saved cuRAND
    states fit it (the same GPU model and CuPy), they are copied back; otherwise a warning says that
    the GPU's random draws (e.g. dropout masks) will differ from the saved run's."""
    global _seed
    _seed = state.get("seed")
    _rngs.clear()
    if state.get("cpu") is not None:
        rng("cpu").bit_generator.state = state["cpu"]
    if "gpu" in state and gpu_available():
        saved, raw = state["gpu"], _gpu_raw_state(rng("gpu"))
        if saved is not None and raw is not None and saved.dtype == raw.dtype and saved.shape == raw.shape:
            raw[...] = to_device(saved, "gpu")
        else:
            warnings.warn("the GPU generator's state could not be restored (saved with another GPU or CuPy, or "
                          "this CuPy does not expose it); it was re-seeded, so GPU random draws such as dropout "
                          "masks will differ from the saved run's", RuntimeWarning, stacklevel=3)


# ---------------------------------------------------------------- dtypes
def result_dtype(array, scalar):
    """dtype of `array op scalar` with the scalar as a weak type (NEP 50): float32 stays float32."""
    if isinstance(scalar, bool):
        return array.dtype
    if isinstance(scalar, int):
        return array.dtype if array.dtype.kind in "fcui" else np.dtype(np.int64)
    if isinstance(scalar, float):
        return array.dtype if array.dtype.kind in "fc" else np.dtype(np.float32)
    return np.result_type(array.dtype, scalar)


# ---------------------------------------------------------------- fused optimizer updates
def adam_update(w, g, m, v, b1, b2, step_size, inv_bc2, eps, t):
    """In place on the CPU: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
    w -= step_size * m / (sqrt(v) inv_bc2 + eps). Whole-array ufuncs into the scratch buffer
    t, shaped like w (measured faster here than cache-sized chunks)."""
    m *= b1                                   # m = b1 m + (1 - b1) g
    np.multiply(g, 1 - b1, out=t)
    m += t
    v *= b2                                   # v = b2 v + (1 - b2) g^2
    np.multiply(g, g, out=t)
    t *= 1 - b2
    v += t
    np.sqrt(v, out=t)                         # w -= step_size m / (sqrt(v)/sqrt(bc2) + eps)
    t *= inv_bc2
    t += eps
    np.divide(m, t, out=t)
    t *= step_size
    w -= t


def adam_update_gpu(w, g, m, v, t, b1, b2, lr, eps):
    """The GPU Adam step; t is a 0-d float32 device array already incremented for this step."""
    if w.dtype.kind != "f" or w.dtype.itemsize < 4:   # the kernel's pow/sqrt have no half-precision overloads
        raise TypeError(f"Adam on the GPU updates float32 or float64 parameters, got {w.dtype}; "
                        "cast the model with model.float()")
    dt = w.dtype.type
    _adam_kernel()(g, t, dt(b1), dt(b2), dt(lr), dt(eps), w, m, v)


_adam_k = None


def _adam_kernel():
    """One fused kernel; the step count t is a device scalar so a captured graph's bias correction advances."""
    global _adam_k
    if _adam_k is None:
        cp = cupy_module()
        _adam_k = cp.ElementwiseKernel(
            "T g, float32 t, T b1, T b2, T lr, T eps", "T w, T m, T v",
            """
            m = b1 * m + (1 - b1) * g;
            v = b2 * v + (1 - b2) * g * g;
            T bc1 = 1 - pow(b1, (T)t);
            T bc2 = 1 - pow(b2, (T)t);
            w -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps);
            """, "tinygrad_lite_adam")
    return _adam_k
