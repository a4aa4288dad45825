"""tl.data: DataLoader (batches of Tensors from arrays or any indexable dataset, on a device),
TensorDataset, Subset and random_split, as in torch.utils.data."""
from __future__ import annotations

import numpy as np

from . import backend
from .tensor import Tensor


class TensorDataset:
    """PyTorch's TensorDataset: columns of equal length; `DataLoader` batches it without per-sample work."""

    def __init__(self, *tensors):
        lengths = {len(t) for t in tensors}
        if len(lengths) != 1:
            raise ValueError(f"TensorDataset: the tensors have different lengths {[len(t) for t in tensors]}")
        self.tensors = tensors

    def __len__(self):
        return len(self.tensors[0])

    def __getitem__(self, i):
        return tuple(t[i] for t in self.tensors)


class Subset:
    """PyTorch's Subset: the samples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = [int(i) for i in (indices.tolist() if hasattr(indices, "tolist") else indices)]

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        if isinstance(i, (list, tuple)):
            return [self.dataset[self.indices[j]] for j in i]
        return self.dataset[self.indices[i]]


def random_split(dataset, lengths, generator=None):
    """Split `dataset` into non-overlapping Subsets of the given lengths (or fractions summing to 1, the
    remainder dealt one by one from the first), as torch.utils.data.random_split. The order is drawn from
    `generator` (a seed, a tl.Generator or numpy Generator) or else tl's CPU generator (tl.manual_seed)."""
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, float) for x in lengths) and abs(sum(lengths) - 1) < 1e-6 and sum(lengths) != n:
        counts = [int(np.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if any(int(x) != x or x < 0 for x in lengths) or sum(lengths) != n:
        raise ValueError(f"random_split: the lengths {lengths} must be non-negative ints summing to the "
                         f"dataset's length {n} (or fractions summing to 1)")
    rng = _generator(generator)
    order = rng.permutation(n)
    out, start = [], 0
    for k in lengths:
        out.append(Subset(dataset, order[start:start + int(k)]))
        start += int(k)
    return out


def _generator(generator):
    if generator is None:
        return backend.rng("cpu")
    if isinstance(generator, (int, np.integer)):
        return np.random.default_rng(int(generator))
    g = getattr(generator, "numpy_generator", generator)
    if not hasattr(g, "permutation"):
        raise TypeError(f"random_split: generator must be a seed, a tl.Generator or a numpy Generator, "
                        f"got {type(generator).__name__}")
    return g


class DataLoader:
    """Iterate over `dataset` in batches of Tensors.

    `dataset` is an array, a tuple of columns of equal length such as `(X, y)` (arrays,
    Tensors or lists: it becomes a TensorDataset, so `len(loader.dataset)` is the number of
    samples as in PyTorch), a TensorDataset or a Subset of one (batched without per-sample work),
    or anything with `__len__` and `__getitem__` returning a sample or a tuple of fields.
    Batches never share memory with the dataset: `xb /= 255` in the loop leaves the data alone.
    Arrays are moved to `device` once, so batches on the GPU need no host copy.
    Shuffling:
    - with `seed`, the loader uses its own generator: epoch e is shuffled by
      `default_rng([seed, e])`, so a run resumed at epoch e (`set_epoch(e)`) sees the same
      batches as an uninterrupted one, and tl's global generator is left alone;
    - without `seed`, as in PyTorch, each pass draws its order from tl's CPU generator
      (`tl.manual_seed`): a checkpoint saves that generator's state, so a run resumed with
      `tl.load_checkpoint` sees the same batches too (`set_epoch` is then not needed).
    - with `sampler` (e.g. `DistributedSampler`, or any iterable of indices with a length), the
      loader takes the examples in the order the sampler yields them; `set_epoch` is passed on to it.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None, device=None, sampler=None):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True are mutually exclusive (the sampler orders the "
                             "examples; e.g. DistributedSampler(dataset, shuffle=True))")
        self.sampler = sampler
        self.device = backend.canonical_device(device) if device is not None else None
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.seed = seed
        self.epoch = 0
        self.single = False
        if isinstance(dataset, tuple) and dataset:        # columns, such as (X, y): PyTorch would want a dataset
            dataset = TensorDataset(*dataset)
        cols = _columns(dataset)
        if cols is not None:                              # columns, such as (X, y); lists become arrays
            self.arrays = [self._place(a) for a in cols]
        elif _is_arraylike(dataset):
            self.arrays, self.single = [self._place(dataset)], True
        else:
            if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
                raise TypeError(f"DataLoader: dataset must be arrays or have __len__ and __getitem__, "
                                f"got {type(dataset).__name__}")
            self.arrays = None
        self.dataset = dataset
        if self.arrays is not None:
            devices = sorted({backend.device_of(a) for a in self.arrays})
            if len(devices) > 1:
                raise backend.DeviceError(f"DataLoader: the columns are on different devices ({' and '.join(devices)}); "
                                          "pass device='cpu' or device='gpu' to put them together")
            lengths = {len(a) for a in self.arrays}
            if len(lengths) != 1:
                raise ValueError(f"DataLoader: the arrays have different lengths {[len(a) for a in self.arrays]}")
            self.n = lengths.pop()
        else:
            self.n = len(dataset)
        if sampler is not None and getattr(sampler, "dataset_len", self.n) != self.n:
            raise ValueError(f"DataLoader: the sampler was made for {sampler.dataset_len} examples, "
                             f"the dataset has {self.n}")

    def _place(self, a):
        arr = a.data if isinstance(a, Tensor) else a
        if not backend.is_array(arr):
            arr = np.asarray(arr)
        if self.device is not None and backend.device_of(arr) != self.device:
            arr = backend.to_device(arr, self.device)
        return arr

    def __len__(self):
        n = self.n if self.sampler is None else len(self.sampler)
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size)

    def set_epoch(self, epoch):
        """Choose which epoch's shuffle the next iteration uses (for resuming); passed on to the sampler."""
        self.epoch = int(epoch)
        if self.sampler is not None and hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def _order(self):
        if self.sampler is not None:              # the indices it yields, in its order (e.g. a rank's shard)
            if isinstance(self.sampler, DistributedSampler):
                return self.sampler.indices()
            return np.fromiter(iter(self.sampler), dtype=np.int64)
        if not self.shuffle:
            return None
        if self.seed is None:                     # PyTorch's way: the global generator, state in checkpoints
            return backend.rng("cpu").permutation(self.n)
        return np.random.default_rng([self.seed, self.epoch]).permutation(self.n)

    def __iter__(self):
        order = self._order()
        self.epoch += 1
        bs, n = self.batch_size, self.n if order is None else len(order)
        stop = n - n % bs if self.drop_last else n
        if self.arrays is not None and order is not None and self.arrays[0].__class__ is not np.ndarray:
            order = backend.to_device(order, backend.device_of(self.arrays[0]))   # indices live beside the data
        for s in range(0, stop, bs):
            idx = slice(s, min(s + bs, n)) if order is None else order[s:s + bs]
            yield self._batch(idx)

    def _batch(self, idx):
        if self.arrays is not None:
            if isinstance(idx, slice):                # a copy: a batch changed in place leaves the data alone
                out = tuple(Tensor._make(a[idx].copy(), False, None) for a in self.arrays)
            else:                                 # take: a faster gather than fancy indexing
                out = tuple(Tensor._make(a.take(idx, axis=0), False, None) for a in self.arrays)
        else:
            ids = range(*idx.indices(self.n)) if isinstance(idx, slice) else (int(i) for i in idx)
            samples = [self.dataset[i] for i in ids]
            if isinstance(samples[0], tuple):
                cols = zip(*samples)
            else:
                cols, self.single = [samples], True
            out = tuple(Tensor._wrap(np.stack([_np(x) for x in c]), device=self.device) for c in cols)
        return out[0] if self.single else out


def _columns(dataset):
    """The columns of a TensorDataset (or of a Subset of one, gathered once), else None."""
    if isinstance(dataset, TensorDataset):
        return list(dataset.tensors)
    if isinstance(dataset, Subset):
        cols = _columns(dataset.dataset)
        if cols is not None:
            idx = np.asarray(dataset.indices, dtype=np.int64)
            out = []
            for c in cols:
                a = c._data if isinstance(c, Tensor) else c if backend.is_array(c) else np.asarray(c)
                out.append(a.take(backend.to_device(idx, backend.device_of(a)) if not isinstance(a, np.ndarray)
                                  else idx, axis=0))
            return out
    return None


def _np(x):
    return backend.to_numpy(x.data if isinstance(x, Tensor) else x)


def _is_arraylike(a):
    return isinstance(a, (Tensor, np.ndarray)) or backend.is_array(a)


class DistributedSampler:
    """PyTorch's DistributedSampler: this rank's shard of the dataset's indices, a new shuffle each epoch.

    Each epoch the indices 0..n-1 are shuffled (shuffle=True) by `default_rng([seed, epoch])`, the
    same order on every rank, then padded or cut to a multiple of the world size by PyTorch's rule and
    dealt out round-robin: rank r gets positions r, r + R, r + 2R, ... So the shards are disjoint and
    cover the dataset, and all have `len(sampler)` indices:
    - drop_last=False: ceil(n / R) each; the list is padded by repeating its first indices (so a few
      examples are seen twice an epoch);
    - drop_last=True: floor(n / R) each; the last n % R indices are dropped.
    Call `set_epoch(e)` before each epoch (`fit` and `DataLoader.set_epoch` do it), or every epoch
    reuses the same shuffle. Without shuffle the order is PyTorch's exactly; with it the permutation
    comes from NumPy rather than torch.randperm, so the indices differ from PyTorch's (the rule is the same).

        sampler = tl.data.DistributedSampler(X_train)          # num_replicas/rank from tl.distributed
        loader = tl.data.DataLoader((X_train, y_train), batch_size=32, sampler=sampler)
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        if num_replicas is None or rank is None:
            from . import distributed
            num_replicas = distributed.world_size() if num_replicas is None else num_replicas
            rank = distributed.rank() if rank is None else rank
        if not isinstance(num_replicas, int) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive int, got {num_replicas!r}")
        if not isinstance(rank, int) or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank!r}, it should be in [0, {num_replicas - 1}]")
        if isinstance(dataset, int):
            n = dataset
        elif isinstance(dataset, TensorDataset) or (isinstance(dataset, tuple) and dataset):
            n = len(dataset.tensors[0] if isinstance(dataset, TensorDataset) else dataset[0])
        else:
            n = len(dataset)
        self.dataset_len, self.num_replicas, self.rank = int(n), num_replicas, rank
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        if drop_last and n % num_replicas:
            self.num_samples = -(-(n - num_replicas) // num_replicas)     # PyTorch: ceil((n - R) / R)
        else:
            self.num_samples = -(-n // num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Choose the epoch whose shuffle the next iteration uses (call it before each epoch)."""
        self.epoch = int(epoch)

    def indices(self):
        """This rank's indices for the current epoch, as an int64 array."""
        n = self.dataset_len
        order = (np.random.default_rng([self.seed, self.epoch]).permutation(n) if self.shuffle
                 else np.arange(n, dtype=np.int64))
        if not self.drop_last:
            pad = self.total_size - n
            if pad > 0:
                order = np.concatenate([order, np.tile(order, -(-pad // max(n, 1)))[:pad]])
        else:
            order = order[:self.total_size]
        return order[self.rank:self.total_size:self.num_replicas].astype(np.int64, copy=False)

    def __iter__(self):
        return iter(self.indices().tolist())

    def state_dict(self):
        return {"epoch": self.epoch, "seed": self.seed}

    def load_state_dict(self, state):
        self.epoch, self.seed = int(state["epoch"]), int(state["seed"])
